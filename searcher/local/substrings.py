"""Exact substring matching over the folded, whitespace-free text of every document.

jieba cuts the same string differently in different contexts, so a term
index alone misses fragments such as ``城市场`` inside ``聊城市场``.  Each
document's squeezed text (folded, no whitespace) is stored in a column; for
each segment the texts are loaded once into one array of code points (and a
histogram of them), and a needle is found with numpy: take the positions of
its rarest character, keep those where every other character lines up, and
map positions to documents.  That is exact by construction — a document
matches if and only if it contains the string — and costs one pass over the
segment's text whatever the needle, with no Python work per occurrence.
Segments never change (only their deletions do), so the arrays are cached
per segment and shared by every searcher and thread of an engine.

A *bigram index* (every position of the text, grouped by the two characters
starting there, ascending within a group) is written at index time next to the
segment, by the worker that writes the segment and for every segment Whoosh
merges (``MAIN_<id>.bigrams.*.npy``: 4 bytes per character, plus 12 per
distinct bigram), and memory-mapped like the text.  A needle of n ≥ 2
characters starts from the positions of its rarest bigram and keeps those where
the bigrams at offsets 0, 2, 4, … and n − 2 are present too (binary searches
in their groups); a single character is the contiguous run of all bigrams it
starts.  So a search reads only its own bigrams' positions, not the text
around every candidate (which touched every page of the text for common
characters), and no search process sorts anything or holds an index in its own
memory.  The pages of position groups a search read are handed back to the kernel
(``madvise(MADV_DONTNEED)``) when it is done: they stay in the page cache, shared
and warm, but stop counting in the process's RSS, which otherwise kept every
group any query had touched (375 MB after 600 queries at 200,000 articles).

Indexes written before that (no ``bigrams`` sidecar) fall back to the older
scheme: the index is built in process memory, 4 bytes per character, in the
engine's byte-capped ``char_index`` cache (:mod:`searcher.local.caching`); a
segment whose index does not fit, or was evicted, is scanned linearly (exact
all the same), and an evicted index is rebuilt only after twice as many scans
as the time before.  The next ``searcher index`` run (even one with nothing to
do), ``searcher optimize`` or a full rebuild writes the missing sidecars.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from ..core.rules import FIELD_BREAK
from ..deadline import check_time_limit
from .caching import ENTRY_OVERHEAD, ByteLRU, SearchCaches, heap_bytes, release_free_memory
from .sidecar import load_arrays, segment_key

SIDECAR = "text"
SIDECAR_KEYS = ("codes", "starts", "title_ends", "lengths", "histogram")
#: Occurrences walked per second when finding a string, kept low (one core walks 20-50
#: million): the estimate that keeps a scan from starting when the time limit is near.
SCAN_RATE = 10_000_000
#: The persisted bigram index: positions grouped by the (clipped) code points of the
#: bigram starting there, the distinct bigrams (first << 16 | second) in order, and where
#: each one's group starts (one more entry: the end).
BIGRAMS_SIDECAR = "bigrams"
BIGRAMS_KEYS = ("positions", "keys", "starts")
#: Positions sorted per step when building a character index: bounds the temporaries
#: (about 26 bytes per position of a step) whatever the segment's size.
SORT_STEP = 1 << 20

SEPARATOR = "\x00"
_sort_lock = threading.Lock()
#: One character index is sorted at a time: the sort needs 12 bytes per character while it
#: runs (int64 order, then int32), and a first query touches every segment at once.
_build_lock = threading.Lock()
#: Linear scans of a segment before its character index is built (a one-shot CLI
#: search never pays for the sort; a server does after its first few queries).
SORT_AFTER_SCANS = 3
#: Linux's default fault_around_bytes: a read fault maps this aligned window of cached pages.
FAULT_AROUND = 64 * 1024
_NUMBER_CHARS = np.array([ord(c) for c in "0123456789."], dtype=np.uint32)


@dataclass
class Found:
    """Documents of one segment containing a needle, with occurrence counts."""

    ids: np.ndarray
    title: np.ndarray
    body: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class CharIndex:
    """Every position of a segment's text, sorted by (clipped) code point."""

    by_char: np.ndarray  # positions (int32), grouped by code point
    char_offsets: np.ndarray  # where each code point's positions start (65,537 entries)

    @property
    def nbytes(self) -> int:
        return heap_bytes(self.by_char, self.char_offsets) + ENTRY_OVERHEAD


