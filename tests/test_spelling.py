"""'Did you mean' for homophone typos (issue 23, part 2), on sample_docs' real articles."""

from __future__ import annotations

import os
import re

import pytest

from searcher.analysis.tokens import query_terms
from searcher.spelling import near_syllables, spellings, units_of

TYPOS = [
    ("聊成", "聊城"),  # 成 for 城 (cheng)
    ("认正", "认证"),  # 正 for 证 (zheng)
    ("认正认可", "认证认可"),
    ("市场监官", "市场监管"),  # 官 for 管 (guan), inside a longer word
    ("聊成 天气", "聊城 天气"),  # only the word that needs it
    ("监管 认正", "监管 认证"),
    ("title:聊成", "title:聊城"),
    ("聊成 OR 认正", "聊城 OR 认证"),
    ("認正", "認證"),  # typed in traditional script: offered in it
]
_HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def test_spellings_and_near_syllables() -> None:
    assert "liaocheng" in spellings("聊城", near=False)
    assert near_syllables("zheng") == ["zhen", "zeng"]
    assert near_syllables("can") == ["cang", "chan"]
    near = spellings("认证", near=True)
    assert "renzhen" in near and "rengzheng" in near and "renzheng" not in near


def test_units_cover_the_run_its_terms_and_windows() -> None:
    whole, parts = units_of("容气化")[0]
    assert whole == (0, 3) and (0, 2) in parts and (1, 3) in parts
    assert units_of("abc") == [] and units_of("聊") == []


@pytest.mark.parametrize(("typed", "meant"), TYPOS)
def test_homophone_typo_is_corrected(sample_index, typed: str, meant: str) -> None:
    engine, _ = sample_index
    results = engine.search(typed)
    assert results.did_you_mean == meant
    assert results.as_dict()["did_you_mean"] == meant
    assert engine.search(meant).did_you_mean is None


def test_correct_words_are_left_alone(sample_index) -> None:
    """Every Chinese word of every title, alone and in pairs: no correction, even where a
    homophone is more frequent (a correct word rarer than a homophone stays)."""
    engine, _ = sample_index
    words: list[str] = []
    titles = {h.title for h in engine.search("的 OR 是 OR 在 OR 了", limit=100).hits}
    assert len(titles) >= 10
    for title in sorted(titles):
        words += [w for w in query_terms(title) if _HAN_WORD.match(w)]
    words = list(dict.fromkeys(words))
    assert len(words) >= 30
    offered = {w: engine.search(w).did_you_mean for w in words}
    assert not {w: c for w, c in offered.items() if c}, offered
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    assert not [p for p in pairs if engine.search(p).did_you_mean]


def test_pasted_text_held_verbatim_is_not_corrected(sample_index, monkeypatch) -> None:
    """A run pasted from an article is held verbatim: it is counted once, and no span of
    it is offered a 'correction' (that a span is no word of the index says nothing when
    the whole run is real text), whether it is longer than a unit or not."""
    from searcher.analysis.normalize import fold
    from searcher.local.search import HomophoneLookup
    from searcher.spelling import MAX_UNIT

    engine, _ = sample_index
    ids = {h.id for h in engine.search("的 OR 是 OR 在", limit=60).hits}
    runs = list(dict.fromkeys(
        run[:16] for doc_id in sorted(ids)
        for run in re.findall(rf"[\u4e00-\u9fff]{{{MAX_UNIT + 1},}}", engine.get(doc_id).text)))
    assert len(runs) >= 40
    asked: list[str] = []
    counts = HomophoneLookup.counts
    monkeypatch.setattr(HomophoneLookup, "counts",
                        lambda self, units: asked.extend(units) or counts(self, units))
    # and runs of a unit's length or less, cut anywhere from the articles' Han runs
    han = [run for doc_id in sorted(ids)
           for run in re.findall(r"[\u4e00-\u9fff]{5,}", engine.get(doc_id).text)]
    short = list(dict.fromkeys(run[at : at + size] for run in han
                               for size in range(5, MAX_UNIT + 1)
                               for at in range(0, len(run) - size + 1, 3)))
    assert len(short) >= 200
    for run in runs + short:
        asked.clear()
        assert engine.search(run).did_you_mean is None, run
        assert asked in ([], [fold(run)]), run  # ([]: counted along with the search)


def test_quoted_phrases_are_not_corrected(sample_index) -> None:
    engine, _ = sample_index
    assert engine.search("“聊成”").did_you_mean is None
    assert engine.search("-聊成 认证").did_you_mean is None


def test_cli_prints_the_correction(sample_index) -> None:
    from typer.testing import CliRunner

    from searcher.cli import app

    engine, _ = sample_index
    result = CliRunner().invoke(app, ["--index-dir", engine.backend.location, "search", "聊成"])
    assert result.exit_code == 0, result.output
    assert "您是不是要找：聊城" in result.output


@pytest.mark.skipif(not os.environ.get("SEARCHER_OPENSEARCH_URL"),
                    reason="no OpenSearch cluster (SEARCHER_OPENSEARCH_URL)")
def test_cluster_offers_the_same_corrections(sample_index) -> None:
    import uuid

    from searcher.config import Settings
    from searcher.opensearch import OpenSearchBackend

    engine, folder = sample_index
    backend = OpenSearchBackend(os.environ["SEARCHER_OPENSEARCH_URL"], Settings(),
                                name=f"test-{uuid.uuid4().hex[:8]}", replicas=0)
    try:
        assert not backend.index([folder]).failed
        for typed, meant in [*TYPOS, ("聊城", None), ("认证认可", None), ("经纪", None)]:
            assert backend.search(typed).did_you_mean == meant, typed
            assert engine.search(typed).did_you_mean == meant, typed
    finally:
        backend.client.indices.delete(index=f"{backend.name}-*", ignore=[404],
                                      expand_wildcards="all")
        backend.close()
