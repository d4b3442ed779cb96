"""Snippets: the best fragment of a document, with exact highlight spans.

Matching is done on folded, whitespace-free text (the same form used for
searching) and mapped back to the original characters, so highlights never
shift by a character, overlapping matches merge into whole spans
(``聊城市``, not ``聊城`` + ``城市``), and traditional-script or full-width
text is highlighted where the simplified query matched it.  The snippet is
plain text plus ``[start, end)`` spans; turning spans into markup is the
caller's job, so document text can never become markup by accident.

Any article can be a hit, so the cost must not explode with what it holds (one word
repeated 100,000 times, a 10 MB line): occurrences are found with array operations over
the folded text, each needle's occurrences are kept as two sorted arrays (starts, ends),
and the window is chosen with one binary search per candidate window and needle, so a
snippet costs O(matches · log matches) and only the chosen window is built.  The steps
check the caller's time limit (:mod:`searcher.deadline`), and folding a long text, the
one step that cannot stop midway, is not started when its estimated cost would pass it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .analysis.normalize import fold_with_positions, squeeze
from .deadline import check_time_limit

DEFAULT_WIDTH = 120
#: Characters folded and searched per second at first, kept low (one idle core does 10-30
#: million): the estimate that keeps a long article's folding from starting when the limit
#: is near.  Texts of LEARN_FROM characters or more teach the process its actual rate (on a
#: loaded machine, a few times lower), never above this one.
FOLD_RATE = 5_000_000
LEARN_FROM = 100_000
_seconds_per_char = 1 / FOLD_RATE
#: Characters of text whose candidate windows are scored in one step (the time limit is
#: checked between steps).
CHUNK = 1 << 16
#: A window may start after one of these when one is near its first match.
BREAKS = "。！？；\n!?;"
#: How far before its first match a window may start.
LEAD = 20

_BREAK_CODES = np.array([ord(c) for c in BREAKS], dtype=np.uint32)


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]


@dataclass(frozen=True)
class _Occurrences:
    """Every occurrence of one needle, as original-text spans ``[starts[i], ends[i])``.

    Both arrays are non-decreasing (the folding map is), so the occurrence with the
    smallest end among those starting at or after a point is the first of them."""

    needle: str
    starts: np.ndarray
    ends: np.ndarray


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _find_all(codes: np.ndarray, needle: np.ndarray) -> np.ndarray:
    """Where *needle* starts in *codes*, overlapping occurrences included, ascending."""
    last = len(codes) - len(needle)
    if last < 0:
        return np.empty(0, dtype=np.intp)
    found = np.flatnonzero(codes[: last + 1] == needle[0])
    for k in range(1, len(needle)):
        if not len(found):
            break
        check_time_limit()
        found = found[codes[found + k] == needle[k]]
    return found


def _occurrences(text: str, needles: Iterable[str]) -> list[_Occurrences]:
    """The occurrences of each distinct needle found in *text* (sorted by needle)."""
    distinct = sorted({n for n in needles if n})
    if not distinct or not text:
        return []
    global _seconds_per_char
    check_time_limit(len(text) * _seconds_per_char)
    started = time.monotonic()
    folded, mapping = fold_with_positions(text, drop_space=True)
    check_time_limit()
    codes = _codes(folded)
    found: list[_Occurrences] = []
    for needle in distinct:
        at = _find_all(codes, _codes(needle))
        if len(at):
            found.append(_Occurrences(needle, mapping[at], mapping[at + len(needle) - 1] + 1))
        check_time_limit()
    if len(text) >= LEARN_FROM:  # half the last text's rate, half what was known
        seen = (time.monotonic() - started) / len(text)
        _seconds_per_char = max((_seconds_per_char + seen) / 2, 1 / FOLD_RATE)
    return found


def find_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int, str]]:
    """Every occurrence of each (squeezed) needle in *text*, as original-text spans."""
    return [(s, e, o.needle) for o in _occurrences(text, needles)
            for s, e in zip(o.starts.tolist(), o.ends.tolist(), strict=True)]


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of overlapping or touching spans, sorted."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def highlight_all(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Merged highlight spans over the whole of *text*."""
    found = _occurrences(text, needles)
    if not found:
        return []
    starts = np.concatenate([o.starts for o in found])
    ends = np.concatenate([o.ends for o in found])
    order = np.argsort(starts, kind="stable")  # sorted runs: linear
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)  # the end of the run of spans so far
    first = np.ones(len(starts), dtype=bool)
    first[1:] = starts[1:] > reach[:-1]  # a gap before it: a new merged span
    heads = np.flatnonzero(first)
    tails = np.append(heads[1:] - 1, len(starts) - 1)
    return list(zip(starts[heads].tolist(), reach[tails].tolist(), strict=True))


