"""The OpenSearch back end against a real node (scripts/opensearch-node start).

Tests use the cluster at $SEARCHER_OPENSEARCH_URL.  Without it they skip, except
in CI (env CI set), where a missing cluster is a failure: CI starts the node.
Every test writes to its own alias (``test-<random>``) and deletes it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SEED_RELPATH, article, write

from searcher import SearchEngine
from searcher.config import Settings
from searcher.errors import IndexLockedError, IndexNotFoundError, QueryError
from searcher.local.inspection import internals

URL_ENV = "SEARCHER_OPENSEARCH_URL"


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    url = os.environ.get(URL_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {URL_ENV} is not: start a node with "
                        "scripts/opensearch-node start and export its URL")
        pytest.skip(f"no OpenSearch cluster: set {URL_ENV} (scripts/opensearch-node start "
                    "prints the URL of a local node)")
    pytest.importorskip("opensearchpy", reason="opensearch-py is not installed "
                        "(pip install -e '.[dev]')")
    return url


class Backends:
    """Makes backends with fresh alias names and removes their indexes at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list = []

    def __call__(self, name: str | None = None, **kwargs):
        from searcher.opensearch import OpenSearchBackend

        name = name or f"test-{uuid.uuid4().hex[:8]}"
        backend = OpenSearchBackend(self.url, Settings(), name=name, replicas=0, **kwargs)
        self.made.append(backend)
        return backend

    def cleanup(self) -> None:
        for backend in self.made:
            backend.client.indices.delete(index=f"{backend.name}-*", ignore=[404],
                                          expand_wildcards="all")
            backend.close()


@pytest.fixture
def backends(opensearch_url):
    made = Backends(opensearch_url)
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def sample_cluster(opensearch_url, sample_index):
    """sample_docs in the cluster (read-only use), next to the local sample_index."""
    engine, folder = sample_index
    made = Backends(opensearch_url)
    backend = made()
    report = backend.index([folder])
    assert not report.failed, report.failed
    yield engine, backend, folder
    made.cleanup()


def all_ids(searchable, query: str, **kwargs) -> tuple[int, set[str]]:
    """Total and every matching id (pages of 1000)."""
    page, ids, total = 1, set(), None
    while True:
        results = searchable.search(query, limit=1000, page=page, **kwargs)
        total = results.total
        ids.update(h.id for h in results.hits)
        if page * 1000 >= total:
            return total, ids
        page += 1


# -- the basics on sample_docs ---------------------------------------------------------------


def test_index_and_search_sample_docs(sample_cluster):
    engine, backend, folder = sample_cluster
    results = backend.search("认证认可")
    assert results.total == 1
    hit = results.hits[0]
    assert hit.path == str(folder / SEED_RELPATH)
    assert "世界认可日" in hit.title
    assert hit.author == "趣头条"
    assert hit.date is not None and hit.date.tzinfo is not None
    # snippet spans are exact, as locally
    assert all(hit.snippet[s:e] in ("认证认可", "认证", "认可") for s, e in hit.highlights)
    assert hit.highlights
    # traditional script and full width fold to the same thing
    assert backend.search("認證認可").hits[0].id == hit.id
    assert backend.search("liaocheng").hits[0].id == hit.id
    assert backend.search("liao cheng").hits[0].id == hit.id


QUERIES = ["认证认可", "聊城", '"城市场"', "城市场", "liaocheng", "tea", "上海 OR 北京",
           "title:聊城", "长江 -洪水", "30%", "4万", "A320", "C++", "iPhone 13", "3.6.3",
           '"世界认可日"', "body:垃圾", "author:趣头条", "tag:5G", "category:科技", "的",
           "xss OR 空间站", "COVID-19", "(上海 | 北京) 垃圾", '-"聊城" 城市',
           '"<script>alert(1)</script>"', '"c++"', '"3.6"', '"。"', '"a"', "title:\"5g\""]


