"""Identifiers in technical writing: does a Latin/digit word find every document where it
stands as a whole token?

For each word, the truth is every document whose indexed text (``engine.get(id)``: title
and body as searcher extracted them, folded) holds the word between characters that are
not Latin letters or digits (``application.yml`` holds ``yml``, ``statistics.getAverage()``
holds ``getAverage``), found with a regular expression, not with searcher's analysis.
The table gives that count, the documents the unquoted word finds, and the differences.

    python bench/identifiers.py --index /tmp/blogs-index            # built beforehand
    python bench/identifiers.py --corpus ../shared/corpus/blogs     # builds one first
"""

from __future__ import annotations

import argparse
import re
import tempfile
import unicodedata
from pathlib import Path

WORDS = ("yml", "png", "json", "getAverage", "docker-compose", "java.util.List",
         "java.util", "org.springframework", "application.yml", "src/main/resources",
         "std::vector", "std::cout", "3.6.3", "c++")
ALNUM = r"0-9a-z\u00c0-\u024f"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", help="a local index folder to evaluate")
    ap.add_argument("--corpus", type=Path, help="build an index of this folder first")
    ap.add_argument("words", nargs="*", default=list(WORDS))
    args = ap.parse_args()
    if not args.index and not args.corpus:
        ap.error("give --index or --corpus")
    import opencc

    from searcher import SearchEngine

    index = args.index or str(Path(tempfile.mkdtemp(prefix="bench-ident-")) / "index")
    engine = SearchEngine(index)
    if args.corpus:
        engine.index([args.corpus])
    t2s = opencc.OpenCC("t2s")
    ids = _all_ids(engine)
    texts = {}
    for doc_id in ids:
        doc = engine.get(doc_id)
        texts[doc_id] = t2s.convert(unicodedata.normalize("NFKC", doc.title + "\n" + doc.text)
                                    .lower())
    print(f"index: {index} ({len(ids)} documents)")
    print(f"{'word':26} {'truth':>6} {'found':>6} {'missed':>7} {'extra':>6}")
    for word in args.words:
        folded = t2s.convert(unicodedata.normalize("NFKC", word).lower())
        pattern = re.compile(rf"(?<![{ALNUM}]){re.escape(folded)}(?![{ALNUM}])")
        truth = {i for i, text in texts.items() if pattern.search(text)}
        found: set[str] = set()
        page = 1
        while True:
            results = engine.search(word, limit=1000, page=page)
            found.update(h.id for h in results.hits)
            if len(results.hits) < 1000:
                break
            page += 1
        print(f"{word:26} {len(truth):6} {len(found):6} {len(truth - found):7} "
              f"{len(found - truth):6}")
    engine.close()


def _all_ids(engine) -> list[str]:
    """Every document id of a local index (the bench reads the index's stored fields)."""
    from searcher.local.inspection import internals

    return [fields["id"] for fields in internals(engine).searcher().all_stored_fields()]


if __name__ == "__main__":
    main()
