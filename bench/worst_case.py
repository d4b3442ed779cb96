"""Searches over articles built to be worst cases for the work done per hit.

    python bench/worst_case.py [--timeout 2] [--out DIR]

Writes three articles beside sample_docs (one word repeated 10^5 times, one 10 MB line of
real text, 20 MB of one character), indexes them (``max_bytes`` raised), and prints one row
per query: how long the search took without a limit and under ``--timeout``, and whether
it answered or stopped (TimeLimitExceeded).  Before snippets were O(matches · log), the
first article's search ran for minutes (20,000 repeats: 20-37 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from searcher import SearchEngine, TimeLimitExceeded  # noqa: E402
from searcher.ingest.documents import load_document  # noqa: E402

QUERIES = ["长江", "长", '"长长长"', "认证认可", "长江 OR 聊城"]


def build(folder: Path) -> None:
    """sample_docs plus the three worst-case articles in *folder*."""
    samples = REPO / "sample_docs"
    shutil.copytree(samples, folder)
    line = "".join(load_document(p, samples).body.replace("\n", "")
                   for p in sorted(samples.rglob("*.md")))
    line = (line * (10_000_000 // len(line.encode()) + 1)).encode()[:10_000_000]

    def write(name: str, title: str, body: str) -> None:
        (folder / name).write_text(f"---\ntitle: {title}\ndate: 2021-06-16\n---\n\n{body}\n",
                                   encoding="utf-8")

    write("repeat.md", "重复", "长江，" * 100_000)
    write("line.md", "一行", line.decode("utf-8", "ignore"))
    write("single.md", "单字", "长" * (20_000_000 // 3))


def timed(engine: SearchEngine, query: str, timeout: float) -> str:
    started = time.perf_counter()
    try:
        results = engine.search(query, timeout=timeout, facets=["author", "year"])
        outcome = f"{results.total} hits"
    except TimeLimitExceeded:
        outcome = "stopped"
    return f"{time.perf_counter() - started:6.2f} s {outcome:>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--out", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="worst-case-"))
    docs = work / "docs"
    if not docs.exists():
        build(docs)
    engine = SearchEngine(work / "index", max_bytes="64 MiB")
    started = time.perf_counter()
    report = engine.index([docs], jobs=2)
    print(f"indexed {report.documents} documents in {time.perf_counter() - started:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"| query | no limit (first, cold) | no limit (again) | --timeout {args.timeout:g} |")
    print("| --- | --- | --- | --- |")
    for query in QUERIES:
        cold = timed(engine, query, 0)
        warm = timed(engine, query, 0)
        limited = timed(engine, query, args.timeout)
        print(f"| `{query}` | {cold} | {warm} | {limited} |")
    print(f"load after: {os.getloadavg()[0]:.1f}")
    engine.close()
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
