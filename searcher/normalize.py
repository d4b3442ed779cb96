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


def fold(text: str) -> str:
    """NFKC + lower case + simplified Chinese: the form every match is made on."""
    if text.isascii():
        return text.lower()
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    return fold(ch)


def fold_with_map(text: str, *, drop_space: bool = False) -> tuple[str, list[int]]:
    """Fold *text* and map each folded character back to its index in *text*.

    With ``drop_space`` whitespace is removed, which is how phrases are matched
    ("whitespace ignored").  When folding keeps the length (the usual case) the
    whole string is folded at once so OpenCC can use its phrase tables; else it
    falls back to character-by-character folding to keep the map exact.
    """
    folded = fold(text)
    if len(folded) == len(text):
        mapping = list(range(len(text)))
    else:
        parts: list[str] = []
        mapping = []
        for index, ch in enumerate(text):
            piece = _fold_char(ch)
            parts.append(piece)
            mapping.extend([index] * len(piece))
        folded = "".join(parts)
    if drop_space:
        keep = [i for i, ch in enumerate(folded) if not ch.isspace()]
        folded = "".join(folded[i] for i in keep)
        mapping = [mapping[i] for i in keep]
    return folded, mapping


def squeeze(text: str) -> str:
    """Folded text with all whitespace removed: the key for exact substring matching."""
    return _SPACE.sub("", fold(text))
