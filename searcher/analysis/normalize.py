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

_local = threading.local()
_SPACE = re.compile(r"\s+")
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


def _one_to_one(text: str) -> dict[int, str] | None:
    """A translate() table when NFKC + lower case map every character to exactly one
    (true of CJK text with full-width punctuation), else None.

    Per-character folding equals whole-string folding only without combining marks
    and conjoining jamo, which compose across characters; those take the slow path.
    """
    table: dict[int, str] = {}
    for ch in set(text):
        folded = _nfkc_lower(ch)
        code = ord(ch)
        if len(folded) != 1 or unicodedata.combining(ch) or 0x1100 <= code <= 0x11FF \
                or 0xA960 <= code <= 0xA97F or 0xD7B0 <= code <= 0xD7FF:
            return None
        if folded != ch:
            table[code] = folded
    return table


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
    """Fold *text* and map each folded character back to its index in *text*.

    With ``drop_space`` whitespace is removed, which is how phrases are matched
    ("whitespace ignored").  NFKC and case folding are applied per character
    (with its combining marks) so the map is exact even where they change
    lengths; OpenCC then runs on the whole string, keeping its phrase tables,
    and only falls back to per-character conversion in the rare case that a
    phrase conversion changes the length.
    """
    table = _one_to_one(text)
    if table is not None:
        nfkc = text.translate(table)
        mapping = list(range(len(text)))
    else:
        parts: list[str] = []
        mapping = []
        for start, unit in _units(text):
            piece = _nfkc_lower(unit)
            parts.append(piece)
            mapping.extend([start] * len(piece))
        nfkc = "".join(parts)
    folded = to_simplified(nfkc)
    if len(folded) != len(nfkc):
        folded = "".join(to_simplified(ch) if len(to_simplified(ch)) == 1 else ch for ch in nfkc)
    if drop_space and _SPACE.search(folded):
        parts = [m.span() for m in _NON_SPACE.finditer(folded)]
        mapping = [mapping[i] for start, end in parts for i in range(start, end)]
        folded = "".join(folded[start:end] for start, end in parts)
    return folded, mapping


def squeeze(text: str) -> str:
    """Folded text with all whitespace removed: the key for exact substring matching."""
    return _SPACE.sub("", fold(text))
