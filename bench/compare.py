"""Is a change behaviour-preserving?  Compare two versions of searcher on the same queries.

Code that only moves (issue "one core, two back ends") must not change what a search
answers.  This script runs a few hundred queries through two source trees of searcher, each
in its own process with its own index built from the same corpus, and compares, query by
query, the hit ids in order, the scores, the snippets and their highlight spans, the totals
and the relaxed flag; with ``--opensearch URL`` it does the same on the cluster back end
and also compares the query DSL each version sends, byte for byte (as canonical JSON).
Hits with equal scores are compared in id order, and a page may end inside a tie with
different members of it: the parallel build commits segments in no fixed order, and a tie
is listed in document order.

    git archive 29bc811 searcher | tar -x -C /tmp/before      # the older version's package
    python3 bench/compare.py --before /tmp/before --corpus sample_docs
    python3 bench/compare.py --before /tmp/before --corpus /tmp/corpus20k --queries 300 \\
        --opensearch http://127.0.0.1:9200

The queries are drawn from the corpus's titles with a fixed seed (words, two-word queries,
quoted phrases, an OR, an exclusion, a question, a pinyin spelling, filtered and faceted
searches), so both versions get the same list.  The table ends with the verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
TITLE = re.compile(r"^title:\s*(.+)$", re.M)
AUTHOR = re.compile(r"^author:\s*(.+)$", re.M)


def make_queries(corpus: Path, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Search requests drawn from the corpus's front matter, the same for both versions."""
    titles: list[str] = []
    authors: list[str] = []
    for path in sorted(corpus.rglob("*")):
        if path.suffix not in (".md", ".markdown", ".html", ".htm") or not path.is_file():
            continue
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
        if found := TITLE.search(head):
            titles.append(found.group(1).strip().strip("'\""))
        if found := AUTHOR.search(head):
            authors.append(found.group(1).strip().strip("'\""))
    runs = sorted({run for title in titles for run in HAN_RUN.findall(title)})
    if not runs:
        sys.exit(f"no titles with Chinese text under {corpus}")
    rng = random.Random(seed)

    def piece(low: int = 2, high: int = 4) -> str:
        run = rng.choice(runs)
        size = min(len(run), rng.randint(low, high))
        start = rng.randint(0, len(run) - size)
        return run[start:start + size]

    kinds = ["word", "two", "phrase", "or", "not", "question", "pinyin", "filter", "facets"]
    requests: list[dict[str, Any]] = []
    for number in range(count):
        kind = kinds[number % len(kinds)]
        request: dict[str, Any] = {"kind": kind, "limit": 10}
        if kind == "word":
            request["q"] = piece()
        elif kind == "two":
            request["q"] = f"{piece()} {piece()}"
        elif kind == "phrase":
            request["q"] = f'"{piece(2, 6)}"'
        elif kind == "or":
            request["q"] = f"{piece()} OR {piece()}"
        elif kind == "not":
            request["q"] = f"{piece()} -{piece()}"
        elif kind == "question":
            request["q"] = rng.choice(["{}是什么", "如何{}", "{}吗", "{}怎么办？"]).format(piece())
        elif kind == "pinyin":
            request["q"] = rng.choice(["liaocheng", "changjiang", "renzheng", "shichang"])
        elif kind == "filter":
            request["q"] = piece()
            if authors:
                request["author"] = rng.choice(authors)
        else:
            request["q"] = piece(1, 2)
            request["facets"] = ["author", "month"]
        requests.append(request)
    return requests


def run_side(src: Path, corpus: Path, location: str, requests: list[dict[str, Any]],
             out: Path) -> None:
    """Index *corpus* at *location* and answer *requests* with the searcher in *src*."""
    sys.path.insert(0, str(src))
    import searcher

    if not Path(searcher.__file__).resolve().is_relative_to(src.resolve()):
        sys.exit(f"imported {searcher.__file__}, not the version in {src}")
    sent: list[str] = []
    if location.startswith("http"):
        from searcher.opensearch.backend import OpenSearchBackend

        original = OpenSearchBackend._search

        def recording(self: Any, body: dict[str, Any]) -> dict[str, Any]:
            sent.append(json.dumps(body, sort_keys=True, ensure_ascii=False))
            return original(self, body)

        OpenSearchBackend._search = recording  # type: ignore[method-assign]
    engine = searcher.SearchEngine(location)
    engine.index([str(corpus)], full=True)
    answers = []
    for request in requests:
        arguments = {key: value for key, value in request.items() if key not in ("kind", "q")}
        sent.clear()
        try:
            found = engine.search(request["q"], **arguments)
        except searcher.SearcherError as exc:
            answers.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        answers.append({
            "total": found.total,
            "relaxed": found.relaxed,
            "facets": {name: [list(pair) for pair in pairs]
                       for name, pairs in found.facets.items()},
            "hits": [{"id": hit.id, "score": round(hit.score, 6), "snippet": hit.snippet,
                      "highlights": [list(span) for span in hit.highlights],
                      "title_highlights": [list(span) for span in hit.title_highlights]}
                     for hit in found.hits],
            "dsl": list(sent),
        })
    engine.close()
    out.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two answers to one request, by part."""
    parts = []
    for key in ("error", "total", "relaxed", "facets", "dsl"):
        if before.get(key) != after.get(key):
            parts.append(key)
    hits = [in_tie_order(side.get("hits", [])) for side in (before, after)]
    ids = [[hit["id"] for hit in side] for side in hits]
    if ids[0] != ids[1] and not tie_at_page_end(*hits, before.get("total", 0)):
        parts.append("ids")
    else:
        for key in ("score", "snippet", "highlights", "title_highlights"):
            if any(one[key] != two[key] for one, two in zip(*hits, strict=True)
                   if one["id"] == two["id"] or key == "score"):
                parts.append(key)
    return parts


def in_tie_order(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hits with equal scores in id order: which of two equal scores a back end lists first
    follows the order the build's workers committed their segments, not the code."""
    return sorted(hits, key=lambda hit: (-hit["score"], hit["id"]))


