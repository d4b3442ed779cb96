"""Facet counts: how all matches of a query split by author, category, tag, year and month.

Ranking already produces an exact match mask over every document of every
segment (:func:`searcher.local.ranking.rank`), so counting is a matter of
looking up each matched document's values, vectorised:

* ``author``/``category``/``tag``: the index holds each whole folded value as
  one term of ``author_key``/``category``/``tag``.  Per segment, those terms'
  postings become two integer arrays, (document, value code), read once and
  cached (segments never change).  Each segment's codes are mapped into one
  vocabulary shared by the searcher's segments, sorted by value, so counting
  is ``np.bincount`` over the matched documents' codes and "by count, ties by
  value" is one ``np.lexsort``.  No stored fields are loaded.
* ``year``/``month``: each document's date (the per-segment dates array the
  scorer already maps) converted to the configured time zone and turned into a
  month number (``year * 12 + month - 1``), also cached per segment.

The same month numbers answer the ``year``/``month`` filters.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from ..analysis.normalize import fold_keyword
from ..core.request import FACETS
from ..deadline import check_time_limit
from .caching import ENTRY_OVERHEAD, SearchCaches, heap_bytes, text_bytes
from .segments import NO_DATE, segment_data
from .sidecar import segment_key

_DAY_US = 86_400 * 1_000_000
#: Whoosh stores dates as microseconds since ``datetime.min``; numpy counts from 1970.
_EPOCH_US = (dt.datetime(1970, 1, 1) - dt.datetime.min) // dt.timedelta(microseconds=1)

FacetCounts = dict[str, list[tuple[str, int]]]


def facet_key(value: str) -> str:
    """The form a keyword value is indexed (and counted, and filtered) under."""
    return fold_keyword(value)


# -- per-segment columns --------------------------------------------------------------------
@dataclass
class KeywordColumn:
    """One segment's (document, value) pairs of a keyword field; ``values`` sorted."""

    values: list[str]
    docs: np.ndarray  # int64 document numbers (a document appears once per value)
    codes: np.ndarray  # int64 index into ``values``


# Columns, month numbers, vocabularies and display spellings are cached in the engine's
# ``caches.facets`` (part of its cache_bytes budget), under keys tagged by kind.


def keyword_column(reader, fieldname: str, caches: SearchCaches) -> KeywordColumn:
    """The (document, value code) pairs of *fieldname* in one segment, from its postings."""
    key = ("column", segment_key(reader), fieldname)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    check_time_limit()  # before reading a segment's postings, as ranking does
    values: list[str] = []
    docs: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    if fieldname in reader.schema and reader.doc_count_all():
        for term in reader.lexicon(fieldname):
            text = term.decode("utf-8", "surrogatepass") if isinstance(term, bytes) else term
            ids = np.fromiter(reader.postings(fieldname, term).all_ids(), dtype=np.int64)
            codes.append(np.full(len(ids), len(values), dtype=np.int64))
            docs.append(ids)
            values.append(text)
    # Whoosh's lexicon is sorted by UTF-8 bytes, which is code point order: already sorted.
    column = KeywordColumn(values, np.concatenate(docs) if docs else np.zeros(0, np.int64),
                           np.concatenate(codes) if codes else np.zeros(0, np.int64))
    return caches.facets.put(key, column, heap_bytes(column.docs, column.codes)
                        + text_bytes(values) + ENTRY_OVERHEAD)


def _vocabulary(readers: list, fieldname: str,
                caches: SearchCaches) -> tuple[list[str], list[np.ndarray]]:
    """The sorted union of the segments' values, and each segment's local → shared codes."""
    key = ("vocabulary", tuple(segment_key(r) for r in readers), fieldname)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    columns = [keyword_column(r, fieldname, caches) for r in readers]
    values = sorted({v for c in columns for v in c.values})
    shared = np.array(values, dtype=object)
    maps = [np.searchsorted(shared, np.array(c.values, dtype=object)).astype(np.int64)
            if c.values else np.zeros(0, np.int64) for c in columns]
    return caches.facets.put(key, (values, maps),
                             heap_bytes(*maps) + text_bytes(values) + ENTRY_OVERHEAD)


