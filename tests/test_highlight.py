"""Unit tests for searcher.highlight: exact, merged spans and fragment choice."""

from __future__ import annotations

from searcher.highlight import (
    find_spans,
    highlight_all,
    make_snippet,
    merge,
    needles_for,
)


def marked(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


# -- highlight_all ---------------------------------------------------------------


def test_spans_are_exact() -> None:
    text = "前言：市场监管局发布了新的认证认可规定，认证工作继续。"
    spans = highlight_all(text, ["监管", "认证认可"])
    assert spans == [(5, 7), (13, 17)]
    assert marked(text, spans) == ["监管", "认证认可"]


def test_every_occurrence_is_found() -> None:
    text = "认证，再认证，又认证"
    assert marked(text, highlight_all(text, ["认证"])) == ["认证", "认证", "认证"]
    assert highlight_all(text, ["认证"]) == [(0, 2), (4, 6), (8, 10)]


def test_overlapping_matches_merge() -> None:
    text = "山东聊城市人民政府"
    spans = highlight_all(text, ["聊城", "城市"])
    assert spans == [(2, 5)]
    assert marked(text, spans) == ["聊城市"]


def test_touching_matches_merge() -> None:
    assert highlight_all("认证认可", ["认证", "认可"]) == [(0, 4)]
    assert merge([(4, 6), (0, 2), (2, 4), (8, 9)]) == [(0, 6), (8, 9)]


def test_traditional_text_highlighted_for_simplified_needle() -> None:
    text = "繁體的認證認可工作"
    spans = highlight_all(text, ["认证认可"])
    assert spans == [(3, 7)]
    assert marked(text, spans) == ["認證認可"]


def test_full_width_text_highlighted_for_half_width_needle() -> None:
    text = "型号ＡＢＣ１２３发布"
    spans = highlight_all(text, ["abc123"])
    assert spans == [(2, 8)]
    assert marked(text, spans) == ["ＡＢＣ１２３"]


def test_case_insensitive() -> None:
    text = "新款 iPhone 发布"
    assert marked(text, highlight_all(text, ["iphone"])) == ["iPhone"]


def test_whitespace_inside_text_is_spanned() -> None:
    text = "智慧城 市场景"
    spans = highlight_all(text, ["城市场"])
    assert spans == [(2, 6)]
    assert marked(text, spans) == ["城 市场"]


def test_length_changing_characters_keep_spans_exact() -> None:
    text = "㈱公司ﬁ认证"
    assert marked(text, highlight_all(text, ["认证"])) == ["认证"]
    assert marked(text, highlight_all(text, ["fi"])) == ["ﬁ"]
    assert marked(text, highlight_all(text, ["(株)公司"])) == ["㈱公司"]


def test_empty_needles() -> None:
    assert highlight_all("认证", []) == []
    assert highlight_all("认证", [""]) == []
    assert highlight_all("", ["认证"]) == []


def test_find_spans_reports_needle() -> None:
    assert sorted(find_spans("聊城市", ["聊城", "城市"])) == [(0, 2, "聊城"), (1, 3, "城市")]


def test_needles_for_squeezes_and_dedups() -> None:
    needles = needles_for([("認 證", True), ("ＡＢ", False)], ["认证", "ab", ""])
    assert needles == ["ab", "认证"]


def test_highlight_agrees_with_search_folding_when_lengths_change() -> None:
    assert highlight_all("乾隆㈱", ["乾隆"]) == [(0, 2)]


# -- make_snippet ------------------------------------------------------------------


def test_short_text_snippet_is_whole_text() -> None:
    text = "今天聊城市场监管局召开会议。"
    snippet = make_snippet(text, ["监管"])
    assert snippet.text == text
    assert snippet.highlights == [(6, 8)]


def test_fragment_with_most_distinct_needles_is_chosen() -> None:
    text = (
        "认证" + "甲" * 200 + "。"  # needle A early and alone
        + "乙" * 200 + "。"
        + "新规要求认证认可同步推进" + "丙" * 200  # A and B together late
    )
    snippet = make_snippet(text, ["认证", "认可"], width=60)
    assert "认证认可" in snippet.text
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    assert marked(snippet.text, snippet.highlights) == ["认证认可"]
    assert len(snippet.text) <= 60 + 2


def test_snippet_spans_shifted_for_ellipsis() -> None:
    text = "甲" * 300 + "认证认可" + "乙" * 300
    snippet = make_snippet(text, ["认证"], width=50)
    assert snippet.text.startswith("…")
    assert marked(snippet.text, snippet.highlights) == ["认证"]
    assert snippet.text[1:-1] in text


def test_snippet_starts_after_nearby_sentence_break() -> None:
    text = "甲" * 100 + "前一句结束。" + "这里有认证认可。" + "乙" * 200
    snippet = make_snippet(text, ["认证"], width=40)
    assert snippet.text.startswith("…这里有认证")
    assert marked(snippet.text, snippet.highlights) == ["认证"]


def test_snippet_is_plain_text() -> None:
    text = "说明<script>alert('认证')</script>认证认可&amp;结束"
    snippet = make_snippet(text, ["认证"])
    assert snippet.text == text  # nothing escaped, nothing inserted
    assert "<script>" in snippet.text
    assert marked(snippet.text, snippet.highlights) == ["认证", "认证"]
    first = text.index("认证")
    second = text.index("认证", first + 1)
    assert snippet.highlights == [(first, first + 2), (second, second + 2)]
    assert (first, second) == (17, 30)


def test_snippet_newlines_become_spaces() -> None:
    snippet = make_snippet("认证第一行\n第二行\n第三行", ["认证"])
    assert snippet.text == "认证第一行 第二行 第三行"
    assert snippet.highlights == [(0, 2)]


def test_short_text_is_shown_whole() -> None:
    snippet = make_snippet("第一行\n认证\n第三行", ["认证"])
    assert snippet.text == "第一行 认证 第三行"
    assert marked(snippet.text, snippet.highlights) == ["认证"]


def test_long_text_window_starts_after_a_sentence_break() -> None:
    text = "无关的开头。" * 40 + "这里开始。认证认可在这里" + "后面的内容。" * 40
    snippet = make_snippet(text, ["认证认可"], width=60)
    assert snippet.text.startswith("…这里开始。") or snippet.text.startswith("…认证认可")
    assert marked(snippet.text, snippet.highlights) == ["认证认可"]


def test_snippet_traditional_and_full_width() -> None:
    text = "繁體的認證認可工作，型号ＡＢＣ１２３"
    snippet = make_snippet(text, ["认证认可", "abc123"])
    assert marked(snippet.text, snippet.highlights) == ["認證認可", "ＡＢＣ１２３"]


def test_no_match_gives_leading_text() -> None:
    text = "abc" * 100
    snippet = make_snippet(text, ["认证"], width=50)
    assert snippet.text == text[:50] + "…"
    assert snippet.highlights == []
    short = make_snippet("短文", ["认证"])
    assert short.text == "短文"
    assert short.highlights == []
    assert make_snippet("", ["认证"]).text == ""


def test_shown_window_contains_the_needles_it_was_chosen_for() -> None:
    text = "认证" + "甲" * 300 + "认证" + "乙" * 100 + "认可" + "丙" * 300
    snippet = make_snippet(text, ["认证", "认可"], width=120)
    # a 120-char window holding both needles exists (they are 102 chars apart)
    assert marked(snippet.text, snippet.highlights) == ["认证", "认可"]
