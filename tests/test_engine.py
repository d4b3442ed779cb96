"""End-to-end tests of the library API on sample_docs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path

import pytest
from conftest import SEED_RELPATH, article, write

from searcher import (
    IndexNotFoundError,
    QueryError,
    SearchEngine,
    SearchResults,
    SourceNotFoundError,
)


def ids(results: SearchResults) -> list[str]:
    return [h.id for h in results.hits]


def seed_path(docs: Path) -> str:
    return str((docs / SEED_RELPATH).absolute())


@pytest.mark.parametrize("query", ["认证认可", "聊城", "認證認可", "世界认可日"])
def test_seed_article_ranks_first(sample_index, query):
    engine, docs = sample_index
    results = engine.search(query)
    assert results.total >= 1
    assert results.hits[0].path == seed_path(docs)
    assert results.hits[0].title.startswith("聊城市市场监管局")


def test_hit_fields_are_complete(sample_index):
    engine, docs = sample_index
    hit = engine.search("认证认可").hits[0]
    assert hit.author == "趣头条"
    assert hit.categories == ["新媒体", "趣头条", "分类"]
    assert hit.date == dt.datetime(2021, 6, 16, 2, 23, 51, tzinfo=dt.timezone.utc)
    assert hit.score > 0
    assert len(hit.id) == 16
    assert Path(hit.path).is_absolute()
    assert "认证认可" in hit.snippet
    for start, end in hit.highlights:
        assert hit.snippet[start:end] in ("认证认可", "认证", "认可")


def test_subword_recall(sample_index):
    engine, docs = sample_index
    assert seed_path(docs) in [h.path for h in engine.search("监管").hits]


def test_every_word_required_by_default(sample_index):
    engine, _ = sample_index
    both = engine.search("聊城 认证")
    assert both.total >= 1 and not both.relaxed
    for hit in both.hits:
        text = engine.get(hit.id).text + hit.title
        assert "聊城" in text and "认证" in text


def test_or_and_not(sample_index):
    engine, _ = sample_index
    a = set(ids(engine.search("聊城", limit=100)))
    b = set(ids(engine.search("长江", limit=100)))
    assert a and b
    assert set(ids(engine.search("聊城 OR 长江", limit=100))) == a | b
    assert set(ids(engine.search("长江 -聊城", limit=100))) == b - a
    assert set(ids(engine.search("长江 NOT 聊城", limit=100))) == b - a


def test_quoted_phrase_is_exact(sample_index):
    engine, _ = sample_index
    results = engine.search('"认证认可检验检测"')
    assert results.total >= 1
    for hit in results.hits:
        assert "认证认可检验检测" in (engine.get(hit.id).text + hit.title).replace(" ", "")


def test_field_queries(sample_index):
    engine, docs = sample_index
    assert ids(engine.search("title:聊城"))[:1] == ids(engine.search("聊城"))[:1]
    by_author = engine.search("author:趣头条", limit=100)
    assert by_author.total >= 1 and all(h.author == "趣头条" for h in by_author.hits)
    by_cat = engine.search("category:新媒体 认证认可")
    assert by_cat.hits[0].path == seed_path(docs)


def test_filters(sample_index):
    engine, docs = sample_index
    everything = engine.search("的 OR 是 OR the OR 聊城 OR 长江", limit=100)
    authors = {h.author for h in everything.hits} - {""}
    assert len(authors) >= 2
    for author in authors:
        filtered = engine.search("的 OR 是 OR the OR 聊城 OR 长江", author=author, limit=100)
        assert filtered.total >= 1
        assert {h.author for h in filtered.hits} == {author}
    assert engine.search("认证认可", category="新媒体").total == 1
    assert engine.search("认证认可", category="没有这个分类").total == 0
    assert engine.search("认证认可", since="2021-06-16").total == 1
    seed = seed_path(docs)
    assert seed not in [h.path for h in engine.search("认证认可", until="2021-06-15").hits]
    # A bare date as `until` includes that whole day (in Asia/Shanghai).
    assert engine.search("认证认可", until="2021-06-16").hits[0].path == seed
    assert seed not in [h.path for h in engine.search("认证认可", since=dt.date(2021, 6, 17)).hits]


def test_sort_by_date_and_paging(sample_index):
    engine, _ = sample_index
    query = "的 OR 是 OR the OR 聊城 OR 长江"
    newest = engine.search(query, sort="date", limit=100)
    dates = [h.date for h in newest.hits if h.date]
    assert len(dates) >= 3
    assert dates == sorted(dates, reverse=True)
    oldest = engine.search(query, sort="oldest", limit=100)
    assert [h.date for h in oldest.hits if h.date] == sorted(dates)
    page1 = engine.search(query, limit=2, page=1)
    page2 = engine.search(query, limit=2, page=2)
    assert page1.total == page2.total == newest.total
    assert len(page1.hits) == 2 and page2.hits
    assert not set(ids(page1)) & set(ids(page2))
    assert page2.hits[0].rank == 3
    beyond = engine.search(query, limit=2, page=1000)
    assert beyond.hits == [] and beyond.total == newest.total


def test_relaxation_when_no_document_has_every_word(sample_index):
    engine, docs = sample_index
    results = engine.search("聊城 量子计算机")
    assert results.relaxed
    assert results.total >= 1
    assert results.hits[0].path == seed_path(docs)
    assert json.loads(json.dumps(results.as_dict()))["relaxed"] is True
    assert not engine.search("聊城 认证").relaxed


def test_as_dict_is_json(sample_index):
    engine, _ = sample_index
    data = json.loads(json.dumps(engine.search("认证认可").as_dict(), ensure_ascii=False))
    assert set(data) >= {"query", "total", "page", "hits", "relaxed"}
    hit = data["hits"][0]
    assert set(hit) >= {"id", "path", "title", "author", "categories", "tags", "date", "score",
                        "snippet", "highlights"}
    assert hit["date"] == "2021-06-16T02:23:51+00:00"
    for start, end in hit["highlights"]:
        assert 0 <= start < end <= len(hit["snippet"])


def test_get_and_stats(sample_index):
    engine, docs = sample_index
    hit = engine.search("认证认可").hits[0]
    doc = engine.get(hit.id)
    assert doc.title == hit.title and "认证认可" in doc.text
    assert doc.images["headimg"].startswith("https://")
    assert engine.get(seed_path(docs)).id == hit.id
    stats = engine.stats()
    assert stats.documents == len(list(docs.rglob("*.md"))) + len(list(docs.rglob("*.html")))
    assert {"title", "body", "author", "category", "date"} <= set(stats.fields)
    assert stats.last_update
    on_disk = sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in
                  os.walk(Path(engine.settings.index_dir) / stats.generation) for name in names)
    assert stats.index_bytes == on_disk > 0


def test_bad_queries_raise_query_error(sample_index):
    engine, _ = sample_index
    for bad in ["-only", "", "   ", "NOT", "-(a OR b)"]:  # nothing to search for
        with pytest.raises(QueryError):
            engine.search(bad)
    for slip in ['"unclosed', "(a", "a OR"]:  # readable: searched, and said how
        assert engine.search(slip).notices, slip
    with pytest.raises(QueryError):
        engine.search("聊城", sort="random")
    with pytest.raises(QueryError):
        engine.search("聊城", since="not a date")
    with pytest.raises(QueryError):
        engine.search("聊城", page=0)


def test_missing_index_and_source(tmp_path):
    engine = SearchEngine(tmp_path / "nothing")
    with pytest.raises(IndexNotFoundError, match="searcher index"):
        engine.search("聊城")
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        engine.index([tmp_path / "missing"])


#: Queries that exercise every lazily built piece: the Whoosh index, the query context
#: (frozen dictionary, pinyin table), per-segment arrays, postings, substrings, filters.
RACE_QUERIES = [
    ("聊城", {}), ("liaocheng", {}), ("認證認可", {}), ('"城市场"', {}), ("认证 OR 长江", {}),
    ("长江 -洪水", {}), ("title:聊城", {}), ("5G", {}), ("iphone 13", {}), ("的", {"limit": 50}),
    ("新闻", {"sort": "date"}), ("监管局", {"category": "新媒体"}),
    ("航天员", {"since": "2021-01-01"}),
]

_REFERENCE = """
import json, sys
from searcher import SearchEngine
engine = SearchEngine(sys.argv[1])
out = []
for query, options in json.loads(sys.argv[2]):
    result = engine.search(query, **options).as_dict()
    result.pop("elapsed_ms")
    out.append(result)
