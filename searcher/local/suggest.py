"""Suggestions as you type: indexed words and whole titles that start with a prefix.

The prefix may be Chinese (``认证`` → ``认证认可``), traditional (folded first),
Latin, a toneless pinyin prefix (``liaoc`` → ``聊城``) or pinyin initials
(``lc`` → ``聊城``).  Candidates are ranked by how many documents hold them.

Where the data comes from: each segment gets a small sidecar
(:mod:`searcher.local.sidecar`) with its suggestible title/body words and
their document frequencies, and each document's title.  Build workers write
it from what they hold in memory anyway (no extra reading); a segment built
before this existed gets it computed from the segment itself on first use
(its term table read in one pass, its titles from the stored fields) and
saved when the index folder is writable.

At query time the segments' parts are merged once per set of segments into
one table: the entries sorted best first (by count, words before titles,
shorter first, then by text), and a sorted list of lookup keys (the folded
word or title, each Chinese word's pinyin spellings and initials) pointing at
entry numbers.  A lookup is two binary searches and a partial sort of the
entry numbers in the key range, so it costs microseconds to a few
milliseconds whatever the index size.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import logging
import os
import re
import struct
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis.normalize import squeeze
from ..core.suggestions import (
    MAX_LIMIT,
    MAX_PINYIN_CHARS,
    MAX_TITLE_CHARS,
    fold_or_empty,
    prefix_key,
    reading_keys,
    suggestible,
)
from ..results import Suggestion
from .caching import ENTRY_OVERHEAD, ByteLRU
from .integrity import segment_sums
from .sidecar import load_arrays, save_arrays, segment_folder, segment_key
from .whoosh_adapter import LARGE_SEGMENT_DOCS, field_doc_frequencies, reader_segment_id

log = logging.getLogger(__name__)

SIDECAR = "suggest"
SIDECAR_KEYS = ("words", "counts", "titles", "phrases", "phrase_counts")
#: The merged table, saved by the index run (or the first process that needs it), keyed by
#: the segments; over the base table of the large segments (see TieredTable).
TABLE_FILE = "suggest.table"
BASE_FILE = "suggest.base"
#: What an older version saved (a pickle): removed when a table is saved.
OLD_TABLE_FILE = "suggest.table.pickle"
#: Bump when SuggestTable changes: an older saved table is then rebuilt.
TABLE_VERSION = 6
#: Starts the keys of a word's uncommon readings (``长期`` read ``changji``): a Latin prefix
#: finds the words it spells in their common reading first, these only after them.
RARE = "\x01"
#: The most frequent words and phrases get pinyin keys (bounds the first call's work).
MAX_PINYIN_WORDS = 40_000
#: Key ranges at least this long, where few steps are expected, are answered by a walk over
#: the entries best first (see SuggestTable.lookup).
SCAN_RANGE = 4096
SCAN_STEPS = 500
MAX_PHRASE = 8

_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")
_END = "\U0010ffff"
KINDS = ("word", "phrase", "title")


# -- per-segment parts ----------------------------------------------------------------------
def segment_arrays(word_counts: dict, titles: list[str],
                   phrase_counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """The sidecar arrays of one segment: words and phrases with document counts, one title
    per document."""
    words = [w for w in word_counts if isinstance(w, str) and suggestible(w)]
    phrases = [p for p in (phrase_counts or {}) if p not in word_counts]
    return {
        "words": _pack(words),
        "counts": np.array([word_counts[w] for w in words], dtype=np.int64),
        "titles": _pack([" ".join(t.split())[:MAX_TITLE_CHARS] for t in titles]),
        "phrases": _pack(phrases),
        "phrase_counts": np.array([phrase_counts[p] for p in phrases] if phrase_counts else [],
                                  dtype=np.int64),
    }


def document_phrases(title_terms: list[str], body_terms: list[str], squeezed: str) -> set[str]:
    """Two-word phrases of one document worth completing to (``认证`` → ``认证认可``).

    Terms carry no positions, so phrases come from the term lists as the
    segment builder produces them: adjacent Chinese words that are adjacent in
    the text too (sub-words sit next to their word in the list, so the pair is
    checked against the squeezed text), from the title, or repeated in the body.
    """
    repeated = Counter(zip(body_terms, body_terms[1:]))  # noqa: B905 - one shorter
    candidates = [pair for pair, n in repeated.items() if n >= 2]
    candidates += zip(title_terms, title_terms[1:])  # noqa: B905
    found = set()
    for first, second in candidates:
        if len(first) + len(second) > MAX_PHRASE or first in second or second in first:
            continue
        if _HAN_WORD.match(first) and _HAN_WORD.match(second):
            found.add(first + second)
    return {p for p in found if p in squeezed}


def _pack(strings: list[str]) -> np.ndarray:
    text = "\0".join(s.replace("\0", "") for s in strings)
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def _unpack(array: np.ndarray) -> list[str]:
    if not len(array):
        return []
    return bytes(array).decode("utf-8", "surrogatepass").split("\0")


def segment_phrases(reader) -> dict[str, int]:
    """A segment's suggestion phrases with their document counts, from its sidecar ({} when
    it has none).  The index keeps no word order, so a merge cannot recompute them from
    the merged segment: it sums its sources' (counting, until the next full rebuild, the
    deleted documents of the segments it merged)."""
    arrays = load_arrays(reader, SIDECAR, ("phrases", "phrase_counts"))
    if arrays is None:
        return {}
    phrases = _unpack(arrays["phrases"])
    counts = np.asarray(arrays["phrase_counts"]).tolist()
    return dict(zip(phrases, counts, strict=True)) if len(phrases) == len(counts) else {}


def reader_arrays(reader, phrase_counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """The sidecar arrays computed from a segment already written (an older index, a merge;
    *phrase_counts* are the merged segments' phrases, see :func:`segment_phrases`)."""
    counts: dict[str, int] = {}
    for fieldname in ("title", "body"):
        for word, df in field_doc_frequencies(reader, fieldname):
            if df > counts.get(word, 0):
                counts[word] = df
    titles = [reader.stored_fields(d).get("title") or "" for d in range(reader.doc_count_all())]
    return segment_arrays(counts, titles, phrase_counts)


def _segment_part(reader) -> tuple[list[str], np.ndarray, list[str], list[str], np.ndarray]:
    arrays = load_arrays(reader, SIDECAR, SIDECAR_KEYS)
    if arrays is None:
        arrays = reader_arrays(reader)
        folder = segment_folder(reader)
        # Saved only for a segment of an older index (no checksums): a damaged sidecar of
        # a checksummed one is left for the index run to rewrite and seal.
        if folder is not None and segment_sums(folder, reader.segment().segment_id()) is None:
            try:
                save_arrays(folder, reader.segment().segment_id(), SIDECAR, arrays)
            except OSError as exc:  # a read-only index still gets suggestions, in memory
                log.debug("cannot save suggestion data in %s: %s", folder, exc)
    words, titles, phrases = (_unpack(arrays[k]) for k in ("words", "titles", "phrases"))
    if len(titles) != reader.doc_count_all() or len(words) != len(arrays["counts"]) \
            or len(phrases) != len(arrays["phrase_counts"]):
        log.warning("suggestion data of segment %s is inconsistent; recomputing it",
                    reader.segment().segment_id())
        arrays = reader_arrays(reader)
        words, titles, phrases = (_unpack(arrays[k]) for k in ("words", "titles", "phrases"))
    return (words, np.asarray(arrays["counts"]), titles, phrases,
            np.asarray(arrays["phrase_counts"]))


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
_DTYPES = frozenset({"|u1", "<i4", "<i8", "<u4", "<u8"})


def _text_hash(text: str, title: bool) -> int:
    """A stable 64-bit hash of an entry's identity (titles apart from words and phrases)."""
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, person=b"t" if title else b"w")
                          .digest(), "little")


