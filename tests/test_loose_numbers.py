"""A pasted run that cuts a number (``00千伏特高压直流输电工程开工`` out of ``±800千伏…``)
finds its source on both back ends: quantities need their numbers whole, except in a run
with ``LOOSE_NUMBER_HAN`` Han characters or more, which also matches where the number is
cut (weight ``LOOSE_NUMBER_WEIGHT``, below whole-number matches).  Real news transcripts
of ``../shared/corpus/xwlb``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SHARED

NEWS = SHARED / "corpus" / "xwlb" / "news"
SOURCE = "20230808"  # 哈密送重庆±800千伏特高压直流输电工程开工
OTHERS = ["20221115", "20230101", "20230216", "20230316", "20230611", "20230712",
          "20230713", "20240315", "20240331"]  # also hold ±800千伏特高压直流
CUT = "00千伏特高压直流输电工程开工"

pytestmark = [pytest.mark.skipif(not NEWS.is_dir(), reason="../shared/corpus/xwlb missing"),
              pytest.mark.slow]


@pytest.fixture(scope="module")
def news(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("xwlb") / "news"
    folder.mkdir()
    names = [SOURCE, *OTHERS, *(p.stem for p in sorted(NEWS.glob("202308*.md")))]
    for name in dict.fromkeys(names):
        shutil.copy(NEWS / f"{name}.md", folder / f"{name}.md")
    return folder


@pytest.fixture(scope="module")
def local(news, tmp_path_factory):
    from searcher import SearchEngine

    engine = SearchEngine(tmp_path_factory.mktemp("xwlb-index") / "index")
    assert not engine.index([news], full=True).failed
    yield engine
    engine.close()


def _ranked(results) -> list[str]:
    return [Path(h.path).stem for h in results.hits]


def test_a_run_cutting_a_number_finds_its_source_locally(local):
    results = local.search(CUT, limit=10)
    assert not results.relaxed  # found as typed, not by "any word" of it
    assert _ranked(results)[0] == SOURCE
    # Only a run with enough text around the number: 00千伏 matches nothing as typed
    # (the search falls back to "any word" of it), 800千伏 matches whole.
    assert local.search("00千伏", limit=10).relaxed
    assert not local.search("800千伏", limit=10).relaxed


def test_the_cluster_ranks_a_run_cutting_a_number_like_the_local_index(news, local, fresh_cluster):
    cluster = fresh_cluster
    assert not cluster.index([news], full=True).failed
    for query in (CUT, "800千伏特高压直流输电工程开工", "00千伏"):
        mine, theirs = local.search(query, limit=20), cluster.search(query, limit=20)
        assert theirs.relaxed == mine.relaxed, query
        assert theirs.total == mine.total, query
        # The same documents, the same first (BM25 details differ below it: the
        # cluster's statistics are per shard and its phrase scores per bigram).
        assert _ranked(theirs)[:1] == _ranked(mine)[:1], query
        if mine.total <= 20:
            assert set(_ranked(theirs)) == set(_ranked(mine)), query
    assert _ranked(cluster.search(CUT, limit=10))[0] == SOURCE