def make_snippet(text: str, needles: Iterable[str], width: int = DEFAULT_WIDTH) -> Snippet:
    """The *width*-character window with the most distinct needles, and its spans.

    Each candidate window starts a little before a match (after a sentence
    break when one is near) or at the match; it is scored on exactly the text
    it would show: the number of distinct needles wholly inside, then their
    total length, then the earliest start.
    """
    found = _occurrences(text, needles)
    if len(text) <= width:
        start, end = 0, len(text)
    elif not found:
        start, end = 0, width
    else:
        start = _best_start(text, found, width)
        end = min(len(text), start + width)
    inside = merge(span for o in found for span in _clipped(o, start, end))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix)
    return Snippet(prefix + text[start:end].replace("\n", " ") + suffix,
                   [(s + shift, e + shift) for s, e in inside])


def _clipped(found: _Occurrences, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The occurrences overlapping ``[start, end)``, clipped to it, relative to *start*."""
    lo = int(np.searchsorted(found.ends, start, "right"))  # the first ending after start
    hi = int(np.searchsorted(found.starts, end, "left"))  # the first starting at/after end
    for s, e in zip(found.starts[lo:hi].tolist(), found.ends[lo:hi].tolist(), strict=True):
        yield max(s, start) - start, min(e, end) - start


def _best_start(text: str, found: list[_Occurrences], width: int) -> int:
    """The start of the best window (see :func:`make_snippet`) among those starting at a
    match or at its soft start.

    Candidates are scored a block of text at a time, in text order, so the first best is
    the earliest, and the search stops at the first window holding every needle: an
    article repeating the query's words is settled in its first block."""
    # One number per window: needles inside, then their total length (weight > any total).
    weight = sum(len(o.needle) for o in found) + 1
    everything = sum(weight + len(o.needle) for o in found)
    best, best_key = 0, -1
    block = 0
    while True:
        ws = _candidates(text, found, block, block + CHUNK)
        if len(ws):
            key = np.zeros(len(ws), dtype=np.int64)
            for o in found:
                # The first occurrence starting in the window ends first (see _Occurrences).
                j = np.minimum(np.searchsorted(o.starts, ws, "left"), len(o.starts) - 1)
                inside = (o.starts[j] >= ws) & (o.ends[j] <= ws + width)
                key += inside * (weight + len(o.needle))
            k = int(np.argmax(key))  # the earliest of the block's best
            if key[k] > best_key:
                best, best_key = int(ws[k]), int(key[k])
            if best_key == everything:
                return best
        check_time_limit()
        # The next block starts where the next candidate can be (a match's soft start).
        block += CHUNK
        later = [int(o.starts[at]) for o in found
                 if (at := int(np.searchsorted(o.starts, block, "left"))) < len(o.starts)]
        if not later:
            return best
        block = max(block, min(later) - LEAD)


def _candidates(text: str, found: list[_Occurrences], lo: int, hi: int) -> np.ndarray:
    """The candidate window starts in ``[lo, hi)``, sorted: the matches there, and the soft
    starts of the matches up to LEAD after it."""
    starts = np.concatenate([o.starts[np.searchsorted(o.starts, lo, "left"):
                                      np.searchsorted(o.starts, hi + LEAD, "left")]
                             for o in found])
    if not len(starts):
        return starts
    ws = np.sort(np.concatenate((starts, _soft_starts(text, starts))))
    ws = ws[(ws >= lo) & (ws < hi)]
    return ws[np.append(True, ws[1:] != ws[:-1])] if len(ws) else ws


def _soft_starts(text: str, starts: np.ndarray) -> np.ndarray:
    """For each match start, where a window before it starts: after the last sentence
    break of the LEAD characters before it, else LEAD characters before it."""
    lead = np.maximum(starts - LEAD, 0)
    first = int(lead.min())
    breaks = first + np.flatnonzero(np.isin(_codes(text[first : int(starts.max())]),
                                            _BREAK_CODES))
    if not len(breaks):
        return lead
    k = np.searchsorted(breaks, starts, "left") - 1  # the last break before the match
    before = breaks[np.maximum(k, 0)]
    return np.where((k >= 0) & (before >= lead), before + 1, lead)


def needles_for(literals: Iterable[tuple[str, bool]], terms: Iterable[str]) -> list[str]:
    """Squeezed strings to highlight: whole query words/phrases plus their terms."""
    out = {squeeze(text) for text, _ in literals}
    out.update(squeeze(t) for t in terms)
    return sorted(n for n in out if n)
