"""The shared ranking rules of :mod:`searcher.core.rules` that both back ends read."""

from __future__ import annotations

from searcher.core import rules


def test_character_bigrams_are_taken_within_each_han_run():
    """The bigrams a question adds to "any word" ranking: each pair of adjacent Han
    characters, once, in order; nothing across Latin text, digits or punctuation."""
    assert rules.han_bigrams("企业间留置权的除外") == [
        "企业", "业间", "间留", "留置", "置权", "权的", "的除", "除外"]
    assert rules.han_bigrams("借款2020年借款") == ["借款", "年借"]
    assert rules.han_bigrams("什么是api网关？网关") == ["什么", "么是", "网关"]
    assert rules.han_bigrams("聊") == []
    assert rules.han_bigrams("") == []


def test_a_lone_character_is_not_a_proximity_run():
    """A pasted fragment cut inside words (心 of 中心, 协 of 协同) leaves lone characters
    as words: they are no run to search verbatim, while the runs of real words are."""
    runs = dict(rules.content_runs("心的党中央深入推进京津冀协"))
    assert "心" not in runs
    assert all(len(run) >= rules.RUN_MIN_CHARS for run in runs)
    assert any(run.startswith("党中央") for run in runs)
    assert dict(rules.content_runs("聊城的认证认可")) == {
        "聊城": ["聊城"], "认证认可": ["认证", "认可"]}
