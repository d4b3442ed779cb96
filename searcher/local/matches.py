"""Match algebra: which documents of the index match, and their scores, as numpy arrays.

A :class:`Match` is either *sparse* (the document numbers and scores of a leaf: a term in
one field, a string) or whole-index arrays (mask and score), made only when a step needs
them; :func:`all_of`/:func:`any_of` combine them, :func:`top_order` picks a page.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: ``Match.at`` binary-searches a sparse match for up to 1/SPARSE_LOOKUPS of the index's
#: documents; beyond that, whole-index arrays are cheaper (measured at 200,000 articles).
SPARSE_LOOKUPS = 16
#: The union of two sparse matches stays sparse while they hold at most 1/SPARSE_UNIONS of
#: the index's documents together: a few passes over their postings instead of two
#: whole-index arrays (at 500,000 articles 4.5 MB a query word, scattered and copied).
SPARSE_UNIONS = 8
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_VALUES = np.zeros(0, dtype=np.float64)


class Match:
    """Documents of the index that match (``mask``), and their scores (``score``; documents
    outside the mask may carry partial scores, which a later union can use).

    A leaf (a term in one field, a string) touches only its postings, so it starts
    *sparse* — its document numbers and scores — and gets whole-index arrays only when
    asked for them; a union of sparse matches scatters them into one pair of arrays.
    At 200,000 articles every whole-index array step is a pass over 1.6 MB, and leaves
    are most of a query's steps.
    """

    __slots__ = ("n", "_mask", "_score", "ids", "values")

    def __init__(self, mask: np.ndarray | None = None, score: np.ndarray | None = None, *,
                 n: int | None = None, ids: np.ndarray | None = None,
                 values: np.ndarray | None = None) -> None:
        self._mask = mask
        self._score = score
        #: A sparse match's document numbers and scores (None once whole-index arrays).
        self.ids: Any = ids
        self.values: Any = values
        self.n = len(mask) if mask is not None else int(n or 0)

    @classmethod
    def empty(cls, n: int) -> Match:
        return cls(n=n, ids=_EMPTY_IDS, values=_EMPTY_VALUES)

    @classmethod
    def sparse(cls, n: int, ids: np.ndarray, values: np.ndarray) -> Match:
        """*ids*: distinct document numbers in ascending order (made ``intp``: numpy
        indexes with native integers about twice as fast, and a leaf's ids index several
        arrays); *values*: their scores (float64)."""
        return cls(n=n, ids=ids.astype(np.intp, copy=False), values=values)

    @property
    def is_sparse(self) -> bool:
        return self._mask is None and self._score is None

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            mask = np.zeros(self.n, dtype=bool)
            mask[self.ids] = True
            self._mask = mask
        return self._mask

    @mask.setter
    def mask(self, value: np.ndarray) -> None:
        self._mask = value

    @property
    def score(self) -> np.ndarray:
        if self._score is None:
            score = np.zeros(self.n, dtype=np.float64)
            score[self.ids] = self.values
            self._score = score
        return self._score

    @score.setter
    def score(self, value: np.ndarray) -> None:
        self._score = value

    def at(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(``mask[docs]``, ``score[docs]``) without whole-index arrays when sparse and
        *docs* are few (the page, or the hits of a rare word): a binary search of the
        ascending ids for each of them.  Many *docs* in ascending order (a query's hits)
        and few ids: a binary search among the docs for each id.  Many of both: the
        whole-index arrays are cheaper."""
        if not self.is_sparse:
            return self.mask[docs], self.score[docs]
        if not len(self.ids):
            return np.zeros(len(docs), dtype=bool), np.zeros(len(docs), dtype=np.float64)
        if len(docs) * SPARSE_LOOKUPS > self.n:
            if len(self.ids) * SPARSE_LOOKUPS > self.n or not _ascending(docs):
                return self.mask[docs], self.score[docs]
            # Many docs (a query's hits, ascending) and few ids (a title term): place the
            # ids among the docs, a binary search per id, not whole-index arrays.
            where = np.searchsorted(docs, self.ids)
            inside = where < len(docs)
            inside[inside] = docs[where[inside]] == self.ids[inside]
            held = np.zeros(len(docs), dtype=bool)
            score = np.zeros(len(docs), dtype=np.float64)
            held[where[inside]] = True
            score[where[inside]] = self.values[inside]
            return held, score
        where = np.minimum(np.searchsorted(self.ids, docs), len(self.ids) - 1)
        held = self.ids[where] == docs
        return held, np.where(held, self.values[where], 0.0)

    def union(self, other: Match, weight: float = 1.0, *, in_place: bool = False) -> Match:
        """Documents in either; scores ``self + weight × other`` (the same float64
        arithmetic whichever form each side is in).

        *in_place*: the caller owns this Match's arrays (a fresh result of :func:`all_of`
        or :func:`any_of`) and will not use them again, so when they are whole-index
        arrays the union is written into them: a sparse *other* then costs its postings,
        not two copies of arrays the size of the index (9 MB at 500,000 articles).
        """
        if in_place and not self.is_sparse:
            if other.is_sparse:
                self.mask[other.ids] = True
                self.score[other.ids] += weight * other.values
            else:
                np.logical_or(self.mask, other.mask, out=self.mask)
                self.score += weight * other.score
            return self
        if other.is_sparse:
            if self.is_sparse:
                if (len(self.ids) + len(other.ids)) * SPARSE_UNIONS <= self.n:
                    return self._sparse_union(other, weight)
                mask = np.zeros(self.n, dtype=bool)
                score = np.zeros(self.n, dtype=np.float64)
                mask[self.ids] = True
                score[self.ids] = self.values
            else:
                mask, score = self.mask.copy(), self.score.copy()
            mask[other.ids] = True
            score[other.ids] += weight * other.values
            return Match(mask, score)
        if self.is_sparse:
            mask = other.mask.copy()
            mask[self.ids] = True
            score = weight * other.score
            score[self.ids] += self.values  # a + b == b + a exactly in IEEE arithmetic
            return Match(mask, score)
        return Match(self.mask | other.mask, self.score + weight * other.score)

    def _sparse_union(self, other: Match, weight: float) -> Match:
        """:meth:`union` of two sparse matches, sparse: the same sums as the whole-index
        arrays (``self`` placed, then ``weight × other`` added), over their documents only."""
        ids = distinct_union(self.ids, other.ids)
        values = np.zeros(len(ids), dtype=np.float64)
        values[np.searchsorted(ids, self.ids)] = self.values
        values[np.searchsorted(ids, other.ids)] += weight * other.values
        return Match(n=self.n, ids=ids, values=values)

    def copy(self) -> Match:
        """A new Match of the same documents and scores, in the same form (a caller may
        change the copy's arrays in place; a sparse one gets new arrays when asked)."""
        if self.is_sparse:
            return Match(n=self.n, ids=self.ids, values=self.values.copy())
        return Match(self.mask.copy(), self.score.copy())

    def intersect(self, other: Match) -> Match:
        """Documents in both; scores summed everywhere (a document in one of them keeps
        its partial score, which a later union can use).  A sparse side is scattered
        into the result, not made into whole-index arrays of its own first."""
        if other.is_sparse and not self.is_sparse:
            self, other = other, self  # a + b == b + a exactly in IEEE arithmetic
        if not self.is_sparse:
            return Match(self.mask & other.mask, self.score + other.score)
        if other.is_sparse:
            result = Match(np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=np.float64))
            result.score[other.ids] = other.values
            result.mask[other.ids] = True
        else:
            result = Match(other.mask.copy(), other.score.copy())
        result.and_sparse(self)
        return result

    def and_sparse(self, other: Match) -> None:
        """``mask &= other.mask; score += other.score`` in place, for a sparse *other*
        and whole-index arrays here: a pass to clear the mask, and *other*'s postings."""
        ids = other.ids
        kept = ids[self.mask[ids]]
        self.mask.fill(False)
        self.mask[kept] = True
        self.score[ids] += other.values


