"""A killed ``searcher index`` leaves nothing behind: no live workers, no held lock.

cron and most supervisors kill the main process only (``kill -9 PID``), not its process
group.  The worker processes must end with it and must not keep the writer lock alive,
so that a run started right after the kill begins at once and completes the index.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, needs_shared

from searcher import IndexLockedError, SearchEngine
from searcher.local.inspection import internals
from searcher.local.locking import writer_lock

XWLB = SHARED / "corpus" / "xwlb" / "news"
#: Enough files for a parallel build (runs under 200 files stay in one process).
ARTICLES = 220

needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(),
                                reason="needs Linux /proc to find the worker processes")


def children(pid: int) -> set[int]:
    """Direct children of *pid* (all its threads), from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def alive(pid: int) -> bool:
    """True while *pid* runs (a zombie, dead but not yet reaped, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def run_index(ix: Path, src: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "searcher", "--index-dir", str(ix), "index", str(src),
         "--jobs", "2", "--batch-size", "20", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def xwlb_copy(tmp_path: Path) -> Path:
    src = tmp_path / "xwlb"
    src.mkdir()
    # the shortest transcripts (about 19 KB each), to keep the three runs short
    for path in sorted(XWLB.glob("*.md"), key=lambda p: (p.stat().st_size, p.name))[:ARTICLES]:
        shutil.copy2(path, src / path.name)
    return src


@needs_shared
@needs_proc
@pytest.mark.slow
def test_rerun_right_after_kill_starts_at_once_and_completes(tmp_path, xwlb_copy):
    ix = tmp_path / "ix"
    proc = run_index(ix, xwlb_copy)
    workers: set[int] = set()
    deadline = time.monotonic() + 180
    try:
        # Wait until both workers are busy building segments (the parent holds the lock).
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {c for c in children(proc.pid) if alive(c)}
            staged = list(ix.glob("gen-*/staging/stage-*"))
            if len(workers) >= 2 and staged:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert len(workers) >= 2, "no worker processes seen"
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as cron would
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    # Started at once: no --wait, so a lock still held by a worker makes it exit with 2.
    rerun = run_index(ix, xwlb_copy)
    out, err = rerun.communicate(timeout=600)
    assert "being written by another process" not in err, err
    assert rerun.returncode == 0, (out, err)

    # The workers of the killed run ended with it (bounded wait: they die within moments).
    end = time.monotonic() + 10
    while time.monotonic() < end and any(alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)], "workers outlived their killed parent"

    engine = SearchEngine(ix)
    reader = internals(engine).searcher().reader()
    ids = [stored["id"] for _, stored in reader.iter_docs()]
    assert len(ids) == len(set(ids)) == ARTICLES
    assert engine.search('"新闻联播"', limit=1).total == ARTICLES
    check = engine.check([xwlb_copy])
    assert check.ok, (check.missing[:3], check.extra[:3], check.stale[:3])
    assert not list(ix.glob("gen-*/staging/*"))


LOCK_THEN_FORK = """
import os, sys, time
from pathlib import Path
from searcher.local.locking import writer_lock
with writer_lock(Path(sys.argv[1])):
    child = os.fork()
    if child == 0:  # a worker that outlives its parent (no PR_SET_PDEATHSIG here)
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_lock_belongs_to_the_process_that_took_it(tmp_path):
    """A child forked while the lock is held does not keep it once the taker is killed."""
    proc = subprocess.Popen([sys.executable, "-c", LOCK_THEN_FORK, str(tmp_path / "ix")],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = int(proc.stdout.readline())
    try:
        with pytest.raises(IndexLockedError, match=f"pid {proc.pid}"), \
                writer_lock(tmp_path / "ix"):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert alive(child)  # still running, still holding its copy of everything else
        with writer_lock(tmp_path / "ix"):  # taken at once: no --wait
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.wait()
        proc.stdout.close()


def _busy_run(ix: Path, src: Path) -> tuple[subprocess.Popen, set[int]]:
    """A `searcher index` run with both its workers busy building segments."""
    proc = run_index(ix, src)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        workers = {c for c in children(proc.pid) if alive(c)}
        if len(workers) >= 2 and len(list(ix.glob("gen-*/staging/stage-*"))) >= 2:
            return proc, workers
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    pytest.fail("the run ended (or never got busy) before it could be killed")


@needs_shared
@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_within_a_second_of_the_run_and_print_nothing(tmp_path, xwlb_copy, sig):
    """However the indexing process dies, its workers end at once and say nothing (cron
    mails whatever they print)."""
    proc, workers = _busy_run(tmp_path / "ix", xwlb_copy)
    try:
        os.kill(proc.pid, sig)  # the indexing process only, as cron or a supervisor would
        proc.wait(timeout=30)
        killed = time.monotonic()
        while time.monotonic() < killed + 5 and any(alive(w) for w in workers):
            time.sleep(0.01)
        lasted = time.monotonic() - killed
        assert not [w for w in workers if alive(w)], "workers outlived the indexing process"
        assert lasted < 1.5, f"workers ended {lasted:.2f} s after the indexing process"
        # The stream closes once every process holding it (the workers too) has ended.
        out, err = proc.communicate(timeout=10)
    finally:
        for pid in [proc.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -sig
    assert out == "" and err == "", err[-2000:]


@needs_shared
@needs_proc
@pytest.mark.slow
def test_deleting_the_lock_file_lets_no_second_writer_in(tmp_path, xwlb_copy):
    ix = tmp_path / "ix"
    proc, _ = _busy_run(ix, xwlb_copy)
    try:
        (ix / "write.lock").unlink()
        second = run_index(ix, xwlb_copy)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        assert err.startswith(f"error: index {ix} is being written by another process"), err
        first_out, first_err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, first_err[-2000:]
    engine = SearchEngine(ix)
    assert engine.search('"新闻联播"', limit=1).total == ARTICLES
    check = engine.check([xwlb_copy])
    assert check.ok, (check.missing[:3], check.extra[:3], check.stale[:3])
