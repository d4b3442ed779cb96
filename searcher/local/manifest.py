"""What the index knows about the files its documents came from.

Incremental runs compare every file on disk with this (path, size, mtime,
content digest).  Reading it from Whoosh's stored fields means unpickling
every document's stored values: 6 s of a no-change run at 200,000 articles.
So each segment also gets a sidecar (see :mod:`searcher.local.sidecar`) with just
these values, written when the segment is built or merged; a segment without
one (built by an older version) is read from its stored fields instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .sidecar import load_arrays

if TYPE_CHECKING:
    from .whoosh_types import Index, IndexReader

SIDECAR = "manifest"
SIDECAR_KEYS = ("text", "numbers")
#: One record per document, in docnum order.
Record = tuple[str, str, str, str, int, int]  # id, path, source, digest, size, mtime_ns


def arrays(records: list[Record]) -> dict[str, np.ndarray]:
    """The sidecar arrays for *records*: the strings NUL-separated (no path holds a NUL),
    the numbers as int64 (-1 for unknown)."""
    text = "\0".join(s for record in records for s in record[:4])
    return {
        "text": np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
        "numbers": np.array([r[4:] for r in records], dtype=np.int64).reshape(-1, 2),
    }


def stored_records(reader: IndexReader) -> list[Record]:
    """Records of every document of a leaf *reader* (deleted ones included), from stored fields."""
    out = []
    for docnum in range(reader.doc_count_all()):
        stored = reader.stored_fields(docnum)
        out.append(_record(stored, stored.get("meta") or {}))
    return out


def _number(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else -1


def sidecar_records(reader: IndexReader) -> list[Record] | None:
    loaded = load_arrays(reader, SIDECAR, SIDECAR_KEYS)
    if loaded is None:
        return None
    count = reader.doc_count_all()
    strings = bytes(loaded["text"]).decode("utf-8", "surrogatepass").split("\0")
    numbers = loaded["numbers"].tolist()
    if len(strings) != 4 * count or len(numbers) != count:
        return None
    return [(*strings[4 * i : 4 * i + 4], *numbers[i]) for i in range(count)]


def _live_records(reader: IndexReader) -> Iterator[Record]:
    for leaf, _offset in reader.leaf_readers():
        if leaf.doc_count_all() == 0:
            continue
        records = sidecar_records(leaf)
        if records is None:
            records = stored_records(leaf)
        deletions = leaf.has_deletions()
        for docnum, record in enumerate(records):
            if not (deletions and leaf.is_deleted(docnum)):
                yield record


class Manifest(Mapping[str, dict[str, Any]]):
    """id → what the index knows about the file it came from: ``path``, ``source``,
    ``digest``, ``size`` and ``mtime_ns`` (``None`` where unknown), in a dict made
    when asked for.

    A read-only mapping over packed arrays rather than a dict of dicts: at 500,000
    articles the dicts and their strings took 290 MB of the indexing process.
    Here a document costs its id, a row number, its path and digest as UTF-8 and
    a few array slots (about 120 MB at that size).
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._rows: dict[str, int] = {}
        self._sources: list[str] = []
        source_numbers: dict[str, int] = {}
        blob = bytearray()
        starts = array("q", [0])
        source_of = array("l")
        numbers = array("q")
        for doc_id, path, source, digest, size, mtime_ns in records:
            self._rows[doc_id] = len(source_of)  # (were an id live twice, the last would count)
            blob += f"{path}\0{digest}".encode("utf-8", "surrogatepass")
            starts.append(len(blob))
            if source not in source_numbers:
                source_numbers[source] = len(self._sources)
                self._sources.append(source)
            source_of.append(source_numbers[source])
            numbers.extend((size, mtime_ns))
        self._blob = bytes(blob)
        self._starts, self._source_of, self._numbers = starts, source_of, numbers

    def __getitem__(self, doc_id: str) -> dict[str, Any]:
        return self._entry(self._rows[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def _entry(self, row: int) -> dict[str, Any]:
        path, digest = self._blob[self._starts[row] : self._starts[row + 1]].decode(
            "utf-8", "surrogatepass").split("\0")
        size, mtime_ns = self._numbers[2 * row], self._numbers[2 * row + 1]
        return {"path": path or None, "source": self._sources[self._source_of[row]] or None,
                "digest": digest or None, "size": None if size < 0 else size,
                "mtime_ns": None if mtime_ns < 0 else mtime_ns}


def read_manifest(ix: Index) -> Manifest:
    """What the index knows about the file each live document came from; see :class:`Manifest`."""
    with ix.reader() as reader:
        return Manifest(_live_records(reader))


def record(values: dict[str, Any]) -> Record:
    """The record of a document as :func:`searcher.local.building.document_fields` gives it."""
    return _record(values, values["meta"])


def _record(stored: dict[str, Any], meta: dict[str, Any]) -> Record:
    return (stored["id"], stored.get("path") or "", stored.get("source") or "",
            meta.get("digest") or "", _number(meta.get("size")), _number(meta.get("mtime_ns")))
