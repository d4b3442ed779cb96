"""Commits never merge large segments (Whoosh's MERGE_SMALL would, all at once).

Whoosh's policy merges the smallest segments once their running total of documents is
below fib(rank + 5): with segments of equal size that suddenly holds for half the index
(at ~25 segments of a parallel build's ~10,000 documents, a 500,000-article build stalled
in a merge of ~260,000).  searcher applies it to segments below LARGE_SEGMENT_DOCS only.
Scaled down here (the threshold patched to 15 documents) on real transcripts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared

from searcher import SearchEngine
from searcher.local import whoosh_adapter
from searcher.local.inspection import internals

pytestmark = needs_shared
XWLB = SHARED / "corpus" / "xwlb" / "news"


def nightly_runs(tmp_path: Path, runs: int, per_run: int) -> tuple[int, int]:
    """*runs* index runs, each adding *per_run* new transcripts; (segments, documents)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    files = sorted(XWLB.glob("*.md"))[: runs * per_run]
    engine = SearchEngine(tmp_path / "ix")
    for run in range(runs):
        for path in files[run * per_run : (run + 1) * per_run]:
            shutil.copy(path, docs / path.name)
        report = engine.index([docs], jobs=1)
        assert not report.failed
    searcher = internals(engine).searcher()
    counts = (len(searcher.leaf_searchers()), searcher.doc_count())
    assert engine.search('"新闻联播"', limit=1).total == len(files)
    engine.close()
    return counts


@pytest.mark.parametrize("large", [15, 10**9])
def test_commits_leave_large_segments_alone(tmp_path: Path, monkeypatch, large: int) -> None:
    monkeypatch.setattr(whoosh_adapter, "LARGE_SEGMENT_DOCS", large)
    segments, documents = nightly_runs(tmp_path, runs=9, per_run=20)
    assert documents == 180
    if large == 15:
        assert segments == 9  # one per run, none merged
    else:  # plain MERGE_SMALL: the equal segments were merged (the control)
        assert segments < 9


def test_a_segment_whose_documents_are_all_deleted_is_dropped(tmp_path: Path) -> None:
    """A nightly run that removes what an earlier one added leaves no empty segment behind
    (it cost every query a round, and the suggestion table the deleted documents' words)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    files = sorted(XWLB.glob("*.md"))[:12]
    for path in files[:8]:
        shutil.copy(path, docs / path.name)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1)
    before = len(internals(engine).searcher().leaf_searchers())
    for path in files[8:]:
        shutil.copy(path, docs / path.name)
    engine.index([docs], jobs=1)
    assert len(internals(engine).searcher().leaf_searchers()) == before + 1
    expected = engine.suggest("新闻", 20)
    for path in files[8:]:
        (docs / path.name).unlink()
    report = engine.index([docs], jobs=1)
    assert report.deleted == 4
    searcher = internals(engine).searcher()
    assert len(searcher.leaf_searchers()) == before
    assert searcher.doc_count_all() == searcher.doc_count() == 8
    assert engine.search('"新闻联播"', limit=1).total == 8
    assert engine.suggest("新闻", 20) != expected  # the deleted documents' counts are gone
    engine.close()
