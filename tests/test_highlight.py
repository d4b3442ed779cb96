"""Unit tests for searcher.highlight: exact, merged spans and fragment choice."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.highlight import (
    DEFAULT_WIDTH,
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


# -- the same answers as the definition, at any number of matches ------------------------

def reference_snippet(text: str, needles: list[str], width: int) -> tuple[str, list]:
    """make_snippet's definition, written out the direct (quadratic) way: every window
    starting at a match or at its soft start, scored on the needles wholly inside it."""
    from searcher.analysis.normalize import fold_with_map

    folded, mapping = fold_with_map(text, drop_space=True)
    spans = []
    for needle in {n for n in needles if n}:
        i = folded.find(needle)
        while i >= 0:
            spans.append((mapping[i], mapping[i + len(needle) - 1] + 1, needle))
            i = folded.find(needle, i + 1)
    spans.sort()

    def soft(lo: int, hi: int) -> int:
        lo = max(lo, 0)
        for i in range(hi - 1, lo - 1, -1):
            if text[i] in "。！？；\n!?;":
                return i + 1
        return lo

    if len(text) <= width:
        start, end = 0, len(text)
    elif not spans:
        start, end = 0, width
    else:
        best, best_score = 0, (-1, 0, 0)
        for s, _e, _n in spans:
            for ws in (soft(s - 20, s), s):
                distinct = {n for s2, e2, n in spans if s2 >= ws and e2 <= ws + width}
                score = (len(distinct), sum(len(n) for n in distinct), -ws)
                if score > best_score:
                    best, best_score = ws, score
        start, end = best, min(len(text), best + width)
    inside = merge((max(s, start) - start, min(e, end) - start)
                   for s, e, _ in spans if s < end and e > start)
    shift = 1 if start > 0 else 0
    shown = ("…" if start else "") + text[start:end].replace("\n", " ") + (
        "…" if end < len(text) else "")
    return shown, [(s + shift, e + shift) for s, e in inside]


_PIECES = st.lists(st.sampled_from(
    list("认证可聊城市场甲乙。！？；\n!? 　ＡＢａb認證㈱ﬁ") + ["认证", "认可", "城市", "ab"]),
    max_size=300).map("".join)
_NEEDLES = st.lists(st.sampled_from(["认证", "认可", "城市", "聊城市", "ab", "b", "市场", "甲",
                                     "(株)", "fi", "乙乙"]), max_size=4)


@settings(max_examples=400, deadline=None)
@given(_PIECES, _NEEDLES, st.sampled_from([5, 12, 40, 120]), st.sampled_from([3, 16, None]))
def test_snippet_equals_its_definition(text: str, needles: list[str], width: int,
                                       chunk: int | None) -> None:
    """Also with small blocks of candidates (``CHUNK``), as in a long article."""
    import searcher.highlight as highlight

    saved = highlight.CHUNK
    highlight.CHUNK = chunk or saved
    try:
        snippet = make_snippet(text, needles, width)
    finally:
        highlight.CHUNK = saved
    assert (snippet.text, snippet.highlights) == reference_snippet(text, needles, width)
    reference_spans = merge((s, e) for s, e, _ in find_spans(text, needles))
    assert highlight_all(text, needles) == reference_spans


@pytest.mark.parametrize("chunk", [3, 16, 1 << 16])
@pytest.mark.parametrize("text", [
    "甲" * 10 + "认证" + "乙" * 200,  # the window starts before the first match
    "甲" * 30 + "认证" + "乙" * 200,  # a gap longer than LEAD before it
    "甲" * 50 + "。丙认证" + "乙" * 90 + "认可" + "丁" * 300 + "认证丙认可" + "戊" * 100,
    ("认证" + "甲" * 37) * 20 + "认可" + "乙" * 50,
])
def test_snippet_equals_its_definition_across_blocks(text: str, chunk: int) -> None:
    import searcher.highlight as highlight

    saved = highlight.CHUNK
    highlight.CHUNK = chunk
    try:
        for width in (12, 40, 120):
            snippet = make_snippet(text, ["认证", "认可", "丙"], width)
            assert (snippet.text, snippet.highlights) == \
                reference_snippet(text, ["认证", "认可", "丙"], width)
    finally:
        highlight.CHUNK = saved


def test_snippet_equals_its_definition_on_real_articles() -> None:
    """Real articles (sample_docs), with their own frequent words as needles."""
    from pathlib import Path

    from searcher.ingest.documents import load_document

    docs = sorted((Path(__file__).resolve().parents[1] / "sample_docs").rglob("*.md"))
    assert docs
    for path in docs[:12]:
        body = load_document(path, path.parent).body
        words = [body[i : i + 2] for i in range(0, min(len(body), 600), 97)]
        for width in (40, 120):
            snippet = make_snippet(body, words, width)
            assert (snippet.text, snippet.highlights) == reference_snippet(body, words, width)


@pytest.mark.parametrize("text", [
    "长江，" * 100_000,  # one word repeated 10^5 times
    "长" * 1_000_000,  # one character: a match at every position
    ("长江是中国第一长河，" * 100_000) + "认可",  # a long line, the second needle at its end
])
def test_snippets_of_worst_case_articles_cost_matches_times_log(text: str) -> None:
    """Hundreds of thousands of matches: the quadratic version took minutes (20,000 took
    36 s); these take well under a second each, with the same window as the definition."""
    import time

    started = time.perf_counter()
    snippet = make_snippet(text, ["长江", "长", "认可"])
    spans = highlight_all(text, ["长江"])
    elapsed = time.perf_counter() - started
    assert elapsed < 20, elapsed  # generous: a loaded machine, not a benchmark
    assert snippet.highlights and len(snippet.text) <= DEFAULT_WIDTH + 2
    if text.endswith("认可"):  # the only window holding every needle is at the end
        assert snippet.text.endswith("认可") and not snippet.text.endswith("…")
    if text.startswith("长江，"):
        assert len(spans) == 100_000 and spans[:2] == [(0, 2), (3, 5)]


def test_snippets_stop_at_the_time_limit() -> None:
    from searcher import TimeLimitExceeded, time_limit

    text = "长江，" * 100_000
    with time_limit(0), pytest.raises(TimeLimitExceeded):
        make_snippet(text, ["长江"])
    with time_limit(0), pytest.raises(TimeLimitExceeded):
        highlight_all(text, ["长江"])
    # folding 20 million characters is not started with a second left
    with time_limit(1), pytest.raises(TimeLimitExceeded):
        make_snippet("a" * 20_000_000, ["a"])
    with time_limit(60):
        assert make_snippet(text, ["长江"]).highlights[0] == (0, 2)
