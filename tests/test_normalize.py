"""Unit tests for searcher.analysis.normalize: fold, fold_with_map, squeeze."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.analysis.normalize import fold, fold_with_map, squeeze, to_simplified

# -- fold ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # NFKC full-width → half-width, then lower case
        ("ABC", "abc"),  # ASCII fast path still lowers
        ("iPhone", "iphone"),
        ("認證認可", "认证认可"),  # traditional → simplified
        ("頭髮", "头发"),
        ("认证认可", "认证认可"),  # simplified unchanged
        ("Ｃ＋＋", "c++"),
        ("\u3000", " "),  # ideographic space → ASCII space
        ("㈱", "(株)"),  # NFKC expands
        ("ﬁ", "fi"),
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_keeps_other_scripts() -> None:
    assert fold("こんにちは") == "こんにちは"
    assert fold("한국어") == "한국어"
    assert to_simplified("abc") == "abc"
    assert to_simplified("") == ""


def test_fold_is_idempotent() -> None:
    for text in ("ＡＢＣ１２３", "認證認可", "㈱ﬁ", "Hello 世界"):
        once = fold(text)
        assert fold(once) == once


# -- fold_with_map ---------------------------------------------------------


def _check_map(text: str, folded: str, mapping: list[int]) -> None:
    """Every folded char comes from the original char the map points to."""
    assert len(mapping) == len(folded)
    assert mapping == sorted(mapping)
    for i, ch in enumerate(folded):
        assert 0 <= mapping[i] < len(text)
        assert ch in fold(text[mapping[i]]), (i, ch, text[mapping[i]])


def test_fold_with_map_same_length_is_identity() -> None:
    folded, mapping = fold_with_map("認證ＡＢ")
    assert folded == "认证ab"
    assert mapping == [0, 1, 2, 3]


def test_fold_with_map_length_changing_chars() -> None:
    text = "a㈱bﬁc"
    folded, mapping = fold_with_map(text)
    assert folded == "a(株)bfic"
    assert mapping == [0, 1, 1, 1, 2, 3, 3, 4]
    _check_map(text, folded, mapping)
    # "b" and "c" land on their own original index even after the expansions.
    assert text[mapping[folded.index("b")]] == "b"
    assert text[mapping[folded.index("c")]] == "c"


def test_fold_with_map_drop_space() -> None:
    text = "認 證㈱ ﬁ"
    folded, mapping = fold_with_map(text, drop_space=True)
    assert folded == "认证(株)fi"
    assert mapping == [0, 2, 3, 3, 3, 5, 5]
    _check_map(text, folded, mapping)


def test_fold_with_map_drop_space_same_length() -> None:
    text = "智慧城 市场\t景\u3000应用"
    folded, mapping = fold_with_map(text, drop_space=True)
    assert folded == "智慧城市场景应用"
    assert [text[i] for i in mapping] == list("智慧城市场景应用")


def test_fold_with_map_without_drop_space_keeps_spaces() -> None:
    folded, mapping = fold_with_map("Ａ Ｂ")
    assert folded == "a b"
    assert mapping == [0, 1, 2]


def test_fold_with_map_empty() -> None:
    assert fold_with_map("") == ("", [])
    assert fold_with_map("   ", drop_space=True) == ("", [])


_SAFE = st.text(
    alphabet=st.sampled_from(list("abcXYZ 019ＡＢＣ１２　\t\n認證认证城市頭髮㈱ﬁ①…")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_SAFE, st.booleans())
def test_fold_with_map_property(text: str, drop_space: bool) -> None:
    folded, mapping = fold_with_map(text, drop_space=drop_space)
    _check_map(text, folded, mapping)
    if drop_space:
        assert folded == squeeze(text)
    else:
        assert folded == fold(text)


def test_fold_with_map_expansion_and_contraction_cancel_out() -> None:
    text = "ﬁe\u0301x"  # 4 chars; folds to "fiéx", also 4 chars
    folded, mapping = fold_with_map(text)
    assert folded == "fi\u00e9x"
    # "f" and "i" both come from "ﬁ" (index 0); "é" starts at index 1; "x" is index 3.
    assert mapping == [0, 0, 1, 3]


def test_fold_with_map_fallback_agrees_with_fold() -> None:
    text = "乾隆㈱"  # "乾隆" is kept by OpenCC's phrase table; "乾" alone becomes "干"
    folded, _mapping = fold_with_map(text)
    assert folded == fold(text) == "乾隆(株)"


# -- squeeze ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 认 证\t认可\n ", "认证认可"),
        ("智慧城 市场景", "智慧城市场景"),
        ("Ａ Ｂ\u3000Ｃ", "abc"),
        ("認 證", "认证"),
        ("a\r\n\u00a0b", "ab"),
        ("   ", ""),
    ],
)
def test_squeeze(text: str, expected: str) -> None:
    assert squeeze(text) == expected


# -- fold_with_map against the character-by-character definition -----------------------
def reference_fold_with_map(text: str, drop_space: bool = False) -> tuple[str, list[int]]:
    """The definition, slowly: NFKC + lower case per base character with its combining
    marks, OpenCC on the whole string (per character if that changes the length)."""
    import re
    import unicodedata

    units: list[tuple[int, str]] = []
    for index, ch in enumerate(text):
        if units and unicodedata.combining(ch):
            units[-1] = (units[-1][0], units[-1][1] + ch)
        else:
            units.append((index, ch))
    parts, mapping = [], []
    for start, unit in units:
        piece = unicodedata.normalize("NFKC", unit).lower()
        parts.append(piece)
        mapping.extend([start] * len(piece))
    nfkc = "".join(parts)
    folded = to_simplified(nfkc)
    if len(folded) != len(nfkc):
        folded = "".join(to_simplified(c) if len(to_simplified(c)) == 1 else c for c in nfkc)
    if drop_space:
        kept = [i for i, c in enumerate(folded) if not re.match(r"\s", c)]
        folded, mapping = "".join(folded[i] for i in kept), [mapping[i] for i in kept]
    return folded, mapping


TRICKY = ["……等等…", "ﬁle ＦＩＬＥ ①②", "Cafe\u0301 café", "\u1100\u1161\u11a8 한국",
          "㍻ ㎏ ™ ½", "", " \n\t ", "a\u3000b", "認證…認可\u00a0ＡＢ"]


@pytest.mark.parametrize("text", TRICKY)
def test_fold_with_map_equals_its_definition(text: str) -> None:
    for drop_space in (False, True):
        assert fold_with_map(text, drop_space=drop_space) == \
            reference_fold_with_map(text, drop_space)


def test_fold_with_map_on_real_articles() -> None:
    """Messy feed articles and transcripts (ellipses, full-width forms, markup leftovers)."""
    from conftest import SHARED

    files = sorted((SHARED / "corpus" / "rsshub").rglob("*.md"))[:40] + \
        sorted((SHARED / "corpus" / "xwlb").rglob("*.md"))[:20]
    if not files:
        pytest.skip("../shared corpora are not present beside the repo")
    for path in files:
        text = path.read_text(encoding="utf-8", errors="surrogatepass")
        assert fold_with_map(text, drop_space=True) == reference_fold_with_map(text, True), path


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_fold_with_map_equals_its_definition_on_any_text(text: str) -> None:
    assert fold_with_map(text, drop_space=True) == reference_fold_with_map(text, True)
    assert fold_with_map(text) == reference_fold_with_map(text)


def test_replacing_changed_characters_one_by_one_is_translate() -> None:
    """The fast path of folding replaces each changing character in turn; where one
    replacement holds another replaced character, that would chain, so translate() runs."""
    from searcher.analysis.normalize import translate_changed

    chained = {ord("a"): "b", ord("b"): "c"}
    assert translate_changed("ab ba", chained, {"a", "b"}) == "ab ba".translate(chained) == "bc cb"
    table = {ord("，"): ",", ord("Ａ"): "a", ord("Ⅻ"): "xii"}
    text = "Ａ股，Ⅻ届，Ａ"
    changed = {"，", "Ａ", "Ⅻ"}
    assert translate_changed(text, table, changed) == text.translate(table) == "a股,xii届,a"


def test_space_table_is_what_the_space_pattern_matches() -> None:
    """fold_with_map drops whitespace by a table lookup: it must match ``\\s`` exactly,
    on every code point (none above the table's last one)."""
    from searcher.analysis.normalize import LAST_SPACE, SPACE, space_table

    table = space_table()
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        matched = SPACE.fullmatch(chr(code)) is not None
        assert matched == (code <= LAST_SPACE and bool(table[code])), hex(code)