@pytest.mark.parametrize("query", QUERIES)
def test_same_results_as_local_on_sample_docs(sample_cluster, query):
    engine, backend, _ = sample_cluster
    local, cluster = engine.search(query, limit=50), backend.search(query, limit=50)
    assert cluster.total == local.total
    assert {h.id for h in cluster.hits} == {h.id for h in local.hits}
    assert cluster.relaxed == local.relaxed
    scored = '"' not in query and query != "的"  # phrases rank by constant score here
    if scored and len(local.hits) > 1 and local.hits[0].score > 1.2 * local.hits[1].score:
        assert cluster.hits[0].id == local.hits[0].id
    if local.hits:
        by_id = {h.id: h for h in local.hits}
        for hit in cluster.hits:  # same snippet code, same text: same spans
            assert hit.highlights == by_id[hit.id].highlights or query in ("liaocheng",)


def test_substrings_at_the_edges(docs, tmp_path, backends):
    write(docs, "edge/one.md", article("标题尾", "正文开头在这里，结尾是罕"))
    write(docs, "edge/two.md", article("另一篇", "鑫*?\\[x](y)|{z}^$ 结束"))
    backend, engine = backends(), SearchEngine(tmp_path / "ix")
    backend.index([docs])
    engine.index([docs])
    for query in ['"罕"', '"是罕"', '"尾正"', '"标题尾"', '"鑫"', '"*?\\[x](y)|{z}^$"',
                  '"x](y"', "title:\"尾\"", 'body:"尾"', '"4"', "4万"]:
        assert all_ids(backend, query) == all_ids(engine, query), query
    assert backend.search('"罕"').total == 1
    assert backend.search('"尾正"').total == 0  # never across the title/body break


def test_filters_and_sorting_match_local(sample_cluster):
    engine, backend, _ = sample_cluster
    cases = [dict(author="趣头条"), dict(category="科技"), dict(tag="5g"),
             dict(since="2021-01-01"), dict(until="2020-12-31"),
             dict(since="2021-06-01", until="2021-06-30"), dict(category="新闻", sort="date"),
             dict(sort="oldest")]
    for kwargs in cases:
        local, cluster = engine.search("的", limit=50, **kwargs), backend.search(
            "的", limit=50, **kwargs)
        assert cluster.total == local.total, kwargs
        if kwargs.get("sort"):
            assert [h.date for h in cluster.hits] == [h.date for h in local.hits], kwargs
        else:
            assert {h.id for h in cluster.hits} == {h.id for h in local.hits}, kwargs


def test_bad_queries_and_missing_index(sample_cluster, backends):
    _, backend, _ = sample_cluster
    with pytest.raises(QueryError):
        backend.search("“ ”")
    slipped = backend.search("“聊城")  # read as the word, and said so
    assert [n.code for n in slipped.notices] == ["unclosed_quote"]
    assert [h.id for h in slipped.hits] == [h.id for h in backend.search("聊城").hits]
    with pytest.raises(QueryError):
        backend.search("x", sort="random")
    with pytest.raises(QueryError):
        backend.search("x", since="not a date")
    with pytest.raises(IndexNotFoundError):
        backends().search("聊城")
    with pytest.raises(IndexNotFoundError):
        backends().stats()


def test_get_and_stats(sample_cluster):
    engine, backend, folder = sample_cluster
    doc_id = engine.search("认证认可").hits[0].id
    view = backend.get(doc_id)
    local = engine.get(doc_id)
    assert view.as_dict() == local.as_dict()
    assert backend.get(str(folder / SEED_RELPATH)).id == doc_id
    stats = backend.stats()  # the back end's IndexStats; the engine's too
    assert stats.documents == 14
    assert stats.generation is not None and stats.generation.startswith(backend.name + "-g")
    assert stats.sources == [str(folder)]
    assert stats.index_bytes > 0 and stats.last_update
    assert stats.url is not None and stats.as_dict()["index"] == backend.name


