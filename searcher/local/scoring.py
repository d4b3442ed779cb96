"""Evaluate a query syntax tree against the index with vectorised BM25.

Whoosh's own query engine walks a tree of matcher objects in Python, one
document at a time: with exact totals, verbatim matches and bonuses that was
over 100 ms for a common word at 20,000 articles.  Here the index is still
Whoosh's (postings, field lengths, columns), but each term's postings are read
block by block into numpy arrays and every boolean or scoring step is an array
operation over the whole index at once (:class:`Space`: all segments as one range
of document numbers), not segment by segment.  A query's cost is a fixed number of
array steps plus work in proportion to the postings and string occurrences it
touches (both kept warm in the byte-capped caches), not Python calls per matching
document or per segment; a page needs only its first hits in order, which are
selected in linear time (:func:`top_order`), with exact totals.

Scoring is BM25 per field (title postings carry the title boost in their
weights), summed over fields and terms, plus:

* "contains the query word verbatim" (:mod:`searcher.local.substrings`), BM25 over
  the string's own document frequency (rarity) times a weight that grows with its
  length when it spans several jieba words (``verbatim_weight``: a pasted clause is
  near proof, a 2-character word is just a word); it also returns documents that
  contain the word only across jieba word boundaries;
* proximity: runs of adjacent content words of a query word, found verbatim;
* a bonus for titles that hold every plain query word (``TITLE_ALL_BOOST``);
* question words (``QUESTION_WORDS``) weigh ``QUESTION_WEIGHT`` and are never required;
  "any word" ranking (relaxed queries, questions) multiplies by the squared share of
  the words a document holds (``COORD_POWER``);
* pinyin readings and synonyms as alternatives (pinyin below literal matches).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.normalize import fold, fold_keyword, squeeze
from ..analysis.tokens import QUESTION_WORDS, STOP_WORDS, QueryTerms, iter_terms, latin_parts
from ..deadline import check_time_limit
from ..query import And, Node, Not, Phrase, Word, pinyin_runs
from .caching import ENTRY_OVERHEAD, SearchCaches, heap_bytes
from .sidecar import load_arrays, segment_key
from .substrings import Found, segment_text
from .whoosh_adapter import BYTE_TO_LENGTH, datetime_to_long, length_bytes, term_postings

SIDECAR = "data"

K1 = 1.2
B = 0.75
#: Weight of "contains the query word verbatim" next to the word match itself: a document
#: that has the words *and* the exact string beats one with only scattered words, and a
#: rare exact string found only across word boundaries (a headline fragment) still ranks.
VERBATIM_SCALE = 1.0
#: A verbatim match of a query word that spans several jieba words is stronger evidence
#: the longer it is: its weight is VERBATIM_SCALE × (characters / 2) ** VERBATIM_POWER
#: (2 characters: 1, as for one word; 8: 8), on top of its rarity (the idf of the string).
VERBATIM_POWER = 1.5
#: Longest run counted for that weight (a pasted sentence is proof enough at this length).
VERBATIM_MAX_CHARS = 16
#: Bonus (times the title scores) when the title holds every plain word of the query.
TITLE_ALL_BOOST = 3.0
#: Quantities need their numbers whole (4万 is not in 14万), except in a pasted run with
#: this many Han characters, which also matches (at LOOSE_NUMBER_WEIGHT) where cut.
LOOSE_NUMBER_HAN = 4
LOOSE_NUMBER_WEIGHT = 0.5
PINYIN_BOOST = 0.3
#: Weight of question words (什么, 是否, 有哪些 …: ``QUESTION_WORDS``) next to the other
#: words of a query; they are not required when the query has other words.
QUESTION_WEIGHT = 0.1
#: "Any word" ranking (relaxed queries, questions): scores times (share of the query's
#: words a document holds) ** COORD_POWER, so documents holding more of them come first.
COORD_POWER = 2.0
#: Occurrences of a phrase in the title count this many times (like the title boost).
TITLE_WEIGHT = 3.0
TEXT_FIELDS = ("title", "body")
NO_DATE = np.iinfo(np.uint64).max

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"^[a-z]+$")


#: ``Match.at`` binary-searches a sparse match for up to 1/SPARSE_LOOKUPS of the index's
#: documents; beyond that, whole-index arrays are cheaper (measured at 200,000 articles).
SPARSE_LOOKUPS = 16
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
        self.ids = ids
        self.values = values
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
        ascending ids for each of them.  Many *docs* (a common word's hits) are cheaper
        to look up in the whole-index arrays."""
        if not self.is_sparse or len(docs) * SPARSE_LOOKUPS > self.n:
            return self.mask[docs], self.score[docs]
        if not len(self.ids):
            return np.zeros(len(docs), dtype=bool), np.zeros(len(docs), dtype=np.float64)
        where = np.minimum(np.searchsorted(self.ids, docs), len(self.ids) - 1)
        held = self.ids[where] == docs
        return held, np.where(held, self.values[where], 0.0)

    def union(self, other: Match, weight: float = 1.0) -> Match:
        """Documents in either; scores ``self + weight × other`` (the same float64
        arithmetic whichever form each side is in)."""
        if other.is_sparse:
            if self.is_sparse:
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

    def intersect(self, other: Match) -> Match:
        return Match(self.mask & other.mask, self.score + other.score)


