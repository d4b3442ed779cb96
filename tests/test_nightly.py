"""The nightly job: locking, crash safety, atomic rebuilds and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, article, write

from searcher import IndexLockedError, SearchEngine
from searcher.local.inspection import internals
from searcher.local.locking import writer_lock


def many_articles(folder: Path, count: int, word: str = "长江") -> None:
    for i in range(count):
        body = f"这是第{i}篇关于{word}的报道，" + "防汛抗旱工作扎实推进。" * 20
        write(folder, f"batch{i // 100}/n{i}.md", article(f"第{i}号报道", body))


def unique_ids(engine: SearchEngine) -> tuple[int, int]:
    reader = internals(engine).searcher().reader()
    ids = [stored["id"] for _, stored in reader.iter_docs()]
    return len(ids), len(set(ids))


def test_second_writer_is_refused_or_waits(tmp_path):
    src = tmp_path / "src"
    write(src, "a.md", article("标题", "正文"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    with writer_lock(tmp_path / "ix"), pytest.raises(IndexLockedError, match="--wait"):
        engine.index([src])
    assert engine.search("正文").total == 1  # searching while locked works

    held = threading.Event()

    def hold_briefly() -> None:
        with writer_lock(tmp_path / "ix"):
            held.set()
            time.sleep(1.0)

    thread = threading.Thread(target=hold_briefly)
    thread.start()
    held.wait()
    report = engine.index([src], wait=10)
    thread.join()
    assert report.unchanged == 1


def test_lock_of_a_killed_process_is_cleared(tmp_path):
    code = ("import sys, time; from pathlib import Path\n"
            "from searcher.local.locking import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ix")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(IndexLockedError, match="pid"), writer_lock(tmp_path / "ix"):
        pass
    proc.kill()
    proc.wait()
    with writer_lock(tmp_path / "ix"):
        pass


def test_lock_holds_when_its_file_is_deleted(tmp_path):
    """Deleting ``write.lock`` under a writer does not let a second writer in."""
    code = ("import sys, time; from pathlib import Path\n"
            "from searcher.local.locking import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ix")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        (tmp_path / "ix" / "write.lock").unlink()
        with pytest.raises(IndexLockedError, match="being written by another process"), \
                writer_lock(tmp_path / "ix"):
            pass
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    with writer_lock(tmp_path / "ix"):
        pass


def _index_subprocess(index_dir: Path, src: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "index", str(src),
         "--jobs", "1", "--batch-size", "40", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait_for_commits(index_dir: Path, proc: subprocess.Popen, commits: int,
                      skip: str = "") -> None:
    """Wait until the running indexer has made *commits* TOC generations (or ended)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        tocs = [int(p.stem.rsplit("_", 1)[1]) for p in index_dir.glob("gen-*/_MAIN_*.toc")
                if p.parent.name != skip]
        if tocs and max(tocs) >= commits:
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_during_incremental_run(tmp_path):
    src = tmp_path / "src"
    many_articles(src, 60)
    ix = tmp_path / "ix"
    SearchEngine(ix).index([src])
    many_articles(src / "more", 400, word="黄河")
    proc = _index_subprocess(ix, src)
    _wait_for_commits(ix, proc, 3)
    assert proc.poll() is None, "indexer finished before it could be killed; make the corpus larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    engine = SearchEngine(ix)
    partial = engine.search("黄河", limit=1).total
    assert 0 < partial < 400  # the last commit is served
    assert engine.search("长江", limit=1).total == 60
    report = engine.index([src])
    assert report.added == 400 - partial and not report.failed
    assert engine.search("黄河", limit=1).total == 400
    assert unique_ids(engine) == (460, 460)
    assert not list(ix.glob("gen-*/staging/*"))


@pytest.mark.slow
def test_sigkill_during_full_rebuild_keeps_old_index_and_resumes(tmp_path):
    src = tmp_path / "src"
    many_articles(src, 300)
    ix = tmp_path / "ix"
    first = SearchEngine(ix).index([src])
    proc = _index_subprocess(ix, src, "--full")
    _wait_for_commits(ix, proc, 2, skip=first.generation)
    assert proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    engine = SearchEngine(ix)
    assert engine.stats().generation == first.generation  # old index still served
    assert engine.search("长江", limit=1).total == 300
    report = engine.index([src], full=True)
    assert report.full and report.generation != first.generation
    assert report.added < 300  # resumed: the committed part of the rebuild was kept
    assert engine.search("长江", limit=1).total == 300
    assert unique_ids(engine) == (300, 300)
    engine.index([src])  # the next run removes the superseded generation
    assert [p.name for p in ix.glob("gen-*")] == [report.generation]


