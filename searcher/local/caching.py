"""Byte-bounded, thread-safe LRU caches for what is derived from immutable segments.

A web server keeps one :class:`~searcher.SearchEngine` for days, so every cache
it fills while answering queries is capped in *bytes* (``Settings.cache_bytes``),
not in entries: one common term's postings at 200,000 articles weigh over a
megabyte, a rare one a few hundred bytes, so an entry count bounds nothing.

What is counted: memory the process owns (numpy arrays it allocated, plus a
fixed estimate per entry for the Python objects around them).  Arrays that are
memory-mapped from the index's sidecar files (``np.load(mmap_mode="r")``) count
as zero: their pages belong to the kernel's page cache, are shared by every
process reading the same index and are dropped by the kernel under memory
pressure.  They do show in a process's RSS once touched (as ``RssFile``), which
is why the benchmark reports anonymous and file-backed RSS separately.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

V = TypeVar("V")

#: Estimated bytes of the Python objects around one cached value (key tuple and its
#: strings, the value's tuple or dataclass, numpy array headers, the dict node, malloc's
#: headers): an entry with empty arrays (a term a segment does not have) is not free.
#: Measured with tracemalloc: ~800 bytes for a postings entry with three postings.
ENTRY_OVERHEAD = 1024
#: Evicted bytes after which freed memory is handed back to the system (see
#: :func:`release_free_memory`; it takes well under a millisecond).
TRIM_AFTER_BYTES = 16 * 1024 * 1024


def heap_bytes(*values: Any) -> int:
    """Bytes the numpy arrays among *values* hold in process memory; memory maps count 0."""
    total = 0
    for value in values:
        if isinstance(value, np.ndarray) and not _is_mapped(value):
            total += value.nbytes
    return total


def text_bytes(texts: Any) -> int:
    """Approximate heap bytes of a collection of str: CPython's object header (~50 bytes)
    plus up to 4 bytes a character (Chinese text is 2), and the list's pointer."""
    return sum(58 + 2 * len(text) for text in texts)


def _is_mapped(array: np.ndarray) -> bool:
    """True when *array*'s memory is a file mapping (``np.load(..., mmap_mode=...)`` or a view)."""
    base: Any = array
    for _ in range(32):
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
        if base is None:
            return False
    return False


def release_free_memory() -> None:
    """Hand memory freed by large evicted or temporary arrays back to the system (glibc).

    glibc raises its mmap threshold after a large block is freed, so later arrays of up
    to 32 MB come from its heaps, where freed memory stays in the process (RSS) until
    trimmed: a character index evicted and rebuilt would otherwise leave its old pages
    behind.  A no-op where ``malloc_trim`` does not exist.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_trim_fn: list[Any] = []


def _malloc_trim() -> Any:
    if not _trim_fn:
        fn = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fn = getattr(libc, "malloc_trim", None)
            if fn is not None:
                fn.argtypes = [ctypes.c_size_t]
                fn.restype = ctypes.c_int
        except OSError:
            fn = None
        _trim_fn.append(fn)
    return _trim_fn[0]


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of one cache: what it holds against its capacity, and what it did."""

    name: str
    capacity: int
    bytes: int
    entries: int
    hits: int
    misses: int
    evictions: int
    #: Values offered to put() that were larger than the whole capacity (used, not kept).
    rejected: int


class SharedBudget:
    """One byte budget for several caches, where one of them borrows what the others leave.

    Each lender keeps to its own share; the borrower may also fill whatever the lenders do
    not hold at the moment, and gives it back (its least recent entries first) as soon as
    a lender needs it.  A search workload that never asks for suggestions or facets, on an
    index whose segments all have bigram indexes, leaves those shares empty: postings
    then get nearly the whole budget instead of 6/16 of it.  Insertions into any of the
    caches are serialised by one lock (lookups are not), so the caches together never
    hold more than *total* bytes, even for a moment.
    """

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.lock = threading.Lock()
        self.borrower: ByteLRU[Any] | None = None
        self.lenders: list[ByteLRU[Any]] = []

    def room(self) -> int:
        """What the borrower may hold now: the budget less what the lenders hold."""
        return self.total - sum(cache.bytes for cache in self.lenders)


