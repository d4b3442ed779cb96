"""Suggestion keys: how a typed prefix and an indexed word or title are looked up, for both
back ends (the local suggestion table, the cluster's ``suggest`` keyword field)."""

from __future__ import annotations

import functools
import re
from itertools import product

from ..analysis.lexicon import char_readings, toneless_syllable
from ..analysis.normalize import fold, squeeze

MAX_LIMIT = 100
#: Pinyin spellings / initials kept per word (polyphonic characters multiply them).
MAX_READINGS = 8
#: Longest word given pinyin keys (longer "words" are rare compounds or junk).
MAX_PINYIN_CHARS = 8
MAX_TITLE_CHARS = 200

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")


def suggestible(word: str) -> bool:
    """Words worth completing to: two characters or more, with a Chinese character or a
    letter (not bare numbers or symbols)."""
    return len(word) >= 2 and bool(_HAN.search(word) or _LETTER.search(word)) and \
        "\x00" not in word


def pinyin_keys(word: str) -> set[str]:
    """Toneless spellings (``liaocheng``) and initials (``lc``) of a Chinese word."""
    table = char_readings()
    readings = []
    for ch in word:
        found = table.get(ch)
        if not found:
            return set()
        readings.append(found[:3])
    keys: set[str] = set()
    for combo in product(*readings):
        keys.add("".join(combo))
        keys.add("".join(r[0] for r in combo))
        if len(keys) >= 2 * MAX_READINGS:
            break
    return keys


def common_reading(word: str) -> list[str] | None:
    """How *word* is most often read, as toneless syllables (``长江`` → ``chang jiang``,
    ``长期`` → ``chang qi``): pypinyin's reading of the word where its phrase table has it
    (长 is ``chang`` in 长江 but ``zhang`` in 校长), else each character's most common
    reading; None for a character without a reading."""
    from pypinyin.phrases_dict import phrases_dict

    known = phrases_dict.get(word)
    if known and len(known) == len(word):
        return [_toneless(r[0]) for r in known]
    table = char_readings()
    firsts = [table.get(ch) for ch in word]
    return [f[0] for f in firsts] if all(firsts) else None  # type: ignore[index]


@functools.lru_cache(maxsize=4096)
def _toneless(reading: str) -> str:
    """A toned syllable without its tone (``cháng`` → ``chang``; a few thousand exist)."""
    return toneless_syllable(reading)


def reading_keys(word: str) -> tuple[set[str], set[str]]:
    """:func:`pinyin_keys` of *word* split into those of its common reading (the spelling
    and its initials) and the rest, rare readings that rank after every common one."""
    keys = pinyin_keys(word)
    syllables = common_reading(word)
    if not syllables:
        return keys, set()
    common = {"".join(syllables), "".join(s[0] for s in syllables)} & keys
    return common, keys - common


def fold_or_empty(text: str) -> str:
    """*text* folded, or "" when it cannot be (unusable input is no error here)."""
    try:
        return fold(text)
    except (UnicodeError, ValueError):
        return ""


def prefix_key(prefix: object) -> str:
    """The lookup key of what was typed: folded, without whitespace; "" when unusable."""
    if not isinstance(prefix, str):
        return ""
    try:
        prefix.encode("utf-8")  # lone surrogates cannot be folded or indexed
    except UnicodeError:
        return ""
    return squeeze(fold_or_empty(prefix))[:MAX_TITLE_CHARS]