@pytest.mark.slow
def test_searches_during_full_rebuild_never_fail(tmp_path):
    src = tmp_path / "src"
    many_articles(src, 300)
    ix = tmp_path / "ix"
    SearchEngine(ix).index([src])
    searcher_engine = SearchEngine(ix)
    stop = threading.Event()
    totals: list[int] = []
    errors: list[BaseException] = []

    def search_loop() -> None:
        while not stop.is_set():
            try:
                totals.append(searcher_engine.search("长江 防汛", limit=5).total)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        SearchEngine(ix).index([src], full=True, jobs=2, batch_size=50)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert totals and set(totals) == {300}
    assert searcher_engine.search("长江").total == 300


# -- bad input: one test per kind ------------------------------------------------------


@pytest.fixture
def good_and(tmp_path):
    """A source folder with one good article, and a function to index it."""
    src = tmp_path / "src"
    write(src, "good.md", article("好文章", "这是一篇正常的文章。"))

    def run(**kwargs):
        engine = SearchEngine(tmp_path / "ix", **kwargs)
        report = engine.index([src], jobs=1)
        assert engine.search("正常").total == 1, "the good file must still be indexed"
        return engine, report

    return src, run


def reasons(report) -> dict[str, str]:
    return {Path(p).name: r for p, r in report.failed}


def test_invalid_yaml_is_salvaged(good_and):
    src, run = good_and
    write(src, "bad.md", "---\ntitle: 'unbalanced\ncategories: 新闻\n---\n<p>抢救出来的正文</p>\n")
    engine, report = run()
    assert not report.failed
    assert any("not valid YAML" in w for p, w in report.warnings if p.endswith("bad.md"))
    assert engine.search("抢救").hits[0].title == "unbalanced"


def test_binary_file(good_and):
    src, run = good_and
    (src / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    _, report = run()
    assert "binary" in reasons(report)["image.md"]


def test_undecodable_bytes(good_and):
    src, run = good_and
    (src / "mojibake.md").write_bytes(b"---\ntitle: x\n---\n" + b"\xff\xfe\xfa\xfb" * 50)
    _, report = run()
    assert "not UTF-8" in reasons(report)["mojibake.md"]


def test_gb18030_file_is_indexed(good_and):
    src, run = good_and
    (src / "legacy.md").write_bytes(article("旧文件", "国标编码的旧文章").encode("gb18030"))
    engine, report = run()
    assert not report.failed
    assert engine.search("国标编码").total == 1


def test_empty_file(good_and):
    src, run = good_and
    (src / "empty.md").write_bytes(b"")
    (src / "blank.md").write_text("\n  \n", encoding="utf-8")
    _, report = run()
    assert reasons(report)["empty.md"] == "empty file"
    assert reasons(report)["blank.md"] == "empty file"


def test_huge_file(good_and):
    src, run = good_and
    with open(src / "huge.md", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without using disk
    _, report = run()
    assert "over the" in reasons(report)["huge.md"] and "50" in reasons(report)["huge.md"]


def test_symlink_loop(good_and):
    src, run = good_and
    os.symlink("..", src / "loop")
    os.symlink("self.md", src / "self.md")
    _, report = run()
    failed = dict(report.failed)
    assert any("symlink loop" in r for r in failed.values())
    assert "symlink loop" in reasons(report)["self.md"]


def test_unreadable_file_keeps_previous_version(good_and, monkeypatch):
    src, run = good_and
    write(src, "later.md", article("会变的文章", "第一版内容"))
    engine, _ = run()
    later = src / "later.md"
    later.write_text(article("会变的文章", "第二版内容，更长一些"), encoding="utf-8")
    original = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self.name == "later.md":
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    engine, report = run()
    assert "permission denied" in reasons(report)["later.md"]
    assert "kept the previously indexed version" in reasons(report)["later.md"]
    assert engine.search("第一版").total == 1


def test_file_deleted_mid_run(good_and, monkeypatch):
    src, run = good_and
    write(src, "vanishing.md", article("将要消失", "马上就被删除"))
    import searcher.local.indexing as indexing

    real_scan = indexing.scan

    def scan_then_delete(paths, **kwargs):
        found = real_scan(paths, **kwargs)
        (src / "vanishing.md").unlink()
        return found

    monkeypatch.setattr(indexing, "scan", scan_then_delete)
    _, report = run()
    assert "disappeared" in reasons(report)["vanishing.md"]
