"""Per-segment arrays (field lengths, dates) and the whole index as one range of documents.

:class:`Space` joins every segment of one Whoosh searcher into global document numbers,
so each step of a query is one array operation over the whole index, not one per segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import rules
from ..core.rules import TEXT_FIELDS
from .caching import ENTRY_OVERHEAD, SearchCaches, heap_bytes
from .sidecar import load_arrays, segment_key
from .substrings import SpaceText, segment_text
from .whoosh_adapter import BYTE_TO_LENGTH, length_bytes

SIDECAR = "data"
NO_DATE = np.iinfo(np.uint64).max


@dataclass
class SegmentData:
    """Per-segment arrays that never change: field lengths and dates."""

    lengths: dict[str, np.ndarray]
    dates: np.ndarray

    @property
    def nbytes(self) -> int:
        """Process memory of the arrays (memory-mapped sidecar arrays count zero)."""
        return heap_bytes(self.dates, *self.lengths.values()) + ENTRY_OVERHEAD


def data_arrays(reader) -> dict[str, np.ndarray]:
    """Field lengths and dates of every document of a segment, from Whoosh's columns."""
    count = reader.doc_count_all()
    table = np.array(BYTE_TO_LENGTH, dtype=np.float64)
    arrays = {}
    for name in TEXT_FIELDS:
        column = length_bytes(reader, name)
        raw = np.fromiter(column, dtype=np.uint8, count=count) if column is not None \
            else np.zeros(count, dtype=np.uint8)
        arrays[name] = table[raw]
    arrays["dates"] = np.fromiter(reader.column_reader("date", translate=False),
                                  dtype=np.uint64, count=count)
    return arrays


def segment_data(reader, caches: SearchCaches) -> SegmentData:
    """Field lengths and dates of a segment, cached in *caches* (``segments``)."""
    key = ("data", segment_key(reader))
    cached = caches.segments.get(key)
    if cached is not None:
        return cached
    arrays = load_arrays(reader, SIDECAR, (*TEXT_FIELDS, "dates"))
    if arrays is None:
        arrays = data_arrays(reader)
    data = SegmentData({name: arrays[name] for name in TEXT_FIELDS}, arrays["dates"])
    return caches.segments.put(key, data, data.nbytes)


class Space:
    """Every segment of one searcher as one range of document numbers (the global ones).

    A query used to be evaluated segment by segment, paying every step's fixed cost
    (cache lookups, array allocations, numpy and Python calls) once per segment: 19 times
    over at 200,000 articles, where that fixed cost was most of a common query's time.
    Now each array of a query spans the whole index, so a step costs one set of calls
    plus work in proportion to what it touches.  A term's postings and a string's
    occurrences over the whole index are joined from the segments once and cached under
    the segments' keys (:meth:`Evaluator.postings`, :meth:`Evaluator.found`), like the
    per-document arrays here.  One Space is kept per searcher (a searcher never changes:
    its segments and deletions are fixed).
    """

    def __init__(self, searcher, caches: SearchCaches) -> None:
        self.leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
        self.n = sum(reader.doc_count_all() for reader, _ in self.leaves)
        self.key = tuple(segment_key(reader) for reader, _ in self.leaves)
        self.caches = caches
        self._deleted: np.ndarray | None = None
        self._joinable = True  # False: some segment has no bigram index

    @classmethod
    def of(cls, searcher, caches: SearchCaches) -> Space:
        space = getattr(searcher, "_searcher_space", None)
        if space is None or space.caches is not caches:
            space = cls(searcher, caches)
            searcher._searcher_space = space
        return space

    def _joined(self, name: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        """A per-document array of the whole index, made once per index state (cached in
        ``segments``)."""
        key = ("space", name, self.key)
        cached = self.caches.segments.get(key)
        if cached is not None:
            return cached
        out = make()
        return self.caches.segments.put(key, out, heap_bytes(out) + ENTRY_OVERHEAD)

    def dates(self) -> np.ndarray:
        """Each document's date (Whoosh ticks; NO_DATE when undated)."""
        return self._joined(("dates",), lambda: self.per_segment(
            lambda reader: segment_data(reader, self.caches).dates, np.uint64))

    def norms(self, fieldname: str, average: float) -> np.ndarray:
        """BM25's length normalisation ``K1 × (1 − B + B × dl / average)`` of each document
        in a text field (*dl*: its length there).

        Made once per index state rather than per term: a common term's postings span
        most of the index, and one gather of these beats a gather of lengths and four
        passes of arithmetic.  The same float64 operations per element, so the same
        scores to the bit.
        """
        def make() -> np.ndarray:
            lengths = self.per_segment(  # float32 first, as the joined lengths always were
                lambda reader: segment_data(reader, self.caches).lengths[fieldname], np.float32)
            return rules.K1 * (1 - rules.B + rules.B * lengths.astype(np.float64) / average)

        return self._joined(("norms", fieldname, average), make)

    def text_norms(self) -> np.ndarray:
        """The same normalisation for strings: each document's squeezed text length (what
        strings are found in) over the average of its own segment (BM25's average for
        strings, as it has always been computed: per segment)."""
        def make() -> np.ndarray:
            lengths = self.per_segment(lambda reader: segment_text(reader, self.caches).lengths,
                                   np.int32)
            averages = self.per_segment(lambda reader: np.full(
                reader.doc_count_all(), segment_text(reader, self.caches).avg_len), np.float64)
            return rules.K1 * (1 - rules.B + rules.B * lengths / averages)

        return self._joined(("text_norms",), make)

    def text(self) -> SpaceText | None:
        """Every segment's text joined, to find a string in all of them at once (None when
        a segment has no bigram index: strings are then found segment by segment)."""
        if not self._joinable:
            return None
        key = ("space", "text", self.key)
        joined = self.caches.segments.get(key)
        if joined is None:
            joined = SpaceText.join([segment_text(reader, self.caches)
                                     for reader, _ in self.leaves],
                                    [offset for _, offset in self.leaves])
            if joined is None:
                self._joinable = False
                return None
            self.caches.segments.put(key, joined, joined.nbytes)
        return joined

    def deleted(self) -> np.ndarray:
        """Global numbers of deleted documents."""
        if self._deleted is None:
            parts = [np.fromiter(reader.deleted_docs_set, dtype=np.int64) + offset
                     for reader, offset in self.leaves if reader.has_deletions()]
            self._deleted = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self._deleted

    def per_segment(self, part: Callable[[Any], np.ndarray], dtype: Any = bool) -> np.ndarray:
        """*part* of each segment's reader, end to end, as *dtype* (not cached)."""
        parts = [np.asarray(part(reader)) for reader, _ in self.leaves]
        return np.concatenate(parts).astype(dtype, copy=False) if parts \
            else np.zeros(0, dtype=dtype)

