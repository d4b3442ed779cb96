"""Writing a segment's substring index: the arrays :mod:`searcher.local.substrings` reads.

A build worker holds a whole segment's text, so these sorts work in steps of
:data:`SORT_STEP` positions (the output plus one step's temporaries) rather than one
argsort of the whole text; see :mod:`searcher.local.substrings` for the layout.
"""

from __future__ import annotations

import numpy as np

from .substrings import SIDECAR_KEYS

#: Positions sorted per step when building a character index: bounds the temporaries
#: (about 26 bytes per position of a step) whatever the segment's size.
SORT_STEP = 1 << 20


def text_sidecar(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of :func:`~searcher.local.substrings.text_arrays` that are saved (all
    but the code points, which the bigram index holds)."""
    saved = {key: arrays[key] for key in SIDECAR_KEYS}
    histogram = saved["histogram"]
    if len(histogram) and int(histogram.max()) < 2**31:  # counts: half the bytes
        saved["histogram"] = histogram.astype(np.int32)
    return saved


def char_index_arrays(codes: np.ndarray, histogram: np.ndarray) -> dict[str, np.ndarray]:
    """The character index of a segment's text: every position, grouped by code point
    (astral code points share the last group), ascending within a group.

    A counting sort in steps of :data:`SORT_STEP` positions: the output (4 bytes a
    character) plus one step's temporaries, instead of the 12 bytes a character of one
    whole argsort, which matters in a build worker holding a whole segment.
    """
    total = len(codes)
    if total >= 2**31:
        raise ValueError(f"segment text of {total} characters: positions must fit in int32")
    offsets = np.zeros(0x10000 + 1, dtype=np.int64)
    np.cumsum(histogram, out=offsets[1:])
    by_char = np.empty(total, dtype=np.int32)
    cursor = offsets[:-1].copy()  # the next free slot of each code point's group
    for start in range(0, total, SORT_STEP):
        step = np.minimum(codes[start : start + SORT_STEP], 0xFFFF).astype(np.uint16)
        order = np.argsort(step, kind="stable")  # radix sort: 16-bit keys
        keys = step[order]
        counts = np.bincount(keys, minlength=0x10000)
        first = np.cumsum(counts) - counts  # where each group starts within this step
        rank = np.arange(len(keys), dtype=np.int64) - first[keys]
        by_char[cursor[keys] + rank] = order + start
        cursor += counts
    return {"by_char": by_char, "char_offsets": offsets}


def bigram_index_arrays(codes: np.ndarray, histogram: np.ndarray) -> dict[str, np.ndarray]:
    """The bigram index of a segment's text (see the module docstring).

    The character index first (a counting sort), then each run of whole character
    groups of about :data:`SORT_STEP` positions is sorted by the next character (two
    stable 16-bit radix sorts): the output plus one step's temporaries.
    """
    total = len(codes)
    by_char = char_index_arrays(codes, histogram)
    positions, offsets = by_char["by_char"], by_char["char_offsets"]
    cuts = np.unique(offsets)  # boundaries of the character groups, 0 and total included
    keys: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    start = 0
    while start < total:
        end = int(cuts[np.searchsorted(cuts, start + SORT_STEP, side="right") - 1])
        if end <= start:  # one group larger than a step
            end = int(cuts[np.searchsorted(cuts, start, side="right")])
        at = positions[start:end]
        first = np.minimum(codes[at], 0xFFFF).astype(np.uint16)
        second = np.minimum(codes[np.minimum(at + 1, total - 1)], 0xFFFF).astype(np.uint16)
        second[at + 1 >= total] = 0
        order = np.argsort(second, kind="stable")
        order = order[np.argsort(first[order], kind="stable")]
        positions[start:end] = at[order]
        key = (first[order].astype(np.uint32) << 16) | second[order]
        change = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1))
        keys.append(key[change])
        starts.append(change + start)
        start = end
    starts.append(np.array([total], dtype=np.int64))
    return {"positions": positions,
            "keys": np.concatenate(keys) if keys else np.zeros(0, np.uint32),
            "starts": np.concatenate(starts).astype(np.int64)}


def pack_bigram_index(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The persisted form of :func:`bigram_index_arrays`' result (see the module docstring):
    within each group the differences between successive positions (the first one
    absolute), as LEB128 bytes, in steps of :data:`SORT_STEP` positions."""
    positions, starts = arrays["positions"], arrays["starts"]
    total = len(positions)
    pieces: list[np.ndarray] = []
    sizes = np.empty(total, dtype=np.uint8)  # bytes of each position's value
    for start in range(0, total, SORT_STEP):
        end = min(start + SORT_STEP, total)
        value = positions[start:end].astype(np.int64)
        value[1:] -= positions[start : end - 1]
        if start:
            value[0] -= positions[start - 1]
        firsts = starts[(starts >= start) & (starts < end)] - start
        value[firsts] = positions[firsts + start]
        size = 1 + (value >= 1 << 7).astype(np.uint8) + (value >= 1 << 14) \
            + (value >= 1 << 21) + (value >= 1 << 28)
        sizes[start:end] = size
        place = np.concatenate(([0], np.cumsum(size[:-1], dtype=np.int64)))
        out = np.empty(int(place[-1]) + int(size[-1]) if len(size) else 0, dtype=np.uint8)
        for j in range(int(size.max()) if len(size) else 0):
            has = np.flatnonzero(size > j)
            more = (size[has] > j + 1).astype(np.uint8) << 7
            out[place[has] + j] = ((value[has] >> (7 * j)) & 0x7F).astype(np.uint8) | more
        pieces.append(out)
    ends = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    offsets = ends[starts]
    return {"stream": np.concatenate(pieces) if pieces else np.zeros(0, np.uint8),
            "keys": arrays["keys"].astype(np.uint32),
            "offsets": offsets.astype(np.uint32 if offsets[-1] < 2**32 else np.int64)}