ALL_FACETS = "author,category,tag,year,month"


def test_facets_are_the_local_facets(sample_cluster):
    engine, backend, _ = sample_cluster
    from searcher.opensearch.mapping import key

    for query, kwargs in [("的", {}), ("的", dict(facet_limit=2)), ("聊城", {}),
                          ("的", dict(author=["趣头条", "新华社"])), ('"城市"', dict(year=2021)),
                          ("的", dict(month=["2021-06", "2021-07"], category="新闻")),
                          ("nothing-matches-this", {})]:
        kwargs.setdefault("facet_limit", 100)
        local = engine.search(query, facets=ALL_FACETS, **kwargs)
        cluster = backend.search(query, facets=ALL_FACETS, **kwargs)
        assert cluster.total == local.total, (query, kwargs)
        assert cluster.facets == local.facets, (query, kwargs)
    # and the counts are the documents' own values (shown as written, counted folded)
    views = [engine.get(h.id) for h in engine.search("的", limit=100).hits]
    facets = backend.search("的", facets=ALL_FACETS, facet_limit=100).facets
    assert list(facets) == ["author", "category", "tag", "year", "month"]
    assert {key(v): n for v, n in facets["category"]} == Counter(
        key(c) for v in views for c in v.categories)
    assert {key(v): n for v, n in facets["author"]} == Counter(
        key(v.author) for v in views if v.author)
    assert any(v != key(v) for v, _ in facets["tag"])  # e.g. 5G, not 5g
    with pytest.raises(QueryError):
        backend.search("的", facets="colour")


def test_search_arguments_are_the_engines(sample_cluster):
    engine, backend, _ = sample_cluster
    cases = [dict(author=["趣头条", "新华社"]), dict(category=["科技", "新闻"]),
             dict(tag=["5G", "python"]), dict(year=[2021]), dict(year="2020"),
             dict(month="2021-06"), dict(month=["2021-06", "2020-01"], year=2021),
             dict(author="趣头条", since="2021-06-01", until="2021-06-30")]
    for kwargs in cases:
        assert all_ids(backend, "的", **kwargs) == all_ids(engine, "的", **kwargs), kwargs
    for bad in (dict(limit=0), dict(limit=True), dict(page=0), dict(year="21st"),
                dict(month="2021-13"), dict(facet_limit=0), dict(author=3)):
        with pytest.raises(QueryError) as cluster_error:
            backend.search("的", **bad)
        with pytest.raises(QueryError) as local_error:
            engine.search("的", **bad)
        assert str(cluster_error.value) == str(local_error.value), bad


def test_deep_pages_use_search_after(sample_cluster, monkeypatch):
    _, backend, _ = sample_cluster
    from searcher.opensearch import backend as backend_module

    shallow = [h.id for p in (1, 2, 3) for h in backend.search("的", limit=4, page=p).hits]
    monkeypatch.setattr(backend_module, "MAX_WINDOW", 3)
    deep = [h.id for p in (1, 2, 3) for h in backend.search("的", limit=4, page=p).hits]
    assert deep == shallow and len(set(deep)) == len(deep) > 8
    assert backend.search("的", limit=4, page=99).hits == []


# -- the nightly job ---------------------------------------------------------------------------


