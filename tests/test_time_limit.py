"""searcher.time_limit: a search under a limit that has passed stops with TimeLimitExceeded
(checked between steps of the ranking), one within its limit answers as without it; on
sample_docs."""

from __future__ import annotations

import threading

import pytest

from searcher import SearcherError, TimeLimitExceeded, time_limit
from searcher.local.inspection import internals

QUERIES = ["认证认可", '"世界认可日"', "聊城 OR 认可", "认可 category:新闻"]


def plain(results) -> list:
    return [(h.id, h.score, h.snippet, h.highlights) for h in results.hits] + [results.total]


def test_a_passed_limit_stops_the_search_and_changes_nothing(sample_index):
    engine, _ = sample_index
    before = {q: plain(engine.search(q)) for q in QUERIES}
    for query in QUERIES:
        with time_limit(0), pytest.raises(TimeLimitExceeded) as caught:
            engine.search(query)
        assert caught.value.seconds == 0
        assert isinstance(caught.value, SearcherError)  # the CLI's one-line error
        assert "0 s time limit" in str(caught.value)
    # stopped part-way, nothing is left half done: the same answers as before
    assert {q: plain(engine.search(q)) for q in QUERIES} == before


def test_a_search_within_its_limit_answers_as_without_one(sample_index):
    engine, _ = sample_index
    for query in QUERIES:
        with time_limit(60):
            limited = plain(engine.search(query, facets=["author", "year"]))
        assert limited == plain(engine.search(query, facets=["author", "year"]))
    with time_limit(60):
        engine.search("认证认可")
    engine.search("认证认可")  # the limit ended with its block


def test_an_inner_limit_never_extends_an_outer_one(sample_index):
    engine, _ = sample_index
    with time_limit(0), time_limit(60), pytest.raises(TimeLimitExceeded) as caught:
        engine.search("认证认可")
    assert caught.value.seconds == 0
    with time_limit(60), time_limit(0), pytest.raises(TimeLimitExceeded):
        engine.search("认证认可")


def test_a_limit_belongs_to_its_thread(sample_index):
    """The web server sets a limit on its event loop thread while pool threads search."""
    engine, _ = sample_index
    answers: list = []
    with time_limit(0):
        thread = threading.Thread(target=lambda: answers.append(engine.search("认证认可")))
        thread.start()
        thread.join(60)
        with pytest.raises(TimeLimitExceeded):
            engine.search("认证认可")
    assert len(answers) == 1 and answers[0].total > 0


def test_facets_stop_at_the_limit_too(sample_index):
    """Counting facets checks the limit between facets (a search on the web server's event
    loop must give the loop back however many facets it asks for), even with warm caches,
    when no segment is read; stopped, it changes nothing."""
    import numpy as np

    from searcher.local.facets import count_facets

    engine, _ = sample_index
    inside = internals(engine)
    searcher = inside.searcher()
    mask = np.ones(searcher.doc_count_all(), dtype=bool)
    names = ["author", "category", "tag", "year", "month"]
    counts = count_facets(searcher, mask, names, 10, "Asia/Shanghai", inside.caches)
    assert set(counts) == set(names) and counts["author"]  # warm now
    with time_limit(0), pytest.raises(TimeLimitExceeded):
        count_facets(searcher, mask, names, 10, "Asia/Shanghai", inside.caches)
    assert count_facets(searcher, mask, names, 10, "Asia/Shanghai", inside.caches) == counts


def test_the_search_timeout_setting_is_the_default_limit(sample_index, monkeypatch):
    from searcher import ConfigError, SearchEngine, load_settings

    engine, _ = sample_index
    assert engine.settings.search_timeout == 10  # a default a person waits for
    hurried = SearchEngine(settings=engine.settings.with_overrides(search_timeout=1e-9))
    with pytest.raises(TimeLimitExceeded) as caught:
        hurried.search("认证认可")
    assert caught.value.seconds == 1e-9
    with pytest.raises(TimeLimitExceeded):
        hurried.similar(engine.search("认证认可").hits[0].id)
    # an argument wins over the setting; 0 is no limit
    assert plain(hurried.search("认证认可", timeout=60)) == plain(engine.search("认证认可"))
    assert plain(hurried.search("认证认可", timeout=0)) == plain(engine.search("认证认可"))
    monkeypatch.setenv("SEARCHER_SEARCH_TIMEOUT", "2.5")
    assert load_settings().search_timeout == 2.5
    monkeypatch.setenv("SEARCHER_SEARCH_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="SEARCHER_SEARCH_TIMEOUT"):
        load_settings()
    monkeypatch.delenv("SEARCHER_SEARCH_TIMEOUT")
    with pytest.raises(ConfigError, match="out of range"):
        load_settings(search_timeout=-1)


def test_the_cli_timeout_exits_124_with_a_clear_message(sample_index):
    from typer.testing import CliRunner

    from searcher.cli import app

    engine, _ = sample_index
    where = ["--index-dir", str(engine.settings.index_dir)]
    result = CliRunner().invoke(app, [*where, "search", "认证认可", "--timeout", "0.000001"])
    assert result.exit_code == 124
    assert result.output.startswith("error: the search took longer than its 1e-06 s time "
                                    "limit; narrow the query")
    assert "--timeout SECONDS" in result.output
    result = CliRunner().invoke(app, [*where, "search", "认证认可", "--timeout", "30"])
    assert result.exit_code == 0 and "认证认可" in result.output
    assert CliRunner().invoke(app, [*where, "search", "认证认可", "--timeout", "-1"]
                              ).exit_code == 2
