"""Facet counts and multi-value filters, checked against brute-force counts over real documents.

The expected counts are computed independently of the facet code: every
matching hit is fetched (paging through results) and its author, categories,
tags and date are counted in Python.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared

from searcher import QueryError, SearchEngine
from searcher.analysis.normalize import fold
from searcher.local.inspection import internals

ALL = ["author", "category", "tag", "year", "month"]


def key(value: str) -> str:
    return " ".join(fold(value).split())


def all_hits(engine: SearchEngine, query: str, **filters):
    """Every hit of *query* (all pages), and whether the results were relaxed."""
    hits, page = [], 1
    while True:
        results = engine.search(query, limit=1000, page=page, **filters)
        hits.extend(results.hits)
        if page >= results.pages:
            return hits, results.relaxed, results.total
        page += 1


def brute_force(engine: SearchEngine, hits) -> dict[str, Counter]:
    zone = ZoneInfo(engine.settings.timezone)
    counts: dict[str, Counter] = {name: Counter() for name in ALL}
    for hit in hits:
        if hit.author.strip():
            counts["author"][key(hit.author)] += 1
        counts["category"].update({key(c) for c in hit.categories if c.strip()})
        counts["tag"].update({key(t) for t in hit.tags if t.strip()})
        if hit.date is not None:
            local = hit.date.astimezone(zone)
            counts["year"][str(local.year)] += 1
            counts["month"][f"{local.year:04d}-{local.month:02d}"] += 1
    return counts


def check_against_brute_force(engine: SearchEngine, query: str, **filters) -> bool:
    hits, relaxed, total = all_hits(engine, query, **filters)
    assert len(hits) == total
    expected = brute_force(engine, hits)
    results = engine.search(query, facets=ALL, facet_limit=10_000, **filters)
    assert results.total == total and results.relaxed == relaxed
    for name in ALL:
        pairs = results.facets[name]
        got = {key(value): count for value, count in pairs}
        assert len(got) == len(pairs), f"{name}: a value listed twice"
        assert got == dict(expected[name]), f"{query!r} {filters} facet {name}"
        # sorted by count, ties by (folded) value
        assert [(-c, key(v)) for v, c in pairs] == sorted((-c, key(v)) for v, c in pairs)
    return relaxed


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    """The real rsshub feed articles plus sample_docs (tags, many authors), indexed once."""
    if not (SHARED / "corpus" / "rsshub").is_dir():
        pytest.skip("../shared is not present")
    base = tmp_path_factory.mktemp("facets")
    shutil.copytree(SHARED / "corpus" / "rsshub", base / "docs" / "rsshub")
    shutil.copytree(SAMPLE_DOCS, base / "docs" / "sample")
    engine = SearchEngine(base / "ix")
    engine.index([base / "docs"])
    yield engine
    engine.close()


@needs_shared
@pytest.mark.parametrize("query", ["的", "中国", "认证认可", "用户 产品", '"数据"', "上海 OR 北京",
                                   "发布 -手机"])
def test_counts_equal_brute_force_on_feeds(feeds, query):
    check_against_brute_force(feeds, query)


@needs_shared
@pytest.mark.parametrize("query", ["经济", "习近平 会见", "国务院", "疫情 防控", '"人民"'])
def test_counts_equal_brute_force_on_news(corpus_2k, query):
    engine, _, _ = corpus_2k
    check_against_brute_force(engine, query)


@needs_shared
def test_counts_of_relaxed_query(corpus_2k):
    """No document has every word: the counts cover the partial matches returned."""
    engine, _, _ = corpus_2k
    assert check_against_brute_force(engine, "国务院 iphone 火锅 宇航员 xyzzy") is True


@needs_shared
def test_counts_cover_every_match_not_only_the_page(corpus_2k):
    engine, _, _ = corpus_2k
    results = engine.search("经济", limit=3, facets=["author", "year"], facet_limit=10_000)
    assert results.total > 100
    assert sum(c for _, c in results.facets["year"]) == results.total  # all dated
    assert sum(c for _, c in results.facets["author"]) == results.total  # one author each


@needs_shared
def test_or_within_a_facet_and_across_facets(feeds):
    base = feeds.search("的", facets=ALL, facet_limit=10_000)
    (a1, n1), (a2, n2) = base.facets["author"][:2]
    both = feeds.search("的", author=[a1, a2], limit=1000)
    assert both.total == n1 + n2  # one author per document: OR adds up
    assert {key(h.author) for h in both.hits} == {key(a1), key(a2)}
    assert feeds.search("的", author=a1).total == n1  # a plain string is one value

    hits, _, _ = all_hits(feeds, "的")
    cat = next(c for c, _ in base.facets["category"]
               if 0 < sum(key(c) in map(key, h.categories) and key(h.author) == key(a1)
                          for h in hits) < n1)
    expected = {h.id for h in hits
                if key(h.author) in (key(a1), key(a2)) and key(cat) in map(key, h.categories)}
    got = feeds.search("的", author=[a1, a2], category=cat, limit=1000)
    assert {h.id for h in got.hits} == expected  # AND across facets

    tags = [t for t, _ in base.facets["tag"][:3]]
    expected = {h.id for h in hits if {key(t) for t in h.tags} & {key(t) for t in tags}}
    got = feeds.search("的", tag=tags, limit=1000)
    assert {h.id for h in got.hits} == expected
    check_against_brute_force(feeds, "的", tag=tags)
    check_against_brute_force(feeds, "的", author=[a1, a2], category=cat)


@needs_shared
def test_top_n_is_the_head_of_the_full_list(corpus_2k):
    engine, _, _ = corpus_2k
    full = engine.search("中国", facets=ALL, facet_limit=10_000).facets
    for limit in (1, 3, 10):
        top = engine.search("中国", facets=ALL, facet_limit=limit).facets
        for name in ALL:
            assert top[name] == full[name][:limit]
    assert len(full["month"]) > 3 and len(full["category"]) > 3


@needs_shared
def test_year_and_month_filters(corpus_2k):
    engine, _, _ = corpus_2k
    full = engine.search("中国", facets=["year", "month"], facet_limit=10_000).facets
    (y1, n1), (y2, n2) = full["year"][:2]
    assert engine.search("中国", year=int(y1)).total == n1
    assert engine.search("中国", year=[y1, int(y2)]).total == n1 + n2
    (m1, c1), (m2, c2) = full["month"][:2]
    assert engine.search("中国", month=m1).total == c1
    assert engine.search("中国", month=[m1, m2]).total == c1 + c2
    assert engine.search("中国", year=m1[:4], month=m1).total == c1
    other = next(y for y, _ in full["year"] if y != m1[:4])
    assert engine.search("中国", year=other, month=m1).total == 0  # AND across facets
    check_against_brute_force(engine, "中国", month=[m1, m2])
    zone = ZoneInfo(engine.settings.timezone)
    hits, _, _ = all_hits(engine, "中国", month=m1)
    assert {f"{h.date.astimezone(zone):%Y-%m}" for h in hits} == {m1}


def test_values_display_as_written_and_filter_back(sample_index):
    engine, _ = sample_index
    results = engine.search("的", facets=["tag"], facet_limit=100)
    tags = dict(results.facets["tag"])
    assert tags["iPhone 13"] == 1 and tags["C++"] == 1  # as written, counted folded
    assert engine.search("的", tag="iPhone 13").total == 1
    assert engine.search("的", tag="IPHONE 13").total == 1
    data = results.as_dict()
    assert ["iPhone 13", 1] in data["facets"]["tag"]
    assert engine.search("的").as_dict()["facets"] == {}


def test_deleted_documents_are_not_counted(tmp_path: Path):
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    before = dict(engine.search("的", facets=["author"]).facets["author"])
    (docs / "news" / "shenzhou-12-launch.md").unlink()
    engine.index([docs])
    after = dict(engine.search("的", facets=["author"]).facets["author"])
    gone = [a for a in before if before[a] != after.get(a, 0)]
    assert len(gone) == 1 and before[gone[0]] - after.get(gone[0], 0) == 1
    engine.close()


def test_bad_facet_names_and_filters(sample_index):
    engine, _ = sample_index
    with pytest.raises(QueryError) as err:
        engine.search("聊城", facets=["author", "writer"])
    assert err.value.name == "writer"
    assert set(err.value.accepted) == set(ALL)
    assert "writer" in str(err.value) and "category" in str(err.value)
    for bad in ({"month": "2021-13"}, {"month": "June"}, {"year": "21st"}, {"year": True},
                {"facet_limit": 0}, {"author": [3]}):
        with pytest.raises(QueryError):
            engine.search("聊城", **bad)
    assert engine.search("聊城", facets="author, year").facets.keys() == {"author", "year"}


def test_cli_facets_table_and_json(sample_index):
    import json

    from typer.testing import CliRunner

    from searcher.cli import app

    engine, _ = sample_index
    base = ["--index-dir", str(engine.settings.index_dir), "search", "的"]
    expected = engine.search("的", author=["趣头条", "新华社"], facets=["author", "month"])
    result = CliRunner().invoke(app, [*base, "--author", "趣头条", "--author", "新华社",
                                      "--facets", "author,month"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    author_line = next(line for line in lines if line.strip().startswith("author"))
    assert " · ".join(f"{v} {c}" for v, c in expected.facets["author"]) in author_line
    assert any(line.strip().startswith("month") and "2021-06 2" in line for line in lines)

    result = CliRunner().invoke(app, [*base, "--json", "--facets", "tag,year", "--year", "2021"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    same = engine.search("的", year=2021, facets=["tag", "year"])
    assert data["total"] == same.total
    assert data["facets"] == {k: [list(p) for p in v] for k, v in same.facets.items()}

    result = CliRunner().invoke(app, [*base, "--facets", "author,writer"])
    assert result.exit_code == 2
    assert "writer" in result.output and "category" in result.output


def test_whole_column_finds_the_values_of_few_and_many_hits(corpus_2k):
    """Counting looks the values of a few hits up by binary search and selects from every
    pair for many; both give each hit's values exactly (every pair of every hit)."""
    from searcher.local.facets import FACET_SEARCHES, whole_column

    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
    n = sum(reader.doc_count_all() for reader, _ in leaves)
    rng = np.random.default_rng(5)
    for fieldname in ("category", "author_key", "tag"):
        whole = whole_column(leaves, fieldname, internals(engine).caches)
        assert bool((np.diff(whole.docs) >= 0).all())
        for size in (1, 7, len(whole.docs) // FACET_SEARCHES, n // 2):
            hits = np.unique(rng.integers(0, n, size))
            mask = np.zeros(n, dtype=bool)
            mask[hits] = True
            expected = sorted(whole.codes[mask[whole.docs]].tolist())
            assert sorted(whole.codes_of(hits, mask).tolist()) == expected, (fieldname, size)
