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
per segment and shared by every searcher and thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .caching import LRUCache
from .schema import FIELD_BREAK
from .sidecar import load_arrays, segment_key

SIDECAR = "text"
SIDECAR_KEYS = ("codes", "starts", "title_ends", "lengths", "histogram")

SEPARATOR = "\x00"
MAX_CACHED_SEGMENTS = 256
_cache: LRUCache[SegmentText] = LRUCache(MAX_CACHED_SEGMENTS)
_sort_lock = threading.Lock()
#: Linear scans of a segment before its character index is built (a one-shot CLI
#: search never pays for the sort; a server does after its first few queries).
SORT_AFTER_SCANS = 3
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
class SegmentText:
    """All squeezed texts of one segment as code points, with document boundaries.

    The first searches scan the code points linearly (a few milliseconds per
    segment); after a few, a background thread sorts the positions by character,
    after which a search only visits the occurrences of the needle's rarest
    character.  A one-shot command line search never pays for that sort.
    """

    codes: np.ndarray  # code points, documents separated by SEPARATOR
    starts: np.ndarray  # start offset of each document
    title_ends: np.ndarray  # end of each document's title part
    lengths: np.ndarray  # characters of each document
    histogram: np.ndarray  # occurrences of each code point (BMP; astral share one bin)
    avg_len: float
    by_char: np.ndarray | None = None  # positions sorted by (clipped) code point
    char_offsets: np.ndarray | None = None  # where each code point's positions start
    _sorting: bool = False
    _scans: int = 0

    def _positions_of(self, code: int) -> np.ndarray:
        """Positions of one code point: from the sorted index if ready, else by scanning."""
        if self.by_char is not None and self.char_offsets is not None:
            clipped = min(code, 0xFFFF)
            return self.by_char[self.char_offsets[clipped] : self.char_offsets[clipped + 1]]
        self._scans += 1
        if self._scans >= SORT_AFTER_SCANS:  # a long-lived process: worth indexing
            self._sort_in_background()
        return np.flatnonzero(self.codes == code)

    def _sort_in_background(self) -> None:
        with _sort_lock:
            if self._sorting:
                return
            self._sorting = True

        def build() -> None:
            clipped = np.minimum(self.codes, 0xFFFF) if self.codes.dtype != np.uint16 \
                else self.codes
            order = np.argsort(clipped, kind="stable").astype(np.int32)  # 4 bytes/char
            offsets = np.concatenate(([0], np.cumsum(self.histogram))).astype(np.int64)
            self.char_offsets, self.by_char = offsets, order

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
        rarest = int(np.argmin(self.histogram[np.minimum(wanted, 0xFFFF)]))
        last = len(codes) - size
        at = self._positions_of(int(wanted[rarest])) - rarest
        at = at[(at >= 0) & (at <= last)]
        for k in range(size):
            if len(at) and (k != rarest or wanted[k] > 0xFFFF):
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
        docs = np.searchsorted(self.starts, at, side="right") - 1
        in_title = at < self.title_ends[docs]
        ids = np.unique(docs)
        title = np.bincount(docs[in_title], minlength=len(self.starts))[ids]
        body = np.bincount(docs[~in_title], minlength=len(self.starts))[ids]
        return Found(ids.astype(np.int64), title.astype(np.float64), body.astype(np.float64))


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


def segment_text(reader) -> SegmentText:
    """The (cached) SegmentText of a leaf reader's segment."""
    key = segment_key(reader)
    cached = _cache.get(key)
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
                      arrays["histogram"], max(avg, 1.0))
    return _cache.put(key, seg)