class SuggestTable:
    """Entries best first (by count, words before phrases before titles, shorter first,
    then by text), and sorted lookup keys pointing at entry numbers; all of it numpy
    arrays (see :class:`Strings`)."""

    def __init__(self, arrays: dict[str, np.ndarray], spelled_end: int) -> None:
        a = self.arrays = arrays
        self.texts = Strings(_blob(a["texts_blob"]), a["texts_starts"])
        self.counts = a["counts"]
        self.kind_codes = a["kinds"]
        self.kinds = _Kinds(self.kind_codes)
        self.keys = Strings(_blob(a["keys_blob"]), a["keys_starts"])
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
        hi = bisect.bisect_left(self.keys, prefix + _END, lo)
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
        wanted = np.fromiter((_text_hash(t, title) for t in texts), dtype=np.uint64,
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


def _blob(array: np.ndarray) -> bytes | memoryview:
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


_build_lock = threading.Lock()
Table = SuggestTable | TieredTable


def suggestion_table(searcher, cache: ByteLRU[Table] | None = None) -> Table:
    """The merged table of a searcher's segments (made once per set of segments, saved
    beside them, and kept in *cache*: an engine's ``caches.suggest``, part of its
    cache_bytes budget; a table larger than that share is loaded again by every call)."""
    readers = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
    # A segment's deletions only grow until it is merged away: its live count names its state.
    key = tuple((segment_key(r), r.doc_count()) for r in readers)
    table = cache.get(key) if cache is not None else None
    if table is not None:
        return table
    with _build_lock:
        table = cache.get(key) if cache is not None else None
        if table is None:
            folder = segment_folder(readers[0]) if readers else None
            table = _load_table(folder, key)
            if table is None:
                table = update_table(folder, readers, key)
            if cache is None:
                return table
            cache.put(key, table, table.nbytes() + ENTRY_OVERHEAD)
    return table


# -- saved tables: plain arrays, no pickle -----------------------------------------------
#: A saved table ends with a footer (as Lucene's files do): this mark, then the CRC32
#: and length of the bytes before it.
FOOTER_MARK = b"searcher-crc32"
_FOOTER = struct.Struct(f">{len(FOOTER_MARK)}sIQ")
_MAGIC = b"searcher-suggest\n"


def _sealed(data: bytes) -> bytes:
    return data + _FOOTER.pack(FOOTER_MARK, zlib.crc32(data), len(data))


def _unsealed(data: bytes) -> bytes:
    """The body of a saved table; ValueError when its footer does not match it."""
    if len(data) < _FOOTER.size:
        raise ValueError(f"{len(data)} bytes: shorter than its footer")
    mark, crc, size = _FOOTER.unpack_from(data, len(data) - _FOOTER.size)
    body = data[: len(data) - _FOOTER.size]
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
        if array.dtype.str not in _DTYPES:
            raise ValueError(f"{name}: cannot save {array.dtype}")
        pad = -offset % 8
        parts.append(b"\0" * pad)
        offset += pad
        layout[name] = [array.dtype.str, list(array.shape), offset]
        parts.append(array.tobytes())
        offset += array.nbytes
    header = json.dumps({"meta": meta, "arrays": layout}, separators=(",", ":")).encode()
    head = _MAGIC + struct.pack(">Q", len(header)) + header
    head += b"\0" * (-len(head) % 8)
    return _sealed(head + b"".join(parts))


def decode_arrays(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The meta and arrays of a file image from :func:`encode_arrays`; ValueError when it
    is damaged or not one."""
    body = _unsealed(data)
    if not body.startswith(_MAGIC):
        raise ValueError("not a suggestion table")
    (size,) = struct.unpack_from(">Q", body, len(_MAGIC))
    start = len(_MAGIC) + 8
    header = json.loads(body[start:start + size])
    start += size
    start += -start % 8
    arrays = {}
    view = memoryview(body)
    for name, (dtype, shape, offset) in header["arrays"].items():
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: unexpected type {dtype}")
        count = int(np.prod(shape))
        arrays[name] = np.frombuffer(view, dtype=np.dtype(dtype), count=count,
                                     offset=start + offset).reshape(shape)
    return header["meta"], arrays


def table_problem(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with a saved table (None when it is intact or absent: it is optional)."""
    try:
        with open(path, "rb") as handle:
            decode_arrays(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _read(folder: str, name: str) -> tuple[dict, dict[str, np.ndarray]] | None:
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    try:
        meta, arrays = decode_arrays(data)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("damaged suggestion table %s (%s): building it again", path, exc)
        return None
    if not isinstance(meta, dict) or meta.get("version") != TABLE_VERSION:
        return None
    return meta, arrays


def _table(meta: dict, arrays: dict[str, np.ndarray]) -> SuggestTable | None:
    if any(name not in arrays for name in TABLE_ARRAYS):
        return None
    return SuggestTable({name: arrays[name] for name in TABLE_ARRAYS},
                        int(meta.get("spelled_end", 0)))


def _segments(key: tuple) -> list[list] | None:
    """A table key without its folder: the same segments in a copied or moved index folder
    (a backup restored elsewhere) have the same table."""
    try:
        return [[segment[1], count] for segment, count in key]
    except (TypeError, ValueError, IndexError):
        return None


def _load_table(folder: str | None, key: tuple) -> Table | None:
    """The table another process saved for the same segments, if any (a damaged one is
    ignored, with a warning, and replaced)."""
    if folder is None:
        return None
    saved = _read(folder, TABLE_FILE)
    if saved is None or saved[0].get("segments") != _segments(key):
        return None
    meta, arrays = saved
    over = _table(meta, arrays)
    if over is None:
        return None
    if meta.get("base") is None:
        return over
    base = _load_base(folder)
    if base is None or base[0].get("id") != meta["base"] or "hidden" not in arrays:
        return None
    return TieredTable(base[1], over, arrays["hidden"])


def _load_base(folder: str | None) -> tuple[dict, SuggestTable] | None:
    saved = _read(folder, BASE_FILE) if folder is not None else None
    if saved is None:
        return None
    table = _table(*saved)
    return None if table is None else (saved[0], table)


def _save(folder: str | None, name: str, meta: dict, table: SuggestTable,
          extra: dict[str, np.ndarray] | None = None) -> None:
    """Save a table beside the segments (atomically), so the next process loads it instead
    of merging again; a read-only index just keeps it in memory."""
    if folder is None:
        return
    path = os.path.join(folder, name)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        data = encode_arrays(dict(meta, version=TABLE_VERSION, spelled_end=table.spelled_end),
                             {**table.arrays, **(extra or {})})
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, OLD_TABLE_FILE))  # an older version's pickle
    except OSError as exc:
        log.debug("cannot save the suggestion table in %s: %s", folder, exc)
        with contextlib.suppress(OSError):
            os.remove(tmp)


# -- building and updating ---------------------------------------------------------------
def update_table(folder: str | None, readers: list, key: tuple) -> Table:
    """The table of *readers* (the segments of *key*), made from the saved base table and
    the segments it does not cover, and saved; the base is built again first when it
    cannot be used or the segments it does not cover have grown large (see
    :class:`TieredTable`)."""
    loaded = _load_base(folder)
    base_meta, base = loaded if loaded is not None else ({}, None)
    if base is not None and not _base_usable(base_meta, readers):
        base = None
    if base is None or _outgrown(base_meta, readers):
        large = [r for r in readers if r.doc_count_all() >= LARGE_SEGMENT_DOCS]
        base = build_table(large) if large else None
        if base is not None:
            base_meta = {"id": uuid.uuid4().hex,
                         "segments": [[reader_segment_id(r), r.doc_count_all()] for r in large],
                         "deleted": [sorted(_deleted(r)) for r in large]}
            _save(folder, BASE_FILE, base_meta, base)
    if base is None:
        table = build_table(readers)
        _save(folder, TABLE_FILE, {"segments": _segments(key), "base": None}, table)
        return table
    over, hidden = overlay(base, base_meta, readers)
    _save(folder, TABLE_FILE, {"segments": _segments(key), "base": base_meta["id"]}, over,
          {"hidden": hidden})
    return TieredTable(base, over, hidden)


def _deleted(reader) -> set[int]:
    return set(reader.deleted_docs_set) if reader.has_deletions() else set()


def _base_usable(meta: dict, readers: list) -> bool:
    """Whether every segment of the base still exists (large segments are only merged by
    ``optimize``, which writes a new generation)."""
    present = {reader_segment_id(r): r.doc_count_all() for r in readers}
    try:
        return all(present.get(sid) == count for sid, count in meta["segments"])
    except (KeyError, TypeError, ValueError):
        return False


def _outgrown(meta: dict, readers: list) -> bool:
    """Whether the documents of large segments the base does not hold (and those deleted
    from it since) are over 1/16 of it: folding them into a new base costs one full
    merge, and keeps what every later run rebuilds small."""
    base = {sid: i for i, (sid, _count) in enumerate(meta["segments"])}
    base_docs = sum(count for _sid, count in meta["segments"])
    outside = 0
    for reader in readers:
        sid = reader_segment_id(reader)
        if sid in base:
            outside += len(_deleted(reader)) - len(meta["deleted"][base[sid]])
        elif reader.doc_count_all() >= LARGE_SEGMENT_DOCS:
            outside += reader.doc_count_all()
    return 16 * outside > base_docs


def _segment_titles(reader) -> list[str]:
    arrays = load_arrays(reader, SIDECAR, ("titles",))
    titles = _unpack(arrays["titles"]) if arrays is not None else []
    if len(titles) != reader.doc_count_all():
        titles = _segment_part(reader)[2]
    return titles


def overlay(base: SuggestTable, meta: dict, readers: list) -> tuple[SuggestTable, np.ndarray]:
    """The table over *base* for *readers* and the base entries it hides (see
    :class:`TieredTable`): the summed counts of the segments the base does not hold,
    less the titles deleted from its segments since, added to the base's counts."""
    in_base = {sid: i for i, (sid, _count) in enumerate(meta["segments"])}
    words: dict[str, int] = {}
    phrases: dict[str, int] = {}
    titles: dict[str, int] = {}
    for reader in readers:
        sid = reader_segment_id(reader)
        if sid in in_base:
            then = set(meta["deleted"][in_base[sid]])
            gone = [d for d in _deleted(reader) if d not in then]
            if gone:
                seg_titles = _segment_titles(reader)
                for docnum in gone:
                    if seg_titles[docnum]:
                        titles[seg_titles[docnum]] = titles.get(seg_titles[docnum], 0) - 1
            continue
        _add_segment(reader, words, phrases, titles)
    hidden: list[int] = []
    #: (text, title) -> (count, kind, base entry number or -1)
    entries: dict[tuple[str, bool], tuple[int, int, int]] = {}
    slot = sorted(words.keys() | phrases.keys())
    for text, number in zip(slot, base.find(slot, False), strict=True):
        kind, count = (int(base.kind_codes[number]), int(base.counts[number])) \
            if number is not None else (None, 0)
        at = -1 if number is None else number
        if kind == 0:
            if text not in words:
                continue  # a word already: its phrase count does not show
            entries[text, False] = (count + words[text], 0, at)
        elif text in words:
            entries[text, False] = (words[text], 0, at)  # a phrase so far, a word now
        else:
            entries[text, False] = (count + phrases[text], 1, at)
        if number is not None:
            hidden.append(number)
    changed = sorted(titles)
    for text, number in zip(changed, base.find(changed, True), strict=True):
        change = titles[text]
        count = change + (int(base.counts[number]) if number is not None else 0)
        if number is not None:
            hidden.append(number)
        if count > 0:
            entries[text, True] = (count, 2, -1)
    # The most frequent words get pinyin keys: where the counts above move words into or
    # out of that set, the base entries concerned are replaced too, with their own counts.
    mask = np.zeros(len(base), dtype=bool)
    mask[hidden] = True
    ordered = sorted(((-count, kind, len(text), text), at) for (text, _), (count, kind, at)
                     in entries.items())
    rows: list[tuple[tuple[int, int, int, str], bool, int]] = []
    number = spelled = 0
    from_base = None
    for entry, at in ordered:
        while spelled < MAX_PINYIN_WORDS:
            if from_base is None:
                while number < len(base) and mask[number]:
                    number += 1
                if number == len(base):
                    break
                from_base = base.sort_key(number)
            if entry < from_base:
                break
            if _spellable(from_base[1], from_base[3]):
                spelled += 1
                if number >= base.spelled_end:
                    rows.append((from_base, True, number))  # into the set
            number += 1
            from_base = None
        spell = spelled < MAX_PINYIN_WORDS and _spellable(entry[1], entry[3])
        spelled += spell
        rows.append((entry, spell, at))
    while spelled < MAX_PINYIN_WORDS and number < len(base):
        if not mask[number]:
            kind, text = int(base.kind_codes[number]), base.texts[number]
            if _spellable(kind, text):
                spelled += 1
                if number >= base.spelled_end:
                    rows.append((base.sort_key(number), True, number))
        number += 1
    rows += [(base.sort_key(n), False, n) for n in range(number, min(base.spelled_end, len(base)))
             if not mask[n] and _spellable(int(base.kind_codes[n]), base.texts[n])]  # out of it
    hidden += [n for _, _, n in rows if n >= 0 and not mask[n]]
    known: dict[str, tuple[str, ...]] = {}
    for (_, _kind, _, text), spell, n in rows:
        if spell and 0 <= n < base.spelled_end and _spellable(int(base.kind_codes[n]), text):
            known[text] = tuple(k for k in base.entry_keys[n] if k != text)
    rows.sort()
    over = _assemble([entry for entry, _, _ in rows], [spell for _, spell, _ in rows], known)
    return over, np.unique(np.array(hidden, dtype=np.int64)).astype(np.int32)


def _add_segment(reader, words: dict[str, int], phrases: dict[str, int],
                 titles: dict[str, int]) -> None:
    seg_words, seg_counts, seg_titles, seg_phrases, seg_phrase_counts = _segment_part(reader)
    for word, count in zip(seg_words, seg_counts.tolist(), strict=True):
        words[word] = words.get(word, 0) + count
    for phrase, count in zip(seg_phrases, seg_phrase_counts.tolist(), strict=True):
        phrases[phrase] = phrases.get(phrase, 0) + count
    deleted = reader.deleted_docs_set if reader.has_deletions() else ()
    for docnum, title in enumerate(seg_titles):
        if title and docnum not in deleted:
            titles[title] = titles.get(title, 0) + 1


def build_table(readers: list) -> SuggestTable:
    """The table of *readers*' segments, merged from their sidecars."""
    words: dict[str, int] = {}
    phrases: dict[str, int] = {}
    titles: dict[str, int] = {}
    for reader in readers:
        _add_segment(reader, words, phrases, titles)
    return table_from_counts(words, phrases, titles)


def _spellable(kind: int, text: str) -> bool:
    """Whether an entry gets pinyin keys when it is among the MAX_PINYIN_WORDS best."""
    return kind != 2 and len(text) <= MAX_PINYIN_CHARS and bool(_HAN_WORD.match(text))


def table_from_counts(words: dict[str, int], phrases: dict[str, int],
                      titles: dict[str, int]) -> SuggestTable:
    """The lookup table of words, phrases and titles with their document counts."""
    entries = [(-count, 0, len(text), text) for text, count in words.items()]
    entries += [(-count, 1, len(text), text) for text, count in phrases.items()
                if text not in words]
    entries += [(-count, 2, len(text), text) for text, count in titles.items()]
    entries.sort()
    spelled = []
    left = MAX_PINYIN_WORDS
    for _, kind, _, text in entries:
        spell = left > 0 and _spellable(kind, text)
        left -= spell
        spelled.append(spell)
    return _assemble(entries, spelled)


def _assemble(entries: list[tuple[int, int, int, str]], spelled: list[bool],
              known: dict[str, tuple[str, ...]] | None = None) -> SuggestTable:
    """The table of sorted *entries* (minus count, kind, length, text); those *spelled*
    get pinyin keys (*known* ones as given)."""
    keys: list[str] = []
    numbers: list[int] = []
    for number, (_, kind, _, text) in enumerate(entries):
        key = squeeze(fold_or_empty(text)) if kind == 2 else text  # terms are folded already
        if key:
            keys.append(key)
            numbers.append(number)
        if spelled[number]:
            spellings = (known or {}).get(text)
            if spellings is None:
                common, rare = reading_keys(text)
                spellings = (*sorted(common), *(RARE + k for k in sorted(rare)))
            for spelling in spellings:
                keys.append(spelling)
                numbers.append(number)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    sorted_keys = [keys[i] for i in order]
    sorted_numbers = np.array(numbers, dtype=np.int64)[order].astype(np.int32)
    by_entry = np.argsort(sorted_numbers, kind="stable").astype(np.int32)
    entry_starts = np.zeros(len(entries) + 1, dtype=np.int32)
    np.cumsum(np.bincount(sorted_numbers, minlength=len(entries)), out=entry_starts[1:])
    chars: list[int] = []
    char_starts = [0]
    char_entries: list[int] = []
    start = 0
    while start < len(sorted_keys):
        char = sorted_keys[start][0]
        end = bisect.bisect_left(sorted_keys, char + _END, start)
        chars.append(ord(char))
        char_entries += np.unique(sorted_numbers[start:end])[:MAX_LIMIT].tolist()
        char_starts.append(len(char_entries))
        start = end
    texts = Strings.pack([e[3] for e in entries]).narrow()
    packed_keys = Strings.pack(sorted_keys).narrow()
    hashes = np.fromiter((_text_hash(e[3], e[1] == 2) for e in entries), dtype=np.uint64,
                         count=len(entries))
    hash_order = np.argsort(hashes, kind="stable")
    spelled_at = [n for n, spell in enumerate(spelled) if spell]
    spelled_end = len(entries) if len(spelled_at) < MAX_PINYIN_WORDS else spelled_at[-1] + 1
    return SuggestTable({
        "texts_blob": texts.array(), "texts_starts": texts.starts,
        "counts": np.array([-e[0] for e in entries], dtype=np.int32),
        "kinds": np.array([e[1] for e in entries], dtype=np.uint8),
        "keys_blob": packed_keys.array(), "keys_starts": packed_keys.starts,
        "entries": sorted_numbers, "entry_key_starts": entry_starts,
        "entry_key_numbers": by_entry,
        "first_chars": np.array(chars, dtype=np.int32),
        "first_char_starts": np.array(char_starts, dtype=np.int32),
        "first_char_entries": np.array(char_entries, dtype=np.int32),
        "hashes": hashes[hash_order], "hash_entries": hash_order.astype(np.int32),
    }, spelled_end)


def suggest(searcher, prefix: object, limit: int = 10,
            cache: ByteLRU[SuggestTable | TieredTable] | None = None) -> list[Suggestion]:
    """Up to *limit* completions of *prefix*; [] for empty or unusable input."""
    if not isinstance(limit, int) or limit < 1:
        return []
    key = prefix_key(prefix)
    if not key:
        return []
    return suggestion_table(searcher, cache).lookup(key, min(limit, MAX_LIMIT))
