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
import logging
import os
import pickle
import re
import struct
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field

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
from .caching import ENTRY_OVERHEAD, ByteLRU, heap_bytes, text_bytes
from .integrity import segment_sums
from .sidecar import load_arrays, save_arrays, segment_folder, segment_key
from .whoosh_adapter import field_doc_frequencies

log = logging.getLogger(__name__)

SIDECAR = "suggest"
SIDECAR_KEYS = ("words", "counts", "titles", "phrases", "phrase_counts")
#: The merged table, saved by the first process that needs it (keyed by the segments).
TABLE_FILE = "suggest.table.pickle"
#: Bump when SuggestTable changes: an older saved table is then rebuilt.
TABLE_VERSION = 3
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
@dataclass
class SuggestTable:
    """Entries best first, and sorted lookup keys pointing at entry numbers."""

    texts: list[str]
    counts: np.ndarray
    kinds: list[str]
    keys: list[str]
    entries: np.ndarray  # entry number of each key

    entry_keys: list[tuple[str, ...]]  # the keys of each entry
    #: The best MAX_LIMIT entries of every one-character prefix (the widest key ranges).
    first_chars: dict[str, list[int]] = field(default_factory=dict)

    def lookup(self, prefix: str, limit: int) -> list[Suggestion]:
        best = self.best(prefix, limit)
        if len(best) < limit and prefix.isascii() and prefix.isalpha():
            seen = set(best)
            best += [i for i in self.best(RARE + prefix, limit + len(best))
                     if i not in seen][:limit - len(best)]
        return [Suggestion(self.texts[i], int(self.counts[i]), self.kinds[i]) for i in best]

    def best(self, prefix: str, limit: int) -> list[int]:
        """The best *limit* entries with a key starting with *prefix*, best first."""
        if len(prefix) == 1:
            return self.first_chars.get(prefix, [])[:limit]
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_left(self.keys, prefix + _END, lo)
        if lo >= hi:
            return []
        # A short prefix covers a large share of the keys: walking the entries best first
        # finds *limit* of them after about limit * entries / range steps, which beats
        # sorting out the range; a narrower range is partially sorted directly.
        best = None
        if hi - lo >= SCAN_RANGE and limit * len(self.texts) <= SCAN_STEPS * (hi - lo):
            best = self.scan(prefix, limit, 4 * SCAN_STEPS)
        if best is None:
            best = self.partition(lo, hi, limit)
        return best

    def scan(self, prefix: str, limit: int, steps: int | None = None) -> list[int] | None:
        """The best *limit* entries with a key starting with *prefix*, in entry order
        (None when that takes more than *steps* entries: the caller sorts the range)."""
        found: list[int] = []
        for number, keys in enumerate(self.entry_keys):
            if steps is not None and number >= steps:
                return None if len(found) < limit else found
            for key in keys:
                if key.startswith(prefix):
                    found.append(number)
                    break
            if len(found) == limit:
                break
        return found

    def partition(self, lo: int, hi: int, limit: int) -> list[int]:
        """The best *limit* entries among the keys ``lo:hi``."""
        ids = self.entries[lo:hi]
        want = min(len(ids), limit * 4)
        if want < len(ids):
            best = np.unique(np.partition(ids, want - 1)[:want])
            if len(best) < limit:  # many keys of the same entries: take them all
                best = np.unique(ids)
        else:
            best = np.unique(ids)
        return best[:limit].tolist()


_build_lock = threading.Lock()


