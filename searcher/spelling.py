"""'Did you mean': homophone typos from pinyin input (``聊成`` → ``聊城``).

Chinese typos are mostly homophones: a pinyin input method offers several characters for
a syllable and the wrong one gets picked.  Edit distance over letters means nothing for
Hanzi, so the correction is looked up by sound, in the index's own vocabulary:

1. The *units* of each plain query word: its Chinese run as a whole, else each of its
   query terms of two or more characters and each run of one-character terms (a typo
   usually breaks a word into single characters: ``聊成`` → ``聊``, ``成``).
2. A unit is *suspect* when no document holds it verbatim, or when at most
   :data:`FEW_DOCS` documents do and it is not an indexed word at all (a typo others
   made too).  A word the index knows, however rare, is never suspect: a correctly typed
   word rarer than a homophone is left alone.
3. Its candidates are the indexed words with the same toneless pinyin and as many
   characters (any reading of a polyphonic character); only when there are none, the
   *near* spellings: one syllable changed between front and back nasal (``an``/``ang``,
   ``en``/``eng``, ``in``/``ing``) or ``zh``/``z``, ``ch``/``c``, ``sh``/``s``.
4. The best candidate shares the most characters with the unit (a typo is usually one
   character), then is held by the most documents; it must be held by at least
   :data:`MIN_DOCS` (:data:`MIN_NEAR_DOCS` for a near spelling) and by
   :data:`RATIO` times as many documents as the unit.

The corrected query keeps every other word (and the operators) as typed.  Both back ends
call :func:`did_you_mean` with a :class:`Lookup` of their own (document counts and the
pinyin vocabulary), so they offer the same corrections.  The hits stay those of the query
as typed: the correction is offered, not searched in its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Protocol

from .analysis.lexicon import char_readings
from .analysis.normalize import fold, fold_with_map
from .analysis.tokens import iter_terms
from .query import And, Node, Or, Word

#: A unit held verbatim by at most this many documents may still be a typo (when it is
#: no indexed word at all: others made the same slip).
FEW_DOCS = 2
#: Documents a same-spelling candidate must be held by (a near spelling: MIN_NEAR_DOCS).
MIN_DOCS = 1
MIN_NEAR_DOCS = 3
#: ... and this many times the documents holding the unit (when some do).
RATIO = 10
#: Longest Chinese run corrected as one unit (the pinyin table's words are short).
MAX_UNIT = 8
#: Most query terms one span of a run may join, and the longest window of characters.
MAX_TERMS = 3
MAX_WINDOW = 4
#: Spellings tried per unit (polyphonic characters multiply them).
MAX_SPELLINGS = 32

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))


class Lookup(Protocol):
    """What a back end answers for the check (each call may batch several texts)."""

    def counts(self, units: list[str]) -> dict[str, tuple[int, bool]]:
        """Each unit → (documents holding it verbatim, whether it is an indexed word)."""
        ...

    def homophones(self, spellings: list[str]) -> dict[str, int]:
        """Indexed words spelled by any of *spellings* → documents holding each."""
        ...


@dataclass(frozen=True)
class _Unit:
    word: int  # index of the query word
    start: int  # span in the folded word
    end: int
    text: str


def plain_words(node: Node) -> list[Word]:
    """The non-negated plain words of a query, left to right (what may be corrected)."""
    if isinstance(node, Word):
        return [node] if node.field in (None, "title", "body") else []
    if isinstance(node, (And, Or)):
        return [w for item in node.items for w in plain_words(item)]
    return []


def units_of(text: str, cut: Callable[[str], list[str]] | None = None
             ) -> list[tuple[tuple[int, int], list[tuple[int, int]]]]:
    """Spans of the folded *text* to check, per Chinese run: the whole run, and every
    other span of up to MAX_TERMS consecutive query terms
    with two to MAX_UNIT characters (a slip often cuts a word apart: ``分部式`` is cut
    ``分部``, ``式``; ``线城池`` is ``线``, ``城池``)."""
    folded = fold(text)
    out: list[tuple[tuple[int, int], list[tuple[int, int]]]] = []
    for run in _HAN_RUN.finditer(folded):
        if len(run.group()) < 2:
            continue
        whole = (run.start(), run.end())
        terms = [(t.start, t.end) for t in iter_terms(run.group(), extras=False, cut=cut)]
        parts = []
        for i in range(len(terms)):
            for j in range(i, min(i + MAX_TERMS, len(terms))):
                size = terms[j][1] - terms[i][0]
                span = (run.start() + terms[i][0], run.start() + terms[j][1])
                if 2 <= size <= MAX_UNIT and span != whole:
                    parts.append(span)
        # Character windows too: the wrong character may have joined its neighbour into
        # another word (容气化 is cut 容, 气化).
        for size in range(2, min(MAX_WINDOW, len(run.group())) + 1):
            parts.extend((run.start() + i, run.start() + i + size)
                         for i in range(len(run.group()) - size + 1))
        out.append((whole, [p for p in dict.fromkeys(parts) if p != whole]))
    return out


def syllables(unit: str) -> list[tuple[str, ...]]:
    """The toneless readings of *unit* as syllable tuples (several for polyphonic
    characters, at most MAX_SPELLINGS)."""
    table = char_readings()
    readings = [table.get(ch) or () for ch in unit]
    if not all(readings):
        return []
    out = []
    for combo in product(*readings):
        out.append(combo)
        if len(out) >= MAX_SPELLINGS:
            break
    return out


def near_syllables(syllable: str) -> list[str]:
    """Readings one confusion away: front/back nasal, zh/z, ch/c, sh/s."""
    near = []
    if syllable.endswith("ng"):
        near.append(syllable[:-1])
    elif syllable.endswith("n"):
        near.append(syllable + "g")
    for retroflex, flat in _INITIALS:
        if syllable.startswith(retroflex):
            near.append(flat + syllable[len(retroflex):])
        elif syllable.startswith(flat) and not syllable.startswith(retroflex):
            near.append(retroflex + syllable[len(flat):])
    return near


def spellings(unit: str, near: bool) -> list[str]:
    """The exact toneless spellings of *unit*, or (*near*) those with one syllable changed."""
    combos = syllables(unit)
    if not near:
        return list(dict.fromkeys("".join(c) for c in combos))
    out: dict[str, None] = {}
    exact = {"".join(c) for c in combos}
    for combo in combos:
        for i, syllable in enumerate(combo):
            for other in near_syllables(syllable):
                spelled = "".join((*combo[:i], other, *combo[i + 1:]))
                if spelled not in exact:
                    out[spelled] = None
    return list(out)[: MAX_SPELLINGS * 4]


def best(unit: str, count: int, candidates: dict[str, int], minimum: int) -> str | None:
    """The candidate to offer for *unit* (held by *count* documents), or None."""
    def shared(word: str) -> int:
        return sum(a == b for a, b in zip(word, unit, strict=True))

    least = len(unit) - max(1, len(unit) // 2)  # a typo keeps most of the word
    fitting = [(shared(w), n, w) for w, n in candidates.items()
               if len(w) == len(unit) and w != unit and shared(w) >= least
               and n >= max(minimum, RATIO * count)]
    if not fitting:
        return None
    fitting.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return fitting[0][2]


def correct_unit(unit: str, count: int, lookup: Lookup) -> str | None:
    """The correction of one suspect unit: a same-spelling word, else a near one."""
    if not _HAN.match(unit):
        return None
    found = best(unit, count, lookup.homophones(spellings(unit, near=False)), MIN_DOCS)
    if found is None:
        found = best(unit, count, lookup.homophones(spellings(unit, near=True)), MIN_NEAR_DOCS)
    return found


def suspect(count: int, indexed: bool) -> bool:
    return count == 0 or (count <= FEW_DOCS and not indexed)


def _plans(node: Node, cut: Callable[[str], list[str]] | None
           ) -> tuple[list[Word], list[tuple[int, str, tuple[int, int],
                                             list[tuple[int, int]]]]]:
    words = plain_words(node)
    plans = []
    for number, word in enumerate(words):
        folded = fold(word.text)
        for whole, parts in units_of(word.text, cut):
            plans.append((number, folded, whole, parts))
    return words, plans


def first_units(node: Node, cut: Callable[[str], list[str]] | None = None) -> list[str]:
    """The texts :func:`did_you_mean` counts first (a back end may count them along with
    the search and pass the counts in)."""
    _words, plans = _plans(node, cut)
    return list({folded[whole[0]:whole[1]]: None for _, folded, whole, _parts in plans})


def did_you_mean(query: str, node: Node, lookup: Lookup,
                 cut: Callable[[str], list[str]] | None = None,
                 counted: dict[str, tuple[int, bool]] | None = None) -> str | None:
    """The query with its homophone typos corrected, or None when nothing needs it.

    A query needing no correction costs one :meth:`Lookup.counts` call for its Chinese
    runs (:func:`first_units`; warm: the search itself just looked the same strings up),
    none when *counted* has them; the spans inside a run are only counted when the run
    is suspect."""
    words, plans = _plans(node, cut)
    first = first_units(node, cut)
    if not first:
        return None
    counts = counted if counted is not None and all(u in counted for u in first) \
        else lookup.counts(first)
    fixes: dict[int, list[tuple[int, int, str]]] = {}
    for number, folded, whole, parts in plans:
        fixes.setdefault(number, []).extend(_fix_run(folded, whole, parts, counts, lookup))
    if not any(fixes.values()):
        return None
    return _rewrite(query, words, fixes)


def _fix_run(folded: str, whole: tuple[int, int], parts: list[tuple[int, int]],
             counts: dict[str, tuple[int, bool]], lookup: Lookup) -> list[tuple[int, int, str]]:
    """Corrections of one Chinese run: none when the run is held verbatim; the whole run's
    when it is suspect and has one; else, when no document holds it, those of its spans,
    longest first, apart.

    A run that some document holds verbatim is text someone wrote, so none of its spans
    is a slip either, even one that is no word (震以 of 山县发生地震以来): it is counted
    once, and its spans (thirty-odd in pasted text) only when no document holds it, since
    counting them in every segment is the costliest step of a pasted query."""
    count, indexed = counts[folded[whole[0]:whole[1]]]
    if whole[1] - whole[0] <= MAX_UNIT:
        if not suspect(count, indexed):
            return []
        fixed = correct_unit(folded[whole[0]:whole[1]], count, lookup)
        if fixed is not None:
            return [(whole[0], whole[1], fixed)]
    if count:
        return []
    missing = [folded[a:b] for a, b in parts if folded[a:b] not in counts]
    if missing:
        counts = {**counts, **lookup.counts(list(dict.fromkeys(missing)))}
    chosen: list[tuple[int, int, str]] = []
    for a, b in sorted(parts, key=lambda span: (span[0] - span[1], span[0])):
        if any(a < end and start < b for start, end, _ in chosen):
            continue
        count, indexed = counts[folded[a:b]]
        # Inside a run held nowhere, a span that is no indexed word may be the slip even
        # where it occurs across words (发部 of 开发部): the RATIO test decides.
        if count and indexed:
            continue
        fixed = correct_unit(folded[a:b], count, lookup)
        if fixed is not None:
            chosen.append((a, b, fixed))
    return chosen


def _rewrite(query: str, words: list[Word], fixes: dict[int, list[tuple[int, int, str]]]
             ) -> str | None:
    """*query* with each fixed word's spans replaced (in the caller's characters)."""
    out = query
    cursor = 0
    for number, word in enumerate(words):
        at = out.find(word.text, cursor)
        if at < 0:
            continue
        text = word.text
        changes = sorted(fixes.get(number, []), reverse=True)
        if changes:
            _folded, mapping = fold_with_map(text)
            for a, b, fixed in changes:
                start = mapping[a]
                end = mapping[b] if b < len(mapping) else len(text)
                if fold(text[start:end]) != text[start:end] and len(fixed) == end - start:
                    fixed = _as_typed(fixed)  # typed in traditional script: offer it so
                text = text[:start] + fixed + text[end:]
        out = out[:at] + text + out[at + len(word.text):]
        cursor = at + len(text)
    return out if out != query else None


def _as_typed(word: str) -> str:
    """*word* in traditional script (the correction of a word typed that way)."""
    import opencc

    converted = opencc.OpenCC("s2t").convert(word)
    return converted if len(converted) == len(word) else word