def test_incremental_runs_match_local_reports(docs, tmp_path, backends):
    backend = backends()
    engine = SearchEngine(tmp_path / "ix")

    def both():
        a, b = engine.index([docs]), backend.index([docs])
        fields = ("added", "updated", "deleted", "unchanged", "moved", "documents")
        assert {f: getattr(b, f) for f in fields} == {f: getattr(a, f) for f in fields}
        assert sorted(p for p, _ in b.failed) == sorted(p for p, _ in a.failed)
        return b

    first = both()
    assert first.full and first.added == 14
    assert not both().full  # no change
    seed = docs / SEED_RELPATH
    seed.write_text(seed.read_text(encoding="utf-8").replace("聊城", "德州"), encoding="utf-8")
    os.utime(docs / "tech/5g-smart-city.md")  # touched, not changed
    (docs / "news/yangtze-flood-season.md").unlink()
    shutil.move(docs / "misc/afternoon-tea-history.md", docs / "misc/tea-history.md")
    write(docs, "news/new.md", article("新文章", "济南发布了新规。"))
    (docs / "news/binary.md").write_bytes(b"\x00\x01\x02" * 100)
    report = both()
    assert (report.added, report.updated, report.deleted, report.moved) == (1, 1, 1, 1)
    assert report.unchanged == 11
    assert [p for p, _ in report.failed] == [str(docs / "news/binary.md")]
    assert backend.search("德州").total == engine.search("德州").total == 1
    assert backend.search("济南").total == 1
    assert backend.search('"长江"').total == engine.search('"长江"').total


def test_drafts_are_skipped_and_leave_the_cluster_like_the_local_index(docs, tmp_path, backends):
    backend = backends()
    engine = SearchEngine(tmp_path / "ix")
    write(docs, "news/draft.md", article("草稿文章", "草稿里的独特词。").replace(
        "author:", "draft: true\nauthor:"))
    for report in (engine.index([docs]), backend.index([docs])):
        assert [Path(p).name for p, _ in report.skipped] == ["draft.md"] and report.ok
    seed = docs / SEED_RELPATH
    seed.write_text(seed.read_text(encoding="utf-8").replace("author:", "published: false\n"
                                                             "author:", 1), encoding="utf-8")
    local, cluster = engine.index([docs]), backend.index([docs])
    assert cluster.deleted == local.deleted == 1
    for searchable in (backend, engine):
        hits = searchable.search("聊城", limit=100).hits
        assert hits and str(seed.absolute()) not in {h.path for h in hits}
    assert backend.search("独特词").total == 0


def test_unreadable_file_keeps_its_indexed_version(docs, backends):
    backend = backends()
    backend.index([docs])
    seed = docs / SEED_RELPATH
    seed.write_bytes(b"\x00\x01" * 50)  # binary now: cannot be indexed tonight
    report = backend.index([docs])
    assert report.failed and "kept the previously indexed version" in report.failed[0][1]
    assert backend.search("认证认可").total == 1


def test_rejected_document_is_reported_like_a_bad_file(docs, backends):
    backend = backends()
    # one keyword term over Lucene's 32,766-byte limit (and within the 10,000 characters
    # kept of a front matter value)
    huge_author = "😀" * 9_000
    write(docs, "news/huge-author.md", article("作者太长", "正文。", author=huge_author))
    report = backend.index([docs])
    assert report.documents == 14
    [(path, reason)] = report.failed
    assert path == str(docs / "news/huge-author.md")
    assert "rejected by OpenSearch" in reason and "400" in reason
    assert backend.search("认证认可").total == 1


def test_full_rebuild_swaps_the_alias_and_drops_the_old_index(docs, backends):
    backend = backends()
    first = backend.index([docs])
    client = backend.client
    again = backend.index([docs], full=True)
    assert again.full and again.generation != first.generation
    assert list(client.indices.get_alias(name=backend.name)) == [again.generation]
    assert not client.indices.exists(index=first.generation)
    assert backend.search("认证认可").total == 1
    # changed analysis settings (the fingerprint) rebuild by themselves
    client.indices.put_mapping(index=again.generation, body={"_meta": {"fingerprint": {}}})
    third = backend.index([docs])
    assert third.full and third.generation != again.generation
    # a rebuild killed before its swap leaves an index the next run deletes
    from searcher.opensearch.generations import generation_name

    orphan = generation_name(backend.name)
    client.indices.create(index=orphan, body={"settings": {"number_of_replicas": 0}})
    assert backend.index([docs]).unchanged == 14
    assert not client.indices.exists(index=orphan)
    assert list(client.indices.get_alias(name=backend.name)) == [third.generation]