def suggestion_table(searcher, cache: ByteLRU[SuggestTable] | None = None) -> SuggestTable:
    """The merged table of a searcher's segments (built once per set of segments, saved
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
                table = build_table(readers)
                _save_table(folder, key, table)
            if cache is None:
                return table
            cache.put(key, table, heap_bytes(table.counts, table.entries)
                        + text_bytes(table.texts) + text_bytes(table.keys)
                        + 120 * len(table.entry_keys) + ENTRY_OVERHEAD)
    return table


#: The saved table ends with a footer (as Lucene's files do): this mark, then the CRC32
#: and length of the pickle before it.
FOOTER_MARK = b"searcher-crc32"
_FOOTER = struct.Struct(f">{len(FOOTER_MARK)}sIQ")


def _sealed(data: bytes) -> bytes:
    return data + _FOOTER.pack(FOOTER_MARK, zlib.crc32(data), len(data))


def _unsealed(data: bytes) -> bytes:
    """The pickle of a saved table; ValueError when its footer does not match it."""
    if len(data) < _FOOTER.size:
        raise ValueError(f"{len(data)} bytes: shorter than its footer")
    mark, crc, size = _FOOTER.unpack_from(data, len(data) - _FOOTER.size)
    body = data[: len(data) - _FOOTER.size]
    if mark != FOOTER_MARK or size != len(body):
        raise ValueError("no valid footer (truncated or overwritten)")
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch (its bytes changed after it was written)")
    return body


def table_problem(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with a saved table (None when it is intact or absent: it is optional)."""
    try:
        with open(path, "rb") as handle:
            _unsealed(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


def _load_table(folder: str | None, key: tuple) -> SuggestTable | None:
    """The merged table another process saved for the same segments, if any (a damaged
    one is ignored, with a warning, and replaced)."""
    if folder is None:
        return None
    path = os.path.join(folder, TABLE_FILE)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    try:
        version, saved_key, table = pickle.loads(_unsealed(data))
    except ValueError as exc:
        log.warning("damaged suggestion table %s (%s): building it again", path, exc)
        return None
    except (EOFError, pickle.UnpicklingError, TypeError, AttributeError, ImportError):
        return None
    if version != TABLE_VERSION or not isinstance(table, SuggestTable) \
            or _segments(saved_key) != _segments(key):
        return None
    return table


def _segments(key: tuple) -> tuple | None:
    """A table key without its folder: the same segments in a copied or moved index folder
    (a backup restored elsewhere) have the same table."""
    try:
        return tuple((segment[1], count) for segment, count in key)
    except (TypeError, ValueError, IndexError):
        return None


def _save_table(folder: str | None, key: tuple, table: SuggestTable) -> None:
    """Save the merged table beside the segments (atomically), so the next process loads it
    instead of merging again; a read-only index just keeps it in memory."""
    if folder is None:
        return
    path = os.path.join(folder, TABLE_FILE)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        data = pickle.dumps((TABLE_VERSION, key, table), protocol=pickle.HIGHEST_PROTOCOL)
        with open(tmp, "wb") as handle:
            handle.write(_sealed(data))
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot save the suggestion table in %s: %s", folder, exc)
        with contextlib.suppress(OSError):
            os.remove(tmp)


def build_table(readers: list) -> SuggestTable:
    words: dict[str, int] = {}
    phrases: dict[str, int] = {}
    titles: dict[str, int] = {}
    for reader in readers:
        seg_words, seg_counts, seg_titles, seg_phrases, seg_phrase_counts = _segment_part(reader)
        for word, count in zip(seg_words, seg_counts.tolist(), strict=True):
            words[word] = words.get(word, 0) + count
        for phrase, count in zip(seg_phrases, seg_phrase_counts.tolist(), strict=True):
            phrases[phrase] = phrases.get(phrase, 0) + count
        deleted = reader.deleted_docs_set if reader.has_deletions() else ()
        for docnum, title in enumerate(seg_titles):
            if title and docnum not in deleted:
                titles[title] = titles.get(title, 0) + 1
    return table_from_counts(words, phrases, titles)


def table_from_counts(words: dict[str, int], phrases: dict[str, int],
                      titles: dict[str, int]) -> SuggestTable:
    """The lookup table of words, phrases and titles with their document counts."""
    entries = [(-count, 0, len(text), text) for text, count in words.items()]
    entries += [(-count, 1, len(text), text) for text, count in phrases.items()
                if text not in words]
    entries += [(-count, 2, len(text), text) for text, count in titles.items()]
    entries.sort()
    texts = [e[3] for e in entries]
    kinds = [KINDS[e[1]] for e in entries]
    keys: list[str] = []
    numbers: list[int] = []
    spelled = 0
    for number, (_, kind, _, text) in enumerate(entries):
        key = squeeze(fold_or_empty(text)) if kind == 2 else text  # terms are folded already
        if key:
            keys.append(key)
            numbers.append(number)
        if kind != 2 and spelled < MAX_PINYIN_WORDS and _HAN_WORD.match(text) \
                and len(text) <= MAX_PINYIN_CHARS:
            spelled += 1
            common, rare = reading_keys(text)
            for spelling in (*common, *(RARE + k for k in rare)):
                keys.append(spelling)
                numbers.append(number)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    entry_keys: list[list[str]] = [[] for _ in entries]
    for key, number in zip(keys, numbers, strict=True):
        entry_keys[number].append(key)
    sorted_keys = [keys[i] for i in order]
    sorted_numbers = np.array(numbers, dtype=np.int64)[order]
    first_chars: dict[str, list[int]] = {}
    start = 0
    while start < len(sorted_keys):
        char = sorted_keys[start][0]
        end = bisect.bisect_left(sorted_keys, char + _END, start)
        first_chars[char] = np.unique(sorted_numbers[start:end])[:MAX_LIMIT].tolist()
        start = end
    return SuggestTable(texts, np.array([-e[0] for e in entries], dtype=np.int64), kinds,
                        sorted_keys, sorted_numbers, [tuple(k) for k in entry_keys], first_chars)


def suggest(searcher, prefix: object, limit: int = 10,
            cache: ByteLRU[SuggestTable] | None = None) -> list[Suggestion]:
    """Up to *limit* completions of *prefix*; [] for empty or unusable input."""
    if not isinstance(limit, int) or limit < 1:
        return []
    key = prefix_key(prefix)
    if not key:
        return []
    return suggestion_table(searcher, cache).lookup(key, min(limit, MAX_LIMIT))