def distinct_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct values of two ascending arrays, ascending (``np.union1d``'s answer).

    A stable sort of the two joined is Timsort, which finds the two ascending runs and
    merges them in one pass; ``np.union1d`` sorted them as if in any order, and cost
    thirty times as much (8.9 against 0.27 ms for two sets of 30,000 documents).
    """
    joined = np.concatenate((a, b))
    joined.sort(kind="stable")
    if len(joined) < 2:
        return joined
    keep = np.empty(len(joined), dtype=bool)
    keep[0] = True
    np.not_equal(joined[1:], joined[:-1], out=keep[1:])
    return joined[keep]


def match_count(match: Match) -> int:
    """How many documents *match* holds (its document frequency, as for a term)."""
    return len(match.ids) if match.is_sparse else int(np.count_nonzero(match.mask))


def all_of(matches: list[Match], n: int) -> Match:
    """Documents in every match, scores summed (a new Match: callers may change it).

    Arrays span the whole index, so each step is a pass over it: start from the first
    match and combine the rest in place rather than from all-true and zero arrays.
    """
    if not matches:
        return Match(np.ones(n, dtype=bool), np.zeros(n, dtype=np.float64))
    first = matches[0]
    if len(matches) == 1:
        return first.copy()
    result = first.intersect(matches[1])
    for match in matches[2:]:
        if match.is_sparse:
            result.and_sparse(match)
        else:
            np.logical_and(result.mask, match.mask, out=result.mask)
            np.add(result.score, match.score, out=result.score)
    return result


def any_of(matches: list[Match], n: int) -> Match:
    """Documents in any match, scores summed (a new Match: callers may change it)."""
    if not matches:
        return Match.empty(n)
    first = matches[0]
    if len(matches) == 1:
        return first.copy()
    result = first.union(matches[1])
    for match in matches[2:]:
        result = result.union(match, in_place=True)
    return result


def add_where(score: np.ndarray, mask: np.ndarray, match: Match, weight: float) -> None:
    """``score += weight × match.score`` where *mask* holds, in place: a sparse *match*
    adds at its own documents only, where ``np.where`` would make two whole-index arrays
    (and the match's scores a third); the same sums."""
    if match.is_sparse:
        held = mask[match.ids]
        score[match.ids[held]] += weight * match.values[held]
    else:
        score += weight * np.where(mask, match.score, 0.0)


def _ascending(values: np.ndarray) -> bool:
    """Whether *values* strictly ascend (distinct document numbers in order)."""
    return len(values) < 2 or bool((values[1:] > values[:-1]).all())


def top_order(keys: np.ndarray, count: int) -> np.ndarray:
    """Positions of the *count* smallest *keys*, in order (ties: position order).

    A page needs only its first ``offset + limit`` results in order, not every match
    sorted: select them in linear time (``np.partition``), keep everything tied with the
    last one, and sort just those.  Same order as a stable sort of all keys.
    """
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if count < len(keys):
        cut = np.partition(keys, count - 1)[count - 1]
        chosen = np.flatnonzero(keys <= cut)
        return chosen[np.lexsort((chosen, keys[chosen]))][:count]
    return np.lexsort((np.arange(len(keys)), keys))

