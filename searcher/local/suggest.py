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
import re
import threading
import uuid
import zlib
from collections import Counter

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
from .suggest_table import (
    END_KEY,
    RARE,
    TABLE_ARRAYS,
    Strings,
    SuggestTable,
    TieredTable,
    decode_arrays,
    encode_arrays,
    text_hash,
)
from .whoosh_adapter import LARGE_SEGMENT_DOCS, field_doc_frequencies, reader_segment_id

log = logging.getLogger(__name__)

SIDECAR = "suggest"
#: The words, titles and phrases are NUL-separated UTF-8, deflated (``z``): half the bytes.
SIDECAR_KEYS = ("zwords", "counts", "ztitles", "zphrases", "phrase_counts")
#: The merged table, saved by the index run (or the first process that needs it), keyed by
#: the segments; over the base table of the large segments (see TieredTable).
TABLE_FILE = "suggest.table"
BASE_FILE = "suggest.base"
#: What an older version saved (a pickle): removed when a table is saved.
OLD_TABLE_FILE = "suggest.table.pickle"
#: Bump when SuggestTable changes: an older saved table is then rebuilt.
TABLE_VERSION = 7
#: The most frequent words and phrases get pinyin keys (bounds the first call's work).
MAX_PINYIN_WORDS = 40_000
MAX_PHRASE = 8

_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")


# -- per-segment parts ----------------------------------------------------------------------
def segment_arrays(word_counts: dict, titles: list[str],
                   phrase_counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """The sidecar arrays of one segment: words and phrases with document counts, one title
    per document."""
    words = [w for w in word_counts if isinstance(w, str) and suggestible(w)]
    phrases = [p for p in (phrase_counts or {}) if p not in word_counts]
    return {
        "zwords": _pack(words),
        "counts": np.array([word_counts[w] for w in words], dtype=np.int32),
        "ztitles": _pack([" ".join(t.split())[:MAX_TITLE_CHARS] for t in titles]),
        "zphrases": _pack(phrases),
        "phrase_counts": np.array([phrase_counts[p] for p in phrases] if phrase_counts else [],
                                  dtype=np.int32),  # document counts: int32 is plenty
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
    return np.frombuffer(zlib.compress(text.encode("utf-8", "surrogatepass"), 6),
                         dtype=np.uint8)


def _unpack(array: np.ndarray) -> list[str]:
    """The strings of :func:`_pack` ([] when the bytes do not inflate: the callers check
    the count against the segment's and compute the data again)."""
    try:
        data = zlib.decompress(np.asarray(array).tobytes()) if len(array) else b""
    except zlib.error:
        return []
    return data.decode("utf-8", "surrogatepass").split("\0") if data else []


def segment_phrases(reader) -> dict[str, int]:
    """A segment's suggestion phrases with their document counts, from its sidecar ({} when
    it has none).  The index keeps no word order, so a merge cannot recompute them from
    the merged segment: it sums its sources' (counting, until the next full rebuild, the
    deleted documents of the segments it merged)."""
    arrays = load_arrays(reader, SIDECAR, ("zphrases", "phrase_counts"))
    if arrays is None:
        return {}
    phrases = _unpack(arrays["zphrases"])
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
    words, titles, phrases = (_unpack(arrays[k]) for k in ("zwords", "ztitles", "zphrases"))
    if len(titles) != reader.doc_count_all() or len(words) != len(arrays["counts"]) \
            or len(phrases) != len(arrays["phrase_counts"]):
        log.warning("suggestion data of segment %s is inconsistent; recomputing it",
                    reader.segment().segment_id())
        arrays = reader_arrays(reader)
        words, titles, phrases = (_unpack(arrays[k]) for k in ("zwords", "ztitles", "zphrases"))
    return (words, np.asarray(arrays["counts"]), titles, phrases,
            np.asarray(arrays["phrase_counts"]))


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
    arrays = load_arrays(reader, SIDECAR, ("ztitles",))
    titles = _unpack(arrays["ztitles"]) if arrays is not None else []
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
        end = bisect.bisect_left(sorted_keys, char + END_KEY, start)
        chars.append(ord(char))
        char_entries += np.unique(sorted_numbers[start:end])[:MAX_LIMIT].tolist()
        char_starts.append(len(char_entries))
        start = end
    texts = Strings.pack([e[3] for e in entries]).narrow()
    packed_keys = Strings.pack(sorted_keys).narrow()
    hashes = np.fromiter((text_hash(e[3], e[1] == 2) for e in entries), dtype=np.uint32,
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