def all_of(matches: list[Match], n: int) -> Match:
    """Documents in every match, scores summed (a new Match: callers may change it).

    Arrays span the whole index, so each step is a pass over it: start from the first
    match and combine the rest in place rather than from all-true and zero arrays.
    """
    if not matches:
        return Match(np.ones(n, dtype=bool), np.zeros(n, dtype=np.float64))
    first = matches[0]
    if len(matches) == 1:
        return Match(first.mask.copy(), first.score.copy())
    result = first.intersect(matches[1])
    for match in matches[2:]:
        np.logical_and(result.mask, match.mask, out=result.mask)
        np.add(result.score, match.score, out=result.score)
    return result


def any_of(matches: list[Match], n: int) -> Match:
    """Documents in any match, scores summed (a new Match: callers may change it)."""
    if not matches:
        return Match.empty(n)
    first = matches[0]
    if len(matches) == 1:
        return Match(first.mask.copy(), first.score.copy())
    result = first.union(matches[1])
    for match in matches[2:]:
        np.logical_or(result.mask, match.mask, out=result.mask)
        np.add(result.score, match.score, out=result.score)
    return result


@dataclass
class SegmentData:
    """Per-segment arrays that never change: field lengths and dates."""

    lengths: dict[str, np.ndarray]
    dates: np.ndarray

    @property
    def nbytes(self) -> int:
        """Process memory of the arrays (memory-mapped sidecar arrays count zero)."""
        return heap_bytes(self.dates, *self.lengths.values()) + ENTRY_OVERHEAD


def data_arrays(reader) -> dict[str, np.ndarray]:
    """Field lengths and dates of every document of a segment, from Whoosh's columns."""
    count = reader.doc_count_all()
    table = np.array(BYTE_TO_LENGTH, dtype=np.float64)
    arrays = {}
    for name in TEXT_FIELDS:
        column = length_bytes(reader, name)
        raw = np.fromiter(column, dtype=np.uint8, count=count) if column is not None \
            else np.zeros(count, dtype=np.uint8)
        arrays[name] = table[raw]
    arrays["dates"] = np.fromiter(reader.column_reader("date", translate=False),
                                  dtype=np.uint64, count=count)
    return arrays


def segment_data(reader, caches: SearchCaches) -> SegmentData:
    """Field lengths and dates of a segment, cached in *caches* (``segments``)."""
    key = ("data", segment_key(reader))
    cached = caches.segments.get(key)
    if cached is not None:
        return cached
    arrays = load_arrays(reader, SIDECAR, (*TEXT_FIELDS, "dates"))
    if arrays is None:
        arrays = data_arrays(reader)
    data = SegmentData({name: arrays[name] for name in TEXT_FIELDS}, arrays["dates"])
    return caches.segments.put(key, data, data.nbytes)


