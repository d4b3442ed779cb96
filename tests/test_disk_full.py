"""A full disk is reported naming a file on the full disk, not the file being copied from
another file system (``shutil.copyfile`` names both; the written one is the second)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED

from searcher.errors import storage_error


def _mount_small(folder: Path, size: str) -> bool:
    """A tmpfs of *size* at *folder* (root in a Linux container may; else the test skips)."""
    folder.mkdir()
    if os.name != "posix" or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def test_full_disk_names_the_file_on_the_full_disk(tmp_path):
    small = tmp_path / "small"
    if not _mount_small(small, "3m"):
        pytest.skip("cannot mount a small file system here")
    try:
        src = tmp_path / "src"
        src.mkdir()
        articles = sorted((SHARED / "corpus" / "xwlb" / "news").glob("*.md"))[:3]
        for i, path in enumerate(articles or []):
            (src / f"{i}.md").write_bytes(path.read_bytes())
        if not articles:
            (src / "a.md").write_text("# 长江\n\n长江防汛工作扎实推进。\n", encoding="utf-8")
        # The frozen query dictionary (several MB) is copied into the index from the cache
        # folder, on another file system.
        done = subprocess.run(
            [sys.executable, "-m", "searcher", "--index-dir", str(small / "ix"), "index",
             str(src)], cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT),
                 "SEARCHER_CACHE_DIR": str(tmp_path / "cache")})
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: cannot write {small}/ix/"), done.stderr
    assert done.stderr.endswith(": No space left on device; free some disk space and run the "
                                "command again (the index keeps its last complete commit)\n")
    assert str(tmp_path / "cache") not in done.stderr


def test_a_copy_names_the_file_it_writes():
    import errno

    exc = OSError(errno.ENOSPC, "No space left on device", "/home/u/.cache/dict", None,
                  "/srv/ix/gen-1/dict.copy")
    assert storage_error(exc, "/srv/ix").path == "/srv/ix/gen-1/dict.copy"
    plain = OSError(errno.ENOSPC, "No space left on device", "/srv/ix/gen-1/x")
    assert storage_error(plain, "/srv/ix").path == "/srv/ix/gen-1/x"
