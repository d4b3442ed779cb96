"""Whatever a caller passes to SearchEngine.search, only results or a SearcherError come out.

The whole call is fuzzed (query and every option), on the real sample_docs index.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from searcher import QueryError, SearcherError, SearchResults

#: Any code point, lone surrogates included (what undecodable bytes turn into).
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
#: Text built from the query syntax and words of the sample documents, so that fuzzed
#: queries also reach the ranking code and not only the parser's error paths.
PIECES = st.sampled_from(["聊城", "认证认可", "长江", "liaocheng", '"', "(", ")", "-", " OR ",
                          " ", "title:", "author:", "tag:", "5G", "\ud800", "\udcb3", "\0",
                          "認證", "ＡＢＣ", "*", "|", ":", "的"])
WORDS = st.lists(st.sampled_from(["聊城", "认证认可", "长江", "liaocheng", "5G", "認證",
                                  '"城市场"', "监管", "-洪水"]), min_size=1, max_size=3)
QUERIES = ANY_TEXT | WORDS.map(" ".join) | st.lists(PIECES | ANY_TEXT, max_size=8).map("".join)
DATES = (st.none() | ANY_TEXT | st.dates().map(str) | st.dates() | st.datetimes()
         | st.datetimes(timezones=st.timezones()) | st.integers() | st.floats())
FILTERS = ANY_TEXT | st.sampled_from(["趣头条", "新媒体", "5G", "新闻", "認證"])


def mostly(usual, unusual):
    """*usual* seven times in eight: a search with every option wrong would only ever test
    the first check."""
    return st.integers(0, 7).flatmap(lambda n: unusual if n == 7 else usual)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=mostly(QUERIES, st.none() | st.integers()),
       limit=mostly(st.integers(1, 1000), st.integers() | st.sampled_from(["10", 2.5, True])),
       page=mostly(st.integers(1, 3), st.integers() | st.sampled_from([None, "1", 1.0])),
       author=mostly(st.none(), FILTERS), category=mostly(st.none(), FILTERS),
       tag=mostly(st.none(), FILTERS), since=mostly(st.none(), DATES),
       until=mostly(st.none(), DATES),
       sort=mostly(st.sampled_from(["relevance", "date", "oldest"]), ANY_TEXT | st.none()))
def test_search_returns_results_or_searcher_error(sample_index, query, limit, page, author,
                                                  category, tag, since, until, sort):
    engine, _ = sample_index
    try:
        results = engine.search(query, limit=limit, page=page, author=author,
                                category=category, tag=tag, since=since, until=until, sort=sort)
    except SearcherError as exc:
        event(f"error: {str(exc)[:25]}")
        return
    event(f"results: {'some' if results.total else 'none'}")
    assert isinstance(results, SearchResults)
    assert len(results.hits) <= limit
    for hit in results.hits:
        for start, end in hit.highlights:
            assert 0 <= start < end <= len(hit.snippet)


@pytest.mark.parametrize(("kwargs", "argument", "position"), [
    ({"query": "\udcb3\udca4\udcbd\udcad"}, "query", 0),   # GBK 长江 via surrogateescape
    ({"query": "聊城\ud800"}, "query", 2),
    ({"query": "聊城", "author": "趣\udcff"}, "author", 1),
    ({"query": "聊城", "tag": "\udfff"}, "tag", 0),
    ({"query": "聊城", "since": "2021\udc80"}, "since", 4),
])
def test_lone_surrogates_are_a_query_error(sample_index, kwargs, argument, position):
    engine, _ = sample_index
    with pytest.raises(QueryError) as caught:
        engine.search(**kwargs)
    assert caught.value.argument == argument and caught.value.position == position
    assert "lone surrogate" in str(caught.value)


def test_get_refuses_surrogates_but_finds_surrogate_escaped_paths(sample_index):
    engine, docs = sample_index
    with pytest.raises(QueryError):
        engine.get("\ud800abc")
    with pytest.raises(SearcherError, match="no document"):
        engine.get(str(docs / "no-such-\udcff.md"))
    with pytest.raises(QueryError):
        engine.get("")


def test_dates_and_numbers_of_the_wrong_kind_are_query_errors(sample_index):
    engine, _ = sample_index
    for kwargs in ({"limit": "10"}, {"page": 0}, {"limit": True}, {"since": object()},
                   {"until": 10**20}, {"since": dt.date(2021, 1, 1), "sort": "best"}):
        with pytest.raises(QueryError):
            engine.search("聊城", **kwargs)
