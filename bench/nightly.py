"""The nightly job at scale: a no-change run, +N new articles, and their removal.

Why: the cron job of README runs every night on the whole collection; what it costs
must depend on what changed, not on the size of the index.  This runs
``SearchEngine.index`` in a fresh subprocess per step (time inside the process, and
peak RSS of the whole process tree, sampled) on an index built beforehand:

1. a no-change run;
2. the folder ``--extra`` copied into the corpus (new articles) and a run;
3. the copy removed and a run (the index is as before again).

With ``--baseline-src`` (a checkout of the code before a change), every step runs
with both source trees, alternating, on the same index, so both see the same
machine load.  ``--profile DIR`` records each step with ``py-spy`` (speedscope
JSON), to find what grows with the corpus.

    python bench/nightly.py --corpus /tmp/c20k --index-dir /tmp/ix20k \\
        --extra /tmp/extra1000 [--baseline-src /tmp/before] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

import benchlib  # noqa: E402

REPO = HERE.parent.parent
#: Where the extra articles are put inside the corpus (removed again at the end).
EXTRA_NAME = "nightly-bench-extra"


def _child(argv: list[str]) -> None:
    """One index run in this fresh process; prints a JSON line with its report."""
    import resource

    from searcher import SearchEngine

    corpus, index_dir, jobs = argv[0], argv[1], int(argv[2])
    started = time.perf_counter()
    cpu = time.process_time()
    report = SearchEngine(index_dir).index([corpus], jobs=jobs or None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("RESULT " + json.dumps({
        "seconds": time.perf_counter() - started, "documents": report.documents,
        # CPU seconds: less at the mercy of a shared machine's load than the wall clock.
        "cpu_main": time.process_time() - cpu,
        "cpu_workers": children.ru_utime + children.ru_stime,
        "added": report.added, "deleted": report.deleted, "updated": report.updated,
        "unchanged": report.unchanged, "failed": len(report.failed)}))


def run_step(src: Path, corpus: Path, index_dir: Path, jobs: int,
             profile: Path | None = None) -> dict[str, Any]:
    """One index run with the code in *src*, sampling its process tree's memory."""
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(HERE), "_child", str(corpus), str(index_dir), str(jobs)]
    if profile is not None:
        cmd = ["py-spy", "record", "--subprocesses", "-r", "50", "-f", "speedscope", "-o",
               str(profile), "--", *cmd]
    run = benchlib.run_child(cmd, "index run", env=env, interval=0.1)
    data = run.result
    data.update(wall=run.wall, peak_rss_mb=run.peak_rss_kb / 1024, load=os.getloadavg()[0])
    return data


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the folder the index holds")
    ap.add_argument("--index-dir", type=Path, required=True, help="its index, built beforehand")
    ap.add_argument("--extra", type=Path, required=True,
                    help="a folder of articles the index does not hold yet")
    ap.add_argument("--baseline-src", type=Path, help="also run the code in this folder")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--profile", type=Path, metavar="DIR", help="py-spy record every step")
    ap.add_argument("--out", type=Path, help="write every measurement as JSON here")
    args = ap.parse_args()

    target = args.corpus / EXTRA_NAME
    if target.exists():
        sys.exit(f"{target} exists: remove it (the index must not hold it) and run again")
    n_extra = sum(1 for p in args.extra.rglob("*") if p.is_file())
    sources = [("after", REPO)]
    if args.baseline_src:
        sources.insert(0, ("before", args.baseline_src))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    steps = ("no change", f"+{n_extra} articles", f"-{n_extra} articles")
    results: list[dict[str, Any]] = []
    try:
        for round_ in range(args.rounds):
            for label, src in sources:
                for number, step in enumerate(steps):
                    if number == 1:
                        shutil.copytree(args.extra, target)
                    elif number == 2:
                        shutil.rmtree(target)
                    profile = (args.profile / f"{label}-{round_}-{number}.json"
                               if args.profile else None)
                    data = run_step(src, args.corpus, args.index_dir, args.jobs, profile)
                    data.update(code=label, step=step, round=round_)
                    results.append(data)
                    print(f"{label:6} {step:16} {data['seconds']:7.2f} s  "
                          f"cpu {data.get('cpu_main', 0):6.2f} + "
                          f"{data.get('cpu_workers', 0):6.2f} s  "
                          f"{data['peak_rss_mb']:6.0f} MB  load {data['load']:.1f}  "
                          f"(+{data['added']} -{data['deleted']} ={data['unchanged']})",
                          file=sys.stderr)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    docs = results[0]["documents"] if results else 0
    print(f"\n{docs:,} documents; {os.cpu_count()} cores; "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| run | code | seconds (per round) | CPU s, indexing process + workers | "
          "peak RSS of the process tree |")
    print("| --- | --- | --- | --- | --- |")
    for step in steps:
        for label, _src in sources:
            mine = [r for r in results if r["step"] == step and r["code"] == label]
            secs = " / ".join(f"{r['seconds']:.2f}" for r in mine)
            cpu = " / ".join(f"{r.get('cpu_main', 0):.2f} + {r.get('cpu_workers', 0):.2f}"
                             for r in mine)
            rss = " / ".join(f"{r['peak_rss_mb']:.0f} MB" for r in mine)
            print(f"| {step} | {label} | {secs} | {cpu} | {rss} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