@dataclass
class BigramIndex:
    """A segment's persisted bigram index (memory maps; see the module docstring)."""

    positions: np.ndarray  # int32, grouped by bigram, ascending within a group
    keys: np.ndarray  # uint32 bigram keys (first << 16 | second), ascending
    starts: np.ndarray  # int64, len(keys) + 1

    def span(self, low: int, high: int) -> tuple[int, int]:
        """Where the groups of the keys in [low, high) lie in ``positions``."""
        lo, hi = np.searchsorted(self.keys, [low, high])
        return int(self.starts[lo]), int(self.starts[hi])

    def group(self, key: int) -> np.ndarray:
        start, end = self.span(key, key + 1)
        return self.positions[start:end]

    def find(self, wanted: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Start positions of the code points *wanted* (any order), exactly."""
        read: list[tuple[int, int]] = []
        try:
            return self._find(wanted, codes, read)
        finally:
            self._release(read)

    def _release(self, spans: list[tuple[int, int]]) -> None:
        """Drop the pages of *spans* of ``positions`` from this process's mapping.

        The data is a read-only file map, so this is always safe: a later read (by
        any thread) faults the pages back in from the page cache.
        """
        mapping = getattr(self.positions, "_mmap", None)
        if mapping is None or not hasattr(mapping, "madvise"):
            return
        size = self.positions.itemsize
        offset: int = getattr(self.positions, "offset", 0)  # a memory map's, as _mmap says
        skip = offset % mmap.ALLOCATIONGRANULARITY  # data start in the map
        for start, end in spans:
            # A page fault maps the cached pages of its whole aligned 64 KiB window
            # (Linux's fault-around), so a group of 8 positions leaves 16 pages behind
            # unless the window around it is released too.
            low = (skip + start * size) // FAULT_AROUND * FAULT_AROUND
            high = min(-(-(skip + end * size) // FAULT_AROUND) * FAULT_AROUND, len(mapping))
            if high > low:
                mapping.madvise(mmap.MADV_DONTNEED, low, high - low)

    def _find(self, wanted: np.ndarray, codes: np.ndarray,
              read: list[tuple[int, int]]) -> np.ndarray:
        clipped = [min(int(c), 0xFFFF) for c in wanted]
        size = len(clipped)
        if size == 1:
            start, end = self.span(clipped[0] << 16, (clipped[0] + 1) << 16)
            read.append((start, end))
            at = np.array(self.positions[start:end])
        else:
            keys = [clipped[k] << 16 | clipped[k + 1] for k in range(size - 1)]
            spans = [self.span(key, key + 1) for key in keys]
            rarest = min(range(size - 1), key=lambda k: spans[k][1] - spans[k][0])
            start, end = spans[rarest]
            read.extend(spans)
            at = np.asarray(self.positions[start:end]) - rarest
            # Bigrams at 0, 2, 4, ... and size - 2 cover every character of the needle.
            for k in sorted(set(range(0, size - 1, 2)) | {size - 2}):
                if k == rarest or not len(at):
                    continue
                group = self.positions[spans[k][0] : spans[k][1]]
                if not len(group):
                    return at[:0]
                where = np.searchsorted(group, at + k)
                at = at[group[np.minimum(where, len(group) - 1)] == at + k]
        for k, code in enumerate(wanted):  # astral characters share U+FFFF's clipped code
            if code >= 0xFFFF and len(at):
                at = at[codes[at + k] == code]
        return at


@dataclass
class SegmentText:
    """All squeezed texts of one segment as code points, with document boundaries.

    The first searches scan the code points linearly (a few milliseconds per
    segment); after a few, a background thread sorts the positions by character
    (a :class:`CharIndex`, kept in *indexes* under *key*), after which a search
    only visits the occurrences of the needle's rarest character.  A one-shot
    command line search never pays for that sort.
    """

    codes: np.ndarray  # code points, documents separated by SEPARATOR
    starts: np.ndarray  # start offset of each document
    title_ends: np.ndarray  # end of each document's title part
    lengths: np.ndarray  # characters of each document
    histogram: np.ndarray  # occurrences of each code point (BMP; astral share one bin)
    avg_len: float
    key: Hashable = None
    indexes: ByteLRU[CharIndex] | None = field(default=None, repr=False)
    #: The bigram index written at index time (memory maps), when the segment has one.
    bigrams: BigramIndex | None = field(default=None, repr=False)
    _sorting: bool = False
    _scans: int = 0
    _builds: int = 0

    @property
    def index_bytes(self) -> int:
        """What this segment's character index costs (int32 positions and int64 offsets)."""
        return 4 * len(self.codes) + 8 * (0x10000 + 1) + ENTRY_OVERHEAD

    @property
    def nbytes(self) -> int:
        """Process memory of the arrays (memory-mapped sidecar arrays count zero)."""
        return heap_bytes(self.codes, self.starts, self.title_ends, self.lengths,
                          self.histogram) + ENTRY_OVERHEAD

    def _positions_of(self, code: int) -> np.ndarray:
        """Positions of one code point: from the cached index, else by scanning."""
        index = self.indexes.get(self.key) if self.indexes is not None else None
        if index is not None:
            clipped = min(code, 0xFFFF)
            return index.by_char[index.char_offsets[clipped] : index.char_offsets[clipped + 1]]
        self._scans += 1
        # A long-lived process: worth indexing; after an eviction, only after twice the scans.
        if (self._scans >= SORT_AFTER_SCANS << min(self._builds, 30) and self.indexes is not None
                and self.index_bytes <= self.indexes.capacity):
            self._sort_in_background()
        return np.flatnonzero(self.codes == code)

    def _sort_in_background(self) -> None:
        with _sort_lock:
            if self._sorting:
                return
            self._sorting = True
            self._builds += 1

        def build() -> None:
            try:
                with _build_lock:
                    # 16-bit keys: numpy sorts them by radix, and the copy is half the size.
                    clipped = np.minimum(self.codes, 0xFFFF).astype(np.uint16) \
                        if self.codes.dtype != np.uint16 else self.codes
                    order = np.argsort(clipped, kind="stable").astype(np.int32)  # 4 bytes/char
                    del clipped
                offsets = np.concatenate(([0], np.cumsum(self.histogram))).astype(np.int64)
                index = CharIndex(order, offsets)
                if self.indexes is not None:
                    self.indexes.put(self.key, index, index.nbytes)
                del order, offsets, index
                release_free_memory()  # the sort's temporaries and any index it evicted
            finally:
                with _sort_lock:
                    self._sorting = False

        threading.Thread(target=build, name="searcher-char-index", daemon=True).start()

    def find(self, needle: str, whole_numbers: bool = False) -> Found:
        """Documents containing *needle*, with occurrences in title and body.

        With *whole_numbers*, a needle starting or ending with a digit only matches
        where the number is not part of a longer one (``4万`` is not in ``14万``).
        """
        size = len(needle)
        codes = self.codes
        if not size or size > len(codes):
            return _empty()
        wanted = np.array([ord(c) for c in needle], dtype=np.uint32)
        last = len(codes) - size
        # A caller's time limit (searcher/deadline.py): the steps below walk up to every
        # occurrence of the needle's rarest character and cannot stop midway.
        check_time_limit(int(self.histogram[np.minimum(wanted, 0xFFFF)].min()) / SCAN_RATE)
        if self.bigrams is not None:
            at = self.bigrams.find(wanted, codes)
            at = at[(at >= 0) & (at <= last)]
        else:
            rarest = int(np.argmin(self.histogram[np.minimum(wanted, 0xFFFF)]))
            at = self._positions_of(int(wanted[rarest])) - rarest
            at = at[(at >= 0) & (at <= last)]
            for k in range(size):
                if len(at) and (k != rarest or wanted[k] >= 0xFFFF):
                    at = at[codes[at + k] == wanted[k]]
        if whole_numbers and len(at):
            if needle[0].isdigit():
                before = codes[np.maximum(at - 1, 0)]
                at = at[(at == 0) | ~np.isin(before, _NUMBER_CHARS)]
            if needle[-1].isdigit() and len(at):
                after = codes[np.minimum(at + size, len(codes) - 1)]
                at = at[~np.isin(after, _NUMBER_CHARS)]
        if not len(at):
            return _empty()
        return _per_document(at, self.starts, self.title_ends)


def _per_document(at: np.ndarray, starts: np.ndarray, title_ends: np.ndarray) -> Found:
    """Occurrences at positions *at* counted per document, in title and body.

    Every search path yields ascending positions (groups are ascending and only ever
    filtered), so documents come in runs: one pass over the occurrences, with no sort,
    hash or array the size of the segment (those made common words cost in proportion to
    the segment, not to their occurrences).
    """
    if len(at) > 1 and not bool((at[1:] >= at[:-1]).all()):
        at = np.sort(at)
    if len(at) > len(starts):
        # More occurrences than documents (a common word): search the document bounds
        # among the occurrences instead, which costs per document, not per occurrence.
        first = np.searchsorted(at, starts)
        total = np.diff(np.append(first, len(at)))
        ids = np.flatnonzero(total)
        title = np.searchsorted(at, title_ends[ids]) - first[ids]
        return Found(ids.astype(np.int64), title.astype(np.float64),
                     (total[ids] - title).astype(np.float64))
    docs = np.searchsorted(starts, at, side="right") - 1
    firsts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    ids = docs[firsts]
    in_title = (at < title_ends[docs]).astype(np.int64)
    title = np.add.reduceat(in_title, firsts)
    total = np.diff(np.append(firsts, len(at)))
    return Found(ids.astype(np.int64), title.astype(np.float64),
                 (total - title).astype(np.float64))


def _empty() -> Found:
    return Found(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))