class ByteLRU(Generic[V]):
    """At most *capacity* bytes of values (and optionally *max_entries*); least recent goes first.

    The caller gives each value's size when it inserts it (values never change
    afterwards), so the accounted total is exact and never exceeds the
    capacity, even while other threads read and insert.  A value larger than
    the whole capacity is returned to the caller but not kept.  Two threads
    missing the same key both compute it; the later put replaces the earlier.

    In a :class:`SharedBudget`, a lender's capacity is its share, and the borrower's is
    whatever the budget's lenders leave (:meth:`SharedBudget.room`), so it changes.
    """

    def __init__(self, capacity: int, name: str = "cache", max_entries: int | None = None,
                 budget: SharedBudget | None = None, borrows: bool = False) -> None:
        if capacity < 0:
            raise ValueError(f"cache {name!r}: capacity must be >= 0 bytes, not {capacity}")
        self.name = name
        self._capacity = int(capacity)
        self.max_entries = max_entries
        self._budget = budget
        if budget is not None:
            if borrows:
                budget.borrower = self
            else:
                budget.lenders.append(self)
        self._data: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._rejected = 0
        self._freed = 0  # bytes evicted since memory was last handed back to the system

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self._misses += 1
                return None
            self._data.move_to_end(key)
            self._hits += 1
            return item[0]

    @property
    def capacity(self) -> int:
        """Bytes this cache may hold now (a borrower's changes with what its lenders hold)."""
        budget = self._budget
        if budget is not None and budget.borrower is self:
            return max(budget.room(), 0)
        return self._capacity

    def put(self, key: Hashable, value: V, nbytes: int) -> V:
        """Keep *value* (of *nbytes*) unless it alone exceeds the capacity; returns *value*."""
        budget = self._budget
        if budget is None:
            return self._put(key, value, int(nbytes))
        with budget.lock:
            borrower = budget.borrower
            if borrower is not None and borrower is not self:
                # Make room first: a lender never exceeds its share, and what it takes
                # back from the borrower is at most what it will hold after this put.
                held = sum(c.bytes for c in budget.lenders if c is not self)
                mine = self.bytes if int(nbytes) > self._capacity \
                    else min(self._capacity, self.bytes + int(nbytes))
                borrower.shrink(budget.total - held - mine)
            return self._put(key, value, int(nbytes))

    def _put(self, key: Hashable, value: V, nbytes: int) -> V:
        trim = False
        capacity = self.capacity
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
                old = None
            if nbytes > capacity:
                self._rejected += 1
                return value
            self._evict(capacity - nbytes, room_for_one=True)
            self._data[key] = (value, nbytes)
            self._bytes += nbytes
            if self._freed >= TRIM_AFTER_BYTES:
                self._freed, trim = 0, True
        if trim:
            release_free_memory()
        return value

    def _evict(self, keep: int, room_for_one: bool = False) -> None:
        """Drop least recent entries until at most *keep* bytes are held (and, with
        *room_for_one*, one entry fewer than *max_entries*); the caller holds the lock."""
        while self._data and (self._bytes > keep or (
                room_for_one and self.max_entries is not None
                and len(self._data) >= self.max_entries)):
            size = self._data.popitem(last=False)[1][1]
            self._bytes -= size
            self._evictions += 1
            self._freed += size

    def shrink(self, keep: int) -> None:
        """Give back bytes (least recent entries first) until at most *keep* are held."""
        trim = False
        with self._lock:
            self._evict(max(keep, 0))
            if self._freed >= TRIM_AFTER_BYTES:
                self._freed, trim = 0, True
        if trim:
            release_free_memory()

    def sizes(self) -> dict[Hashable, tuple[V, int]]:
        """A copy of every entry with its accounted size (for tests and diagnostics)."""
        with self._lock:
            return dict(self._data)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> CacheStats:
        capacity = self.capacity
        with self._lock:
            return CacheStats(self.name, capacity, self._bytes, len(self._data),
                              self._hits, self._misses, self._evictions, self._rejected)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