print(json.dumps(out, ensure_ascii=False))
"""


def test_threads_race_on_a_cold_engine(tmp_path, docs):
    """Threads released at once on a fresh engine over a fresh index (nothing opened,
    no cache warm) get exactly what one thread in a fresh process gets afterwards."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    report = SearchEngine(tmp_path / "ix").index([docs], jobs=1)
    assert report.added == 14 and not report.failed
    engine = SearchEngine(tmp_path / "ix")  # cold: no search has run on this index
    threads = 8
    barrier = threading.Barrier(threads)

    def worker(k: int) -> list[dict]:
        order = list(range(k, len(RACE_QUERIES))) + list(range(k))  # each starts elsewhere
        barrier.wait(timeout=60)
        got: list[dict] = [{}] * len(RACE_QUERIES)
        for i in order:
            query, options = RACE_QUERIES[i]
            result = engine.search(query, **options).as_dict()
            result.pop("elapsed_ms")
            got[i] = json.loads(json.dumps(result, ensure_ascii=False))
        return got

    with ThreadPoolExecutor(threads) as pool:
        per_thread = list(pool.map(worker, range(threads)))  # re-raises a thread's error

    done = subprocess.run([sys.executable, "-c", _REFERENCE, str(tmp_path / "ix"),
                           json.dumps(RACE_QUERIES, ensure_ascii=False)],
                          capture_output=True, text=True, check=True)
    reference = json.loads(done.stdout)
    assert all(r["total"] for r in reference)
    assert "聊城市市场监管局" in reference[1]["hits"][0]["title"]  # the pinyin match
    for k, got in enumerate(per_thread):
        for (query, _), want, have in zip(RACE_QUERIES, reference, got, strict=True):
            assert have == want, (k, query)


