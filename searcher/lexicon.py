"""Query-time vocabularies: synonym groups and pinyin → indexed Chinese words.

Pinyin works on the index's own vocabulary: a Latin query such as
``liaocheng`` is split into whole toneless syllables (every possible way),
each syllable expands to the characters that can be read that way, and only
sequences that are *whole words present in the index* are kept (``聊城``).
Nothing fuzzy: partial syllables, initials or near-spellings never match, and
Chinese queries never go through pinyin (so ``景点`` can not match ``经典``).
"""

from __future__ import annotations

import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .normalize import fold

MAX_SYLLABLES = 6
MAX_CANDIDATES = 50_000
_lock = threading.Lock()


def load_synonyms(path: str | Path | None) -> dict[str, list[str]]:
    """Folded word → every word of its group (itself included), from a comma-separated file."""
    if not path:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read synonyms file {path}: {exc.strerror}") from None
    groups: dict[str, list[str]] = {}
    for line in lines:
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        words = [w.strip() for w in line.replace("，", ",").split(",") if w.strip()]
        if len(words) < 2:
            continue
        for word in words:
            key = fold(word)
            merged = groups.get(key, [])
            groups[key] = merged + [w for w in words if w not in merged]
    return groups


@lru_cache(maxsize=1)
def syllable_chars() -> dict[str, str]:
    """Toneless syllable → all characters with that reading (built once, ~0.5 s)."""
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, list[str]] = defaultdict(list)
    for code, readings in pinyin_dict.items():
        char = chr(code)
        for reading in readings.split(","):
            plain = _toneless(reading)
            if plain:
                table[plain].append(char)
                if "ü" in reading:
                    table[plain.replace("u", "v")].append(char)
    return {k: "".join(v) for k, v in table.items()}


def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFKD", reading)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def syllabify(text: str) -> list[list[str]]:
    """Every way to split *text* into whole pinyin syllables (at most MAX_SYLLABLES)."""
    table = syllable_chars()
    longest = max(map(len, table))
    results: list[list[str]] = []

    def walk(start: int, acc: list[str]) -> None:
        if len(acc) > MAX_SYLLABLES:
            return
        if start == len(text):
            results.append(list(acc))
            return
        for end in range(min(len(text), start + longest), start, -1):
            piece = text[start:end]
            if piece in table:
                acc.append(piece)
                walk(end, acc)
                acc.pop()

    walk(0, [])
    return results


def pinyin_words(text: str, has_prefix: Callable[[str], bool],
                 is_word: Callable[[str], bool]) -> list[str]:
    """Indexed words whose toneless pinyin is exactly *text* (see module docstring)."""
    if not text.isascii() or not text.isalpha() or len(text) < 2:
        return []
    table = syllable_chars()
    found: list[str] = []
    for syllables in syllabify(text):
        if len(syllables) < 2:
            continue  # one syllable is too ambiguous (liao: 了 聊 辽 料 ...)
        prefixes = [""]
        for i, syllable in enumerate(syllables):
            last = i == len(syllables) - 1
            grown = [p + ch for p in prefixes for ch in table[syllable]]
            if len(grown) > MAX_CANDIDATES:
                grown = grown[:MAX_CANDIDATES]
            prefixes = [g for g in grown if (is_word(g) if last else has_prefix(g))]
            if not prefixes:
                break
        found.extend(prefixes)
    return sorted(set(found))


def pinyin_lookup(engine: Any) -> Callable[[str], list[str]]:
    """A function from a Latin query word to the matching words in *engine*'s index."""

    def lookup(text: str) -> list[str]:
        reader = engine._searcher().reader()

        def is_word(word: str) -> bool:
            return reader.frequency("body", word) > 0 or reader.frequency("title", word) > 0

        def has_prefix(prefix: str) -> bool:
            for field in ("body", "title"):
                for _term in reader.expand_prefix(field, prefix):
                    return True
            return False

        with _lock:
            return pinyin_words(text, has_prefix, is_word)

    return lookup
