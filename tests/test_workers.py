"""Build workers: any script can index, a worker that cannot start ends the run with one
error, and a worker that dies takes only its current file with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, needs_shared
from test_kill import children

from searcher.core.workers import worker_state

XWLB = SHARED / "corpus" / "xwlb" / "news"

NO_MAIN_GUARD = """\
import sys
from searcher import SearchEngine

report = SearchEngine(sys.argv[1]).index([sys.argv[2]], jobs=2, batch_size=50)
print(report.added, len(report.failed))
"""


def copy_articles(target: Path, count: int) -> Path:
    """The *count* shortest 新闻联播 transcripts (real articles), copied to *target*."""
    target.mkdir(parents=True)
    for path in sorted(XWLB.glob("*.md"), key=lambda p: (p.stat().st_size, p.name))[:count]:
        shutil.copy2(path, target / path.name)
    return target


def run_script(code: str, *args: str, timeout: float = 600,
               **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c" if "\n" in code else code, *(
        [code] if "\n" in code else []), *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


@needs_shared
@pytest.mark.slow
def test_script_without_main_guard_indexes_300_files(tmp_path):
    """A plain script (no ``if __name__ == "__main__":``) indexes in worker processes; with
    a fork server each worker re-ran the script and the pool replaced them forever."""
    src = copy_articles(tmp_path / "src", 300)
    script = tmp_path / "plain.py"
    script.write_text(NO_MAIN_GUARD)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "ix"), str(src)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["300", "0"]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


BROKEN_INTERPRETER = """\
import sys
from searcher import SearchEngine, SearcherError

sys.executable = "/bin/false"  # every worker process exits at once, before it can start
try:
    SearchEngine(sys.argv[1]).index([sys.argv[2]], jobs=2, batch_size=50)
except SearcherError as exc:
    print("error:", exc)
"""


@needs_shared
def test_worker_that_cannot_start_ends_the_run_with_one_error(tmp_path):
    src = copy_articles(tmp_path / "src", 210)
    started = time.monotonic()
    done = run_script(BROKEN_INTERPRETER, str(tmp_path / "ix"), str(src), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ("error: an indexing worker process could not start (exit code 1); "
                           "run with --jobs 1 to index without worker processes\n")
    assert done.stderr == ""
    assert time.monotonic() - started < 60


@needs_shared
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_worker_killed_mid_build_costs_one_file(tmp_path):
    """A worker killed by the system (the OOM killer, say) fails the file it was reading,
    by name; the rest of its batch is built by a new worker and the run completes."""
    src = copy_articles(tmp_path / "src", 220)
    ix = tmp_path / "ix"
    proc = subprocess.Popen(
        [sys.executable, "-m", "searcher", "--index-dir", str(ix), "index", str(src),
         "--jobs", "2", "--batch-size", "20", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 180
        victim = None
        while time.monotonic() < deadline and proc.poll() is None:
            workers = children(proc.pid)
            # both workers started and busy: each builds its segment in its own stage folder
            if len(workers) >= 2 and len(list(ix.glob("gen-*/staging/stage-*"))) >= 2:
                victim = min(workers)
                # Stopped, it cannot move on: killed only while it is on a file, not while it
                # writes its segment (then no file is to blame and the batch simply reruns).
                os.kill(victim, signal.SIGSTOP)
                state = worker_state(victim)
                if state is not None and state.on_file:
                    break
                os.kill(victim, signal.SIGCONT)
                victim = None
            time.sleep(0.005)
        assert victim is not None, "no worker seen on a file"
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err  # 1: some files failed
    report = json.loads(out)
    assert len(report["failed"]) == 1, report["failed"]
    path, reason = report["failed"][0]["path"], report["failed"][0]["reason"]
    assert Path(path).parent == src
    assert reason == "its worker process ended (killed by SIGKILL)"
    assert report["added"] == 219
    assert "Traceback" not in err


def stall(seconds: float) -> str:
    """A task stuck in one call that never returns to the interpreter's signal checks for
    its duration (a sleep, like a long call into C), on its first file."""
    from searcher.core.workers import report_file

    report_file(0)
    time.sleep(seconds)
    return "done"


def grow(megabytes: int) -> str:
    """A task whose first file makes its worker grow by *megabytes* (kept, touched)."""
    from searcher.core.workers import report_file

    report_file(0)
    held = bytearray(megabytes * 2**20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    time.sleep(30)
    return "done"


def test_the_parent_kills_a_worker_past_its_bounds():
    """What the in-worker bound cannot interrupt, the parent stops: the worker is killed,
    the task reported by *recover*, a new worker takes the next task."""
    from searcher.core.workers import Bounds, WorkerPool

    recovered = []

    def recover(stopped):
        recovered.append((stopped.task, stopped.index, stopped.reason))
        return f"skipped {stopped.task}", None

    started = time.monotonic()
    with WorkerPool(1, bounds=Bounds(seconds=1.0, memory=64 * 2**20)) as pool:
        assert list(pool.run(stall, [600], recover)) == ["skipped 600"]
        assert list(pool.run(grow, [256], recover)) == ["skipped 256"]
        assert list(pool.run(stall, [0.1], recover)) == ["done"]
    assert time.monotonic() - started < 60
    assert recovered == [(600, 0, "took longer than 1 s to index; skipped"),
                         (256, 0, "needed more than 64 MiB of memory to index; skipped")]


def walk(count: int) -> str:
    """A task that goes through *count* files quickly, then stays on its last one a while."""
    from searcher.core.workers import report_file

    for number in range(count):
        report_file(number)
    time.sleep(1.0)
    return "done"


def test_the_parent_follows_files_without_a_message_each(monkeypatch):
    """Progress and the bounds see every file a worker is on, read from memory it shares
    with the parent: a message per file cost the parent 80 µs of CPU each."""
    import queue
    import types

    from searcher.core import workers

    kinds = []

    class Counting(queue.Queue):
        def put(self, item, *args, **kwargs):
            kinds.append(item[1][0] if item[1] else None)
            super().put(item, *args, **kwargs)

    monkeypatch.setattr(workers, "queue", types.SimpleNamespace(Queue=Counting,
                                                                Empty=queue.Empty))
    seen = []
    with workers.WorkerPool(1, bounds=workers.Bounds(seconds=60, memory=2**30)) as pool:
        assert list(pool.run(walk, [5000], tick=lambda: seen.append(pool.files_done()))) \
            == ["done"]
    assert max(seen) == 4999
    assert [kind for kind in kinds if kind] == ["ready", "done"]  # (None: it ended)
