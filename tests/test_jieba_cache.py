"""jieba's dictionary cache never prints a traceback when the shared temporary folder
holds a cache this user cannot replace (another user's ``/tmp/jieba.cache``)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

LOAD = ("from searcher.analysis.tokens import jieba_module, segment_han\n"
        "jieba_module()\nprint(segment_han('中华人民共和国'))\n")


def test_unreplaceable_shared_cache_prints_nothing(tmp_path):
    shared = tmp_path / "tmp"
    # What the kernel refuses a non-root user in /tmp (another user's file, sticky folder),
    # made so that root is refused too: the name is taken by a folder.
    (shared / "jieba.cache").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(shared),
           "SEARCHER_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # the first run writes this user's cache, the second reads it
        done = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        assert done.stdout.strip() == "['中华人民共和国']"
    assert (tmp_path / "cache" / "jieba" / "jieba.cache").stat().st_size > 1_000_000