def text_arrays(texts: list[str]) -> dict[str, np.ndarray]:
    """The arrays behind a SegmentText, from each document's squeezed text."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64) \
        if len(texts) else lengths
    cuts = np.array([max(t.find(FIELD_BREAK), 0) for t in texts], dtype=np.int64)
    blob = SEPARATOR.join(texts) + SEPARATOR
    codes = np.frombuffer(blob.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(codes) and int(codes.max()) <= 0xFFFF:
        codes = codes.astype(np.uint16)
    histogram = np.bincount(np.minimum(codes, 0xFFFF), minlength=0x10000).astype(np.int64)
    return {"codes": codes, "starts": starts, "title_ends": starts + cuts, "lengths": lengths,
            "histogram": histogram}


def char_index_arrays(codes: np.ndarray, histogram: np.ndarray) -> dict[str, np.ndarray]:
    """The character index of a segment's text: every position, grouped by code point
    (astral code points share the last group), ascending within a group.

    A counting sort in steps of :data:`SORT_STEP` positions: the output (4 bytes a
    character) plus one step's temporaries, instead of the 12 bytes a character of one
    whole argsort, which matters in a build worker holding a whole segment.
    """
    total = len(codes)
    if total >= 2**31:
        raise ValueError(f"segment text of {total} characters: positions must fit in int32")
    offsets = np.zeros(0x10000 + 1, dtype=np.int64)
    np.cumsum(histogram, out=offsets[1:])
    by_char = np.empty(total, dtype=np.int32)
    cursor = offsets[:-1].copy()  # the next free slot of each code point's group
    for start in range(0, total, SORT_STEP):
        step = np.minimum(codes[start : start + SORT_STEP], 0xFFFF).astype(np.uint16)
        order = np.argsort(step, kind="stable")  # radix sort: 16-bit keys
        keys = step[order]
        counts = np.bincount(keys, minlength=0x10000)
        first = np.cumsum(counts) - counts  # where each group starts within this step
        rank = np.arange(len(keys), dtype=np.int64) - first[keys]
        by_char[cursor[keys] + rank] = order + start
        cursor += counts
    return {"by_char": by_char, "char_offsets": offsets}


def bigram_index_arrays(codes: np.ndarray, histogram: np.ndarray) -> dict[str, np.ndarray]:
    """The bigram index of a segment's text (see the module docstring).

    The character index first (a counting sort), then each run of whole character
    groups of about :data:`SORT_STEP` positions is sorted by the next character (two
    stable 16-bit radix sorts): the output plus one step's temporaries.
    """
    total = len(codes)
    by_char = char_index_arrays(codes, histogram)
    positions, offsets = by_char["by_char"], by_char["char_offsets"]
    cuts = np.unique(offsets)  # boundaries of the character groups, 0 and total included
    keys: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    start = 0
    while start < total:
        end = int(cuts[np.searchsorted(cuts, start + SORT_STEP, side="right") - 1])
        if end <= start:  # one group larger than a step
            end = int(cuts[np.searchsorted(cuts, start, side="right")])
        at = positions[start:end]
        first = np.minimum(codes[at], 0xFFFF).astype(np.uint16)
        second = np.minimum(codes[np.minimum(at + 1, total - 1)], 0xFFFF).astype(np.uint16)
        second[at + 1 >= total] = 0
        order = np.argsort(second, kind="stable")
        order = order[np.argsort(first[order], kind="stable")]
        positions[start:end] = at[order]
        key = (first[order].astype(np.uint32) << 16) | second[order]
        change = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1))
        keys.append(key[change])
        starts.append(change + start)
        start = end
    starts.append(np.array([total], dtype=np.int64))
    return {"positions": positions,
            "keys": np.concatenate(keys) if keys else np.zeros(0, np.uint32),
            "starts": np.concatenate(starts).astype(np.int64)}


def _persisted_index(reader, codes: np.ndarray) -> BigramIndex | None:
    arrays = load_arrays(reader, BIGRAMS_SIDECAR, BIGRAMS_KEYS)
    if arrays is None:
        return None
    positions, keys, starts = arrays["positions"], arrays["keys"], arrays["starts"]
    if len(positions) != len(codes) or len(starts) != len(keys) + 1:
        return None  # not this text's index (never expected: both are written together)
    return BigramIndex(positions, keys, starts)


def segment_text(reader, caches: SearchCaches) -> SegmentText:
    """The SegmentText of a leaf reader's segment, cached in *caches* (``segments``)."""
    key = segment_key(reader)
    cached = caches.segments.get(("text", key))
    if cached is not None:
        return cached
    arrays = load_arrays(reader, SIDECAR, SIDECAR_KEYS)
    if arrays is None:
        column = reader.column_reader("squeezed")
        arrays = text_arrays([bytes(column[docnum] or b"").decode("utf-8", "surrogatepass")
                              for docnum in range(reader.doc_count_all())])
    lengths = arrays["lengths"]
    avg = float(lengths.mean()) if len(lengths) else 1.0
    seg = SegmentText(arrays["codes"], arrays["starts"], arrays["title_ends"], lengths,
                      arrays["histogram"], max(avg, 1.0), key=key, indexes=caches.char_index,
                      bigrams=_persisted_index(reader, arrays["codes"]))
    return caches.segments.put(("text", key), seg, seg.nbytes)
