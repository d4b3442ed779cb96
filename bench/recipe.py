"""The baseline most users start from: jieba's ChineseAnalyzer in a plain Whoosh schema.

This is the "tutorial recipe" the README compares searcher against, kept
deliberately honest and simple: python-frontmatter + BeautifulSoup(lxml)
``get_text()`` to read each file, ``jieba.analyse.ChineseAnalyzer`` for title and
body, one process and the default ``ix.writer()``; searching is Whoosh's
``MultifieldParser`` over title+body (default AND group), returning ids ranked.

    python bench/recipe.py build CORPUS INDEX_DIR
    python bench/recipe.py search INDEX_DIR 认证认可
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXTENSIONS = (".md", ".markdown", ".html", ".htm")


def recipe_schema():
    """The schema from the jieba/Whoosh tutorials (plus a sortable date)."""
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields

    analyzer = ChineseAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        path=fields.STORED(),
        title=fields.TEXT(analyzer=analyzer, stored=True),
        body=fields.TEXT(analyzer=analyzer),
        date=fields.DATETIME(stored=True, sortable=True),
    )


def iter_files(corpus: Path) -> Iterator[Path]:
    """Every article file under *corpus*, sorted (hidden folders skipped)."""
    for dirpath, dirnames, filenames in os.walk(corpus):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(EXTENSIONS):
                yield Path(dirpath) / name


def _date(value: Any) -> dt.datetime | None:
    """YAML gives a datetime for ISO dates and a string for RFC 2822 ones."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            try:
                parsed = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return None
    else:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def parse_file(path: Path, corpus: Path) -> dict[str, Any]:
    """One file → the fields to index (front matter title/date, HTML stripped body)."""
    import frontmatter
    from bs4 import BeautifulSoup

    post = frontmatter.load(str(path))
    body = BeautifulSoup(post.content, "lxml").get_text()
    fields: dict[str, Any] = {
        "id": path.relative_to(corpus).as_posix(),
        "path": str(path.absolute()),
        "title": str(post.get("title") or path.stem),
        "body": body,
    }
    date = _date(post.get("date"))
    if date is not None:
        fields["date"] = date
    return fields


@dataclass
class RecipeReport:
    added: int
    failed: int
    seconds: float


def build(corpus: str | os.PathLike[str], index_dir: str | os.PathLike[str]) -> RecipeReport:
    """Index every file of *corpus* into a new Whoosh index in *index_dir*."""
    import jieba
    from whoosh import index

    jieba.setLogLevel(logging.WARNING)
    started = time.perf_counter()
    corpus = Path(corpus).absolute()
    os.makedirs(index_dir, exist_ok=True)
    ix = index.create_in(str(index_dir), recipe_schema())
    writer = ix.writer()
    added = failed = 0
    for path in iter_files(corpus):
        try:
            writer.add_document(**parse_file(path, corpus))
            added += 1
        except Exception as exc:  # noqa: BLE001 - a tutorial loop skips bad files
            print(f"skipped {path}: {exc!r}", file=sys.stderr)
            failed += 1
    writer.commit()
    ix.close()
    return RecipeReport(added, failed, time.perf_counter() - started)


class RecipeSearcher:
    """MultifieldParser over title+body (AND group), BM25F, ids ranked."""

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        import jieba
        from whoosh import index
        from whoosh.qparser import MultifieldParser

        jieba.setLogLevel(logging.WARNING)
        self.ix = index.open_dir(str(index_dir))
        self.parser = MultifieldParser(["title", "body"], schema=self.ix.schema)
        self.searcher = self.ix.searcher()

    def search(self, query: str, limit: int | None = 10,
               since: dt.datetime | None = None) -> list[str]:
        """Ids of the best *limit* documents (all of them with ``limit=None``)."""
        from whoosh.query import DateRange

        q = self.parser.parse(query)
        flt = DateRange("date", since, None) if since is not None else None
        results = self.searcher.search(q, limit=limit, filter=flt)
        return [hit["id"] for hit in results]

    def close(self) -> None:
        self.searcher.close()
        self.ix.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="index CORPUS into INDEX_DIR")
    b.add_argument("corpus")
    b.add_argument("index_dir")
    s = sub.add_parser("search", help="search INDEX_DIR")
    s.add_argument("index_dir")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=10)
    args = ap.parse_args()
    if args.cmd == "build":
        report = build(args.corpus, args.index_dir)
        print(f"{report.added} indexed, {report.failed} failed in {report.seconds:.1f} s")
    else:
        engine = RecipeSearcher(args.index_dir)
        for rank, doc_id in enumerate(engine.search(args.query, args.limit), 1):
            print(rank, doc_id)
        engine.close()


if __name__ == "__main__":
    main()