#: Shares of ``Settings.cache_bytes`` (every cache a search process fills is in it).
#: Postings (decoded block by block in Python when missed) get the most, and borrow what
#: the other caches leave unused (:class:`SharedBudget`): at 200,000 articles and more a
#: varied query stream turns them over constantly, and a plain search workload leaves the
#: suggestion, facet and character-index shares empty.  The suggestion table (one per index
#: state, ~67 MiB accounted at 200,000 articles, seconds to rebuild) gets a share that holds
#: it whole.  The in-memory character index is only the fallback for segments written
#: before it was persisted (4 bytes per character; one segment of 12,000 articles at 20k
#: scale fits); facet columns take 1/16, and the rest (1/8) is for per-segment arrays
#: (memory maps with sidecar files, so almost free) and the per-document arrays of the whole
#: index a query uses (dates and the BM25 length norms of title, body and text: 32 bytes a
#: document, 32 MB at 1,000,000 articles; :class:`searcher.local.segments.Space`).
POSTINGS_SHARE = 6 / 16
SUGGEST_SHARE = 5 / 16
CHAR_INDEX_SHARE = 1 / 8
FACETS_SHARE = 1 / 16
#: Segments whose arrays stay mapped: bounds open file mappings (and the disk space of merged
#: segments' deleted files that a mapping keeps alive), whatever the byte budget.
MAX_SEGMENTS = 256


class SearchCaches:
    """One engine's caches, sharing its byte budget (``Settings.cache_bytes``): each has a
    share, and ``postings`` also borrows what the others leave (:class:`SharedBudget`).

    ``postings``: (doc ids, weights) over the whole index per (segments, field, term),
    each string's documents and occurrence counts, and the decoded positions of a
    segment's common bigrams (:meth:`~searcher.local.substrings.BigramIndex.group_of`);
    ``suggest``: the merged suggestion table of the current segments
    (:mod:`searcher.local.suggest`); ``char_index``: sorted character positions of
    segments without a persisted index (:mod:`searcher.local.substrings`); ``facets``:
    facet value columns, month numbers and display spellings (:mod:`searcher.local.facets`);
    ``segments``: per-segment arrays (field lengths, dates, texts) and their concatenation
    over the whole index.  Keys name
    segments by folder and id, so per-segment entries survive new commits and reopened
    searchers (whole-index entries last until a commit changes the segments), and those of
    merged-away segments age out.
    """

    def __init__(self, total_bytes: int | None = None) -> None:
        if total_bytes is None:
            from ..config import Settings

            total_bytes = Settings().cache_bytes
        self.total_bytes = int(total_bytes)
        shares = {name: int(self.total_bytes * share) for name, share in (
            ("postings", POSTINGS_SHARE), ("suggest", SUGGEST_SHARE),
            ("char_index", CHAR_INDEX_SHARE), ("facets", FACETS_SHARE))}
        self.budget = SharedBudget(self.total_bytes)
        self.postings: ByteLRU[Any] = ByteLRU(shares["postings"], "postings",
                                              budget=self.budget, borrows=True)
        self.suggest: ByteLRU[Any] = ByteLRU(shares["suggest"], "suggest", max_entries=1,
                                             budget=self.budget)
        self.char_index: ByteLRU[Any] = ByteLRU(shares["char_index"], "char_index",
                                                budget=self.budget)
        self.facets: ByteLRU[Any] = ByteLRU(shares["facets"], "facets", budget=self.budget)
        self.segments: ByteLRU[Any] = ByteLRU(self.total_bytes - sum(shares.values()),
                                              "segments", max_entries=MAX_SEGMENTS,
                                              budget=self.budget)
        #: Per segment without a bigram index: [scans, sorts] of its code points (two
        #: integers a segment; see substrings.SegmentText).
        self.sort_tally: dict[Any, list[int]] = {}

    def all(self) -> tuple[ByteLRU[Any], ...]:
        return (self.postings, self.suggest, self.char_index, self.facets, self.segments)

    @property
    def bytes(self) -> int:
        """Accounted bytes of every cache together (never above ``total_bytes``)."""
        return sum(cache.bytes for cache in self.all())

    def stats(self) -> dict[str, CacheStats]:
        return {cache.name: cache.stats() for cache in self.all()}

    def clear(self) -> None:
        for cache in self.all():
            cache.clear()