def test_long_lived_engine_sees_new_commits(tmp_path):
    src = tmp_path / "src"
    write(src, "a.md", article("第一篇", "上海的天气很好"))
    reader = SearchEngine(tmp_path / "ix")
    SearchEngine(tmp_path / "ix").index([src])
    assert reader.search("天气").total == 1
    write(src, "b.md", article("第二篇", "北京的天气也很好"))
    SearchEngine(tmp_path / "ix").index([src])
    assert reader.search("天气").total == 2
    SearchEngine(tmp_path / "ix").index([src], full=True)  # swapped-in rebuild
    assert reader.search("天气").total == 2
    assert reader.search("北京").total == 1


def test_library_never_prints(tmp_path, capsys, caplog):
    src = tmp_path / "src"
    write(src, "a.md", article("标题", "正文内容"))
    with caplog.at_level(logging.DEBUG):
        engine = SearchEngine(tmp_path / "ix")
        engine.index([src])
        engine.search("正文")
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_total_is_exact_across_pages(sample_index):
    engine, _ = sample_index
    for query in ["的", "聊城 OR 长江 OR 5G", "新闻"]:
        first = engine.search(query, limit=3)
        seen = []
        for page in range(1, first.pages + 1):
            seen += [h.id for h in engine.search(query, limit=3, page=page).hits]
        assert len(seen) == len(set(seen)) == first.total, query
