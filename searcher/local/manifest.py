"""What the index knows about the files its documents came from.

Incremental runs compare every file on disk with this (path, size, mtime,
content digest).  Reading it from Whoosh's stored fields means unpickling
every document's stored values: 6 s of a no-change run at 200,000 articles.
So each segment also gets a sidecar (see :mod:`searcher.local.sidecar`) with just
these values, written when the segment is built or merged; a segment without
one (built by an older version) is read from its stored fields instead.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .sidecar import load_arrays

if TYPE_CHECKING:
    from .whoosh_types import Index, IndexReader

SIDECAR = "manifest"
#: ``ztext``: the records' strings, deflated (ids and digests are hex, paths share their
#: folders: 2.05 MB of strings at 20,000 articles is ~0.6 MB so, and inflating it is a few
#: milliseconds of a run that reads it whole anyway).
SIDECAR_KEYS = ("ztext", "numbers")
#: One record per document, in docnum order.
Record = tuple[str, str, str, str, int, int]  # id, path, source, digest, size, mtime_ns


def _text(records: list[Record]) -> bytes:
    """The records' strings, NUL-separated (no path holds a NUL), as UTF-8."""
    return "\0".join(s for record in records for s in record[:4]).encode("utf-8",
                                                                         "surrogatepass")


def _numbers(records: list[Record]) -> np.ndarray:
    """The records' numbers as int64 (-1 for unknown)."""
    return np.array([r[4:] for r in records], dtype=np.int64).reshape(-1, 2)


def arrays(records: list[Record]) -> dict[str, np.ndarray]:
    """The sidecar arrays for *records* (see :data:`SIDECAR_KEYS`)."""
    return {"ztext": np.frombuffer(zlib.compress(_text(records), 6), dtype=np.uint8),
            "numbers": _numbers(records)}


def _inflate(packed: np.ndarray) -> bytes | None:
    try:
        return zlib.decompress(packed.tobytes())
    except zlib.error:
        return None


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
    text = _inflate(loaded["ztext"])
    if text is None:
        return None
    strings = text.decode("utf-8", "surrogatepass").split("\0")
    numbers = loaded["numbers"].tolist()
    if len(strings) != 4 * count or len(numbers) != count:
        return None
    return [(*strings[4 * i : 4 * i + 4], *numbers[i]) for i in range(count)]


def _parts(reader: Any) -> Iterator[tuple[bytes, np.ndarray, np.ndarray | None]]:
    """(text, numbers, live mask or None) of each segment of *reader*: its sidecar as
    saved, or its stored fields packed the same way (a segment of an older index)."""
    for leaf, _offset in reader.leaf_readers():
        count = leaf.doc_count_all()
        if count == 0:
            continue
        loaded = load_arrays(leaf, SIDECAR, SIDECAR_KEYS)
        packed = None
        if loaded is not None and loaded["numbers"].shape == (count, 2):
            text = _inflate(loaded["ztext"])
            if text is not None and text.count(b"\0") == 4 * count - 1:
                packed = text, np.asarray(loaded["numbers"])
        if packed is None:
            records = stored_records(leaf)
            packed = _text(records), _numbers(records)
        live = None
        if leaf.has_deletions():
            live = np.ones(count, dtype=bool)
            live[[d for d in range(count) if leaf.is_deleted(d)]] = False
        yield packed[0], packed[1], live


