"""Unit tests for searcher.analysis.tokens: the Whoosh analyzer and iter_terms."""

from __future__ import annotations

import pytest
from whoosh import fields
from whoosh import query as wq
from whoosh.filedb.filestore import RamStorage

from searcher.analysis.normalize import fold
from searcher.analysis.tokens import STOP_WORDS, iter_terms, query_terms
from searcher.local.analyzers import ChineseAnalyzer


def terms(text: str, extras: bool = True) -> list[tuple[str, int, bool]]:
    return [(t.text, t.pos, t.extra) for t in iter_terms(fold(text), extras=extras)]


def analyze(text: str, mode: str = "index") -> list[tuple[str, int]]:
    return [(t.text, t.pos) for t in ChineseAnalyzer()(text, positions=True, mode=mode)]


# -- a tiny in-memory index ------------------------------------------------

DOCS = {
    "phrase": "我们的认证认可工作",
    "apart": "认证是第一步，中间隔了很多很多内容，最后才是认可",
    "bureau": "聊城市场监管局召开会议",
    "version": "版本 3.6.3 发布",
    "digits": "有 3 个和 6 个",
    "covid": "COVID-19 疫情",
    "cpp": "学习 C++ 和 C# 编程",
    "phone": "iPhone 13 发布会",
    "fullwidth": "型号ＡＢＣ１２３",
    "plane": "空客 A320 客机 与 5G 网络",
    "trad": "繁體的認證認可",
    "stopped": "认证的认可",
}


@pytest.fixture(scope="module")
def searcher():
    schema = fields.Schema(
        name=fields.ID(stored=True, unique=True),
        body=fields.TEXT(analyzer=ChineseAnalyzer(), phrase=True),
    )
    ix = RamStorage().create_index(schema)
    with ix.writer() as writer:
        for name, body in DOCS.items():
            writer.add_document(name=name, body=body)
    with ix.searcher() as s:
        yield s


def found(searcher, q: wq.Query) -> set[str]:
    return {hit["name"] for hit in searcher.search(q, limit=None)}


def term(text: str) -> wq.Term:
    return wq.Term("body", text)


# -- positions and phrases -------------------------------------------------


def test_main_tokens_have_consecutive_positions() -> None:
    assert terms("认证认可") == [("认证", 0, False), ("认可", 1, False)]
    got = terms("我们的认证认可工作")
    assert [t for t, _, _ in got] == ["我们", "的", "认证", "认可", "工作"]
    assert [p for _, p, _ in got] == [0, 1, 2, 3, 4]


def test_term_offsets_point_into_folded_text() -> None:
    folded = fold("型号ＡＢＣ１２３认证")
    for t in iter_terms(folded):
        assert folded[t.start : t.end] == t.text


def test_phrase_matches_adjacent_words_only(searcher) -> None:
    phrase = wq.Phrase("body", ["认证", "认可"])
    assert found(searcher, phrase) == {"phrase", "trad"}
    # both words are in "apart" and "stopped", just not next to each other
    both = wq.And([term("认证"), term("认可")])
    assert {"apart", "stopped"} <= found(searcher, both)


def test_phrase_with_query_mode_analyzer(searcher) -> None:
    words = [t for t, _ in analyze("認證認可", mode="query")]
    assert words == ["认证", "认可"]
    assert found(searcher, wq.Phrase("body", words)) == {"phrase", "trad"}


# -- sub-words ---------------------------------------------------------------


def test_sub_words_share_parent_position_in_index_mode() -> None:
    assert terms("市场监管局") == [
        ("市场", 0, False),
        ("监管局", 1, False),
        ("监管", 1, True),
    ]
    assert analyze("市场监管局") == [("市场", 0), ("监管局", 1), ("监管", 1)]


def test_no_sub_words_in_query_mode() -> None:
    assert terms("市场监管局", extras=False) == [("市场", 0, False), ("监管局", 1, False)]
    assert analyze("市场监管局", mode="query") == [("市场", 0), ("监管局", 1)]
    assert query_terms("监管局") == ["监管局"]


def test_sub_word_is_searchable(searcher) -> None:
    assert found(searcher, term("监管")) == {"bureau"}
    assert found(searcher, term("监管局")) == {"bureau"}
    # the extra does not shift positions: the phrase 市场 监管局 still lines up
    assert found(searcher, wq.Phrase("body", ["市场", "监管局"])) == {"bureau"}


# -- Latin and digits --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A320", [("a320", 0, False)]),
        ("5G", [("5g", 0, False)]),
        ("COVID-19", [("covid-19", 0, False), ("covid", 0, True), ("19", 0, True)]),
        ("C++", [("c++", 0, False)]),
        ("C#", [("c#", 0, False)]),
        ("iPhone 13", [("iphone", 0, False), ("13", 1, False)]),
        ("3.6.3", [("3.6.3", 0, False)]),
        ("Ａ３２０", [("a320", 0, False)]),
    ],
)
def test_latin_tokens(text: str, expected: list[tuple[str, int, bool]]) -> None:
    assert terms(text) == expected


def test_full_width_equals_half_width() -> None:
    assert terms("ＡＢＣ１２３ ｉＰｈｏｎｅ") == terms("ABC123 iPhone")
    assert query_terms("Ｃ＋＋") == ["c++"]


