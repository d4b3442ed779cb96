"""Text folding shared by indexing, querying and highlighting.

Everything that is compared is first *folded*: Unicode NFKC (full-width ``ＡＢＣ１２３``
becomes ``abc123``), lower case, and traditional → simplified Chinese with
OpenCC's ``t2s`` tables, so ``認證認可`` and ``认证认可`` are the same string.
:func:`fold_with_map` also returns where each folded character came from, so
highlights can be drawn on the original text without shifting.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import numpy as np

_local = threading.local()
SPACE = re.compile(r"\s+")
_NON_SPACE = re.compile(r"\S+")


def _converter():
    conv = getattr(_local, "t2s", None)
    if conv is None:
        import opencc

        conv = _local.t2s = opencc.OpenCC("t2s")
    return conv


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (other scripts pass through)."""
    if not text or text.isascii():
        return text
    return _converter().convert(text)


@lru_cache(maxsize=64)
def fold(text: str) -> str:
    """NFKC + lower case + simplified Chinese: the form every match is made on.

    Memoised for the last few texts: indexing folds each title and body twice
    (for terms and for the substring column), and OpenCC is the costly part.
    """
    if text.isascii():
        return text.lower()
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def fold_keyword(value: str) -> str:
    """The form an author, category or tag is indexed, filtered and counted under: folded,
    with runs of blanks made one space (``iPhone  13`` = ``iphone 13``). Both back ends."""
    return " ".join(fold(value).split())


@lru_cache(maxsize=65536)
def _nfkc_lower(unit: str) -> str:
    return unicodedata.normalize("NFKC", unit).lower()


#: Characters judged by :func:`_fold_table`: every one seen; those NFKC + lower case change
#: (to what: one character, several or none); those that change length; combining marks.
_SEEN: set[str] = set()
_CHANGED: dict[int, str] = {}
_CHANGED_CHARS: set[str] = set()
_RESIZED: set[str] = set()
_COMBINING: set[str] = set()
_seen_lock = threading.Lock()


#: Characters of a text gathered per call (a long article's set() held the GIL 0.2 s, while
#: the web server's event loop waited for it).
_SET_STEP = 1 << 20


def _fold_table(text: str) -> tuple[dict[int, str], set[str], set[str]] | None:
    """A translate() table folding *text* character by character (NFKC + lower case),
    with the characters of *text* whose folding changes its length and those it changes
    at all; None when *text* has combining marks, which fold together with the character
    before them.

    Each character is judged once per process: snippets fold a whole article per hit,
    and judging its ~1,000 distinct characters each time was most of that cost.  The
    table is shared and may hold characters absent from *text*.
    """
    chars: set[str] = set()
    for start in range(0, len(text), _SET_STEP):  # not one long call: other threads run
        chars.update(text[start : start + _SET_STEP])
    new = chars - _SEEN
    if new:
        with _seen_lock:
            for ch in new:
                folded = _nfkc_lower(ch)
                if unicodedata.combining(ch):
                    _COMBINING.add(ch)
                if folded != ch:
                    _CHANGED[ord(ch)] = folded
                    _CHANGED_CHARS.add(ch)
                if len(folded) != 1:
                    _RESIZED.add(ch)
                _SEEN.add(ch)
    if not chars.isdisjoint(_COMBINING):
        return None
    return _CHANGED, chars & _RESIZED, chars & _CHANGED_CHARS


def translate_changed(text: str, table: dict[int, str], present: set[str]) -> str:
    """``text.translate(table)``, given the characters of *text* that *table* changes.

    ``str.translate`` looks every character up in the dict (0.16 ms for an article of
    760 characters, 40 % of a snippet's folding), while an article usually holds a
    handful of changing characters (full-width punctuation, capitals): replacing each
    of them is a few passes in C.  That gives the same text unless a replacement holds
    a character that is replaced too, where translate() is kept.
    """
    if len(present) > 24 or any(not present.isdisjoint(table[ord(ch)]) for ch in present):
        return text.translate(table)
    for ch in present:
        text = text.replace(ch, table[ord(ch)])
    return text


def _units(text: str) -> list[tuple[int, str]]:
    """(start, unit) for each base character with its combining marks attached."""
    units: list[tuple[int, str]] = []
    for index, ch in enumerate(text):
        if units and unicodedata.combining(ch):
            start, unit = units[-1]
            units[-1] = (start, unit + ch)
        else:
            units.append((index, ch))
    return units


def fold_with_map(text: str, *, drop_space: bool = False) -> tuple[str, list[int]]:
    """Fold *text* and map each folded character back to its index in *text*
    (:func:`fold_with_positions`, with the map as a list)."""
    folded, mapping = fold_with_positions(text, drop_space=drop_space)
    return folded, mapping.tolist()


def fold_with_positions(text: str, *, drop_space: bool = False) -> tuple[str, np.ndarray]:
    """Fold *text* and map each folded character back to its index in *text* (a
    non-decreasing integer array: a list of a long article's positions costs 10x its memory).

    With ``drop_space`` whitespace is removed, which is how phrases are matched
    ("whitespace ignored").  NFKC and case folding are applied per character
    (with its combining marks) so the map is exact even where they change
    lengths; OpenCC then runs on the whole string, keeping its phrase tables,
    and only falls back to per-character conversion in the rare case that a
    phrase conversion changes the length.
    """
    plan = _fold_table(text)
    if plan is not None:
        # Per character, as the loop below does for text without combining marks.
        table, resized, present = plan
        nfkc = translate_changed(text, table, present)
        if resized:
            codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            sizes = np.ones(len(text), dtype=np.int64)
            for ch in resized:
                sizes[codes == ord(ch)] = len(table[ord(ch)])
            mapping = np.repeat(np.arange(len(text)), sizes)
        else:
            mapping = np.arange(len(text))
    else:
        parts: list[str] = []
        spans: list[int] = []
        for start, unit in _units(text):
            piece = _nfkc_lower(unit)
            parts.append(piece)
            spans.extend([start] * len(piece))
        nfkc = "".join(parts)
        mapping = np.array(spans, dtype=np.int64)
    folded = to_simplified(nfkc)
    if len(folded) != len(nfkc):
        folded = "".join(to_simplified(ch) if len(to_simplified(ch)) == 1 else ch for ch in nfkc)
    if drop_space and SPACE.search(folded):
        codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        mapping = mapping[~space_table()[np.minimum(codes, LAST_SPACE)]
                          | (codes > LAST_SPACE)]
        folded = SPACE.sub("", folded)
    return folded, mapping


#: The last code point ``\s`` matches (IDEOGRAPHIC SPACE); tests check every code point.
LAST_SPACE = 0x3000


@lru_cache(maxsize=1)
def space_table() -> np.ndarray:
    r"""Whether ``\s`` matches each code point up to :data:`LAST_SPACE`: one lookup a
    character, where a Python loop over the text's whitespace runs cost 3x more."""
    return np.array([chr(c).isspace() for c in range(LAST_SPACE + 1)], dtype=bool)


def squeeze(text: str) -> str:
    """Folded text with all whitespace removed: the key for exact substring matching."""
    return SPACE.sub("", fold(text))
