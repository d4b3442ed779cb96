"""Reading one file is bounded in time and memory: a file over a bound is reported by name
and skipped, and the run goes on (in process and in worker processes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared

from searcher import ConfigError, SearchEngine, Settings

XWLB = SHARED / "corpus" / "xwlb" / "news"


def laughs(folder: Path) -> Path:
    """The "billion laughs": 9 levels of 9 aliases in a YAML front matter (under 400 bytes)."""
    lines = ["---", "a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    path = folder / "laughs.md"
    path.write_text("\n".join([*lines, "title: laughs", "---", "正文"]) + "\n")
    return path


def corpus(folder: Path, articles: int) -> tuple[Path, Path]:
    """*articles* real 新闻联播 transcripts, and one file of 500 of them end to end (12 MB of
    real text: reading it takes seconds, and over 100 MB of memory)."""
    folder.mkdir()
    every = sorted(XWLB.glob("*.md"))
    for path in every[:articles]:
        shutil.copy2(path, folder / path.name)
    big = folder / "all-in-one.md"
    big.write_text("\n\n".join(p.read_text(encoding="utf-8") for p in every[:500]),
                   encoding="utf-8")
    return folder, big


def reasons(report) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in report.failed}


@needs_shared
def test_a_file_over_the_time_bound_is_skipped_and_the_run_goes_on(tmp_path):
    src, big = corpus(tmp_path / "src", 20)
    laughs(src)
    engine = SearchEngine(tmp_path / "ix", Settings(parse_seconds=1))
    report = engine.index([src])  # 22 files: read in this process
    assert reasons(report)[big.name] == "took longer than 1 s to read; skipped"
    # laughs.md is refused or stopped, whichever comes first; it never stalls the run
    assert set(reasons(report)) == {big.name, "laughs.md"}
    assert report.added == 20
    assert engine.search('"新闻联播"', limit=1).total == 20


@needs_shared
def test_a_file_over_the_memory_bound_is_skipped(tmp_path):
    """In a fresh `searcher index` process, as the CLI and the build workers read files: the
    bound is the growth of the process's resident memory, so a long-lived process with freed
    memory at hand (this test runner) could read the file without growing at all."""
    import json
    import os
    import subprocess
    import sys

    from conftest import ROOT

    src, big = corpus(tmp_path / "src", 5)
    run = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(tmp_path / "ix"), "index",
         str(src), "--json"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SEARCHER_PARSE_SECONDS": "600",
             "SEARCHER_PARSE_MEMORY": "48MiB"})
    assert run.returncode == 1, run.stderr  # finished, one file failed
    report = json.loads(run.stdout)
    failed = {Path(item["path"]).name: item["reason"] for item in report["failed"]}
    assert failed == {big.name: "needed more than 48 MiB of memory to read; skipped"}
    assert report["added"] == 5


@needs_shared
@pytest.mark.slow
def test_bounds_hold_in_worker_processes(tmp_path):
    src, big = corpus(tmp_path / "src", 220)
    engine = SearchEngine(tmp_path / "ix", Settings(parse_seconds=1))
    report = engine.index([src], jobs=2, batch_size=40)
    assert reasons(report) == {big.name: "took longer than 1 s to read; skipped"}
    assert report.added == 220
    assert engine.check([src]).missing == [str(big)]


def test_bounds_are_checked_settings():
    with pytest.raises(ConfigError, match="parse_seconds"):
        Settings(parse_seconds=0)
    with pytest.raises(ConfigError, match="parse_memory"):
        Settings(parse_memory="10KB")
    assert Settings(parse_memory="2GiB").parse_memory == 2 * 1024**3
