"""Query cost that follows what the query touches, with results that do not change.

A results page selects its first ``offset + limit`` hits instead of sorting every
match; a string's occurrences are counted per document in one pass over ascending
positions; and those per-document counts are kept in the postings cache.  Each of
these is checked against the slow, obvious way on real articles.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, needs_shared
from test_char_index import oracle

from searcher import SearchEngine
from searcher.local import substrings
from searcher.local.inspection import internals
from searcher.local.matches import distinct_union, top_order

XWLB = SHARED / "corpus" / "xwlb" / "news"


def test_page_selection_equals_a_full_stable_sort() -> None:
    """Many ties (dates, equal scores), infinities (undated documents), any page size."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(0, 300))
        keys = rng.integers(0, int(rng.integers(1, 25)), size=n).astype(np.float64)
        keys[rng.random(n) < 0.1] = np.inf
        count = int(rng.integers(0, n + 5))
        expected = np.lexsort((np.arange(n), keys))[:count]
        assert np.array_equal(top_order(keys, count), expected), (keys, count)


def test_pages_are_slices_of_one_ranking(corpus_2k) -> None:
    """Pages 1–6 of a common word, by relevance and by date, are the slices of one long
    page (the selection of the first offset+limit hits agrees across offsets)."""
    engine = corpus_2k[0]
    for sort in ("relevance", "date", "oldest"):
        whole = engine.search("发展", limit=60, sort=sort)
        assert whole.total > 300
        pages = [hit.id for page in range(1, 7)
                 for hit in engine.search("发展", limit=10, page=page, sort=sort).hits]
        assert pages == [hit.id for hit in whole.hits]
        if sort == "relevance":
            scores = [hit.score for hit in whole.hits]
            assert scores == sorted(scores, reverse=True)


