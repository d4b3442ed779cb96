"""Search caches stay within ``Settings.cache_bytes`` in a long-lived, multi-threaded engine.

A server keeps one engine for days and sends it every query its users type, so
the caches must be capped in bytes (not entries), stay consistent under
concurrent get/put, evict what no longer fits, and never change a result: every
query is compared with an engine whose budget is large enough to keep everything.
The in-memory character index is only built for segments written without the
persisted one (an index from before it): ``old_index`` is such an index.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE_DOCS, SHARED

from searcher import SearchEngine
from searcher.errors import QueryError
from searcher.local.caching import CHAR_INDEX_SHARE, POSTINGS_SHARE, ByteLRU, SharedBudget
from searcher.local.inspection import internals
from searcher.local.substrings import CharIndex

SEED = 20261129
THREADS = 4
LARGE = 1 << 30  # keeps everything this corpus can put in the caches
_TITLE = re.compile(r"^title:\s*'?(.+?)'?\s*$", re.M)
_HAN = re.compile(r"[\u4e00-\u9fff]{4,}")


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    """sample_docs + 300 新闻联播 stories, committed in small batches (several segments)."""
    if not (SHARED / "tools" / "make_corpus.py").is_file():
        pytest.skip("../shared/tools/make_corpus.py is not present beside the repo")
    base = tmp_path_factory.mktemp("memory")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs / "sample")
    subprocess.run([sys.executable, str(SHARED / "tools" / "make_corpus.py"), str(docs / "xwlb"),
                    "--limit", "300"], check=True, capture_output=True)
    engine = SearchEngine(base / "ix")
    report = engine.index([docs], jobs=1, batch_size=80)
    assert not report.failed, report.failed
    assert engine.stats().segments >= 3
    engine.close()
    return base / "ix"


@pytest.fixture(scope="module")
def old_index(index: Path, tmp_path_factory) -> Path:
    """The same index without the persisted bigram index (as written before it was)."""
    copy = tmp_path_factory.mktemp("memory-old") / "ix"
    shutil.copytree(index, copy)
    (copy.parent / "docs").symlink_to(index.parent / "docs")  # queries() reads the titles
    removed = list(copy.glob("gen-*/*.bigrams.*.npy"))
    assert len(removed) >= 9  # three arrays per segment
    for path in removed:
        path.unlink()
    return copy


def queries(index_dir: Path, n: int = 160) -> list[dict]:
    """Varied queries from the indexed articles' titles: words, pairs, phrases, OR/NOT,
    field and filter queries, pinyin; a fixed seed."""
    rng = random.Random(SEED)
    titles: list[str] = []
    for path in sorted((index_dir.parent / "docs").rglob("*.md")):
        found = _TITLE.search(path.read_text(encoding="utf-8"))
        if found:
            titles.append(found.group(1))
    runs = [m.group(0) for t in titles for m in _HAN.finditer(t)]
    assert len(runs) > 100

    def word() -> str:
        run = rng.choice(runs)
        size = rng.choice((2, 2, 3, 4))
        start = rng.randrange(len(run) - size + 1)
        return run[start : start + size]

    out: list[dict] = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            out.append({"query": word()})
        elif kind == 1:
            out.append({"query": f"{word()} {word()}"})
        elif kind == 2:
            out.append({"query": f'"{rng.choice(runs)[:rng.choice((3, 4, 5))]}"'})
        elif kind == 3:
            out.append({"query": f"{word()} OR {word()}"})
        elif kind == 4:
            out.append({"query": f"{word()} -{word()}"})
        elif kind == 5:
            out.append({"query": f"title:{word()}", "category": "新闻联播"})
        elif kind == 6:
            out.append({"query": word(), "since": "2019-06-01", "sort": "date"})
        else:
            out.append({"query": rng.choice(("liaocheng", "liao cheng", "renzheng", "xinwen",
                                              "zhongguo", "jingji"))})
    return out


def run(engine: SearchEngine, q: dict) -> tuple:
    """Everything a caller sees that the caches could change."""
    try:
        res = engine.search(limit=20, **q)
    except QueryError as exc:
        return ("error", str(exc))
    return (res.total, res.relaxed, [(h.id, round(h.score, 9)) for h in res.hits])


def wait_for_char_indexes() -> None:
    for thread in threading.enumerate():
        if thread.name == "searcher-char-index":
            thread.join()


def assert_accounting(engine: SearchEngine) -> None:
    """The accounted bytes are within each cap and at least what the cached arrays hold."""
    caches = internals(engine).caches
    assert caches.bytes <= caches.total_bytes
    for cache in caches.all():
        entries = cache.sizes()
        assert sum(size for _, size in entries.values()) <= cache.capacity
        for value, size in entries.values():
            arrays = value if isinstance(value, tuple) else (
                [value.by_char, value.char_offsets] if isinstance(value, CharIndex) else [])
            owned = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
            assert owned <= size


@pytest.fixture(scope="module")
def expected(index: Path, old_index: Path) -> dict[int, tuple]:
    """Results of an engine whose caches keep everything (serial, warm after one pass);
    also, under key -1, the accounted size of the largest segment's in-memory character
    index (built from the index without persisted ones, with identical results)."""
    engine = SearchEngine(index, cache_bytes=LARGE)
    try:
        qs = queries(index)
        first = {i: run(engine, q) for i, q in enumerate(qs)}
        wait_for_char_indexes()
        again = {i: run(engine, q) for i, q in enumerate(qs)}
        assert again == first  # cached postings change nothing
        stats = internals(engine).caches.stats()
        assert stats["postings"].evictions == 0 and stats["postings"].entries > 300
        assert stats["char_index"].entries == 0  # persisted: nothing sorted in this process
    finally:
        engine.close()
    engine = SearchEngine(old_index, cache_bytes=LARGE)
    try:
        assert {i: run(engine, q) for i, q in enumerate(qs)} == first  # linear scans
        wait_for_char_indexes()
        assert {i: run(engine, q) for i, q in enumerate(qs)} == first  # in-memory indexes
        assert internals(engine).caches.char_index.stats().entries >= 3  # one per segment
        first[-1] = max(size for _, size in internals(engine).caches.char_index.sizes().values())
        return first
    finally:
        engine.close()


def test_small_budget_many_threads(index: Path, expected: dict[int, tuple]) -> None:
    """4 threads × every query against a 512 KiB budget: capped, evicting, identical."""
    engine = SearchEngine(index, cache_bytes=1 << 19)
    caches = internals(engine).caches
    qs = queries(index)
    results: dict[int, list[tuple]] = {i: [] for i in range(len(qs))}
    errors: list[BaseException] = []
    peak = [0]
    done = threading.Event()

    def worker(offset: int) -> None:
        try:
            order = list(range(len(qs)))
            random.Random(offset).shuffle(order)
            for i in order:
                results[i].append(run(engine, qs[i]))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    def sample() -> None:
        while not done.is_set():
            # Under the budget's lock no insertion is half done: a lender's put first makes
            # the borrower give back room, then inserts; two unlocked reads could straddle it.
            with caches.budget.lock:
                for cache in caches.all():
                    if cache.bytes > cache.capacity:
                        errors.append(AssertionError(f"{cache.name}: {cache.bytes} bytes"))
            peak[0] = max(peak[0], caches.bytes)
            done.wait(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    wait_for_char_indexes()
    done.set()
    sampler.join()
    engine.close()
    assert not errors, errors[0]
    for i, got in results.items():
        assert got == [expected[i]] * THREADS, qs[i]
    assert_accounting(engine)
    assert 0 < peak[0] <= caches.total_bytes
    stats = caches.stats()
    # The workload needs more than the budget: entries were evicted, the caches are full-ish.
    assert stats["postings"].evictions > 0
    assert stats["postings"].bytes > stats["postings"].capacity // 2
    assert stats["postings"].hits > 0


def test_a_lender_takes_back_its_share_from_the_borrower() -> None:
    """The borrower fills what lenders leave; a lender's put makes it give back its least
    recent entries first, before the lender inserts; a value over a lender's share is
    refused without taking anything back."""
    budget = SharedBudget(10)
    borrower: ByteLRU[int] = ByteLRU(3, "borrower", budget=budget, borrows=True)
    lender: ByteLRU[int] = ByteLRU(5, "lender", budget=budget)
    for key in range(12):
        borrower.put(key, key, 1)
    assert borrower.bytes == 10 and list(borrower.sizes()) == list(range(2, 12))
    assert lender.put("a", 0, 6) == 0 and lender.bytes == 0  # over its share: not kept
    assert borrower.bytes == 10
    lender.put("a", 0, 4)
    assert lender.bytes == 4 and borrower.bytes == 6 and borrower.capacity == 6
    assert list(borrower.sizes()) == list(range(6, 12))  # the least recent went first
    borrower.get(6)
    borrower.put("b", 0, 1)  # no room beyond what the lender leaves: 7 went, not 6
    assert borrower.bytes == 6 and 6 in borrower.sizes() and 7 not in borrower.sizes()
    lender.put("c", 0, 2)  # 4 + 2 is over its share: it may take back up to its share
    assert list(lender.sizes()) == ["c"] and borrower.bytes == 5  # and evicts its own
    assert borrower.capacity == 8  # what the lender leaves is the borrower's again


def test_postings_borrow_what_the_other_caches_leave(index: Path,
                                                     expected: dict[int, tuple]) -> None:
    """Plain searches fill no suggestion, facet or character-index cache: postings borrow
    that room beyond their own share, and give it back when facet counts need the
    facet columns; the caches together never exceed the budget, and no result changes."""
    budget = 1 << 20  # 1 MiB: postings' own share (3/8) is less than these queries' need
    engine = SearchEngine(index, cache_bytes=budget)
    caches = internals(engine).caches
    qs = queries(index)
    plain = [i for i, q in enumerate(qs) if set(q) == {"query"}]
    filtered = [i for i, q in enumerate(qs) if "category" in q or "since" in q]
    try:
        for i in plain:
            assert run(engine, qs[i]) == expected[i], qs[i]
            assert caches.bytes <= budget
        assert caches.suggest.bytes == caches.facets.bytes == caches.char_index.bytes == 0
        assert caches.postings.bytes > 1.5 * int(budget * POSTINGS_SHARE)  # borrowed
        assert caches.postings.capacity == budget - caches.segments.bytes
        faceted = engine.search(qs[plain[0]]["query"], facets=["category", "year", "month"])
        assert faceted.facets  # facet columns: a lender takes back room
        assert caches.bytes <= budget
        assert caches.postings.bytes <= caches.postings.capacity
        for i in filtered + plain[:20]:
            assert run(engine, qs[i]) == expected[i], qs[i]
            assert caches.bytes <= budget
        assert caches.facets.bytes > 0
        assert caches.postings.capacity == budget - caches.segments.bytes - caches.facets.bytes
        assert_accounting(engine)
    finally:
        engine.close()


def test_char_index_budget_for_one_segment(old_index: Path, expected: dict[int, tuple]) -> None:
    """An index without persisted character indexes, room for about one segment's in
    memory: indexes are evicted or refused, never over budget, and phrase results do not
    change."""
    largest = expected[-1]
    index = old_index
    engine = SearchEngine(index, cache_bytes=int(largest * 1.2 / CHAR_INDEX_SHARE))
    caches = internals(engine).caches
    qs = queries(index)
    phrases = [i for i, q in enumerate(qs) if q["query"].startswith('"')]
    try:
        for _ in range(4):
            for i in phrases:
                assert run(engine, qs[i]) == expected[i], qs[i]
            wait_for_char_indexes()
            assert caches.char_index.bytes <= caches.char_index.capacity
        stats = caches.char_index.stats()
        assert stats.entries >= 1
        assert stats.evictions + stats.rejected > 0
        assert_accounting(engine)
    finally:
        engine.close()


@pytest.mark.parametrize("which", ["index", "old_index"])
def test_zero_budget_caches_nothing(which: str, request: pytest.FixtureRequest,
                                    expected: dict[int, tuple]) -> None:
    """Every value is larger than a zero budget: used for the query, never kept."""
    index = request.getfixturevalue(which)
    engine = SearchEngine(index, cache_bytes=0)
    qs = queries(index)
    try:
        for i in range(0, len(qs), 3):
            assert run(engine, qs[i]) == expected[i], qs[i]
        assert engine.suggest("xinwen") is not None  # the suggestion table is not kept either
        engine.search("新闻", facets=["category", "year"])  # nor facet columns
        wait_for_char_indexes()
        for stats in internals(engine).caches.stats().values():
            assert stats.entries == 0 and stats.bytes == 0
        assert internals(engine).caches.postings.stats().rejected > 0
    finally:
        engine.close()


def test_facets_and_suggestions_are_in_the_budget(index: Path) -> None:
    """Facet columns and the suggestion table are kept by the engine, within cache_bytes, and
    a second engine's budget is its own (nothing process-wide)."""
    engine = SearchEngine(index)
    other = SearchEngine(index, cache_bytes=1 << 20)
    try:
        found = engine.search("新闻", facets=["category", "tag", "year", "month"])
        assert found.facets["category"]
        assert engine.suggest("xinwen")
        caches = internals(engine).caches
        assert caches.facets.stats().entries >= 4 and caches.suggest.stats().entries == 1
        assert caches.bytes <= caches.total_bytes
        assert_accounting(engine)
        assert other.search("新闻", facets=["category"]).facets == {
            "category": found.facets["category"]}
        assert other.suggest("xinwen") == engine.suggest("xinwen")
        assert internals(other).caches.bytes <= internals(other).caches.total_bytes
        assert internals(other).caches.suggest.stats().entries == 0  # larger than its 1 MiB share
    finally:
        engine.close()
        other.close()
