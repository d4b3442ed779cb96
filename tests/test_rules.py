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
