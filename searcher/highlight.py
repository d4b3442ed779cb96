"""Snippets: the best fragment of a document, with exact highlight spans.

Matching is done on folded, whitespace-free text (the same form used for
searching) and mapped back to the original characters, so highlights never
shift by a character, overlapping matches merge into whole spans
(``聊城市``, not ``聊城`` + ``城市``), and traditional-script or full-width
text is highlighted where the simplified query matched it.  The snippet is
plain text plus ``[start, end)`` spans; turning spans into markup is the
caller's job, so document text can never become markup by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .analysis.normalize import fold_with_map, squeeze

DEFAULT_WIDTH = 120


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]


def find_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int, str]]:
    """Every occurrence of each (squeezed) needle in *text*, as original-text spans."""
    folded, mapping = fold_with_map(text, drop_space=True)
    spans: list[tuple[int, int, str]] = []
    for needle in {n for n in needles if n}:
        i = folded.find(needle)
        while i >= 0:
            end = i + len(needle) - 1
            spans.append((mapping[i], mapping[end] + 1, needle))
            i = folded.find(needle, i + 1)
    return spans


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
    return merge((s, e) for s, e, _ in find_spans(text, needles))


def make_snippet(text: str, needles: Iterable[str], width: int = DEFAULT_WIDTH) -> Snippet:
    """The *width*-character window with the most distinct needles, and its spans.

    Each candidate window starts a little before a match (after a sentence
    break when one is near); it is scored on exactly the text it would show.
    """
    needles = [n for n in needles if n]
    spans = sorted(find_spans(text, needles))
    if len(text) <= width:
        start, end = 0, len(text)
    elif not spans:
        start, end = 0, width
    else:
        best, best_score = 0, (-1, 0, 0)
        for s, _e, _n in spans:
            for ws in (_soft_start(text, s - 20, s), s):
                we = ws + width
                distinct = {n for s2, e2, n in spans if s2 >= ws and e2 <= we}
                score = (len(distinct), sum(len(n) for n in distinct), -ws)
                if score > best_score:
                    best, best_score = ws, score
        start, end = best, min(len(text), best + width)
    inside = merge((max(s, start) - start, min(e, end) - start)
                   for s, e, _ in spans if s < end and e > start)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix)
    return Snippet(prefix + text[start:end].replace("\n", " ") + suffix,
                   [(s + shift, e + shift) for s, e in inside])


def _soft_start(text: str, lo: int, hi: int) -> int:
    """Start the window after a sentence break if one is near, for a cleaner snippet."""
    lo = max(lo, 0)
    for i in range(hi - 1, lo - 1, -1):
        if text[i] in "。！？；\n!?;":
            return i + 1
    return lo


def needles_for(literals: Iterable[tuple[str, bool]], terms: Iterable[str]) -> list[str]:
    """Squeezed strings to highlight: whole query words/phrases plus their terms."""
    out = {squeeze(text) for text, _ in literals}
    out.update(squeeze(t) for t in terms)
    return sorted(n for n in out if n)
