"""Unit tests for searcher.query.parse_query, plus fuzzing down to SearchEngine.search."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searcher import SearchEngine, SearchResults
from searcher.errors import QueryError, SearcherError
from searcher.query import (
    MAX_QUERY_CHARS,
    And,
    Node,
    Not,
    Or,
    Phrase,
    Word,
    has_positive,
    parse_query,
    parse_query_notices,
    positive_literals,
)

W = Word

# -- grammar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("认证", W("认证")),
        ("  认证  ", W("认证")),
        ("认证 认可", And((W("认证"), W("认可")))),
        ("认证 AND 认可", And((W("认证"), W("认可")))),
        ("a b c", And((W("a"), W("b"), W("c")))),
        ("认证 OR 认可", Or((W("认证"), W("认可")))),
        ("认证 | 认可", Or((W("认证"), W("认可")))),
        ("认证|认可", Or((W("认证"), W("认可")))),
        ("a b OR c", Or((And((W("a"), W("b"))), W("c")))),
        ("a OR b c", Or((W("a"), And((W("b"), W("c")))))),
        ("a or b", And((W("a"), W("or"), W("b")))),  # keywords are case-sensitive
        ("认证 NOT 认可", And((W("认证"), Not(W("认可"))))),
        ("认证 -认可", And((W("认证"), Not(W("认可"))))),
        ("a -b -c", And((W("a"), Not(W("b")), Not(W("c"))))),
        ("(a OR b) c", And((Or((W("a"), W("b"))), W("c")))),
        ("a (b OR c)", And((W("a"), Or((W("b"), W("c")))))),
        ("a NOT (b OR c)", And((W("a"), Not(Or((W("b"), W("c"))))))),
        ("((a))", W("a")),
        ('"认证 认可"', Phrase("认证 认可")),
        ('"  认证   认可 "', Phrase("认证 认可")),  # inner whitespace normalised
        ('a "b c"', And((W("a"), Phrase("b c")))),
        ('a ""', W("a")),  # empty phrase is dropped
        ("title:认证", W("认证", "title")),
        ("TITLE:认证", W("认证", "title")),
        ("body:认证", W("认证", "body")),
        ("author:张三", W("张三", "author")),
        ("category:新闻", W("新闻", "category")),
        ("categories:新闻", W("新闻", "category")),
        ("cat:新闻", W("新闻", "category")),
        ("tag:城市", W("城市", "tag")),
        ("tags:城市", W("城市", "tag")),
        ('title:"认证 认可"', Phrase("认证 认可", "title")),
        ('author:"张 三"', Phrase("张 三", "author")),
        ("认证 -title:草稿", And((W("认证"), Not(W("草稿", "title"))))),
        ("foo:bar", W("foo:bar")),  # unknown field: a plain word
        ("12:30", W("12:30")),
        ("C++", W("C++")),
        ("a\x00b", And((W("a"), W("b")))),  # control characters are separators
    ],
)
def test_parse(text: str, expected) -> None:
    assert parse_query(text) == expected


def test_positive_literals() -> None:
    node = parse_query('认证 "认 可" -草稿 title:标题 author:张三 (a OR b)')
    assert positive_literals(node) == [
        ("认证", False),
        ("认 可", True),
        ("标题", False),
        ("a", False),
        ("b", False),
    ]


def test_has_positive() -> None:
    assert has_positive(W("a"))
    assert not has_positive(Not(W("a")))
    assert has_positive(And((W("a"), Not(W("b")))))
    assert not has_positive(Or((W("a"), Not(W("b")))))


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["empty query"]),
        ("   \t\n", ["empty query"]),
        ("\x00\x01", ["empty query"]),
        ("-认证", ["only excludes", "add at least one word"]),
        ("NOT 认证", ["only excludes"]),
        ("-a -b", ["only excludes"]),
        ("a OR -b", ["only excludes"]),
        (")", ["no words"]),
        ("|", ["no words"]),
        ("title:", ["no words"]),
        ("author:", ["no words"]),
        ('“', ["no words"]),
        ("-“认证”", ["only excludes"]),
        ("()", ["no words"]),
        ('""', ["no words"]),
        ("x" * (MAX_QUERY_CHARS + 1), ["too long", str(MAX_QUERY_CHARS + 1), "at most 1000"]),
        ("(" * 40 + "a" + ")" * 40, ["nested too deeply"]),
    ],
)
def test_errors(text: str, fragments: list[str]) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(
    ("text", "expected", "code", "fragments"),
    [
        ('"认证', Word("认证"), "unclosed_quote", ["unclosed quote", "character 1",
                                                  'add a closing "']),
        ('认证 "认可 机构', And((Word("认证"), Word("认可"), Word("机构"))), "unclosed_quote",
         ["character 4", "as words"]),
        ("“灰度发布", Word("灰度发布"), "unclosed_quote", ["“", "add a closing ”"]),
        ("「灰度 发布", And((Word("灰度"), Word("发布"))), "unclosed_quote", ["「", "」"]),
        ("(认证", Word("认证"), "unclosed_paren", ["unclosed '('", "character 1"]),
        ("a (b (c)", And((Word("a"), And((Word("b"), Word("c"))))), "unclosed_paren",
         ["character 3"]),
        ("认证)", Word("认证"), "unmatched_paren", ["')'", "character 3", "closes nothing"]),
        ("a ) b", And((Word("a"), Word("b"))), "unmatched_paren", ["character 3"]),
        ("认证 OR", Word("认证"), "dangling_operator", ["OR", "character 4", "both sides"]),
        ("OR 认证", Word("认证"), "dangling_operator", ["OR", "character 1", "both sides"]),
        ("a | | b", Or((Word("a"), Word("b"))), "dangling_operator", ["character 3"]),
        ("认证 NOT", Word("认证"), "dangling_operator", ["NOT", "character 4", "after it"]),
        ("a title: b", And((Word("a"), Word("b"))), "empty_field", ["title:", "character 3",
                                                                    "no value"]),
    ],
)
def test_recoverable_slips_are_read_and_reported(text: str, expected: Node, code: str,
                                                 fragments: list[str]) -> None:
    """A slip that leaves a readable query is searched the obvious way, with a notice
    naming what was done (a stable code, its parameters, an English message)."""
    node, notices = parse_query_notices(text)
    assert node == expected
    assert [n.code for n in notices] == [code]
    for fragment in fragments:
        assert fragment in notices[0].message, (fragment, notices[0].message)
    assert f'character {notices[0].params["position"]} ' in notices[0].message.replace(
        ":", " ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“灰度发布”", Phrase("灰度发布")),
        ("「灰度发布」", Phrase("灰度发布")),
        ("『灰度发布』", Phrase("灰度发布")),
        ("‘灰度发布’", Phrase("灰度发布")),
        ("＂灰度发布＂", Phrase("灰度发布")),
        ("“认证 认可” 机构", And((Phrase("认证 认可"), Word("机构")))),
        ("title:“灰度发布”", Phrase("灰度发布", "title")),
        ("title：「灰度发布」", Phrase("灰度发布", "title")),
        ("-“灰度发布” 上线", And((Not(Phrase("灰度发布")), Word("上线")))),
        ("（认证｜认可）－机构 检测", And((Or((Word("认证"), Word("认可"))), Not(Word("机构")),
                                   Word("检测")))),
        ("“他说「好」”", Phrase("他说「好」")),
        ("don’t ‘stop now’", And((Word("don’t"), Phrase("stop now")))),
    ],
)
def test_chinese_quotes_and_full_width_operators(text: str, expected: Node) -> None:
    node, notices = parse_query_notices(text)
    assert node == expected and notices == []


def test_query_error_is_a_value_error_and_searcher_error() -> None:
    with pytest.raises(ValueError):
        parse_query("")
    with pytest.raises(SearcherError):
        parse_query("")


def test_non_string_query() -> None:
    with pytest.raises(QueryError, match="string"):
        parse_query(None)  # type: ignore[arg-type]


def test_max_length_is_allowed() -> None:
    assert parse_query("x" * MAX_QUERY_CHARS) == W("x" * MAX_QUERY_CHARS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('认证 -"认 可"', And((W("认证"), Not(Phrase("认 可"))))),
        ("认证 -(a OR b)", And((W("认证"), Not(Or((W("a"), W("b"))))))),
    ],
)
def test_minus_negates_phrase_and_group(text: str, expected) -> None:
    assert parse_query(text) == expected


# -- property-based ----------------------------------------------------------------

_SPECIAL = list('"()|:-—*?~^+#.\\/\'` \t\n\r\x00\x01\x1e\x1f\x7f\u3000') + [
    "OR", "AND", "NOT", "title:", "author:", "tag:", "cat:", "body:", "category:",
    "认证", "認證", "城市", "场", "ＡＢＣ", "ﬁ", "㈱", "😀", "👍🏽", "\u0301", "A320", "C++",
    "3.6.3", "COVID-19", "こん", "한국", "的", "一",
]
QUERY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.lists(st.sampled_from(_SPECIAL), max_size=15).map("".join),
    st.lists(st.sampled_from(_SPECIAL), max_size=15).map(" ".join),
)


@settings(max_examples=500, deadline=None)
@given(QUERY_TEXT)
def test_parse_query_never_raises_anything_but_query_error(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError as exc:
        assert str(exc)
    else:
        assert isinstance(node, (Word, Phrase, And, Or, Not))
        assert has_positive(node)


_VISIBLE = st.characters(exclude_categories=("Z", "C"))


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet=_VISIBLE, min_size=1, max_size=5).map(
        lambda s: s * (MAX_QUERY_CHARS // len(s) + 1)
    )
)
def test_long_queries_are_rejected_cleanly(text: str) -> None:
    with pytest.raises(QueryError, match="too long"):
        parse_query(text)


# -- engine-level fuzzing ----------------------------------------------------------

ARTICLES = {
    "renzheng.md": (
        "---\ntitle: 认证认可工作会议\ndate: 2023-03-01 09:00:00\nauthor: 张三\n"
        "categories: [新闻]\ntags: [认证, 监管]\n---\n"
        "市场监管局召开认证认可工作会议，部署 2023 年工作。\n"
    ),
    "city.md": (
        "---\ntitle: 智慧城市\ndate: 2023-04-02\ntags: 城市\n---\n"
        "# 智慧城市\n\n聊城市场上，智慧城市场景越来越多。A320 与 5G。\n"
    ),
    "tech.md": (
        "---\ntitle: Python 3.6.3 发布\ndate: 2017-10-03\ncategories: 技术\n---\n"
        "支持 C++ 和 C# 的绑定，COVID-19 期间发布。iPhone 13 也有。\n"
    ),
    "trad.md": "---\ntitle: 繁體文章\nauthor: 李四\n---\n這是繁體的認證認可文章。\n",
    "mixed.md": (
        "---\ntitle: 混合\ndate: 2022-01-01\n---\n"
        "こんにちは 한국어 ＡＢＣ１２３ 😀 emoji 与全角文字。\n"
    ),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("query_engine")
    docs = root / "docs"
    docs.mkdir()
    for name, text in ARTICLES.items():
        (docs / name).write_text(text, encoding="utf-8")
    eng = SearchEngine(root / "ix")
    report = eng.index([docs], jobs=1)
    assert report.added == len(ARTICLES)
    assert report.failed == []
    yield eng
    eng.close()


def titles(results: SearchResults) -> set[str]:
    return {hit.title for hit in results.hits}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("认证认可", {"认证认可工作会议", "繁體文章"}),
        ("認證", {"认证认可工作会议", "繁體文章"}),
        ("认证 -繁體", {"认证认可工作会议"}),
        ("智慧 OR 3.6.3", {"智慧城市", "Python 3.6.3 发布"}),
        ('"城市场"', {"智慧城市"}),
        ("title:智慧", {"智慧城市"}),
        ("author:张三", {"认证认可工作会议"}),
        ("tag:监管", {"认证认可工作会议"}),
        ("category:技术", {"Python 3.6.3 发布"}),
        ("ＡＢＣ１２３", {"混合"}),
        ("c++", {"Python 3.6.3 发布"}),
    ],
)
def test_engine_queries(engine, query: str, expected: set[str]) -> None:
    assert titles(engine.search(query)) == expected


def test_engine_rejects_bad_queries(engine) -> None:
    with pytest.raises(QueryError, match="only excludes"):
        engine.search("-认证")
    with pytest.raises(QueryError, match="no words"):
        engine.search("“ ”")


def test_engine_reads_past_slips_and_says_how(engine) -> None:
    """An unclosed quote searches its words, and the results say so (JSON too)."""
    words = engine.search("认证 认可")
    slipped = engine.search("“认证 认可")
    assert words.total > 0 and words.notice is None and words.notices == []
    assert [h.id for h in slipped.hits] == [h.id for h in words.hits]
    assert slipped.total == words.total
    assert [n.code for n in slipped.notices] == ["unclosed_quote"]
    assert "unclosed quote “ at character 1" in slipped.notice
    data = slipped.as_dict()
    assert data["notice"] == slipped.notice
    assert data["notices"] == [{"code": "unclosed_quote", "message": slipped.notice,
                                "params": {"mark": "“", "closing": "”", "position": 1}}]
    assert words.as_dict()["notices"] == [] and words.as_dict()["notice"] is None


@pytest.mark.parametrize("quoted", ["“{}”", "「{}」", "『{}』", "‘{}’", "＂{}＂"])
def test_engine_chinese_quotes_are_phrases(engine, quoted: str) -> None:
    """Chinese quote marks search the exact phrase, like ASCII quotes."""
    phrase = engine.search('"认证 认可"', limit=50)
    words = engine.search("认证 -认证认可", limit=50)
    chinese = engine.search(quoted.format("认证 认可"), limit=50)
    assert phrase.total > 0
    assert [h.id for h in chinese.hits] == [h.id for h in phrase.hits]
    assert chinese.notices == []
    # The words apart (without the phrase) are found by the words, never by the quotes.
    assert not {h.id for h in words.hits} & {h.id for h in chinese.hits}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(QUERY_TEXT)
def test_engine_search_never_raises_anything_but_query_error(engine, text: str) -> None:
    try:
        results = engine.search(text)
    except QueryError as exc:
        assert str(exc)
    else:
        assert isinstance(results, SearchResults)
        assert results.total >= len(results.hits)
        for hit in results.hits:
            for start, end in hit.highlights:
                assert 0 <= start < end <= len(hit.snippet)
            for start, end in hit.title_highlights:
                assert 0 <= start < end <= len(hit.title)