@needs_shared
def test_per_document_counts_both_ways(tmp_path: Path) -> None:
    """Counting occurrences per document searches the occurrences among the documents
    (rare strings) or the document bounds among the occurrences (common ones); both equal
    a linear scan of each document's text, title and body apart."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for path in sorted(XWLB.glob("*.md"))[:150]:
        shutil.copy(path, docs / path.name)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1)
    searcher = internals(engine).searcher()
    ways = set()
    for leaf, _ in searcher.leaf_searchers():
        reader = leaf.reader()
        seg = substrings.segment_text(reader, internals(engine).caches)
        texts = substrings.squeezed_texts(reader)
        for needle in ("的", "中国", "新闻联播", "习近平", "认证认可", "ZZZ"):
            starts = seg.bigrams.find(np.array([ord(c) for c in needle], dtype=np.uint32))
            ways.add(len(starts) > len(seg.starts))
            found = seg.find(needle)
            got = {int(d): (int(t), int(b))
                   for d, t, b in zip(found.ids, found.title, found.body, strict=True)}
            assert got == oracle(texts, needle), needle
    engine.close()
    assert ways == {True, False}  # both ways were taken


QUERIES = ("发展", "习近平 推动", "加快建设海洋强国", '"国际合作"', "4万 亿元", "城市场",
           "网购的东西坏了可以退吗", "liaocheng")


def test_cached_string_postings_change_no_result(corpus_2k, tmp_path: Path) -> None:
    """Warm queries (string occurrences from the cache) rank exactly as a first query and
    as an engine that can keep nothing (scores equal to the last bit)."""
    engine, corpus, _report = corpus_2k
    index = tmp_path / "ix"
    shutil.copytree(engine.settings.index_dir, index)
    keeps = SearchEngine(index)
    keeps_nothing = SearchEngine(index, cache_bytes=0)

    def ranking(e: SearchEngine, query: str) -> list[tuple[str, float]]:
        result = e.search(query, limit=20)
        return [(hit.id, hit.score) for hit in result.hits] + [("total", result.total)]

    first = {q: ranking(keeps, q) for q in QUERIES}
    assert internals(keeps).caches.postings.stats().entries > 0
    assert any(len(key) == 4 for key in internals(keeps).caches.postings.sizes())  # string postings
    for query in QUERIES:
        assert ranking(keeps, query) == first[query], query
        assert ranking(keeps_nothing, query) == first[query], query
    keeps.close()
    keeps_nothing.close()


@pytest.mark.parametrize("count", [0, 1, 3])
def test_top_order_of_fewer_keys_than_asked(count: int) -> None:
    keys = np.array([3.0, 1.0, 1.0][:count])
    assert list(top_order(keys, 10)) == list(np.lexsort((np.arange(count), keys)))


@needs_shared
def test_whole_index_statistics_with_deleted_documents(tmp_path: Path) -> None:
    """After a nightly run deletes documents inside a segment, the joined postings still
    give Whoosh's document frequencies (deleted documents included, as its term statistics
    count them) and no deleted document is ever a hit."""
    from searcher.local.evaluator import Evaluator, QueryContext

    docs = tmp_path / "docs"
    docs.mkdir()
    files = sorted(XWLB.glob("*.md"))[:60]
    for path in files:
        shutil.copy(path, docs / path.name)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1)
    gone = {path.name for path in files[::4]}
    for name in gone:
        (docs / name).unlink()
    engine.index([docs], jobs=1)
    searcher = internals(engine).searcher()
    assert any(leaf.reader().has_deletions() for leaf, _ in searcher.leaf_searchers())
    evaluator = Evaluator(searcher, QueryContext(caches=internals(engine).caches))
    for fieldname, term in [("body", "发展"), ("body", "习近平"), ("title", "新闻联播"),
                            ("body", "联播"), ("body", "国际"), ("title", "文字版")]:
        assert evaluator.df(fieldname, term) == searcher.doc_frequency(fieldname, term)
    for query in ("发展", '"新闻联播"', "习近平 国际"):
        result = engine.search(query, limit=100)
        assert result.total == len(result.hits) > 0
        assert not {Path(hit.path).name for hit in result.hits} & gone
    engine.close()


def test_sparse_leaves_answer_for_any_documents_like_whole_index_arrays(corpus_2k) -> None:
    """A leaf's ids (a term's postings, a string's documents) ascend, and ``Match.at``, which
    binary-searches them, gives what indexing its whole-index mask and score arrays gives:
    for the matches, for documents it lacks, first and last documents included."""
    from searcher.local.evaluator import Evaluator, QueryContext
    from searcher.local.matches import SPARSE_LOOKUPS, Match

    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    evaluator = Evaluator(searcher, QueryContext(caches=internals(engine).caches))
    space = evaluator.space
    rng = np.random.default_rng(3)
    leaves = [evaluator.term(space, field, term) for field in ("title", "body")
              for term in ("发展", "海洋", "聊城", "不存在的词")]
    leaves += [evaluator.substring(space, needle) for needle in ("国际合作", "发展", "無此字串")]
    for leaf in leaves:
        assert leaf.is_sparse
        assert bool((np.diff(leaf.ids) > 0).all())
        few = np.unique(np.concatenate([leaf.ids[:20], rng.integers(0, space.n, 60),
                                        [0, space.n - 1]]))
        assert len(few) * SPARSE_LOOKUPS <= space.n  # binary searches
        # many documents: ascending, a leaf of few ids is placed among them; in any order
        # (a page), or for a leaf of many ids, whole-index arrays
        many = np.unique(rng.integers(0, space.n, space.n // 2))
        for docs in (few, many, rng.permutation(many), many[::-1]):
            held, score = Match.sparse(space.n, leaf.ids, leaf.values).at(docs)
            assert np.array_equal(held, leaf.mask[docs])
            assert np.array_equal(score, leaf.score[docs])
    sizes = [len(leaf.ids) * SPARSE_LOOKUPS for leaf in leaves]
    assert any(size > space.n for size in sizes)  # leaves of either kind were asked
    assert any(0 < size <= space.n for size in sizes)


def test_sparse_leaves_combine_like_whole_index_arrays(corpus_2k) -> None:
    """AND, OR and weighted additions of leaves scatter a sparse leaf into the result
    instead of making its whole-index arrays: every mask and score (to the last bit, and
    the partial scores outside an AND's mask) equals that of the same leaves as arrays."""
    from searcher.local.evaluator import Evaluator, QueryContext
    from searcher.local.matches import Match, add_where, all_of, any_of

    engine = corpus_2k[0]
    evaluator = Evaluator(internals(engine).searcher(),
                          QueryContext(caches=internals(engine).caches))
    space = evaluator.space
    leaves = [evaluator.term(space, field, term) for field in ("title", "body")
              for term in ("发展", "海洋", "聊城", "建设", "不存在的词")]
    leaves += [evaluator.substring(space, needle) for needle in ("国际合作", "发展")]
    assert all(leaf.is_sparse for leaf in leaves)

    def arrays(match: Match) -> Match:
        return Match(match.mask.copy(), match.score.copy())

    def same(got: Match, want: Match) -> None:
        assert np.array_equal(got.mask, want.mask)
        assert np.array_equal(got.score, want.score)

    rng = np.random.default_rng(5)
    for _ in range(40):
        chosen = [leaves[i] for i in rng.choice(len(leaves), int(rng.integers(2, 5)),
                                                 replace=False)]
        sparse = [Match.sparse(space.n, m.ids, m.values) if rng.random() < 0.7 else arrays(m)
                  for m in chosen]
        dense = [arrays(m) for m in chosen]
        same(all_of(sparse, space.n), all_of(dense, space.n))
        same(any_of(sparse, space.n), any_of(dense, space.n))
        base = any_of(dense[:1] + dense[1:2], space.n)
        want = base.score + 0.25 * np.where(base.mask, dense[-1].score, 0.0)
        add_where(base.score, base.mask, sparse[-1], 0.25)
        assert np.array_equal(base.score, want)
    for leaf in leaves:  # the leaves themselves never changed
        fresh = Match.sparse(space.n, leaf.ids, leaf.values)
        same(leaf, arrays(fresh))


def test_a_page_sorted_by_date_carries_the_relevance_scores(corpus_2k) -> None:
    """Scores are computed for the matches when ranking by relevance and for the page
    only when sorting by date; both are the same sum, to the last bit."""
    engine = corpus_2k[0]
    for query in ("发展", "习近平 推动", "加快建设海洋强国"):
        relevance = {hit.id: hit.score for hit in engine.search(query, limit=500).hits}
        for sort in ("date", "oldest"):
            hits = engine.search(query, limit=20, sort=sort).hits
            assert hits
            assert all(hit.score == relevance[hit.id] for hit in hits
                       if hit.id in relevance), (query, sort)
            assert sum(hit.id in relevance for hit in hits) >= min(5, len(hits))


def test_kept_bigram_groups_find_what_decoding_finds(corpus_2k, monkeypatch) -> None:
    """Large bigram groups, once decoded, stay decoded in the postings cache; a search
    through them (cold, then warm) finds every needle where a linear scan of the texts
    does, with the same counts per document as a search that decodes every group.  (At
    2,000 articles few groups reach the size kept at 100,000: the threshold is lowered.)"""
    import random

    from searcher.local.substrings import segment_text, squeezed_texts

    monkeypatch.setattr(substrings, "KEEP_DECODED_FROM", 256)
    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    caches = internals(engine).caches
    rng = random.Random(11)
    kept = 0
    for leaf, _offset in searcher.leaf_searchers():
        reader = leaf.reader()
        texts = squeezed_texts(reader)
        text = segment_text(reader, caches)
        bigrams = text.bigrams
        assert bigrams is not None and bigrams.decoded is caches.postings
        # needles whose end bigrams are common (国际合作: 国际 and 合作), and random runs
        words = ["国际合作", "发展中国家", "新闻联播", "习近平总书记", "中国人民"]
        words += [t[s : s + n] for t in rng.sample(texts, 40)
                  for n in (3, 4, 6) for s in [rng.randrange(max(len(t) - n, 1))]]
        for needle in words:
            if not needle or "\x00" in needle:
                continue
            for _ in range(2):  # the first decodes (and keeps), the second reads them kept
                found = text.find(needle)
                bigrams.decoded = None
                plain = text.find(needle)
                bigrams.decoded = caches.postings
                expected = oracle(texts, needle)
                assert found.ids.tolist() == plain.ids.tolist() == sorted(expected), needle
                assert found.title.tolist() == plain.title.tolist() == \
                    [float(expected[d][0]) for d in sorted(expected)], needle
                assert found.body.tolist() == plain.body.tolist()
        groups = [value for key, (value, _size) in caches.postings.sizes().items()
                  if key[0] == "bigram group" and key[1] == text.key]
        assert all(g.dtype == np.int32 and not g.flags.writeable for g in groups)
        assert all(len(g) and (np.diff(g) > 0).all() for g in groups)
        kept += len(groups)
    assert kept > 0  # groups of 256 bytes or more were searched, and kept


@pytest.mark.parametrize("dtype", [np.int32, np.intp])
def test_distinct_union_is_union1d(dtype) -> None:
    """The merge of two ascending sets of document numbers equals ``np.union1d``, empty,
    overlapping, equal and disjoint sets included, in the same type."""
    rng = np.random.default_rng(7)
    cases = [(np.zeros(0, dtype), np.zeros(0, dtype)), (np.arange(5, dtype=dtype),) * 2,
             (np.arange(0, 10, 2, dtype=dtype), np.arange(1, 11, 2, dtype=dtype))]
    for _ in range(300):
        size = int(rng.integers(1, 3000))
        cases.append(tuple(np.sort(rng.choice(size, int(rng.integers(0, size)), replace=False)
                                   ).astype(dtype) for _ in range(2)))
    for a, b in cases:
        got, want = distinct_union(a, b), np.union1d(a, b)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_sparse_unions_rank_like_whole_index_arrays(corpus_2k, monkeypatch) -> None:
    """Unions of leaves that hold few documents (a word in title or body, a word or its
    verbatim string, synonyms, pinyin readings) stay sparse; every page, score (to the
    last bit), total and matched-word count equals that of whole-index unions."""
    from searcher.local import matches

    engine = corpus_2k[0]
    queries = [*QUERIES, "海洋强国", "聊城 市场", "加快建设海洋强国", '"国际合作" 发展',
                         "海洋强国是什么", "haiyang", "聊城 -市场", "冬奥 申办", "疫苗 接种 北京",
                         "如何推进乡村振兴", "新冠", "中欧班列", "author:新闻联播 海洋"]
    sparse_unions = []
    original = matches.Match._sparse_union

    def counted(self, other, weight):
        sparse_unions.append(len(self.ids) + len(other.ids))
        return original(self, other, weight)

    def ranking(query: str, **kw) -> list:
        result = engine.search(query, limit=50, **kw)
        return [(h.id, h.score, h.matched) for h in result.hits] + [result.total,
                                                                    result.relaxed]

    monkeypatch.setattr(matches.Match, "_sparse_union", counted)
    sparse = {q: ranking(q) for q in queries}
    sparse_filtered = {q: ranking(q, since="2021-01-01") for q in queries}
    assert sum(size > 0 for size in sparse_unions) > 20
    monkeypatch.setattr(matches, "SPARSE_UNIONS", 10**9)  # every union: whole-index arrays
    sparse_unions.clear()
    for query in queries:
        assert ranking(query) == sparse[query], query
        assert ranking(query, since="2021-01-01") == sparse_filtered[query], query
    assert not any(sparse_unions)  # only unions of two empty leaves stayed sparse


def test_groups_read_from_the_file_equal_the_mapped_ones(corpus_2k, monkeypatch) -> None:
    """Small bigram groups are read with pread, not through the map (nothing to hand back
    after a search); every group decodes to the same positions both ways, and a search
    through them gives the counts of one through the map."""
    from searcher.local.substrings import segment_text

    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    caches = internals(engine).caches
    read = []
    for leaf, _offset in searcher.leaf_searchers():
        text = segment_text(leaf.reader(), caches)
        index = text.bigrams
        assert index is not None and index._fd is not None
        sizes = np.diff(index.offsets.astype(np.int64))
        groups = np.flatnonzero(sizes <= substrings.PREAD_BYTES)
        assert len(groups) > 1000
        fd = index._fd
        for group in groups[:: max(1, len(groups) // 3000)].tolist():
            spans: list = []
            index._fd = fd
            by_file = index.decode(group, group + 1, spans)
            assert not spans  # nothing mapped, nothing to release
            index._fd = None
            assert by_file.tolist() == index.decode(group, group + 1, spans).tolist()
            assert spans  # through the map
        for needle in ("国际合作", "发展", "习近平总书记", "新闻联播", "海洋强国", "聊城"):
            index._fd = fd
            got = text.find(needle)
            index._fd = None
            want = text.find(needle)
            read.append(len(got))
            assert got.ids.tolist() == want.ids.tolist(), needle
            assert got.title.tolist() == want.title.tolist(), needle
            assert got.body.tolist() == want.body.tolist(), needle
        index._fd = fd
    assert sum(read) > 100


def test_did_you_mean_counts_spans_as_the_search_finds_them(corpus_2k, monkeypatch) -> None:
    """Did-you-mean counts every span of a pasted run: counted without per-document
    occurrences (or taken from the search's own cached occurrences), each count is the
    number of documents the substring search finds, and the offer is unchanged."""
    from searcher.local.evaluator import Evaluator, QueryContext
    from searcher.local.search import HomophoneLookup
    from searcher.spelling import units_of

    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    caches = internals(engine).caches
    runs = ["地区人社部门还组织了公共就业服务", "推动能源合作取得更多务实成果", "聊成市场监管局",
            "加快建设海洋强国"]
    for run in runs:
        spans = list(dict.fromkeys(
            run[a:b] for whole, parts in units_of(run) for a, b in [whole]
            + parts))
        lookup = HomophoneLookup(searcher, QueryContext(caches=caches), None)
        counted = lookup.counts(spans)  # counted, not found
        fresh = Evaluator(searcher, QueryContext())  # caches of its own: a real search
        for span in spans:
            assert counted[span][0] == len(fresh.found(fresh.space, span, False)), span
        assert lookup.counts(spans) == counted  # now from the cache
    queries = ["聊成市场", "海羊强国", "习近平总书记强调推动高质量发展", *runs]
    offers = {q: engine.search(q).did_you_mean for q in queries}
    assert sum(bool(o) for o in offers.values()) >= 2
    monkeypatch.setattr(Evaluator, "documents_holding", lambda self, space, unit: len(
        self.found(space, unit, False)))  # the straightforward way
    assert {q: engine.search(q).did_you_mean for q in queries} == offers


def test_title_bonus_of_a_cut_fragment_needs_the_fragment_in_the_title(corpus_2k) -> None:
    """A fragment cut out of words (推动生) lifts only the titles holding the fragment
    itself, not every title holding its words (a lone character is in most titles); the
    documents asked about come in any order (a page) and the check is str ``in`` over the
    titles."""
    from searcher.core.rules import FIELD_BREAK, cut_fragment
    from searcher.local.evaluator import Evaluator, QueryContext
    from searcher.query import Word

    engine = corpus_2k[0]
    searcher = internals(engine).searcher()
    evaluator = Evaluator(searcher, QueryContext(caches=internals(engine).caches))
    space = evaluator.space
    titles = [t.split(FIELD_BREAK)[0] for leaf, _ in searcher.leaf_searchers()
              for t in substrings.squeezed_texts(leaf.reader())]
    rng = np.random.default_rng(5)
    checked = 0
    for title in titles[:400]:
        for start in range(0, max(len(title) - 3, 0), 3):
            fragment = title[start : start + 3]
            terms = evaluator.query_terms(fragment)
            if not cut_fragment(fragment, terms):
                continue
            held = np.ones(space.n, dtype=bool)
            for term in terms:
                held &= evaluator.term(space, "title", term).mask
            docs = rng.permutation(np.flatnonzero(held))
            bonus = evaluator.title_bonus(Word(fragment), space, docs)
            verbatim = np.array([fragment in titles[d] for d in docs], dtype=bool)
            assert np.array_equal(bonus > 0, verbatim), fragment
            checked += int((~verbatim).any())  # titles with its words, not the fragment
    assert checked >= 3