def test_latin_tokens_are_searchable(searcher) -> None:
    assert found(searcher, term("a320")) == {"plane"}
    assert found(searcher, term("5g")) == {"plane"}
    assert found(searcher, term("covid-19")) == {"covid"}
    assert found(searcher, term("covid")) == {"covid"}
    assert found(searcher, term("19")) == {"covid"}
    assert found(searcher, term("c++")) == {"cpp"}
    assert found(searcher, term("c#")) == {"cpp"}
    assert found(searcher, term("iphone")) == {"phone"}
    assert found(searcher, term("13")) == {"phone"}
    assert found(searcher, term("abc123")) == {"fullwidth"}


def test_version_number_is_whole(searcher) -> None:
    assert found(searcher, term("3.6.3")) == {"version"}
    # no parts: "3" and "6" only match the doc where they stand alone
    assert found(searcher, term("3")) == {"digits"}
    assert found(searcher, term("6")) == {"digits"}


# -- other scripts and single characters -------------------------------------


def test_single_chinese_character() -> None:
    assert terms("人") == [("人", 0, False)]
    assert query_terms("猫") == ["猫"]


def test_kana_bigrams() -> None:
    assert terms("こんにちは") == [
        ("こん", 0, False),
        ("んに", 1, False),
        ("にち", 2, False),
        ("ちは", 3, False),
    ]
    assert terms("カタカナ") == [("カタ", 0, False), ("タカ", 1, False), ("カナ", 2, False)]
    assert terms("の") == [("の", 0, False)]


def test_hangul_words() -> None:
    assert terms("한국어 테스트") == [("한국어", 0, False), ("테스트", 1, False)]


def test_punctuation_and_emoji_produce_no_terms() -> None:
    assert terms("，。！？ 😀 —") == []


def test_query_terms_fold_traditional() -> None:
    assert query_terms("認證認可") == ["认证", "认可"]
    assert query_terms("頭髮") == ["头发"]
    assert query_terms("ＣＯＶＩＤ－１９") == ["covid-19"]


# -- stop words ----------------------------------------------------------------


def test_stop_words_is_a_real_list() -> None:
    assert isinstance(STOP_WORDS, frozenset)
    assert 500 < len(STOP_WORDS) < 2000
    assert {"的", "了", "和", "是"} <= STOP_WORDS
    assert "认证" not in STOP_WORDS
    assert all(w == fold(w) and w.strip() for w in STOP_WORDS)
    assert not any(ch.isdigit() for w in STOP_WORDS for ch in w)


def test_stop_words_removed_without_renumbering() -> None:
    # iter_terms keeps them; the analyzer drops them but keeps the gap
    assert [t for t, _, _ in terms("认证的认可")] == ["认证", "的", "认可"]
    assert analyze("认证的认可") == [("认证", 0), ("认可", 2)]
    # "我们" is a stop word too: the first kept token is still at position 2
    assert analyze("我们的认证认可工作") == [("认证", 2), ("认可", 3), ("工作", 4)]


def test_stop_word_gap_breaks_phrase(searcher) -> None:
    assert found(searcher, term("的")) == set()
    # "认证的认可": 认证@0, 认可@2, so the exact phrase does not match it ...
    assert "stopped" not in found(searcher, wq.Phrase("body", ["认证", "认可"]))
    # ... but a sloppy phrase does
    assert "stopped" in found(searcher, wq.Phrase("body", ["认证", "认可"], slop=2))


def test_chinese_numerals_are_not_stop_words() -> None:
    assert not set("一二三四五六七八九零") & STOP_WORDS
    assert analyze("买 三 个") == [("买", 0), ("三", 1)]


def test_fast_dictionary_load_gives_jiebas_own_dictionary() -> None:
    import jieba

    from searcher.analysis.tokens import initialize_tokenizer

    reference = jieba.Tokenizer()
    reference.initialize()  # jieba's own path (writes its cache if missing)
    fast = jieba.Tokenizer()
    initialize_tokenizer(fast)
    assert fast.initialized
    assert fast.total == reference.total
    assert fast.FREQ == reference.FREQ


def test_a_corrupt_jieba_cache_falls_back_to_jieba(tmp_path, monkeypatch) -> None:
    import tempfile

    import jieba

    from searcher.analysis.tokens import initialize_tokenizer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("SEARCHER_CACHE_DIR", str(tmp_path / "cache"))  # none of its own yet
    (tmp_path / "jieba.cache").write_bytes(b"not a marshal stream")
    tokenizer = jieba.Tokenizer()
    initialize_tokenizer(tokenizer)
    assert tokenizer.initialized and tokenizer.FREQ.get("聊城") and tokenizer.total > 0


def test_jieba_loads_without_importing_pkg_resources() -> None:
    """pkg_resources costs 0.2 s of every indexing run's start-up; jieba does not need it."""
    import subprocess
    import sys

    code = ("import sys; from searcher.analysis.tokens import segment_han; "
            "assert segment_han('聊城市召开会议') == ['聊城市', '召开', '会议']; "
            "assert 'pkg_resources' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