def tie_at_page_end(one: list[dict[str, Any]], two: list[dict[str, Any]], total: int) -> bool:
    """Whether the two pages differ only in which documents of a tie at the last score
    made the page (the page is full and more documents have that score)."""
    if len(one) != len(two) or not one or total <= len(one):
        return False
    last = one[-1]["score"]
    if [hit["score"] for hit in one] != [hit["score"] for hit in two] or two[-1]["score"] != last:
        return False
    return all(a["id"] == b["id"] for a, b in zip(one, two, strict=True) if a["score"] != last)


def drop_indexes(src: Path, url: str, names: list[str]) -> None:
    """Delete this run's cluster indexes (each name's generations and writer lease): the
    answers are kept in the work files, and a shared node does not fill up run by run."""
    sys.path.insert(0, str(src))
    from searcher.opensearch.client import connect

    client = connect(url)
    try:
        for name in names:
            client.indices.delete(index=f"{name}-*", ignore=[404], expand_wildcards="all")
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path,
                        help="folder holding the older version's searcher/ package")
    parser.add_argument("--after", type=Path, default=REPO,
                        help="folder holding the newer version's searcher/ (default: this repo)")
    parser.add_argument("--corpus", type=Path, default=REPO / "sample_docs")
    parser.add_argument("--queries", type=int, default=270)
    parser.add_argument("--opensearch", metavar="URL",
                        help="also compare on this cluster (indexes compare-before/-after-PID)")
    parser.add_argument("--show", type=int, default=5, help="differing queries to print")
    parser.add_argument("--side", nargs=3, metavar=("SRC", "LOCATION", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        src, location, out = args.side
        requests = json.loads(args.requests.read_text(encoding="utf-8"))
        run_side(Path(src), args.corpus, location, requests, Path(out))
        return

    if args.before is None:
        parser.error("--before FOLDER is required")
    requests = make_queries(args.corpus, args.queries)
    work = Path(tempfile.mkdtemp(prefix="compare-"))
    (work / "requests.json").write_text(json.dumps(requests, ensure_ascii=False), "utf-8")
    back_ends = [("local", None)] + ([("opensearch", args.opensearch)] if args.opensearch else [])
    rows = []
    for back_end, url in back_ends:
        answers = {}
        for side, src in (("before", args.before), ("after", args.after)):
            location = (f"{url.rstrip('/')}/compare-{side}-{os.getpid()}" if url
                        else str(work / f"{side}-index"))
            out = work / f"{back_end}-{side}.json"
            started = time.monotonic()
            subprocess.run(
                [sys.executable, __file__, "--corpus", str(args.corpus), "--requests",
                 str(work / "requests.json"), "--side", str(src), location, str(out)],
                check=True, env={**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"},
            )
            print(f"{back_end} {side}: {time.monotonic() - started:.1f} s", file=sys.stderr)
            answers[side] = json.loads(out.read_text(encoding="utf-8"))
        differing = []
        by_part: dict[str, int] = {}
        for request, one, two in zip(requests, answers["before"], answers["after"], strict=True):
            if parts := differences(one, two):
                differing.append((request, parts))
                for part in parts:
                    by_part[part] = by_part.get(part, 0) + 1
        if url:
            drop_indexes(args.after, url, [f"compare-{side}-{os.getpid()}"
                                           for side in ("before", "after")])
        rows.append((back_end, len(requests), len(differing), by_part))
        for request, parts in differing[:args.show]:
            print(f"  {back_end}: {request} differs in {', '.join(parts)}")

    print("\n| back end | queries | identical | differing | differing parts |")
    print("| --- | --- | --- | --- | --- |")
    for back_end, total, differ, by_part in rows:
        parts = ", ".join(f"{part} {count}" for part, count in sorted(by_part.items())) or "—"
        print(f"| {back_end} | {total} | {total - differ} | {differ} | {parts} |")
    same = all(differ == 0 for _, _, differ, _ in rows)
    print(f"\nverdict: {'identical' if same else 'DIFFERENT'} (work files in {work})")


if __name__ == "__main__":
    main()
