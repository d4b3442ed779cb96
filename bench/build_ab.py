"""Full builds of one corpus by two source trees, interleaved: did a change make indexing slower?

Why: a build regression is a few seconds in thirty, less than the drift of a shared
machine over minutes, so the trees take turns (A B A B ..., or A B C A B C ...), each build a fresh
``python -m searcher --index-dir DIR index CORPUS --quiet`` in a fresh folder, as a user
runs it.  The table gives each run's wall, user and system time and the load average
before it (a run is only comparable on a quiet machine: load below about 1.5 on 2 cores).
Where ``perf`` is installed it also gives the CPU seconds of the whole process tree
(``perf stat -e task-clock``, which follows every descendant: the user and system times
count only the children that were waited for, which misses a forkserver's workers).  CPU
time is the figure to compare on a busy machine, where wall time mostly measures the others.

    python bench/build_ab.py --corpus /tmp/corpus20k --baseline-src /tmp/before --rounds 2

``--baseline-src`` is a folder holding an older ``searcher`` package (``git archive
<commit> searcher | tar -x -C /tmp/before``); ``--src`` defaults to this checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


PERF = shutil.which("perf")


def build(src: Path, corpus: Path, jobs: int | None) -> tuple[float, float, float, float | None]:
    """(wall, user, system, CPU of the whole tree or None) seconds of one full build by the
    searcher in *src*."""
    folder = Path(tempfile.mkdtemp(prefix="build-ab-"))
    try:
        cmd = [sys.executable, "-m", "searcher", "--index-dir", str(folder / "ix"), "index",
               str(corpus), "--quiet", *(["--jobs", str(jobs)] if jobs else [])]
        counted = folder / "perf.csv"
        if PERF:
            cmd = [PERF, "stat", "-x,", "-e", "task-clock", "-o", str(counted), "--", *cmd]
        env = {**os.environ, "PYTHONPATH": str(src)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(cmd, env=env, cwd=folder, capture_output=True, text=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):  # 1: some files failed, reported, still a build
            raise SystemExit(f"build by {src} failed ({done.returncode}):\n{done.stderr}")
        return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                _task_clock(counted) if PERF else None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _task_clock(path: Path) -> float | None:
    """Seconds of CPU in ``perf stat -x,`` output (task-clock is given in milliseconds)."""
    for line in path.read_text().splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("task-clock"):
            try:
                return float(fields[0]) / 1000
            except ValueError:
                return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--baseline-src", type=Path, required=True, nargs="+",
                        help="folder(s) holding an older searcher package (named by folder)")
    parser.add_argument("--src", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=None, help="default: the CLI's")
    args = parser.parse_args()
    trees = {**{str(p): p.resolve() for p in args.baseline_src}, "this": args.src.resolve()}
    walls: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    print("| round | tree | wall s | user s | sys s | tree CPU s | load before |\n"
          "|---|---|---|---|---|---|---|")
    for number in range(1, args.rounds + 1):
        for name, src in trees.items():
            load = os.getloadavg()[0]
            wall, user, system, cpu = build(src, args.corpus, args.jobs)
            walls[name].append(wall)
            if cpu is not None:
                cpus[name].append(cpu)
            shown = "-" if cpu is None else f"{cpu:.1f}"
            print(f"| {number} | {name} | {wall:.1f} | {user:.1f} | {system:.1f} | {shown} "
                  f"| {load:.2f} |", flush=True)
    this = statistics.median(walls["this"])
    for name in trees:
        if name != "this":
            base = statistics.median(walls[name])
            print(f"median wall: {name} {base:.1f} s, this {this:.1f} s ({this / base - 1:+.0%})")
            if cpus[name] and cpus["this"]:
                base, mine = statistics.median(cpus[name]), statistics.median(cpus["this"])
                print(f"median tree CPU: {name} {base:.1f} s, this {mine:.1f} s "
                      f"({mine / base - 1:+.1%})")


if __name__ == "__main__":
    main()