class Manifest(Mapping[str, dict[str, Any]]):
    """id → what the index knows about the file it came from: ``path``, ``source``,
    ``digest``, ``size`` and ``mtime_ns`` (``None`` where unknown), in a dict made
    when asked for.

    A read-only mapping over the segments' packed sidecars rather than a dict of dicts
    (290 MB of the indexing process at 500,000 articles): the records' strings stay one
    UTF-8 buffer with the offsets of each field, found by one vectorised pass per
    segment, so that reading it costs a dict of ids and no object per record.
    """

    def __init__(self, records: Iterable[Record] = (), *,
                 parts: Iterable[tuple[bytes, np.ndarray, np.ndarray | None]] | None = None
                 ) -> None:
        if parts is None:
            records = list(records)
            parts = [(_text(records), _numbers(records), None)] if records else []
        blobs: list[bytes] = []
        bounds: list[np.ndarray] = []
        numbers: list[np.ndarray] = []
        self._rows: dict[str, int] = {}
        size = rows = 0
        for text, nums, live in parts:
            count = len(nums)
            cuts = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 0)
            # Field k of record i spans bounds[4i+k] + 1 .. bounds[4i+k+1] (NUL-separated).
            edges = np.concatenate(([-1], cuts, [len(text)])).astype(np.int64) + size
            bounds.append(edges[:-1])
            ids = text.split(b"\0")[0::4]
            numbers.append(np.asarray(nums, dtype=np.int64).reshape(-1, 2))
            order = range(rows, rows + count)
            if live is None:
                self._rows.update(zip([i.decode("utf-8", "surrogatepass") for i in ids],
                                      order, strict=True))
            else:
                keep = live.tolist()
                self._rows.update((i.decode("utf-8", "surrogatepass"), row)
                                  for i, row, alive in zip(ids, order, keep, strict=True) if alive)
            blobs.append(text)
            size += len(text) + 1
            rows += count
        self._blob = b"\0".join(blobs)
        ends = np.concatenate([*bounds, [size - 1 if blobs else 0]]).astype(np.int64)
        self._bounds = ends.data.cast("B").cast("q")
        table = np.concatenate(numbers) if numbers else np.zeros((0, 2), dtype=np.int64)
        self._numbers = np.ascontiguousarray(table.reshape(-1)).data.cast("B").cast("q")

    def __getitem__(self, doc_id: str) -> dict[str, Any]:
        return self._entry(self._rows[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def folders(self) -> set[str]:
        """The source folders that hold a live document read from a file (one with a
        path), found in one vectorised pass: a nightly run asks on every run, and
        reading every record for it cost seconds at 500,000 articles."""
        if not self._rows:
            return set()
        rows = np.fromiter(self._rows.values(), dtype=np.int64, count=len(self._rows))
        bounds = np.frombuffer(self._bounds, dtype=np.int64)
        with_path = bounds[4 * rows + 2] - bounds[4 * rows + 1] > 1
        starts = bounds[4 * rows[with_path] + 2] + 1
        lengths = bounds[4 * rows[with_path] + 3] - starts
        blob = np.frombuffer(self._blob, dtype=np.uint8)
        found: set[str] = set()
        for length in np.unique(lengths).tolist():
            at = starts[lengths == length]
            if length == 0:
                continue
            # A folder's documents mostly follow each other: only a row that differs from
            # the one before it can name a folder not seen yet (compared byte by byte, no
            # sort).
            grid = blob[at[:, None] + np.arange(length)]
            changed = np.ones(len(grid), dtype=bool)
            changed[1:] = (grid[1:] != grid[:-1]).any(axis=1)
            found.update(str(row.tobytes(), "utf-8", "surrogatepass") for row in grid[changed])
        return found

    def _field(self, row: int, k: int) -> str:
        at = 4 * row + k
        return str(self._blob[self._bounds[at] + 1:self._bounds[at + 1]], "utf-8",
                   "surrogatepass")

    def _entry(self, row: int) -> dict[str, Any]:
        size, mtime_ns = self._numbers[2 * row], self._numbers[2 * row + 1]
        return {"path": self._field(row, 1) or None, "source": self._field(row, 2) or None,
                "digest": self._field(row, 3) or None, "size": None if size < 0 else size,
                "mtime_ns": None if mtime_ns < 0 else mtime_ns}


def read_manifest(ix: Index) -> Manifest:
    """What the index knows about the file each live document came from; see :class:`Manifest`."""
    with ix.reader() as reader:
        return Manifest(parts=_parts(reader))


def record(values: dict[str, Any]) -> Record:
    """The record of a document as :func:`searcher.local.building.document_fields` gives it."""
    return _record(values, values["meta"])


def _record(stored: dict[str, Any], meta: dict[str, Any]) -> Record:
    return (stored["id"], stored.get("path") or "", stored.get("source") or "",
            meta.get("digest") or "", _number(meta.get("size")), _number(meta.get("mtime_ns")))
