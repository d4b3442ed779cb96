"""Exact substring matching over the folded, whitespace-free text of every document.

jieba cuts the same string differently in different contexts, so a term
index alone misses fragments such as ``城市场`` inside ``聊城市场``.  Each
document's squeezed text (folded, no whitespace) is stored in a column; for
each segment it is loaded once into one string and scanned with ``str.find``,
which is exact by construction: a document matches if and only if it contains
the string.  Segments never change (only their deletions do), so the loaded
text is cached per segment and shared by every searcher and thread.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass

from whoosh.matching import ListMatcher, NullMatcher
from whoosh.query import Query

from .schema import FIELD_BREAK

SEPARATOR = "\x00"
K1 = 1.2
B = 0.75
_cache: OrderedDict[tuple[str, str], SegmentText] = OrderedDict()
_cache_lock = threading.Lock()
MAX_CACHED_SEGMENTS = 256


@dataclass
class SegmentText:
    """All squeezed texts of one segment in one string, with each document's start offset."""

    blob: str
    starts: list[int]
    title_ends: list[int]
    avg_len: float

    def find(self, needle: str, whole_numbers: bool = False) -> dict[int, tuple[int, int]]:
        """docnum → (occurrences in title, occurrences in body).

        With *whole_numbers*, a needle starting or ending with a digit only matches
        where the number is not part of a longer one (``4万`` is not in ``14万``).
        """
        if whole_numbers and (needle[:1].isdigit() or needle[-1:].isdigit()):
            return self._find_numbers(needle)
        found: dict[int, tuple[int, int]] = {}
        blob, starts, title_ends = self.blob, self.starts, self.title_ends
        last = len(starts) - 1
        i = blob.find(needle)
        while i >= 0:
            # Count per document, then jump to the next one: cost grows with the
            # number of matching documents, not with the number of occurrences.
            doc = bisect_right(starts, i) - 1
            end = starts[doc + 1] if doc < last else len(blob)
            title = blob.count(needle, i, title_ends[doc]) if i < title_ends[doc] else 0
            body = blob.count(needle, max(i, title_ends[doc]), end)
            found[doc] = (title, body)
            i = blob.find(needle, end)
        return found

    def _find_numbers(self, needle: str) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        blob, starts, title_ends = self.blob, self.starts, self.title_ends
        check_left, check_right = needle[0].isdigit(), needle[-1].isdigit()
        size = len(needle)
        i = blob.find(needle)
        while i >= 0:
            before = blob[i - 1] if i else ""
            after = blob[i + size] if i + size < len(blob) else ""
            if not ((check_left and (before.isdigit() or before == "."))
                    or (check_right and (after.isdigit() or after == "."))):
                doc = bisect_right(starts, i) - 1
                title, body = found.get(doc, (0, 0))
                if i < title_ends[doc]:
                    title += 1
                else:
                    body += 1
                found[doc] = (title, body)
            i = blob.find(needle, i + 1)
        return found

    def length(self, docnum: int) -> int:
        end = self.starts[docnum + 1] if docnum + 1 < len(self.starts) else len(self.blob)
        return end - self.starts[docnum] - 1


def segment_text(reader) -> SegmentText:
    """The (cached) SegmentText of a leaf reader's segment."""
    segment = reader.segment()
    key = (str(getattr(reader.storage(), "folder", id(reader.storage()))), segment.segment_id())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    column = reader.column_reader("squeezed")
    parts: list[str] = []
    starts: list[int] = []
    title_ends: list[int] = []
    offset = 0
    for docnum in range(reader.doc_count_all()):
        text = bytes(column[docnum] or b"").decode("utf-8", "surrogatepass")
        starts.append(offset)
        cut = text.find(FIELD_BREAK)
        title_ends.append(offset + (cut if cut >= 0 else 0))
        parts.append(text)
        offset += len(text) + 1
    blob = SEPARATOR.join(parts) + SEPARATOR
    avg = (offset / len(starts)) if starts else 1.0
    seg = SegmentText(blob, starts, title_ends, max(avg, 1.0))
    with _cache_lock:
        _cache[key] = seg
        while len(_cache) > MAX_CACHED_SEGMENTS:
            _cache.popitem(last=False)
    return seg


class SubstringQuery(Query):
    """Matches documents whose squeezed title or body contains *needle*.

    Scored BM25-style on the number of occurrences (title occurrences count
    ``title_weight`` times), multiplied by *scale*, so it can stand alone for
    quoted phrases or trail far behind word matches (small *scale*).
    """

    def __init__(self, needle: str, scale: float = 1.0, title_weight: float = 3.0,
                 field: str | None = None, whole_numbers: bool = False) -> None:
        self.needle = needle
        self.whole_numbers = whole_numbers
        self.field = field  # "title" or "body" to look in one of them only
        self.scale = scale
        self.title_weight = title_weight
        self.boost = 1.0
        self._per_leaf: dict[int, dict[int, tuple[int, int]]] = {}

    def __repr__(self) -> str:
        return f"SubstringQuery({self.needle!r}, scale={self.scale})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SubstringQuery) and other.needle == self.needle
                and other.scale == self.scale and other.field == self.field)

    def __hash__(self) -> int:
        return hash((self.needle, self.scale, self.field))

    def is_leaf(self) -> bool:
        return True

    def terms(self, phrases=True):
        return iter(())

    def estimate_size(self, ixreader) -> int:
        return ixreader.doc_count_all()

    def docs(self, searcher):
        return iter(self.matcher(searcher).all_ids())

    def matches_in(self, reader) -> dict[int, tuple[int, int]]:
        key = id(reader)
        if key not in self._per_leaf:
            self._per_leaf[key] = (segment_text(reader).find(self.needle, self.whole_numbers)
                                   if self.needle else {})
        return self._per_leaf[key]

    def matcher(self, searcher, context=None):
        if not searcher.is_atomic():
            from whoosh.matching import MultiMatcher

            leaves = searcher.leaf_searchers()
            return MultiMatcher([self.matcher(s, context) for s, _ in leaves],
                                [off for _, off in leaves])
        reader = searcher.reader()
        found = self.matches_in(reader)
        if not found:
            return NullMatcher()
        seg = segment_text(reader)
        total = max(searcher.doc_count_all(), 1)
        idf = math.log(1 + (total - len(found) + 0.5) / (len(found) + 0.5))
        ids, weights = [], []
        for docnum in sorted(found):
            if reader.is_deleted(docnum):
                continue
            title, body = found[docnum]
            if self.field == "title":
                body = 0
            elif self.field == "body":
                title = 0
            if not (title or body):
                continue
            tf = title * self.title_weight + body
            norm = K1 * (1 - B + B * seg.length(docnum) / seg.avg_len)
            ids.append(docnum)
            weights.append(self.scale * self.boost * idf * tf * (K1 + 1) / (tf + norm))
        if not ids:
            return NullMatcher()
        return ListMatcher(ids, weights)