class Space:
    """Every segment of one searcher as one range of document numbers (the global ones).

    A query used to be evaluated segment by segment, paying every step's fixed cost
    (cache lookups, array allocations, numpy and Python calls) once per segment: 19 times
    over at 200,000 articles, where that fixed cost was most of a common query's time.
    Now each array of a query spans the whole index, so a step costs one set of calls
    plus work in proportion to what it touches.  A term's postings and a string's
    occurrences over the whole index are joined from the segments once and cached under
    the segments' keys (:meth:`Evaluator.postings`, :meth:`Evaluator.found`), like the
    per-document arrays here.  One Space is kept per searcher (a searcher never changes:
    its segments and deletions are fixed).
    """

    def __init__(self, searcher, caches: SearchCaches) -> None:
        self.leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
        self.n = sum(reader.doc_count_all() for reader, _ in self.leaves)
        self.key = tuple(segment_key(reader) for reader, _ in self.leaves)
        self.caches = caches
        self._deleted: np.ndarray | None = None

    @classmethod
    def of(cls, searcher, caches: SearchCaches) -> Space:
        space = getattr(searcher, "_searcher_space", None)
        if space is None or space.caches is not caches:
            space = cls(searcher, caches)
            searcher._searcher_space = space
        return space

    def _joined(self, name: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        """A per-document array of the whole index, made once per index state (cached in
        ``segments``)."""
        key = ("space", name, self.key)
        cached = self.caches.segments.get(key)
        if cached is not None:
            return cached
        out = make()
        return self.caches.segments.put(key, out, heap_bytes(out) + ENTRY_OVERHEAD)

    def dates(self) -> np.ndarray:
        """Each document's date (Whoosh ticks; NO_DATE when undated)."""
        return self._joined(("dates",), lambda: self.per_segment(
            lambda reader: segment_data(reader, self.caches).dates, np.uint64))

    def norms(self, fieldname: str, average: float) -> np.ndarray:
        """BM25's length normalisation ``K1 × (1 − B + B × dl / average)`` of each document
        in a text field (*dl*: its length there).

        Made once per index state rather than per term: a common term's postings span
        most of the index, and one gather of these beats a gather of lengths and four
        passes of arithmetic.  The same float64 operations per element, so the same
        scores to the bit.
        """
        def make() -> np.ndarray:
            lengths = self.per_segment(  # float32 first, as the joined lengths always were
                lambda reader: segment_data(reader, self.caches).lengths[fieldname], np.float32)
            return K1 * (1 - B + B * lengths.astype(np.float64) / average)

        return self._joined(("norms", fieldname, average), make)

    def text_norms(self) -> np.ndarray:
        """The same normalisation for strings: each document's squeezed text length (what
        strings are found in) over the average of its own segment (BM25's average for
        strings, as it has always been computed: per segment)."""
        def make() -> np.ndarray:
            lengths = self.per_segment(lambda reader: segment_text(reader, self.caches).lengths,
                                   np.int32)
            averages = self.per_segment(lambda reader: np.full(
                reader.doc_count_all(), segment_text(reader, self.caches).avg_len), np.float64)
            return K1 * (1 - B + B * lengths / averages)

        return self._joined(("text_norms",), make)

    def deleted(self) -> np.ndarray:
        """Global numbers of deleted documents."""
        if self._deleted is None:
            parts = [np.fromiter(reader.deleted_docs_set, dtype=np.int64) + offset
                     for reader, offset in self.leaves if reader.has_deletions()]
            self._deleted = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self._deleted

    def per_segment(self, part: Callable[[Any], np.ndarray], dtype: Any = bool) -> np.ndarray:
        """*part* of each segment's reader, end to end, as *dtype* (not cached)."""
        parts = [np.asarray(part(reader)) for reader, _ in self.leaves]
        return np.concatenate(parts).astype(dtype, copy=False) if parts \
            else np.zeros(0, dtype=dtype)


@dataclass
class QueryContext:
    """Query-time resources: synonym groups, the pinyin lookup, the query segmenter."""

    synonyms: dict[str, list[str]] = field(default_factory=dict)
    #: Latin text → indexed words it spells in pinyin (None: pinyin off).
    pinyin: Callable[[str], list[str]] | None = None
    #: Segments Han runs of query words (the frozen-dictionary segmenter; None: jieba).
    cut: Callable[[str], list[str]] | None = None
    #: The engine's byte-capped caches (postings, character indexes, segment arrays).
    caches: SearchCaches = field(default_factory=SearchCaches)


def content_runs(text: str, cut: Callable[[str], list[str]] | None = None
                 ) -> list[tuple[str, list[str]]]:
    """Runs of adjacent content words of a query word (stop and question words split
    them), as (squeezed text, its words), when they are not the whole word."""
    folded = fold(text)
    runs: list[tuple[int, int, list[str]]] = []
    last_end = -1
    for term in iter_terms(folded, extras=False, cut=cut):
        if term.text in STOP_WORDS or term.text in QUESTION_WORDS:
            last_end = -1
            continue
        if runs and term.start == last_end:
            start, _end, words = runs[-1]
            runs[-1] = (start, term.end, [*words, term.text])
        else:
            runs.append((term.start, term.end, [term.text]))
        last_end = term.end
    whole = squeeze(text)
    out = [(squeeze(folded[start:end]), words) for start, end, words in runs]
    return [(run, words) for run, words in out if run != whole and _HAN.search(run)]


def question_only(group: list[Node], terms: Callable[[str], list[str]]) -> bool:
    """Whether a conjunction item (a pinyin run of words) is only question words
    (``是什么``, ``吗``); *terms* gives a word's query terms."""
    if len(group) != 1 or not isinstance(group[0], Word) or group[0].field is not None:
        return False
    kept = [t for t in terms(group[0].text) if t not in STOP_WORDS]
    return bool(kept) and all(t in QUESTION_WORDS for t in kept)


def word_units(text: str, terms: list[str]) -> tuple[list[str], bool]:
    """The query words one plain word counts as (``matched`` / ``query_words``): its
    distinct jieba words *terms* without stop words, or, with True, the word as one (a
    single term, or a quantity whose parts mean nothing apart) under that one name."""
    kept = [t for t in dict.fromkeys(terms) if t not in STOP_WORDS]
    needle = squeeze(text)
    if len(kept) <= 1 or any(ch.isdigit() for ch in needle):
        return [kept[0] if len(kept) == 1 else needle], True
    return kept, False


def identifier_parts(needle: str, terms: list[str]) -> list[str] | None:
    """For a dotted, slashed or joined name queried whole (``client.WithUnaryOptions``,
    ``java/util/List``, ``docker-compose``; *needle* squeezed, *terms* its query terms):
    the words a document must hold for it to stand there as a phrase (each term's
    :func:`~searcher.analysis.tokens.latin_parts`, else the term), which with the exact
    string make the match.  None for anything else (Chinese, one plain token)."""
    if _HAN.search(needle) or not terms:
        return None
    pieces = [[p for p in latin_parts(t) if p.isalnum()] for t in terms]
    if len(terms) < 2 and not pieces[0]:
        return None
    return list(dict.fromkeys(p for t, found in zip(terms, pieces, strict=True)
                              for p in (found or [t])))


def number_edges(needle: str) -> bool:
    """Whether *needle* starts or ends with a digit (then it must not touch a longer number)."""
    return needle[:1].isdigit() or needle[-1:].isdigit()


def cut_fragment(text: str, terms: list[str]) -> bool:
    """Whether a plain word is a fragment cut out of words (推动生 → 推动, 生): Chinese,
    several terms, one of them a lone character, which most titles hold."""
    kept = [t for t in terms if t not in STOP_WORDS]
    return (len(kept) > 1 and bool(_HAN.search(squeeze(text)))
            and any(len(t) == 1 and _HAN.match(t) for t in kept))


def verbatim_weight(needle: str, terms: list[str]) -> float:
    """How much a verbatim match of *needle* counts: grows with its length when it
    spans several words (one word's verbatim match is just that word)."""
    if len(terms) < 2:
        return VERBATIM_SCALE
    size = min(len(needle), VERBATIM_MAX_CHARS)
    return VERBATIM_SCALE * max(size / 2, 1.0) ** VERBATIM_POWER


def _bm25(idf: float, tf: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``idf × tf × (K1 + 1) / (tf + norm)`` elementwise (float64), in as few passes and
    temporaries as that expression allows; *norm* is consumed."""
    norm += tf
    score = tf * idf
    score *= K1 + 1
    score /= norm
    return score


class Evaluator:
    """Evaluates nodes for one searcher; remembers the terms it matched (for highlights)."""

    def __init__(self, searcher, context: QueryContext, relaxed: bool = False) -> None:
        self.searcher = searcher
        self.context = context
        self.relaxed = relaxed
        self.terms: set[str] = set()
        #: Latin text read as pinyin → the indexed words it matched, most documents first.
        self.readings: dict[str, list[str]] = {}
        self.total_docs = max(searcher.doc_count_all(), 1)
        self._avg = {f: max(searcher.avg_field_length(f, 1.0), 1.0) for f in TEXT_FIELDS}
        self._scans: dict[tuple[str, bool], Found] = {}
        #: (field or fields, term) → its Match, for this query.
        self._term_matches: dict[tuple, Match] = {}
        self.space = Space.of(searcher, context.caches)
        self.caches = context.caches
        #: The query's words (distinct jieba words of its plain words, quoted phrases) →
        #: documents holding each (see :meth:`matched_counts`).
        self.units: dict[str, np.ndarray] = {}
        self._quiet = 0  # > 0 while evaluating what is not a query word of its own
        #: ``query_terms`` of a text, segmented once per query (several steps ask).
        self.query_terms = QueryTerms(context.cut)
        self._runs: dict[str, list[tuple[str, list[str]]]] = {}

    # -- matched words -----------------------------------------------------
    def _unit(self, name: str, mask: np.ndarray) -> None:
        if self._quiet:
            return
        held = self.units.get(name)
        self.units[name] = mask.copy() if held is None else held | mask

    def matched_counts(self, docs: np.ndarray, content: bool = False) -> np.ndarray:
        """How many of the query's words each of *docs* holds (*content*: only words that
        are not question words)."""
        counts = np.zeros(len(docs), dtype=np.int32)
        for name, mask in self.units.items():
            if not (content and name in QUESTION_WORDS):
                counts += mask[docs]
        return counts

    # -- leaves ------------------------------------------------------------
    def postings(self, space: Space, fieldname: str, term: str
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(global doc ids, weights) of *term* in the whole index (deleted documents
        included).

        Segments never change, so recently used postings are kept (warm queries) in the
        byte-capped ``postings`` cache, under the keys of the segments they were read
        from; ids are int32 and weights float32, which is what Whoosh stores (8 bytes a
        posting).
        """
        key = (space.key, fieldname, term)
        cached = self.caches.postings.get(key)
        if cached is not None:
            return cached
        ids_parts, weight_parts = [], []
        for reader, offset in space.leaves:
            check_time_limit()
            ids, weights = term_postings(reader, fieldname, term)
            if len(ids):
                ids_parts.append(np.asarray(ids, dtype=np.int64) + offset)
                weight_parts.append(np.asarray(weights, dtype=np.float32))
        ids = np.concatenate(ids_parts).astype(np.int32) if ids_parts \
            else np.zeros(0, dtype=np.int32)
        weights = np.concatenate(weight_parts) if weight_parts else np.zeros(0, np.float32)
        return self.caches.postings.put(key, (ids, weights),
                                        heap_bytes(ids, weights) + ENTRY_OVERHEAD)

    def df(self, fieldname: str, term: str) -> int:
        """Documents holding *term* in *fieldname*: the length of its postings over the
        whole index (deleted documents included, as in Whoosh's term statistics), which
        a query reads anyway; asking Whoosh meant one term-table lookup per segment."""
        return len(self.postings(self.space, fieldname, term)[0])

    def idf(self, df: int) -> float:
        return math.log(1 + (self.total_docs - df + 0.5) / (df + 0.5))

    def term(self, space: Space, fieldname: str, term: str) -> Match:
        """BM25 of *term* in one field.  A query asks for the same term several times (its
        word, its query-word count, the title bonus), so each is scored once per query;
        callers never change a returned Match in place."""
        key = (fieldname, term)
        match = self._term_matches.get(key)
        if match is None:
            match = self._term_matches[key] = self._score_term(space, fieldname, term)
        return match

    def _score_term(self, space: Space, fieldname: str, term: str) -> Match:
        ids, weights = self.postings(space, fieldname, term)
        if not len(ids):
            return Match.empty(space.n)
        if fieldname not in TEXT_FIELDS:  # a keyword: matches, adds nothing to the score
            return Match.sparse(space.n, ids, np.zeros(len(ids), dtype=np.float64))
        tf = weights.astype(np.float64)  # exact: scores are computed as before, in float64
        ids = ids.astype(np.intp)  # cached as int32; native integers index faster
        return Match.sparse(space.n, ids, _bm25(self.idf(len(ids)), tf, space.norms(
            fieldname, self._avg[fieldname])[ids]))

    def substring(self, space: Space, needle: str, field_name: str | None = None,
                  whole_numbers: bool = False) -> Match:
        if not needle:
            return Match.empty(space.n)
        found = self.found(space, needle, whole_numbers)
        if not len(found):
            return Match.empty(space.n)
        df = len(found)  # its rarity: documents holding it, anywhere in them
        # float64 like the term scores (the cache keeps the counts, exact, as float32)
        ids = found.ids.astype(np.intp)  # cached as int32; native integers index faster
        if field_name == "title":
            keep = found.title > 0
            ids, tf = ids[keep], found.title[keep].astype(np.float64) * TITLE_WEIGHT
        elif field_name == "body":
            keep = found.body > 0
            ids, tf = ids[keep], found.body[keep].astype(np.float64)
        else:  # every document found holds it somewhere: nothing to drop
            tf = found.title.astype(np.float64)
            tf *= TITLE_WEIGHT
            tf += found.body
        return Match.sparse(space.n, ids, _bm25(self.idf(df), tf, space.text_norms()[ids]))

    def found(self, space: Space, needle: str, whole_numbers: bool) -> Found:
        """Occurrences of *needle* per document of the whole index, found once per query.

        They are the postings of the string (documents and occurrence counts), and like a
        term's postings they never change for a segment: recently used ones are kept in the
        byte-capped ``postings`` cache (12 bytes a document), so a common word does not
        walk its millions of positions again on every query.
        """
        key = (needle, whole_numbers)
        found = self._scans.get(key)
        if found is None:
            cache_key = (space.key, "", needle, whole_numbers)
            found = self.caches.postings.get(cache_key)
            if found is None:
                parts = []
                for reader, offset in space.leaves:
                    check_time_limit()
                    part = segment_text(reader, self.caches).find(needle, whole_numbers)
                    if len(part):
                        parts.append((part.ids + offset, part.title, part.body))
                found = Found(
                    np.concatenate([p[0] for p in parts]).astype(np.int32) if parts
                    else np.zeros(0, dtype=np.int32),
                    np.concatenate([p[1] for p in parts]).astype(np.float32) if parts
                    else np.zeros(0, dtype=np.float32),
                    np.concatenate([p[2] for p in parts]).astype(np.float32) if parts
                    else np.zeros(0, dtype=np.float32))
                self.caches.postings.put(cache_key, found, heap_bytes(
                    found.ids, found.title, found.body) + ENTRY_OVERHEAD)
            self._scans[key] = found
        return found

    # -- nodes -------------------------------------------------------------
    def evaluate(self, node: Node, space: Space) -> Match:
        check_time_limit()  # a caller's time_limit (searcher/deadline.py), between steps
        if isinstance(node, Word):
            return self.word(node, space)
        if isinstance(node, Phrase):
            return self.phrase(node, space)
        if isinstance(node, Not):  # only reached inside Or: "a OR NOT b" is not allowed
            self._quiet += 1
            try:
                inner = self.evaluate(node.item, space)
            finally:
                self._quiet -= 1
            return Match(~inner.mask, np.zeros(space.n, dtype=np.float64))
        if isinstance(node, And):
            return self.conjunction(node.items, space)
        return any_of([self.evaluate(item, space) for item in node.items],
                      space.n)

    def conjunction(self, items: tuple[Node, ...], space: Space) -> Match:
        n = space.n
        positives = [i for i in items if not isinstance(i, Not)]
        negatives = [i.item for i in items if isinstance(i, Not)]
        groups = pinyin_runs(positives, lambda joined: bool(
            self.context.pinyin and self.context.pinyin(joined)))
        asking = [g for g in groups if question_only(g, self.query_terms)]
        if len(asking) == len(groups):
            asking = []
        result = self._combine([self._group(g, space) for g in groups if g not in asking], n)
        for group in asking:  # "海洋强国 是什么": the question words only add a little score
            extra = self._group(group, space)
            result.score += QUESTION_WEIGHT * np.where(result.mask, extra.score, 0.0)
        self._quiet += 1
        try:
            for neg in negatives:
                result.mask &= ~self.evaluate(neg, space).mask
        finally:
            self._quiet -= 1
        return result

    def _combine(self, matches: list[Match], n: int) -> Match:
        """AND of *matches*, or OR when the query has been relaxed (then scaled by the share
        of *matches* each document holds)."""
        if not self.relaxed:
            return all_of(matches, n)
        result = any_of(matches, n)
        if len(matches) > 1 and COORD_POWER:
            held = np.zeros(n, dtype=np.float64)
            for match in matches:
                held += match.mask
            result.score *= (held / len(matches)) ** COORD_POWER
        return result

    def _group(self, group: list[Node], space: Space) -> Match:
        if len(group) == 1:
            return self.evaluate(group[0], space)
        self._quiet += 1  # "liao cheng" is one query word
        try:
            literal = all_of([self.evaluate(node, space) for node in group],
                             space.n)
        finally:
            self._quiet -= 1
        joined = "".join(fold(n.text) for n in group)
        result = literal.union(self.pinyin(joined, TEXT_FIELDS, space))
        self._unit(joined, result.mask)
        return result

    def word(self, node: Word, space: Space) -> Match:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text, space)
        fields = (node.field,) if node.field in TEXT_FIELDS else TEXT_FIELDS
        alternatives = self.context.synonyms.get(fold(node.text), [node.text])
        result = any_of([self.word_match(alt, fields, space, node.field is None)
                         for alt in alternatives], space.n)
        text = fold(node.text)
        if node.field is None and self.context.pinyin and _LATIN_WORD.match(text):
            result = result.union(self.pinyin(text, fields, space))
        self._word_units(text, fields, result, space, verbatim=node.field is None)
        return result

    def _word_units(self, text: str, fields: tuple[str, ...], result: Match, space: Space,
                    verbatim: bool) -> None:
        """Register the query words of one plain word: each of its jieba words (a document
        holding the whole word verbatim holds them all), or the word itself when it is one."""
        if self._quiet:
            return
        kept, as_one = word_units(text, self.query_terms(text))
        if as_one:
            self._unit(kept[0], result.mask)
            return
        needle = squeeze(text)
        whole = np.zeros_like(result.mask)
        if verbatim and _HAN.search(needle):
            whole[self.found(space, needle, False).ids] = True
        for term in kept:
            self._unit(term, self.any_field(term, fields, space).mask | whole)

    def word_match(self, text: str, fields: tuple[str, ...], space: Space, verbatim: bool) -> Match:
        n = space.n
        terms = self.query_terms(text)
        kept = [t for t in terms if t not in STOP_WORDS]
        self.terms.update(kept or terms)
        needle = squeeze(text)
        single = fields[0] if len(fields) == 1 else None
        if not kept:  # only stop words or symbols: not indexed, match the text itself
            return self.substring(space, needle, single)
        parts = identifier_parts(needle, terms)
        if parts is not None:
            # A name queried whole: its parts with the exact string between them (a phrase),
            # or the whole token itself.
            exact = self.substring(space, needle, single, whole_numbers=number_edges(needle))
            named = all_of([self.any_field(t, fields, space) for t in parts], n)
            result = Match(named.mask & exact.mask, named.score + exact.score)
            if len(terms) == 1:
                result = result.union(self.any_field(terms[0], fields, space))
            return result
        required = [t for t in kept if t not in QUESTION_WORDS] or kept
        words = self._combine([self.any_field(t, fields, space) for t in required], n)
        optional = [t for t in kept if t not in required]
        if optional:  # question words: a little score where the rest matched, never required
            extra = any_of([self.any_field(t, fields, space) for t in optional], n)
            words.score += QUESTION_WEIGHT * np.where(words.mask, extra.score, 0.0)
        if any(ch.isdigit() for ch in needle) and (
                len(terms) > 1 or len("".join(terms)) < len(needle)):
            # Quantities (30%, 4万, G20峰会): the parts mean nothing apart ("30" is
            # everywhere), so the exact string is required and the terms only add score.
            exact = self.substring(space, needle, single, whole_numbers=True)
            exact.score *= self.verbatim_weight(needle, required)
            exact = Match(exact.mask, exact.score + np.where(words.mask, words.score, 0.0))
            if verbatim and len(_HAN.findall(needle)) >= LOOSE_NUMBER_HAN:
                # A pasted run that cuts a number (023年同类煤电机组): the text around it
                # is evidence enough, below the whole-number matches.
                loose = self.substring(space, needle)
                exact = exact.union(loose, LOOSE_NUMBER_WEIGHT
                                    * self.verbatim_weight(needle, required))
            return exact
        if verbatim and _HAN.search(needle):
            weight = self.verbatim_weight(needle, required)
            result = words.union(self.substring(space, needle), weight)
            for run, run_terms in self.content_runs(text):
                # Proximity: the query's adjacent content words, adjacent in the text too
                # ("怎样会见外长" → 会见外长), where the whole string is not (a question).
                near = self.substring(space, run)
                result.score += self.verbatim_weight(run, run_terms) * np.where(
                    result.mask, near.score, 0.0)
            return result
        return words

    def content_runs(self, text: str) -> list[tuple[str, list[str]]]:
        """:func:`content_runs` of *text*, once per query."""
        cached = self._runs.get(text)
        if cached is None:
            cached = self._runs[text] = content_runs(text, self.context.cut)
        return cached

    @staticmethod
    def verbatim_weight(needle: str, terms: list[str]) -> float:
        return verbatim_weight(needle, terms)

    def any_field(self, term: str, fields: tuple[str, ...], space: Space) -> Match:
        """*term* in any of *fields* (scores summed), once per query and segment."""
        key = (fields, term)
        result = self._term_matches.get(key)
        if result is None:
            result = self.term(space, fields[0], term)
            for name in fields[1:]:
                result = result.union(self.term(space, name, term))
            self._term_matches[key] = result
        return result

    def pinyin(self, text: str, fields: tuple[str, ...], space: Space) -> Match:
        """Words the Latin *text* spells in pinyin; common homophones weigh more."""
        words = self.context.pinyin(text) if self.context.pinyin else []
        result = Match.empty(space.n)
        if not words:
            return result
        self.terms.update(words)
        freq = {w: sum(self.df(f, w) for f in fields) for w in words}
        found = sorted((w for w in words if freq[w] > 0), key=lambda w: (-freq[w], w))
        if found and not self._quiet:
            self.readings.setdefault(text, found)
        top = max(freq.values()) or 1
        for word in words:
            weight = PINYIN_BOOST * (freq[word] / top) ** 0.5
            if weight > 0:
                result = result.union(self.any_field(word, fields, space), weight)
        return result

    def keyword(self, field_name: str, text: str, space: Space) -> Match:
        value = fold_keyword(text)
        if field_name == "author":
            result = self.term(space, "author_key", value)
            parts = self.query_terms(text)
            if parts:
                result = result.union(all_of([self.term(space, "author", p) for p in parts],
                                             space.n))
            return Match(result.mask, np.zeros_like(result.score))
        return self.term(space, field_name, value)

    def phrase(self, node: Phrase, space: Space) -> Match:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text, space)
        self.terms.update(self.query_terms(node.text))
        match = self.substring(space, squeeze(node.text), node.field)
        self._unit(f'"{squeeze(node.text)}"', match.mask)
        return match

    # -- whole-query extras ------------------------------------------------
    def title_bonus(self, node: Node, space: Space, docs: np.ndarray) -> np.ndarray:
        """TITLE_ALL_BOOST × title scores of *docs* where the title holds every plain query
        word (0 elsewhere).

        Only for *docs* (the matches, or a page of them): a whole-index array per title
        term and two passes over the index were a fixed cost of every query that grew
        with the index.  The same sums in the same order, so the same scores.
        """
        words = [node] if isinstance(node, Word) else (
            [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
        terms = [t for w in words if w.field is None
                 for t in self.query_terms(w.text)
                 if t not in STOP_WORDS]
        terms = [t for t in terms if t not in QUESTION_WORDS] or terms
        if not terms or not TITLE_ALL_BOOST:
            return np.zeros(len(docs))
        held, score = self.term(space, "title", terms[0]).at(docs)
        for term in terms[1:]:
            term_held, term_score = self.term(space, "title", term).at(docs)
            held &= term_held
            score += term_score
        for word in words:
            # A fragment cut out of words (推动生 → 推动, 生): its lone characters are in
            # most titles, so such a title only counts if it holds the fragment itself.
            if word.field is None and cut_fragment(word.text, self.query_terms(word.text)):
                found = self.found(space, squeeze(word.text), False)
                held &= np.isin(docs, found.ids[found.title > 0])
        return np.where(held, TITLE_ALL_BOOST * score, 0.0)


@dataclass
class Filters:
    """Exact author / category / tag (one value or several: any of them), a date range
    (naive UTC datetimes), years and month numbers (``y * 12 + m - 1``) in *timezone*."""

    author: str | tuple[str, ...] | None = None
    category: str | tuple[str, ...] | None = None
    tag: str | tuple[str, ...] | None = None
    since: object = None
    until: object = None
    years: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    timezone: str = "UTC"

    def mask(self, evaluator: Evaluator, space: Space) -> np.ndarray | None:
        result: np.ndarray | None = None
        for name, value in (("author_key", self.author), ("category", self.category),
                            ("tag", self.tag)):
            values = [value] if isinstance(value, str) else list(value or ())
            if any(values):
                m = any_of([evaluator.term(space, name, fold_keyword(v))
                            for v in values if v], space.n).mask
                result = m if result is None else result & m
        if self.years or self.months:
            from .facets import period_mask

            m = space.per_segment(lambda reader: period_mask(
                reader, self.timezone, self.years, self.months, evaluator.caches))
            result = m if result is None else result & m
        if self.since is not None or self.until is not None:
            dates = space.dates()
            m = dates != NO_DATE
            if self.since is not None:
                m &= dates >= np.uint64(datetime_to_long(self.since))
            if self.until is not None:
                m &= dates <= np.uint64(datetime_to_long(self.until))
            result = m if result is None else result & m
        return result


@dataclass
class Ranked:
    """Global document numbers of one page, their scores, and the total."""

    docnums: list[int]
    scores: list[float]
    total: int
    #: Every matching document (global numbers), e.g. for facet counts.
    mask: np.ndarray | None = None
    #: How many of the query's words each page document holds, and how many it has.
    matched: list[int] = field(default_factory=list)
    query_words: int = 0
    #: Some match lacks one of the query's words (question words aside).
    partial: bool = False
    #: The documents of ``mask``, ascending (ranking lists them anyway; facets use them).
    hits: np.ndarray | None = None
    #: Latin query words read as pinyin → the indexed words they matched (Evaluator.readings).
    readings: dict[str, list[str]] = field(default_factory=dict)


def rank(searcher, node: Node, context: QueryContext, filters: Filters, *, relaxed: bool,
         sort: str, offset: int, limit: int) -> tuple[Ranked, set[str]]:
    """Evaluate *node* over the whole index (:class:`Space`) and return one page of results."""
    evaluator = Evaluator(searcher, context, relaxed)
    space = evaluator.space
    match = evaluator.evaluate(node, space)
    words = set(evaluator.units)
    mask = match.mask.copy()
    mask[space.deleted()] = False
    allowed = filters.mask(evaluator, space)
    if allowed is not None:
        mask &= allowed
    check_time_limit()
    hits = np.flatnonzero(mask)
    total = int(len(hits))
    partial = False
    if relaxed:
        content = [name for name in evaluator.units if name not in QUESTION_WORDS]
        partial = bool((evaluator.matched_counts(hits, content=True) < len(content)).any())
    if sort == "relevance":
        # Scores of the matches only (the page needs nothing else): the same sums.
        score = match.score[hits] + evaluator.title_bonus(node, space, hits)
        chosen = top_order(-score, offset + limit)[offset:]
        page, page_score = hits[chosen], score[chosen]
    else:
        when = space.dates()[hits].astype(np.float64)
        undated = when == float(NO_DATE)
        keys = -when if sort == "date" else when
        keys = np.where(undated, np.inf, keys)  # undated documents last either way
        page = hits[top_order(keys, offset + limit)[offset:]]
        page_score = match.score[page] + evaluator.title_bonus(node, space, page)
    matched = evaluator.matched_counts(page)
    return Ranked([int(d) for d in page], [float(s) for s in page_score], total, mask,
                  [int(c) for c in matched], len(words), partial, hits,
                  evaluator.readings), evaluator.terms


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