def test_one_writer_at_a_time(docs, backends):
    from searcher.opensearch.lease import ClusterLock, lock_index

    backend = backends()
    backend.index([docs])
    with ClusterLock(backend.client, backend.url, backend.name):
        started = time.monotonic()
        with pytest.raises(IndexLockedError) as info:
            backend.index([docs], wait=1.0)
        assert time.monotonic() - started >= 1.0
        assert str(os.getpid()) in info.value.holder
    # an expired lease (its writer died) is taken over
    backend.client.index(index=lock_index(backend.name), id="writer", refresh="true",
                         body={"owner": "dead-host:1:1", "expires": time.time() - 1})
    assert backend.index([docs]).unchanged == 14
    assert not backend.client.exists(index=lock_index(backend.name), id="writer")


def test_export_loads_into_a_cluster(docs, tmp_path, backends):
    backend = backends()
    out = tmp_path / "export"
    report = backend.export([docs], out)
    assert report.added == 14 and not report.failed
    body = json.loads((out / "index.json").read_text(encoding="utf-8"))
    lines = (out / "bulk.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 28
    # load exactly what a user would load with curl, then search it through an alias
    name = backends().name
    target = f"{name}-gexport"
    client = backend.client
    client.indices.create(index=target, body=body)
    response = client.bulk(index=target, body="\n".join(lines) + "\n", refresh="true")
    assert not response["errors"]
    client.indices.put_alias(index=target, name=name)
    loaded = backends(name)
    assert loaded.search("认证认可").total == 1
    assert loaded.search('"城市场"').total == 1


def test_credentials_never_appear_in_errors(monkeypatch):
    pytest.importorskip("opensearchpy")
    from searcher.opensearch import ClusterError, OpenSearchBackend

    monkeypatch.setenv("SEARCHER_OPENSEARCH_PASSWORD", "s3cret-env")
    monkeypatch.setenv("SEARCHER_OPENSEARCH_USER", "alice")
    backend = OpenSearchBackend("http://bob:s3cret-url@127.0.0.1:9", Settings(), timeout=2)
    assert "s3cret" not in repr(backend)
    with pytest.raises(ClusterError) as info:
        backend.search("聊城")
    assert "s3cret" not in str(info.value) and "bob" not in str(info.value)
    assert "127.0.0.1:9" in str(info.value)


# -- parity on 2,000 real articles -----------------------------------------------------------


@pytest.fixture(scope="session")
def corpus_2k_cluster(opensearch_url, corpus_2k):
    engine, folder, _ = corpus_2k
    made = Backends(opensearch_url)
    backend = made()
    report = backend.index([folder], jobs=2)
    assert report.documents == engine.stats().documents
    yield engine, backend, folder
    made.cleanup()


def _queries_from_articles(engine, count: int = 30):
    """Words, word pairs and phrases taken from a fixed sample of the articles."""
    import random

    from searcher.analysis.tokens import STOP_WORDS, query_terms

    rng = random.Random(13)
    ids = sorted(s["id"] for _, s in internals(engine).searcher().reader().iter_docs())
    words, pairs, phrases = [], [], []
    for doc_id in rng.sample(ids, count):
        view = engine.get(doc_id)
        terms = [t for t in query_terms(view.title) if t not in STOP_WORDS and len(t) >= 2]
        if terms:
            words.append(rng.choice(terms))
        if len(terms) >= 2:
            pairs.append(" ".join(rng.sample(terms, 2)))
        text = "".join(view.text.split())
        if len(text) > 20:
            start = rng.randrange(0, len(text) - 8)
            phrase = text[start:start + rng.randrange(3, 7)].replace('"', "")
            if phrase:
                phrases.append(f'"{phrase}"')
    return words, pairs, phrases


@pytest.mark.shared
@pytest.mark.slow
def test_parity_on_2k_articles(corpus_2k_cluster):
    engine, backend, _ = corpus_2k_cluster
    words, pairs, phrases = _queries_from_articles(engine)
    for query in phrases:  # exact substrings: identical result sets
        assert all_ids(backend, query) == all_ids(engine, query), query
    views = [engine.get(h.id) for h in engine.search("新闻", limit=40).hits]
    categories = sorted({c for v in views for c in v.categories})[:4]
    authors = sorted({v.author for v in views if v.author})[:3]
    for kwargs in [dict(category=c) for c in categories] + [dict(author=a) for a in authors] + [
            dict(since="2022-01-01", until="2022-06-30"), dict(tag="新闻联播")]:
        assert all_ids(backend, '"发展"', **kwargs) == all_ids(engine, '"发展"', **kwargs), kwargs
    assert all_ids(backend, "的", since="2022-03-01") == all_ids(engine, "的", since="2022-03-01")
    overlaps = {}
    for query in words + pairs:  # ranked: the same top 10, give or take near-ties
        local, cluster = engine.search(query), backend.search(query)
        assert cluster.total == local.total, query
        if local.hits:
            top = {h.id for h in local.hits}
            overlaps[query] = len(top & {h.id for h in cluster.hits}) / len(top)
    mean = sum(overlaps.values()) / len(overlaps)
    low = {q: o for q, o in overlaps.items() if o < 0.7}
    assert mean >= 0.9, (mean, low)
    assert len(low) <= len(overlaps) // 20, low


@pytest.mark.shared
def test_matched_words_are_the_local_counts(corpus_2k_cluster):
    """Each hit says how many of the query's words it holds, as the local back end counts
    them: plain, pasted, relaxed (a word no article has), pinyin, OR/NOT and phrase
    queries."""
    engine, backend, _ = corpus_2k_cluster
    words, pairs, phrases = _queries_from_articles(engine, count=12)
    pasted = [p.strip('"') for p in phrases]  # cut anywhere: held verbatim, not as words
    queries = words + pairs + phrases + pasted + [f"{p} 鸸鹋蛋糕" for p in pairs[:6]] + [
        "会见 liaocheng", "会见 OR 总统 -经济", '"发展" 经济']
    compared = relaxed = partial_counts = 0
    for query in queries:
        local, cluster = engine.search(query, limit=20), backend.search(query, limit=20)
        assert cluster.relaxed == local.relaxed, query
        mine = {h.id: (h.matched, h.query_words) for h in cluster.hits}
        for hit in local.hits:
            if hit.id in mine:
                assert mine[hit.id] == (hit.matched, hit.query_words), (query, hit.id)
                compared += 1
                partial_counts += hit.matched < hit.query_words
        relaxed += local.relaxed
        assert all(h.matched is not None and 0 <= h.matched <= h.query_words
                   for h in cluster.hits), query
    assert compared >= 200 and relaxed >= 3 and partial_counts >= 10, (
        compared, relaxed, partial_counts)


@pytest.mark.shared
def test_pasted_text_finds_its_source_on_the_cluster(corpus_2k_cluster):
    """Unquoted runs of 7-10 characters copied from article bodies, each in one article
    only: the cluster ranks that article first, as the local index does (verbatim
    evidence that grows with the length of the run; a constant ranked it first in ~86%)."""
    import random

    engine, backend, _ = corpus_2k_cluster
    rng = random.Random(7)
    ids = sorted(s["id"] for _, s in internals(engine).searcher().reader().iter_docs())
    runs: list[tuple[str, str]] = []
    for doc_id in rng.sample(ids, 400):
        text = "".join(engine.get(doc_id).text.split())
        if len(text) < 40:
            continue
        start = rng.randrange(0, len(text) - 12)
        run = text[start:start + rng.randrange(7, 11)]
        if not all("\u4e00" <= ch <= "\u9fff" for ch in run):
            continue
        if engine.search(f'"{run}"', limit=2).total == 1:
            runs.append((run, doc_id))
        if len(runs) == 40:
            break
    assert len(runs) == 40
    first = sum(backend.search(run, limit=3).hits[0].id == doc_id for run, doc_id in runs)
    local = sum(engine.search(run, limit=3).hits[0].id == doc_id for run, doc_id in runs)
    assert first >= 38 and local >= 38, (first, local)


@pytest.mark.shared
def test_similar_documents_on_2k_articles(corpus_2k_cluster):
    engine, backend, _ = corpus_2k_cluster
    from searcher.analysis.tokens import STOP_WORDS, query_terms

    for query in ("会见 总统", "疫情"):
        doc = engine.search(query).hits[0]
        similar = backend.similar(doc.id, limit=5)
        assert doc.id not in {h.id for h in similar.hits} and len(similar.hits) == 5
        words = {t for t in query_terms(doc.title) if t not in STOP_WORDS and len(t) > 1}
        sharing = [h for h in similar.hits if words & set(query_terms(h.title))]
        assert len(sharing) >= 3, (doc.title, [h.title for h in similar.hits])


@pytest.mark.shared
@pytest.mark.slow
def test_facets_on_2k_articles(corpus_2k_cluster):
    engine, backend, _ = corpus_2k_cluster
    for query, kwargs in [("会见", {}), ('"发展"', dict(since="2022-01-01")),
                          ("的", dict(facet_limit=5)), ("经济 合作", {})]:
        kwargs.setdefault("facet_limit", 1000)
        local = engine.search(query, facets=ALL_FACETS, **kwargs)
        cluster = backend.search(query, facets=ALL_FACETS, **kwargs)
        assert cluster.total == local.total, query
        assert cluster.facets == local.facets, query


def test_sample_docs_is_what_the_tests_expect():
    assert len(list(Path(SAMPLE_DOCS).rglob("*.*"))) == 14


def test_cli_export_writes_settings_and_bulk_files(docs, tmp_path):
    from typer.testing import CliRunner

    from searcher.cli import app

    (docs / "news/binary.md").write_bytes(b"\x00\x01\x02" * 100)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", "--format", "opensearch", "--shards", "2",
                                      str(out), str(docs)])
    assert result.exit_code == 1, result.output  # one file failed, and is named
    assert f"failed: {docs / 'news/binary.md'}" in result.output
    body = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert body["settings"]["index"]["number_of_shards"] == 2
    assert body["mappings"]["properties"]["body_sq"]["type"] == "wildcard"
    lines = (out / "bulk.ndjson").read_text(encoding="utf-8").splitlines()
    actions, sources = [json.loads(x) for x in lines[::2]], [json.loads(x) for x in lines[1::2]]
    assert len(sources) == 14
    assert [a["index"]["_id"] for a in actions] == [s["id"] for s in sources]
    seed = next(s for s in sources if s["relpath"] == SEED_RELPATH)
    assert "认证 认可" in seed["body_terms"] and "liaocheng" in seed["pinyin"].split()
    bad = CliRunner().invoke(app, ["export", "--format", "csv", str(out), str(docs)])
    assert bad.exit_code == 2 and "unknown format" in bad.output


def test_index_locations_that_name_a_cluster():
    pytest.importorskip("opensearchpy")
    from pathlib import PurePosixPath

    from searcher.errors import ConfigError
    from searcher.opensearch import OpenSearchBackend, is_cluster_location

    assert is_cluster_location("https://search.example.com:9200/articles")
    assert not is_cluster_location("index_data") and not is_cluster_location("/srv/http/x")
    backend = OpenSearchBackend.from_location(
        PurePosixPath("https://search.example.com:9200/proxy/articles"), Settings())
    assert (backend.url, backend.name) == ("https://search.example.com:9200/proxy", "articles")
    with pytest.raises(ConfigError):
        OpenSearchBackend.from_location("http://127.0.0.1:9200", Settings())
