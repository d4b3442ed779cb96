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
merges.  It is the only copy of the squeezed text an index holds: the text is a
permutation of the positions grouped by bigram (position p holds the first
character of its group's bigram), so no code-point array or text column is kept
beside it.  Positions are stored compactly (``MAIN_<id>.bigrams.*.npy``): within
a group each position is the difference from the one before (the first is
absolute) in LEB128 variable-length bytes, 2.3 bytes a character instead of 4,
plus 8 bytes per distinct bigram (its key and where its bytes start).  Code points
above U+FFFE share the key U+FFFF; the few positions holding one are listed with
their code points (``text.astral_*``) so matches stay exact.

A needle of n ≥ 2 characters starts from the positions of its rarest bigram (the
group of fewest bytes) and keeps those where the other bigrams of the cheapest chain
covering every character are present too (:func:`cheapest_cover`; each group decoded,
then binary searches); a single
character is the union of all the groups of bigrams it starts.  A whole-number
needle (``4万`` not in ``14万``) drops the positions preceded (followed) by a digit
or a dot through the groups of those bigrams.  So a search reads only its own
bigrams' bytes, and no search process sorts anything or holds an index in its own
memory.  The pages of the groups a search read are handed back to the kernel
(``madvise(MADV_DONTNEED)``) when it is done: they stay in the page cache, shared
and warm, but stop counting in the process's RSS, which otherwise kept every
group any query had touched (375 MB after 600 queries at 200,000 articles).

An index's segments are searched together (:class:`SpaceText`): each bigram's small
groups are read from every segment and decoded in one pass, positions shifted by their
segment's place in the joined text, so a rare needle costs the same few array steps
whatever the number of segments.  A needle whose rarest bigram is common is still found
segment by segment, where its work (in the data) stays in the CPU's cache.

A segment whose sidecars are missing or damaged gets its squeezed texts derived
again from the stored title and display text (:func:`squeezed_texts`) and is
searched the older way until the next ``searcher index`` run writes them: the
code points in process memory, scanned linearly, and after a few scans a
character index sorted in the engine's byte-capped ``char_index`` cache
(:mod:`searcher.local.caching`); a segment whose index does not fit, or was
evicted, is scanned linearly (exact all the same), and an evicted index is
rebuilt only after twice as many scans as the time before.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from ..analysis.normalize import squeeze
from ..core.rules import FIELD_BREAK
from ..deadline import check_time_limit
from .caching import ENTRY_OVERHEAD, ByteLRU, SearchCaches, heap_bytes, release_free_memory
from .sidecar import load_arrays, segment_key

SIDECAR = "text"
#: Per document: where its text starts, where its title part ends, its length; the
#: occurrences of each (clipped) code point; the positions and code points above U+FFFE.
SIDECAR_KEYS = ("starts", "title_ends", "lengths", "histogram", "astral_at", "astral_codes")
#: Occurrences walked per second when finding a string, kept low (one core walks 20-50
#: million): the estimate that keeps a scan from starting when the time limit is near.
SCAN_RATE = 10_000_000
#: The persisted bigram index: the positions grouped by the (clipped) code points of the
#: bigram starting there, delta- and LEB128-coded (``stream``), the distinct bigrams
#: (first << 16 | second) in order, and where each one's bytes start (one more entry:
#: the end).
BIGRAMS_SIDECAR = "bigrams"
BIGRAMS_KEYS = ("stream", "keys", "offsets")
#: Code points from here on share the last bigram key (the clipped code U+FFFF).
CLIP = 0xFFFF

SEPARATOR = "\x00"
#: Texts joined and encoded together by :func:`text_arrays` (a few MB at a time).
TEXTS_PER_STEP = 2000
_sort_lock = threading.Lock()
#: One character index is sorted at a time: the sort needs 12 bytes per character while it
#: runs (int64 order, then int32), and a first query touches every segment at once.
_build_lock = threading.Lock()
#: Linear scans of a segment before its character index is built (a one-shot CLI
#: search never pays for the sort; a server does after its first few queries).
SORT_AFTER_SCANS = 3
#: Bigram groups of this many bytes or more stay decoded once a search has decoded them
#: (in ``SearchCaches.postings``; see BigramIndex.group_of): about 5,000 positions.
KEEP_DECODED_FROM = 8 * 1024
#: One group of up to this many bytes (some 60 positions) is decoded by a loop in Python:
#: below it the loop is faster than the array steps (measured: 2 µs against 20 µs at 20
#: bytes, even at 128).
SMALL_GROUP = 128
#: Groups of up to this many bytes are read with ``os.pread`` rather than through the map
#: (see BigramIndex.__post_init__); larger ones, read rarely, through the map.
PREAD_BYTES = 16 * 1024
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

    stream: np.ndarray  # uint8: per group, ascending positions as LEB128 deltas
    keys: np.ndarray  # uint32 bigram keys (first << 16 | second), ascending
    offsets: np.ndarray  # where each group's bytes start in ``stream``, len(keys) + 1
    #: Large groups kept decoded (int32), under (``name``, key): see :meth:`group_of`.
    decoded: ByteLRU[np.ndarray] | None = field(default=None, repr=False)
    name: Hashable = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Plain ndarray views of the maps (the same pages): every slice or element of a
        # ``np.memmap`` goes through its Python-level __getitem__ and __array_finalize__,
        # a fixed cost paid per group, per segment, per needle (most groups are a few
        # bytes), which grew with the number of segments.
        self._stream = np.asarray(self.stream)
        self._keys = np.asarray(self.keys)
        self._offsets = np.asarray(self.offsets)
        self._mapping = getattr(self.stream, "_mmap", None)
        self._map_offset: int = getattr(self.stream, "offset", 0)
        # Groups up to PREAD_BYTES are read from the file (the page cache) into a buffer:
        # through the map, each one faulted its 64 KiB window in and was handed back
        # after the search, a third of what finding a rare string costs per segment.
        self._fd: int | None = None
        filename = getattr(self.stream, "filename", None)
        if filename and self._mapping is not None and hasattr(os, "pread"):
            try:
                self._fd = os.open(filename, os.O_RDONLY)
            except OSError:  # searched through the map instead
                self._fd = None
            else:
                weakref.finalize(self, os.close, self._fd)
        self._top = int(np.iinfo(self._keys.dtype).max)

    def span(self, low: int, high: int) -> tuple[int, int]:
        """The groups of the keys in [low, high), as a range of group numbers."""
        # Searched as values of the keys' own type: with Python ints numpy converts the
        # whole key array to int64 first, on every lookup (a megabyte a segment at 100k).
        keys = self._keys
        top = self._top
        lo = int(keys.searchsorted(keys.dtype.type(low)))
        hi = len(keys) if high > top else int(keys.searchsorted(keys.dtype.type(high)))
        return lo, hi

    def nbytes_of(self, lo: int, hi: int) -> int:
        """Bytes of groups [lo, hi) in ``stream``: how much a search reads for them."""
        return int(self._offsets[hi]) - int(self._offsets[lo])

    def decode(self, lo: int, hi: int, read: list[tuple[int, int]] | None = None) -> np.ndarray:
        """The positions of groups [lo, hi) (int64; each group ascending, one after the
        other), noting the byte span read in *read*."""
        start, end = int(self._offsets[lo]), int(self._offsets[hi])
        if end <= start:
            return np.zeros(0, dtype=np.int64)
        raw = os.pread(self._fd, end - start, self._map_offset + start) \
            if self._fd is not None and end - start <= PREAD_BYTES else None
        if raw is not None and len(raw) == end - start:
            if hi - lo == 1 and end - start <= SMALL_GROUP:
                return _decode_small(raw)
            data = np.frombuffer(raw, dtype=np.uint8)
        else:
            if read is not None:
                read.append((start, end))
            data = self._stream[start:end]
            if hi - lo == 1 and end - start <= SMALL_GROUP:
                return _decode_small(data.tobytes())
        bounds = self._offsets[lo : hi + 1].astype(np.int64) - start if hi - lo > 1 else None
        return decode_groups(data, bounds)[0]

    def read(self, lo: int, hi: int, read: list[tuple[int, int]]) -> bytes:
        """The bytes of groups [lo, hi): read from the file (``os.pread``: no page of the
        map enters this process), else copied from the map, noting the span in *read*."""
        start, end = int(self._offsets[lo]), int(self._offsets[hi])
        if self._fd is not None:
            raw = os.pread(self._fd, end - start, self._map_offset + start)
            if len(raw) == end - start:
                return raw
        read.append((start, end))
        return self._stream[start:end].tobytes()

    def groups_of(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each bigram key of *keys* (uint32), its group number and its bytes (0: no
        such bigram in this segment)."""
        table = self._keys
        if not len(table):
            return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=np.int64)
        where = table.searchsorted(keys.astype(table.dtype, copy=False))
        at = np.minimum(where, len(table) - 1)
        offsets = self._offsets
        sizes = offsets[at + 1].astype(np.int64) - offsets[at]
        return at, np.where(table[at] == keys, sizes, 0)

    def group(self, key: int, read: list[tuple[int, int]] | None = None) -> np.ndarray:
        lo, hi = self.span(key, key + 1)
        return self.decode(lo, hi, read)

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """Start positions of the code points *wanted*, exactly up to the clipping of code
        points above U+FFFE (the caller checks those: :meth:`SegmentText.find`)."""
        read: list[tuple[int, int]] = []
        try:
            return self._find(wanted, read)
        finally:
            self.release(read)

    def release(self, spans: list[tuple[int, int]]) -> None:
        """Drop the pages of *spans* of ``stream`` from this process's mapping.

        The data is a read-only file map, so this is always safe: a later read (by
        any thread) faults the pages back in from the page cache.
        """
        mapping = self._mapping
        if mapping is None or not hasattr(mapping, "madvise"):
            return
        skip = self._map_offset % mmap.ALLOCATIONGRANULARITY  # data start in the map
        # A page fault maps the cached pages of its whole aligned 64 KiB window (Linux's
        # fault-around), so a group of 8 positions leaves 16 pages behind unless the
        # window around it is released too.  The windows of a search's groups often
        # overlap (small groups lie side by side): one call per run of them.
        windows = sorted(((skip + start) // FAULT_AROUND * FAULT_AROUND,
                          min(-(-(skip + end) // FAULT_AROUND) * FAULT_AROUND, len(mapping)))
                         for start, end in spans)
        low, high = -1, -1
        for start, end in windows:
            if start > high:
                if high > low:
                    mapping.madvise(mmap.MADV_DONTNEED, low, high - low)
                low = start
            high = max(high, end)
        if high > low:
            mapping.madvise(mmap.MADV_DONTNEED, low, high - low)

    def _find(self, wanted: np.ndarray, read: list[tuple[int, int]]) -> np.ndarray:
        clipped = [min(int(c), CLIP) for c in wanted]
        size = len(clipped)
        if size == 1:
            lo, hi = self.span(clipped[0] << 16, (clipped[0] + 1) << 16)
            return self.decode(lo, hi, read)
        keys = [clipped[k] << 16 | clipped[k + 1] for k in range(size - 1)]
        spans = [self.span(key, key + 1) for key in keys]
        if any(hi == lo for lo, hi in spans):
            return np.zeros(0, dtype=np.int64)
        # The rarest bigram (fewest bytes) gives the candidates; the checked bigrams cover
        # every character of the needle with the fewest bytes to decode (cheapest_cover),
        # smallest first, so an empty result stops before the large groups.
        sizes = [self.nbytes_of(*span) for span in spans]
        rarest = min(range(size - 1), key=sizes.__getitem__)
        needed = sorted(cheapest_cover(sizes, rarest), key=sizes.__getitem__)
        at = np.subtract(self.group_of(keys[rarest], spans[rarest], read), rarest,
                         dtype=np.int64)
        for k in needed:
            if k == rarest or not len(at):
                continue
            group = self.group_of(keys[k], spans[k], read)
            probe = (at + k).astype(group.dtype, copy=False)  # searched in the group's type
            where = np.searchsorted(group, probe)
            at = at[group[np.minimum(where, len(group) - 1)] == probe]
        return at

    def group_of(self, key: int, span: tuple[int, int],
                  read: list[tuple[int, int]]) -> np.ndarray:
        """The positions of one bigram's group, decoded, or kept decoded in ``decoded``
        when it is large (KEEP_DECODED_FROM bytes or more).

        A needle's candidates come from its rarest bigram, but every character must be
        checked, and its first and last bigrams are often common ones (国际 and 合作 of
        国际合作): their groups grow with the index, and decoding them whole for a few
        candidates was most of a rare phrase's time at 100,000 articles.  Common bigrams
        are common to many needles, so their groups stay decoded (4 bytes a position)."""
        lo, hi = span
        if self.decoded is None or self.nbytes_of(lo, hi) < KEEP_DECODED_FROM:
            return self.decode(lo, hi, read)
        cache_key = ("bigram group", self.name, key)
        group = self.decoded.get(cache_key)
        if group is None:
            group = self.decode(lo, hi, read)
            if len(self._stream) < 2**31:  # more bytes than the text has characters
                group = group.astype(np.int32)
            group.flags.writeable = False  # shared by every later search
            self.decoded.put(cache_key, group, heap_bytes(group) + ENTRY_OVERHEAD)
        return group

    def preceded(self, at: np.ndarray, firsts: np.ndarray, code: int) -> np.ndarray:
        """Whether the character before each of positions *at* (which hold *code*) is one
        of *firsts*: whether position at - 1 is in the group of bigram (first, code)."""
        return self._in_groups(at - 1, [int(f) << 16 | min(code, CLIP) for f in firsts])

    def followed(self, at: np.ndarray, code: int, seconds: np.ndarray) -> np.ndarray:
        """Whether the character after each of positions *at* (which hold *code*) is one
        of *seconds*: whether position at is in the group of bigram (code, second)."""
        return self._in_groups(at, [min(code, CLIP) << 16 | int(s) for s in seconds])

    def _in_groups(self, at: np.ndarray, keys: list[int]) -> np.ndarray:
        read: list[tuple[int, int]] = []
        try:
            hit = np.zeros(len(at), dtype=bool)
            for key in keys:
                group = self.group(key, read)
                if len(group):
                    where = np.minimum(np.searchsorted(group, at), len(group) - 1)
                    hit |= group[where] == at
            return hit
        finally:
            self.release(read)


@dataclass
class SegmentText:
    """All squeezed texts of one segment, with document boundaries.

    With a persisted bigram index (every segment an index run wrote), a search reads
    the groups of its needle's bigrams.  Without one (its sidecar missing or damaged),
    *codes* holds the code points, derived again from the stored text: the first
    searches scan them linearly (a few milliseconds per segment); after a few, a
    background thread sorts the positions by character (a :class:`CharIndex`, kept in
    *indexes* under *key*), after which a search only visits the occurrences of the
    needle's rarest character.
    """

    starts: np.ndarray  # start offset of each document (documents separated by SEPARATOR)
    title_ends: np.ndarray  # end of each document's title part
    lengths: np.ndarray  # characters of each document
    histogram: np.ndarray  # occurrences of each code point (BMP; astral share one bin)
    avg_len: float
    #: Code points above U+FFFE: where they are (ascending) and which they are.
    astral_at: np.ndarray
    astral_codes: np.ndarray
    key: Hashable = None
    indexes: ByteLRU[CharIndex] | None = field(default=None, repr=False)
    #: The bigram index written at index time (memory maps), when the segment has one.
    bigrams: BigramIndex | None = field(default=None, repr=False)
    #: The code points, only when there is no bigram index (see above).
    codes: np.ndarray | None = field(default=None, repr=False)
    #: [scans, sorts] of this segment's code points: kept by the caches, so they outlive
    #: this object when the segment cache evicts it (its codes take heap memory).
    tally: list[int] = field(default_factory=lambda: [0, 0], repr=False)
    _sorting: bool = False

    @property
    def total(self) -> int:
        """Characters of the segment's text, separators included."""
        return int(self.starts[-1] + self.lengths[-1] + 1) if len(self.starts) else 0

    @property
    def index_bytes(self) -> int:
        """What this segment's character index costs (int32 positions and int64 offsets)."""
        return 4 * self.total + 8 * (0x10000 + 1) + ENTRY_OVERHEAD

    @property
    def nbytes(self) -> int:
        """Process memory of the arrays (memory-mapped sidecar arrays count zero)."""
        return heap_bytes(self.starts, self.title_ends, self.lengths, self.histogram,
                          self.astral_at, self.astral_codes,
                          *([self.codes] if self.codes is not None else [])) + ENTRY_OVERHEAD

    def _positions_of(self, code: int) -> np.ndarray:
        """Positions of one code point: from the cached index, else by scanning."""
        index = self.indexes.get(self.key) if self.indexes is not None else None
        if index is not None:
            clipped = min(code, 0xFFFF)
            return index.by_char[index.char_offsets[clipped] : index.char_offsets[clipped + 1]]
        self.tally[0] += 1
        # A long-lived process: worth indexing; after an eviction, only after twice the scans.
        if (self.tally[0] >= SORT_AFTER_SCANS << min(self.tally[1], 30)
                and self.indexes is not None
                and self.index_bytes <= self.indexes.capacity):
            self._sort_in_background()
        return np.flatnonzero(self.codes == code)

    def _sort_in_background(self) -> None:
        with _sort_lock:
            if self._sorting:
                return
            self._sorting = True
            self.tally[1] += 1

        def build() -> None:
            try:
                with _build_lock:
                    assert self.codes is not None  # only scanned segments are sorted
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
        at, ascending = self._occurrences(needle, whole_numbers)
        if not len(at):
            return _empty()
        return _per_document(at, self.starts, self.title_ends, ascending=ascending)

    def count(self, needle: str) -> int:
        """How many documents contain *needle* (``len(self.find(needle))``), without
        counting its occurrences per document, title and body apart: did-you-mean asks
        this of every span of a pasted run, in every segment."""
        at, ascending = self._occurrences(needle, False)
        return _count_documents(_in_order(at, ascending), self.starts)

    def _occurrences(self, needle: str, whole_numbers: bool) -> tuple[np.ndarray, bool]:
        """Start positions of *needle* in the segment's text, and whether they ascend."""
        size = len(needle)
        total = self.total
        if not size or size > total:
            return np.zeros(0, dtype=np.int64), True
        wanted = np.array([ord(c) for c in needle], dtype=np.uint32)
        last = total - size
        # A caller's time limit (searcher/deadline.py): the steps below walk up to every
        # occurrence of the needle's rarest character and cannot stop midway.
        check_time_limit(int(self.histogram[np.minimum(wanted, CLIP)].min()) / SCAN_RATE)
        if self.bigrams is not None:
            at = self.bigrams.find(wanted)
            if size > 1:  # one bigram group's positions, filtered: ascending
                at = at[int(at.searchsorted(0)) : int(at.searchsorted(last, side="right"))]
            else:
                at = at[(at >= 0) & (at <= last)]
            for k, code in enumerate(wanted):  # astral characters share U+FFFF's key
                if code >= CLIP and len(at):
                    where = np.minimum(np.searchsorted(self.astral_at, at + k),
                                       max(len(self.astral_at) - 1, 0))
                    at = at[(self.astral_at[where] == at + k)
                            & (self.astral_codes[where] == code)] if len(self.astral_at) \
                        else at[:0]
            if whole_numbers and len(at):
                if needle[0].isdigit():
                    at = at[~self.bigrams.preceded(at, _NUMBER_CHARS, int(wanted[0]))]
                if needle[-1].isdigit() and len(at):
                    at = at[~self.bigrams.followed(at + size - 1, int(wanted[-1]),
                                                   _NUMBER_CHARS)]
        else:
            codes = self.codes
            assert codes is not None  # held in memory whenever there is no bigram index
            rarest = int(np.argmin(self.histogram[np.minimum(wanted, CLIP)]))
            at = self._positions_of(int(wanted[rarest])) - rarest
            at = at[(at >= 0) & (at <= last)]
            for k in range(size):
                if len(at) and (k != rarest or wanted[k] >= CLIP):
                    at = at[codes[at + k] == wanted[k]]
            if whole_numbers and len(at):
                if needle[0].isdigit():
                    before = codes[np.maximum(at - 1, 0)]
                    at = at[(at == 0) | ~np.isin(before, _NUMBER_CHARS)]
                if needle[-1].isdigit() and len(at):
                    after = codes[np.minimum(at + size, len(codes) - 1)]
                    at = at[~np.isin(after, _NUMBER_CHARS)]
        # Positions of two or more characters come from one bigram group (ascending,
        # only ever filtered); a single character's are several groups one after another.
        return at, size > 1 and self.bigrams is not None


def cheapest_cover(sizes: list[int], free: int) -> list[int]:
    """Bigram offsets of a needle whose groups, checked at each candidate, cover every
    character, with the fewest bytes to decode: *sizes* are the groups' bytes (bigram k
    covers characters k and k + 1), and the group at *free* is decoded already.

    Consecutive offsets may differ by at most 2, and the first and last must be 0 and
    ``len(sizes) - 1``; the cheapest such chain is found by dynamic programming.  The
    fixed chain 0, 2, 4, … often hit the commonest bigrams of a long needle (新闻 and
    发展 of 主题新闻发展) where the bigrams beside them (题新, 闻发) are a hundredth
    of their size.
    """
    cost = [0 if k == free else size for k, size in enumerate(sizes)]
    best = [0] * len(sizes)  # cheapest chain from 0 ending at k
    back = [-1] * len(sizes)
    for k, own in enumerate(cost):
        if k == 0:
            best[k] = own
            continue
        before = k - 1 if k < 2 or best[k - 1] <= best[k - 2] else k - 2
        best[k], back[k] = own + best[before], before
    chain, k = [], len(sizes) - 1
    while k >= 0:
        chain.append(k)
        k = back[k]
    return chain


def _decode_small(data: bytes) -> np.ndarray:
    """The positions of one group of a few bytes (LEB128 deltas, the first absolute): a
    loop over the bytes costs less than the dozen array steps of :meth:`BigramIndex.decode`
    up to about SMALL_GROUP bytes, and most groups a rare needle reads are that small."""
    values = []
    total = value = shift = 0
    for byte in data:
        if byte < 0x80:
            total += value | byte << shift
            values.append(total)
            value = shift = 0
        else:
            value |= (byte & 0x7F) << shift
            shift += 7
    return np.array(values, dtype=np.int64)


def decode_groups(data: np.ndarray, bounds: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """The positions of the groups whose bytes are *data* (uint8) one after another, and
    how many each group holds.  *bounds* (int64, one more than the groups) are where each
    group's bytes start in *data*; None for one group.

    Within a group each value is the difference from the one before, and the first is
    absolute: a running sum over all the bytes, then each group's sum before it taken
    off, so any number of groups costs the same dozen array steps as one.
    """
    last = data < 0x80  # the last byte of each value
    if bool(last.all()):
        deltas = data.astype(np.int64)
    else:
        deltas = _leb128_values(data, np.flatnonzero(last))
    at = np.cumsum(deltas)
    if bounds is None or len(bounds) <= 2:
        return at, None if bounds is None else np.array([len(at)])
    before = np.concatenate(([0], np.cumsum(last)))[bounds]  # values before each group
    counts = np.diff(before)
    base = np.where(before[:-1] > 0, at[np.maximum(before[:-1] - 1, 0)], 0)
    at -= np.repeat(base, counts)
    return at, counts


def _leb128_values(data: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The LEB128 values of *data* (uint8), whose last bytes are at *ends* (int64).

    Horner's rule from each value's last (highest) byte down: one array step per byte
    place, each over only the values that long.  A common bigram's deltas are mostly one
    or two bytes, so this costs about half of spreading every byte to its own shift and
    summing per value (``np.repeat`` and ``np.add.reduceat`` over all the bytes).
    """
    values = data[ends].astype(np.int64)
    lengths = np.diff(ends, prepend=-1)
    longer = np.flatnonzero(lengths > 1)
    place = 1
    while len(longer):
        values[longer] <<= 7
        values[longer] |= data[ends[longer] - place] & 0x7F
        place += 1
        longer = longer[lengths[longer] > place]
    return values


def _count_documents(at: np.ndarray, starts: np.ndarray) -> int:
    """How many documents (starting at *starts*) the ascending positions *at* fall in."""
    if not len(at):
        return 0
    if len(at) > len(starts):  # as in _per_document: search the bounds, not positions
        first = np.searchsorted(at, starts)
        return int(np.count_nonzero(np.diff(np.append(first, len(at)))))
    docs = np.searchsorted(starts, at, side="right")
    return int(np.count_nonzero(docs[1:] != docs[:-1])) + 1


def _per_document(at: np.ndarray, starts: np.ndarray, title_ends: np.ndarray,
                  ascending: bool = False) -> Found:
    """Occurrences at positions *at* counted per document, in title and body.

    Positions in ascending order (sorted here unless *ascending* says they are) put
    documents in runs: one pass over the occurrences, with no hash or array the size of
    the segment (those made common words cost in proportion to the segment, not to their
    occurrences).
    """
    at = _in_order(at, ascending)
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


def _in_order(at: np.ndarray, ascending: bool) -> np.ndarray:
    """Positions *at* in ascending order: as they are when *ascending* says so or they
    already are (every search path but a single character's), else sorted.  A single
    character's positions are its bigram groups one after another, each ascending: a
    stable sort (Timsort) merges those runs, two to three times faster than quicksort."""
    if not ascending and len(at) > 1 and not bool((at[1:] >= at[:-1]).all()):
        return np.sort(at, kind="stable")
    return at


def _empty() -> Found:
    return Found(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))


def text_arrays(texts: list[str]) -> dict[str, np.ndarray]:
    """The arrays behind a SegmentText, from each document's squeezed text."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64) \
        if len(texts) else lengths
    cuts = np.array([max(t.find(FIELD_BREAK), 0) for t in texts], dtype=np.int64)
    # Encoded a few thousand texts at a time into one array: the whole text joined and
    # encoded at once held it three times over (the peak of a large segment's build).
    # Each text ends with a separator (no text: one separator alone).
    codes = np.zeros(int(lengths.sum()) + max(len(texts), 1), dtype=np.uint32)
    at = 0
    for first in range(0, len(texts), TEXTS_PER_STEP):
        piece = SEPARATOR.join(texts[first : first + TEXTS_PER_STEP]) + SEPARATOR
        step = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codes[at : at + len(step)] = step
        at += len(step)
    if len(codes) and int(codes.max()) <= 0xFFFF:
        codes = codes.astype(np.uint16)
    histogram = np.bincount(np.minimum(codes, CLIP), minlength=0x10000).astype(np.int64)
    astral_at = np.flatnonzero(codes >= CLIP).astype(np.int32)
    return {"codes": codes, "starts": starts, "title_ends": starts + cuts, "lengths": lengths,
            "histogram": histogram, "astral_at": astral_at,
            "astral_codes": codes[astral_at].astype(np.uint32)}


def unpack_codes(index: BigramIndex, total: int, astral_at: np.ndarray,
                 astral_codes: np.ndarray) -> np.ndarray:
    """The code points of a segment's text, rebuilt from its bigram index: the first
    character of each group's bigram at each of its positions, and the code points
    above U+FFFE where they are."""
    positions = index.decode(0, len(index.keys))
    last = np.asarray(index.stream) < 0x80
    before = np.concatenate(([0], np.cumsum(last)))[np.asarray(index.offsets, dtype=np.int64)]
    codes = np.zeros(total, dtype=np.uint32)
    codes[positions] = np.repeat(np.asarray(index.keys) >> 16, np.diff(before))
    codes[np.asarray(astral_at, dtype=np.int64)] = astral_codes
    return codes


def squeezed_texts(reader, docnums: range | list[int] | None = None) -> list[str]:
    """The squeezed texts (folded title, FIELD_BREAK, folded body; no whitespace) of
    documents *docnums* (default: all) of *reader*, derived from the stored title and
    display text: an index keeps them only inside its bigram index."""
    column = reader.column_reader("text")
    return [squeeze(reader.stored_fields(d).get("title") or "") + FIELD_BREAK
            + squeeze(bytes(column[d] or b"").decode("utf-8", "surrogatepass"))
            for d in (range(reader.doc_count_all()) if docnums is None else docnums)]


def _persisted_index(reader, total: int) -> BigramIndex | None:
    arrays = load_arrays(reader, BIGRAMS_SIDECAR, BIGRAMS_KEYS)
    if arrays is None:
        return None
    stream, keys, offsets = arrays["stream"], arrays["keys"], arrays["offsets"]
    if len(offsets) != len(keys) + 1 or (len(offsets) and int(offsets[-1]) != len(stream)) \
            or len(stream) < total:
        return None  # not this text's index (never expected: both are written together)
    return BigramIndex(stream, keys, offsets)


def segment_text(reader, caches: SearchCaches) -> SegmentText:
    """The SegmentText of a leaf reader's segment, cached in *caches* (``segments``)."""
    key = segment_key(reader)
    cached = caches.segments.get(("text", key))
    if cached is not None:
        return cached
    arrays = load_arrays(reader, SIDECAR, SIDECAR_KEYS)
    bigrams = None
    if arrays is not None:
        lengths, starts = arrays["lengths"], arrays["starts"]
        bigrams = _persisted_index(
            reader, int(starts[-1] + lengths[-1] + 1) if len(starts) else 0)
        if bigrams is not None:
            bigrams.decoded, bigrams.name = caches.postings, key
    if arrays is None or bigrams is None:
        arrays = text_arrays(squeezed_texts(reader))
    else:  # plain views of the maps: see BigramIndex.__post_init__
        arrays = {name: np.asarray(array) for name, array in arrays.items()}
    lengths = arrays["lengths"]
    avg = float(lengths.mean()) if len(lengths) else 1.0
    seg = SegmentText(arrays["starts"], arrays["title_ends"], lengths, arrays["histogram"],
                      max(avg, 1.0), arrays["astral_at"], arrays["astral_codes"], key=key,
                      indexes=caches.char_index, bigrams=bigrams,
                      codes=None if bigrams is not None else arrays["codes"],
                      tally=caches.sort_tally.setdefault(key, [0, 0]))
    return caches.segments.put(("text", key), seg, seg.nbytes)


@dataclass
class SpaceText:
    """The texts of every segment of an index as one text: segment s's positions shifted
    by ``bases[s]`` (the characters of the segments before it), its documents numbered
    from ``offsets[s]``.

    A needle is found in all segments at once.  Found segment by segment, each of its
    bigram groups cost a dozen array steps per segment whatever its size (most are a few
    hundred bytes), and a pasted line of text at 500,000 articles (24 segments) spent
    more time in those steps than in its bytes.  Here one bigram's groups are read from
    every segment still holding candidates and decoded in one pass, each group's
    positions shifted by its segment's base, so the candidates of all segments are
    checked against it with one binary search: the same positions, ascending.
    """

    segments: list[SegmentText]
    bases: np.ndarray  # int64: where each segment's text starts in the joined text
    starts: np.ndarray  # int64: where each document starts in the joined text
    title_ends: np.ndarray  # int64: where each document's title part ends

    @classmethod
    def join(cls, segments: list[SegmentText], offsets: list[int]) -> SpaceText | None:
        """The joined text of *segments* whose documents are numbered from *offsets*, or
        None when a segment has no bigram index (it is searched the older way) or the
        numbering is not its documents end to end."""
        if any(seg.bigrams is None for seg in segments):
            return None
        if offsets != [int(n) for n in np.cumsum([0] + [len(s.starts) for s in segments])[:-1]]:
            return None
        totals = np.array([seg.total for seg in segments], dtype=np.int64)
        bases = np.concatenate(([0], np.cumsum(totals)[:-1])).astype(np.int64)
        parts = [(np.asarray(seg.starts, dtype=np.int64) + base,
                  np.asarray(seg.title_ends, dtype=np.int64) + base)
                 for seg, base in zip(segments, bases.tolist(), strict=True)]
        empty = np.zeros(0, dtype=np.int64)
        return cls(segments, bases,
                   np.concatenate([p[0] for p in parts]) if parts else empty,
                   np.concatenate([p[1] for p in parts]) if parts else empty)

    @property
    def nbytes(self) -> int:
        return heap_bytes(self.bases, self.starts, self.title_ends) + ENTRY_OVERHEAD

    def find(self, needle: str, whole_numbers: bool = False) -> Found | None:
        """:meth:`SegmentText.find` over every segment, documents numbered across them;
        None for a needle found segment by segment: one character, a code point above
        U+FFFE, the separator, or a rarest bigram of KEEP_DECODED_FROM bytes or more a
        segment (see :meth:`_occurrences`)."""
        at = self._occurrences(needle, whole_numbers)
        if at is None:
            return None
        if not len(at):
            return _empty()
        return _per_document(at, self.starts, self.title_ends, ascending=True)

    def count(self, needle: str) -> int | None:
        """:meth:`SegmentText.count` over every segment (None as for :meth:`find`)."""
        at = self._occurrences(needle, False)
        return None if at is None else _count_documents(at, self.starts)

    def _occurrences(self, needle: str, whole_numbers: bool) -> np.ndarray | None:
        """Start positions of *needle* in the joined text, ascending (see the class), or
        None when it is better found segment by segment (see :meth:`find`)."""
        size = len(needle)
        if size < 2 or SEPARATOR in needle or any(ord(c) >= CLIP for c in needle):
            return None
        codes = [ord(c) for c in needle]
        keys = np.array([codes[k] << 16 | codes[k + 1] for k in range(size - 1)],
                        dtype=np.uint32)
        held, groups, sizes = [], [], []  # segments holding every bigram, their groups
        for number, seg in enumerate(self.segments):
            assert seg.bigrams is not None  # join() takes only indexed segments
            group, nbytes = seg.bigrams.groups_of(keys)
            if bool(nbytes.all()):
                held.append(number)
                groups.append(group)
                sizes.append(nbytes)
        if not held:
            return np.zeros(0, dtype=np.int64)
        by_segment = np.array(sizes)  # bytes of each bigram's group in each segment held
        totals = by_segment.sum(axis=0).tolist()
        # The rarest bigram (fewest bytes) gives the candidates; the others checked cover
        # every character with the fewest bytes, smallest first (as in BigramIndex._find).
        rarest = min(range(size - 1), key=totals.__getitem__)
        if totals[rarest] >= KEEP_DECODED_FROM * len(held):
            # Thousands of candidates a segment: their work is in the data, not in the
            # calls, and it runs faster a segment at a time (in the CPU's cache).
            return None
        # A caller's time limit (searcher/deadline.py): decoding a group cannot stop
        # midway; a group holds at most one position per byte.
        check_time_limit(totals[rarest] / SCAN_RATE)
        needed = sorted(cheapest_cover(totals, rarest), key=totals.__getitem__)
        rows = list(range(len(held)))
        at = self._positions(int(keys[rarest]), rarest, held, rows, groups, by_segment)
        at -= rarest
        for k in needed:
            if k == rarest or not len(at):
                continue
            check_time_limit()
            # Only the segments still holding candidates are read.
            bounds = self._bounds(at)
            rows = [row for row in rows if bounds[held[row] + 1] > bounds[held[row]]]
            group = self._positions(int(keys[k]), k, held, rows, groups, by_segment)
            probe = at + k
            where = np.minimum(np.searchsorted(group, probe), len(group) - 1)
            at = at[group[where] == probe]
        if whole_numbers and len(at) and (needle[0].isdigit() or needle[-1].isdigit()):
            at = self._whole_numbers(at, needle)
        return at

    def _positions(self, key: int, k: int, held: list[int], rows: list[int],
                   groups: list[np.ndarray], by_segment: np.ndarray) -> np.ndarray:
        """The joined-text positions of bigram *key* (the needle's *k*-th) in the segments
        ``held[row]`` of *rows*: the small groups read and decoded in one pass, the large
        ones (KEEP_DECODED_FROM bytes or more) decoded on their own and kept decoded, as
        BigramIndex.group_of does (one segment's positions stay in the CPU's cache while
        they are decoded, which all segments' at once do not)."""
        pieces: list[np.ndarray | None] = []
        raw: list[bytes] = []
        raw_bases: list[int] = []
        spans: list[tuple[BigramIndex, list[tuple[int, int]]]] = []
        try:
            for row in rows:
                number = held[row]
                bigrams = self.segments[number].bigrams
                assert bigrams is not None
                base = int(self.bases[number])
                group = int(groups[row][k])
                read: list[tuple[int, int]] = []
                spans.append((bigrams, read))
                if int(by_segment[row, k]) >= KEEP_DECODED_FROM:
                    positions = bigrams.group_of(key, (group, group + 1), read)
                    pieces.append(positions.astype(np.int64) + base)
                    continue
                pieces.append(None)
                raw.append(bigrams.read(group, group + 1, read))
                raw_bases.append(base)
        finally:
            for bigrams, read in spans:
                if read:
                    bigrams.release(read)
        if raw:
            lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
            at, counts = decode_groups(np.frombuffer(b"".join(raw), dtype=np.uint8),
                                       np.concatenate(([0], np.cumsum(lengths))))
            assert counts is not None
            at += np.repeat(np.array(raw_bases, dtype=np.int64), counts)
            if len(raw) == len(pieces):
                return at
            decoded = iter(np.split(at, np.cumsum(counts)[:-1]))
            return np.concatenate([next(decoded) if piece is None else piece
                                   for piece in pieces])
        ready = [piece for piece in pieces if piece is not None]  # all decoded on their own
        return np.concatenate(ready) if ready else np.zeros(0, dtype=np.int64)

    def _bounds(self, at: np.ndarray) -> list[int]:
        """Where each segment's positions start among the ascending positions *at* (one
        more entry: the end): segment s holds ``at[bounds[s] : bounds[s + 1]]``."""
        return np.searchsorted(at, self.bases).tolist() + [len(at)]

    def _whole_numbers(self, at: np.ndarray, needle: str) -> np.ndarray:
        """*at* without the positions where a number of *needle* continues (see
        :meth:`SegmentText.find`), segment by segment."""
        keep = np.ones(len(at), dtype=bool)
        size = len(needle)
        bounds = self._bounds(at)
        for number, seg in enumerate(self.segments):
            lo, hi = bounds[number], bounds[number + 1]
            if lo == hi:
                continue
            bigrams = seg.bigrams
            assert bigrams is not None
            local = at[lo:hi] - int(self.bases[number])
            if needle[0].isdigit():
                keep[lo:hi] &= ~bigrams.preceded(local, _NUMBER_CHARS, ord(needle[0]))
            if needle[-1].isdigit():
                keep[lo:hi] &= ~bigrams.followed(local + size - 1, ord(needle[-1]),
                                                 _NUMBER_CHARS)
        return at[keep]
