"""The suggestion table in memory and on disk: entries best first, sorted lookup keys, all of
it numpy arrays (no object per word), saved as plain arrays with a CRC32 footer, so loading
a saved table maps bytes and runs no code.  :mod:`searcher.local.suggest` builds, updates
and serves it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.suggestions import MAX_LIMIT
from ..results import Suggestion

KINDS = ("word", "phrase", "title")
#: Starts the keys of a word's uncommon readings (``长期`` read ``changji``): a Latin prefix
#: finds the words it spells in their common reading first, these only after them.
RARE = "\x01"
#: Key ranges at least this long, where few steps are expected, are answered by a walk over
#: the entries best first (see SuggestTable.lookup).
SCAN_RANGE = 4096
SCAN_STEPS = 500
#: Sorts after every key: ``prefix + END_KEY`` bounds a prefix's key range.
END_KEY = "\U0010ffff"

# -- the merged table -----------------------------------------------------------------------
class Strings(Sequence[str]):
    """Strings packed as UTF-8 in one buffer with their start offsets: a table of a million
    words is two arrays instead of a million objects, saved and loaded without pickling
    (bisect works on it as on a list)."""

    __slots__ = ("blob", "starts", "_n", "_at")

    def __init__(self, blob: bytes | memoryview, starts: np.ndarray) -> None:
        self.blob, self.starts, self._n = blob, starts, len(starts) - 1
        starts = np.ascontiguousarray(starts)
        code: Any = starts.dtype.char  # one of memoryview's integer formats
        self._at = starts.data.cast("B").cast(code)

    @classmethod
    def pack(cls, strings: list[str]) -> Strings:
        encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
        starts = np.zeros(len(encoded) + 1, dtype=np.int64)
        if encoded:
            np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
                      out=starts[1:])
        return cls(b"".join(encoded), starts)

    def array(self) -> np.ndarray:
        return np.frombuffer(self.blob, dtype=np.uint8)

    def narrow(self) -> Strings:
        """The same strings with 4-byte offsets when the buffer is under 4 GiB (saved so)."""
        if len(self.blob) < 1 << 32:
            return Strings(self.blob, self.starts.astype(np.uint32))
        return self

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        at = self._at
        return str(self.blob[at[index]:at[index + 1]], "utf-8", "surrogatepass")


class _Kinds(Sequence[str]):
    __slots__ = ("codes",)

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [KINDS[c] for c in self.codes[index].tolist()]
        return KINDS[self.codes[index]]


class _EntryKeys(Sequence[tuple[str, ...]]):
    """The lookup keys of each entry (rows of key numbers)."""

    __slots__ = ("keys", "starts", "numbers")

    def __init__(self, keys: Strings, starts: np.ndarray, numbers: np.ndarray) -> None:
        self.keys, self.starts, self.numbers = keys, starts, numbers

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        keys = self.keys
        return tuple(keys[k] for k in self.numbers[self.starts[index]:self.starts[index + 1]]
                     .tolist())


class _FirstChars:
    """The best MAX_LIMIT entries of every one-character prefix (the widest key ranges)."""

    __slots__ = ("chars", "starts", "entries")

    def __init__(self, chars: np.ndarray, starts: np.ndarray, entries: np.ndarray) -> None:
        self.chars, self.starts, self.entries = chars, starts, entries

    def get(self, char: str, default: list[int] | None = None) -> list[int]:
        code = ord(char)
        at = int(np.searchsorted(self.chars, code))
        if at == len(self.chars) or self.chars[at] != code:
            return [] if default is None else default
        return self.entries[self.starts[at]:self.starts[at + 1]].tolist()


#: Arrays of a saved table, and the types they may have (nothing else is accepted).
TABLE_ARRAYS = ("texts_blob", "texts_starts", "counts", "kinds", "keys_blob", "keys_starts",
                "entries", "entry_key_starts", "entry_key_numbers", "first_chars",
                "first_char_starts", "first_char_entries", "hashes", "hash_entries")
DTYPES = frozenset({"|u1", "<i4", "<i8", "<u4", "<u8"})


def text_hash(text: str, title: bool) -> int:
    """A stable 32-bit hash of an entry's identity (titles apart from words and phrases).
    :meth:`SuggestTable.find` compares the texts of equal hashes, so collisions (a few
    among a million entries) cost a comparison, not a wrong answer; 64 bits cost 4 bytes
    more an entry."""
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=4, person=b"t" if title else b"w")
                          .digest(), "little")


class SuggestTable:
    """Entries best first (by count, words before phrases before titles, shorter first,
    then by text), and sorted lookup keys pointing at entry numbers; all of it numpy
    arrays (see :class:`Strings`)."""

    def __init__(self, arrays: dict[str, np.ndarray], spelled_end: int) -> None:
        a = self.arrays = arrays
        self.texts = Strings(as_blob(a["texts_blob"]), a["texts_starts"])
        self.counts = a["counts"]
        self.kind_codes = a["kinds"]
        self.kinds = _Kinds(self.kind_codes)
        self.keys = Strings(as_blob(a["keys_blob"]), a["keys_starts"])
        self.entries = a["entries"]  # entry number of each key
        self.entry_keys = _EntryKeys(self.keys, a["entry_key_starts"], a["entry_key_numbers"])
        self.first_chars = _FirstChars(a["first_chars"], a["first_char_starts"],
                                       a["first_char_entries"])
        #: Entries before this number that are pinyin-eligible have pinyin keys.
        self.spelled_end = spelled_end
        self.hashes, self.hash_entries = a["hashes"], a["hash_entries"]

    def __len__(self) -> int:
        return len(self.texts)

    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.arrays.values())

    def sort_key(self, number: int) -> tuple[int, int, int, str]:
        text = self.texts[number]
        return (-int(self.counts[number]), int(self.kind_codes[number]), len(text), text)

    def lookup(self, prefix: str, limit: int) -> list[Suggestion]:
        best = self.best(prefix, limit)
        if len(best) < limit and prefix.isascii() and prefix.isalpha():
            seen = set(best)
            best += [i for i in self.best(RARE + prefix, limit + len(best))
                     if i not in seen][:limit - len(best)]
        return [Suggestion(self.texts[i], int(self.counts[i]), self.kinds[i]) for i in best]

    def best(self, prefix: str, limit: int, hidden: np.ndarray | None = None) -> list[int]:
        """The best *limit* entries with a key starting with *prefix*, best first (fewer
        only when fewer have one), leaving out those *hidden* marks."""
        if len(prefix) == 1 and limit <= MAX_LIMIT:
            first = self.first_chars.get(prefix, [])
            if hidden is None:
                return first[:limit]
            kept = [i for i in first if not hidden[i]]
            if len(kept) >= limit or len(first) < MAX_LIMIT:
                return kept[:limit]
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_left(self.keys, prefix + END_KEY, lo)
        if lo >= hi:
            return []
        # A short prefix covers a large share of the keys: walking the entries best first
        # finds *limit* of them after about limit * entries / range steps, which beats
        # sorting out the range; a narrower range is partially sorted directly.
        found: list[int] | None = None
        if hi - lo >= SCAN_RANGE and limit * len(self.texts) <= SCAN_STEPS * (hi - lo):
            found = self.scan(prefix, limit, 4 * SCAN_STEPS, hidden)
        if found is None:
            found = self.partition(lo, hi, limit, hidden)
        return found

    def scan(self, prefix: str, limit: int, steps: int | None = None,
             hidden: np.ndarray | None = None) -> list[int] | None:
        """The best *limit* entries with a key starting with *prefix*, in entry order
        (None when that takes more than *steps* entries: the caller sorts the range)."""
        found: list[int] = []
        for number in range(len(self.texts)):
            if steps is not None and number >= steps:
                return None if len(found) < limit else found
            if hidden is not None and hidden[number]:
                continue
            for key in self.entry_keys[number]:
                if key.startswith(prefix):
                    found.append(number)
                    break
            if len(found) == limit:
                break
        return found

    def partition(self, lo: int, hi: int, limit: int,
                  hidden: np.ndarray | None = None) -> list[int]:
        """The best *limit* entries among the keys ``lo:hi``."""
        ids = self.entries[lo:hi]
        if hidden is not None:
            ids = ids[~hidden[ids]]
        want = min(len(ids), limit * 4)
        if want < len(ids):
            best = np.unique(np.partition(ids, want - 1)[:want])
            if len(best) < limit:  # many keys of the same entries: take them all
                best = np.unique(ids)
        else:
            best = np.unique(ids)
        return best[:limit].tolist()

    def find(self, texts: list[str], title: bool) -> list[int | None]:
        """The entry number of each word or phrase (or, with *title*, title) of *texts*, or
        None: by hash, a binary search each (no per-entry structure is built)."""
        if not texts:
            return []
        wanted = np.fromiter((text_hash(t, title) for t in texts), dtype=np.uint32,
                             count=len(texts))
        at = np.searchsorted(self.hashes, wanted).tolist()
        found: list[int | None] = []
        hashes, size = self.hashes, len(self.hashes)
        for text, code, i in zip(texts, wanted.tolist(), at, strict=True):
            number = None
            while i < size and int(hashes[i]) == code:
                candidate = int(self.hash_entries[i])
                if (self.kind_codes[candidate] == 2) == title \
                        and self.texts[candidate] == text:
                    number = candidate
                    break
                i += 1
            found.append(number)
        return found


def as_blob(array: np.ndarray) -> bytes | memoryview:
    return array.data.cast("B") if len(array) else b""


class TieredTable:
    """A saved base table (the large segments, which index runs never merge) and a small
    one over it (the other segments, and the titles deleted from the large ones since):
    the entries of the small table replace base entries of the same text, which are
    hidden.  A lookup merges the best of each, so it answers exactly as one table of
    every segment would, while an index run only rebuilds the small one."""

    def __init__(self, base: SuggestTable, over: SuggestTable, hidden: np.ndarray) -> None:
        self.base, self.over = base, over
        self.hidden_numbers = hidden
        self.hidden = np.zeros(len(base), dtype=bool)
        self.hidden[hidden] = True

    def nbytes(self) -> int:
        return self.base.nbytes() + self.over.nbytes() + self.hidden.nbytes

    def best(self, prefix: str, limit: int) -> list[tuple[tuple[int, int, int, str], int, int]]:
        """(sort key, tier, entry number) of the best *limit* entries for *prefix*."""
        found = [(self.over.sort_key(i), 1, i) for i in self.over.best(prefix, limit)]
        found += [(self.base.sort_key(i), 0, i)
                  for i in self.base.best(prefix, limit, self.hidden)]
        found.sort()
        return found[:limit]

    def lookup(self, prefix: str, limit: int) -> list[Suggestion]:
        best = self.best(prefix, limit)
        if len(best) < limit and prefix.isascii() and prefix.isalpha():
            seen = {(tier, i) for _, tier, i in best}
            best += [b for b in self.best(RARE + prefix, limit + len(best))
                     if (b[1], b[2]) not in seen][:limit - len(best)]
        out = []
        for _, tier, i in best:
            table = self.over if tier else self.base
            out.append(Suggestion(table.texts[i], int(table.counts[i]), table.kinds[i]))
        return out



# -- saved tables: plain arrays, no pickle -----------------------------------------------
#: A saved table ends with a footer (as Lucene's files do): this mark, then the CRC32
#: and length of the bytes before it.
FOOTER_MARK = b"searcher-crc32"
FOOTER = struct.Struct(f">{len(FOOTER_MARK)}sIQ")
MAGIC = b"searcher-suggest\n"


def sealed(data: bytes) -> bytes:
    return data + FOOTER.pack(FOOTER_MARK, zlib.crc32(data), len(data))


def unsealed(data: bytes) -> bytes:
    """The body of a saved table; ValueError when its footer does not match it."""
    if len(data) < FOOTER.size:
        raise ValueError(f"{len(data)} bytes: shorter than its footer")
    mark, crc, size = FOOTER.unpack_from(data, len(data) - FOOTER.size)
    body = data[: len(data) - FOOTER.size]
    if mark != FOOTER_MARK or size != len(body):
        raise ValueError("no valid footer (truncated or overwritten)")
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch (its bytes changed after it was written)")
    return body


def encode_arrays(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """*meta* (JSON) and *arrays* (raw little-endian numbers) in one sealed file image:
    reading it back parses JSON and maps bytes, and runs no code."""
    layout, offset, parts = {}, 0, []
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        array = array.astype(dtype, copy=False)
        if array.dtype.str not in DTYPES:
            raise ValueError(f"{name}: cannot save {array.dtype}")
        pad = -offset % 8
        parts.append(b"\0" * pad)
        offset += pad
        layout[name] = [array.dtype.str, list(array.shape), offset]
        parts.append(array.tobytes())
        offset += array.nbytes
    header = json.dumps({"meta": meta, "arrays": layout}, separators=(",", ":")).encode()
    head = MAGIC + struct.pack(">Q", len(header)) + header
    head += b"\0" * (-len(head) % 8)
    return sealed(head + b"".join(parts))


def decode_arrays(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The meta and arrays of a file image from :func:`encode_arrays`; ValueError when it
    is damaged or not one."""
    body = unsealed(data)
    if not body.startswith(MAGIC):
        raise ValueError("not a suggestion table")
    (size,) = struct.unpack_from(">Q", body, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.loads(body[start:start + size])
    start += size
    start += -start % 8
    arrays = {}
    view = memoryview(body)
    for name, (dtype, shape, offset) in header["arrays"].items():
        if dtype not in DTYPES:
            raise ValueError(f"{name}: unexpected type {dtype}")
        count = int(np.prod(shape))
        arrays[name] = np.frombuffer(view, dtype=np.dtype(dtype), count=count,
                                     offset=start + offset).reshape(shape)
    return header["meta"], arrays