def month_column(reader, timezone: str, caches: SearchCaches) -> np.ndarray:
    """Each document's month number (``year * 12 + month - 1``) in *timezone*; -1 undated."""
    key = ("months", segment_key(reader), timezone)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    check_time_limit()
    ticks = np.asarray(segment_data(reader, caches).dates)
    dated = ticks != NO_DATE
    out = np.full(len(ticks), -1, dtype=np.int64)
    if dated.any():
        utc = ticks[dated].astype(np.int64)
        local = utc + _utc_offsets_us(utc, ZoneInfo(timezone))
        months = (local - _EPOCH_US).astype("datetime64[us]").astype("datetime64[M]")
        out[dated] = months.astype(np.int64) + 1970 * 12
    return caches.facets.put(key, out, heap_bytes(out) + ENTRY_OVERHEAD)


def _utc_offsets_us(utc: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """The zone's UTC offset at each instant (µs since ``datetime.min``, naive UTC).

    Offsets are looked up once per distinct UTC day (start and end); only the
    documents of a day on which the offset changes are converted one by one.
    """
    days = utc // _DAY_US
    unique, inverse = np.unique(days, return_inverse=True)
    start = np.empty(len(unique), dtype=np.int64)
    end = np.empty(len(unique), dtype=np.int64)
    for i, day in enumerate(unique.tolist()):
        start[i] = _offset_us(int(day) * _DAY_US, zone)
        end[i] = _offset_us((int(day) + 1) * _DAY_US - 1, zone)
    offsets = start[inverse]
    for i in np.flatnonzero(start[inverse] != end[inverse]).tolist():
        offsets[i] = _offset_us(int(utc[i]), zone)
    return offsets


def _offset_us(ticks: int, zone: ZoneInfo) -> int:
    try:
        moment = dt.datetime.min + dt.timedelta(microseconds=ticks)
        offset = moment.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset()
    except (OverflowError, ValueError):
        return 0
    return (offset or dt.timedelta(0)) // dt.timedelta(microseconds=1)


def period_mask(reader, timezone: str, years: Sequence[int], months: Sequence[int],
                caches: SearchCaches) -> np.ndarray:
    """Documents of one segment dated in one of *years* and (if given) one of *months*."""
    column = month_column(reader, timezone, caches)
    mask = np.ones(len(column), dtype=bool)
    if years:
        mask &= np.isin(np.where(column >= 0, column // 12, -1), np.asarray(years))
    if months:
        mask &= np.isin(column, np.asarray(months))
    return mask


# -- counting -------------------------------------------------------------------------------
def count_facets(searcher, mask: np.ndarray, names: Sequence[str], limit: int,
                 timezone: str, caches: SearchCaches, hits: np.ndarray | None = None
                 ) -> FacetCounts:
    """For each facet in *names*: the top *limit* ``(value, count)`` pairs over the documents
    set in *mask* (global document numbers; *hits*: the same, ascending, when known), by
    count, ties by value."""
    leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
    out: FacetCounts = {}
    months: np.ndarray | None = None
    for name in names:
        check_time_limit()  # a caller's time_limit (searcher/deadline.py), between facets
        fieldname = FACETS[name]
        if fieldname is not None:
            whole = whole_column(leaves, fieldname, caches)
            if hits is None:
                hits = np.flatnonzero(mask)
            counts = np.bincount(whole.codes_of(hits, mask), minlength=len(whole.values))
            out[name] = [(_display(leaves, fieldname, whole, code, caches), count)
                         for code, count in _top_codes(whole.values, counts, limit)]
            continue
        if months is None:  # year and month count the same month numbers
            found = _whole_months(leaves, timezone, caches)[mask]
            months = found[found >= 0]
        found = months // 12 if name == "year" else months
        keys, counts = np.unique(found, return_counts=True)
        labels = [str(k) if name == "year" else f"{k // 12:04d}-{k % 12 + 1:02d}"
                  for k in keys.tolist()]
        out[name] = _top(labels, counts, limit)  # labels sort like their numbers
    return out


#: Hits look their facet values up by binary search while fewer than 1/FACET_SEARCHES of a
#: facet's (document, value) pairs; beyond that, one selection over every pair is cheaper.
FACET_SEARCHES = 16


@dataclass
class WholeColumn:
    """A keyword field's (document, value) pairs over every segment."""

    values: list[str]  # sorted, shared by every segment
    docs: np.ndarray  # intp global document numbers, ascending (once per value held)
    codes: np.ndarray  # int32 index into ``values``
    first: np.ndarray  # for each value, the first document holding it (global)

    def codes_of(self, hits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The value codes of the documents *hits* (ascending; *mask* holds the same).

        Few hits find their pairs by binary search, in proportion to the hits (a rare
        word's facets at 200,000 articles); many select from every pair at once."""
        if len(hits) * FACET_SEARCHES > len(self.docs):
            return self.codes[mask[self.docs]]
        low = np.searchsorted(self.docs, hits, side="left")
        sizes = np.searchsorted(self.docs, hits, side="right") - low
        ends = np.cumsum(sizes)
        where = np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(low - ends + sizes,
                                                                         sizes)
        return self.codes[where]


def whole_column(leaves: list, fieldname: str, caches: SearchCaches) -> WholeColumn:
    """The pairs of *fieldname* over every segment, made once per index state from the
    per-segment columns (which are then no longer needed, and age out of the cache).

    Counting a facet is then one gather, one selection and one ``bincount`` over the
    index, not one round per segment (a query's facets cost up to a fifth of it at 20,000
    articles).  12 bytes a pair, where the per-segment columns take 16."""
    readers = [reader for reader, _ in leaves]
    key = ("whole", tuple(segment_key(r) for r in readers), fieldname)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    values, maps = _vocabulary(readers, fieldname, caches)
    docs, codes = [], []
    for (reader, offset), local in zip(leaves, maps, strict=True):
        column = keyword_column(reader, fieldname, caches)
        if len(column.docs):
            docs.append(column.docs + offset)
            codes.append(local[column.codes].astype(np.int32))
    all_docs = np.concatenate(docs).astype(np.intp) if docs else np.zeros(0, np.intp)
    all_codes = np.concatenate(codes) if codes else np.zeros(0, np.int32)
    # In document order (a few hits then find their pairs by binary search), so a value's
    # first pair is the first document holding it.
    order = np.argsort(all_docs, kind="stable")
    all_docs, all_codes = all_docs[order], all_codes[order]
    held, where = np.unique(all_codes, return_index=True)
    first = np.full(len(values), -1, dtype=np.int64)
    first[held] = all_docs[where]
    whole = WholeColumn(values, all_docs, all_codes, first)
    return caches.facets.put(key, whole, heap_bytes(all_docs, all_codes, first)
                             + text_bytes(values) + ENTRY_OVERHEAD)


def _whole_months(leaves: list, timezone: str, caches: SearchCaches) -> np.ndarray:
    """Each document's month number over every segment (:func:`month_column`, end to end)."""
    readers = [reader for reader, _ in leaves]
    key = ("whole months", tuple(segment_key(r) for r in readers), timezone)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    columns = [month_column(reader, timezone, caches) for reader in readers]
    whole = np.concatenate(columns) if columns else np.zeros(0, np.int64)
    return caches.facets.put(key, whole, heap_bytes(whole) + ENTRY_OVERHEAD)


def _top_codes(values: list[str], counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """The positions in *values* (sorted) of the *limit* largest counts, ties by value,
    with their counts."""
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -counts[present]))][:limit]
    return [(i, int(counts[i])) for i in order.tolist()]


def _top(values: list[str], counts: np.ndarray, limit: int) -> list[tuple[str, int]]:
    """The *limit* largest counts, ties by value (*values* is sorted)."""
    return [(values[i], count) for i, count in _top_codes(values, counts, limit)]


def _display(leaves: list, fieldname: str, whole: WholeColumn, code: int,
             caches: SearchCaches) -> str:
    """The value as one document that holds it spells it (``iPhone 13`` for ``iphone 13``).

    Values are counted folded (so ``認證`` and ``认证`` count together); only the few
    shown are looked up, each in the first document holding it.
    """
    value = whole.values[code]
    doc = int(whole.first[code])
    if doc < 0:
        return value
    number = bisect.bisect_right([offset for _, offset in leaves], doc) - 1
    reader, offset = leaves[number]
    key = ("display", segment_key(reader), fieldname, value)
    cached = caches.facets.get(key)
    if cached is not None:
        return cached
    stored = reader.stored_fields(doc - offset)
    meta = stored.get("meta") or {}
    spelled = [stored.get("author") or ""] if fieldname == "author_key" else list(
        meta.get("categories" if fieldname == "category" else "tags") or [])
    shown = next((s for s in spelled if isinstance(s, str) and facet_key(s) == value), value)
    return caches.facets.put(key, shown, text_bytes([shown]) + ENTRY_OVERHEAD)
