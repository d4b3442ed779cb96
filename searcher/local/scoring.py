"""Evaluate a query syntax tree against the index with vectorised BM25.

Whoosh's own query engine walks a tree of matcher objects in Python, one
document at a time: with exact totals, verbatim matches and bonuses that was
over 100 ms for a common word at 20,000 articles.  Here the index is still
Whoosh's (postings, field lengths, columns), but each term's postings are read
block by block into numpy arrays and every boolean or scoring step is an array
operation over one segment.  The cost is proportional to the postings read,
not to Python calls per matching document.

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

import numpy as np

from ..analysis.normalize import fold, fold_keyword, squeeze
from ..analysis.tokens import QUESTION_WORDS, STOP_WORDS, iter_terms, query_terms
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


@dataclass
class Match:
    """Documents of one segment that match, and their scores."""

    mask: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Match:
        return cls(np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float64))

    def union(self, other: Match, weight: float = 1.0) -> Match:
        return Match(self.mask | other.mask, self.score + weight * other.score)

    def intersect(self, other: Match) -> Match:
        return Match(self.mask & other.mask, self.score + other.score)


def all_of(matches: list[Match], n: int) -> Match:
    result = Match(np.ones(n, dtype=bool), np.zeros(n, dtype=np.float64))
    for match in matches:
        result = result.intersect(match)
    return result


def any_of(matches: list[Match], n: int) -> Match:
    result = Match.empty(n)
    for match in matches:
        result = result.union(match)
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


class Evaluator:
    """Evaluates nodes for one searcher; remembers the terms it matched (for highlights)."""

    def __init__(self, searcher, context: QueryContext, relaxed: bool = False) -> None:
        self.searcher = searcher
        self.context = context
        self.relaxed = relaxed
        self.terms: set[str] = set()
        self.total_docs = max(searcher.doc_count_all(), 1)
        self._avg = {f: max(searcher.avg_field_length(f, 1.0), 1.0) for f in TEXT_FIELDS}
        self._df: dict[tuple[str, str], int] = {}
        self._scans: dict[tuple[int, str, bool], Found] = {}
        self.caches = context.caches
        #: The query's words (distinct jieba words of its plain words, quoted phrases) →
        #: documents of the current segment holding each (see :meth:`matched_counts`).
        self.units: dict[str, np.ndarray] = {}
        self._quiet = 0  # > 0 while evaluating what is not a query word of its own
        self._segmented: dict[str, list[str]] = {}
        self._runs: dict[str, list[tuple[str, list[str]]]] = {}

    def query_terms(self, text: str) -> list[str]:
        """``query_terms`` of *text*, segmented once per query (several steps ask)."""
        terms = self._segmented.get(text)
        if terms is None:
            terms = self._segmented[text] = query_terms(text, self.context.cut)
        return list(terms)

    # -- matched words -----------------------------------------------------
    def start_segment(self) -> None:
        """Forget the previous segment's query-word masks."""
        self.units = {}

    def _unit(self, name: str, mask: np.ndarray) -> None:
        if self._quiet:
            return
        held = self.units.get(name)
        self.units[name] = mask.copy() if held is None else held | mask

    def matched_counts(self, n: int, content: bool = False) -> np.ndarray:
        """How many of the query's words each document of the current segment holds
        (*content*: only words that are not question words)."""
        counts = np.zeros(n, dtype=np.int32)
        for name, mask in self.units.items():
            if not (content and name in QUESTION_WORDS):
                counts += mask
        return counts

    # -- leaves ------------------------------------------------------------
    def postings(self, reader, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, weights) of *term* in one segment (deleted documents included).

        Segments never change, so recently used postings are kept (warm queries) in the
        byte-capped ``postings`` cache; ids are int32 and weights float32, which is what
        Whoosh stores (8 bytes a posting).
        """
        key = (segment_key(reader), fieldname, term)
        cached = self.caches.postings.get(key)
        if cached is not None:
            return cached
        ids, weights = self._read_postings(reader, fieldname, term)
        return self.caches.postings.put(key, (ids, weights),
                                        heap_bytes(ids, weights) + ENTRY_OVERHEAD)

    def _read_postings(self, reader, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        ids, weights = term_postings(reader, fieldname, term)
        return np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32)

    def df(self, fieldname: str, term: str) -> int:
        key = (fieldname, term)
        if key not in self._df:
            self._df[key] = self.searcher.doc_frequency(fieldname, term)
        return self._df[key]

    def idf(self, df: int) -> float:
        return math.log(1 + (self.total_docs - df + 0.5) / (df + 0.5))

    def term(self, leaf, fieldname: str, term: str) -> Match:
        reader = leaf.reader()
        n = reader.doc_count_all()
        match = Match.empty(n)
        ids, weights = self.postings(reader, fieldname, term)
        if not len(ids):
            return match
        if fieldname in TEXT_FIELDS:
            tf = weights.astype(np.float64)  # exact: scores are computed as before, in float64
            dl = segment_data(reader, self.caches).lengths[fieldname][ids]
            norm = K1 * (1 - B + B * dl / self._avg[fieldname])
            match.score[ids] = self.idf(self.df(fieldname, term)) * tf * (K1 + 1) / (tf + norm)
        match.mask[ids] = True
        return match

    def substring(self, leaf, needle: str, field_name: str | None = None,
                  whole_numbers: bool = False) -> Match:
        reader = leaf.reader()
        n = reader.doc_count_all()
        match = Match.empty(n)
        if not needle:
            return match
        seg = segment_text(reader, self.caches)
        found = self._found(reader, needle, whole_numbers)
        if not len(found):
            return match
        ids, title, body = found.ids, found.title, found.body
        if field_name == "title":
            body = np.zeros_like(body)
        elif field_name == "body":
            title = np.zeros_like(title)
        keep = (title + body) > 0
        ids, title, body = ids[keep], title[keep], body[keep]
        tf = title * TITLE_WEIGHT + body
        df = self._substring_df(needle, whole_numbers)
        norm = K1 * (1 - B + B * seg.lengths[ids] / seg.avg_len)
        match.mask[ids] = True
        match.score[ids] = self.idf(df) * tf * (K1 + 1) / (tf + norm)
        return match

    def _found(self, reader, needle: str, whole_numbers: bool) -> Found:
        """Occurrences of *needle* per document of one segment, scanned once per query."""
        key = (id(reader), needle, whole_numbers)
        if key not in self._scans:
            self._scans[key] = segment_text(reader, self.caches).find(needle, whole_numbers)
        return self._scans[key]

    def _substring_df(self, needle: str, whole_numbers: bool) -> int:
        return sum(len(self._found(leaf.reader(), needle, whole_numbers))
                   for leaf, _ in self.searcher.leaf_searchers())

    # -- nodes -------------------------------------------------------------
    def evaluate(self, node: Node, leaf) -> Match:
        if isinstance(node, Word):
            return self.word(node, leaf)
        if isinstance(node, Phrase):
            return self.phrase(node, leaf)
        if isinstance(node, Not):  # only reached inside Or: "a OR NOT b" is not allowed
            self._quiet += 1
            try:
                inner = self.evaluate(node.item, leaf)
            finally:
                self._quiet -= 1
            return Match(~inner.mask, np.zeros_like(inner.score))
        if isinstance(node, And):
            return self.conjunction(node.items, leaf)
        return any_of([self.evaluate(item, leaf) for item in node.items],
                      leaf.reader().doc_count_all())

    def conjunction(self, items: tuple[Node, ...], leaf) -> Match:
        n = leaf.reader().doc_count_all()
        positives = [i for i in items if not isinstance(i, Not)]
        negatives = [i.item for i in items if isinstance(i, Not)]
        groups = pinyin_runs(positives, lambda joined: bool(
            self.context.pinyin and self.context.pinyin(joined)))
        asking = [g for g in groups if self._asks(g)]
        if len(asking) == len(groups):
            asking = []
        result = self._combine([self._group(g, leaf) for g in groups if g not in asking], n)
        for group in asking:  # "海洋强国 是什么": the question words only add a little score
            extra = self._group(group, leaf)
            result.score += QUESTION_WEIGHT * np.where(result.mask, extra.score, 0.0)
        self._quiet += 1
        try:
            for neg in negatives:
                result.mask &= ~self.evaluate(neg, leaf).mask
        finally:
            self._quiet -= 1
        return result

    def _asks(self, group: list[Node]) -> bool:
        """Whether a conjunction item is only question words (``是什么``, ``吗``)."""
        if len(group) != 1 or not isinstance(group[0], Word) or group[0].field is not None:
            return False
        kept = [t for t in self.query_terms(group[0].text) if t not in STOP_WORDS]
        return bool(kept) and all(t in QUESTION_WORDS for t in kept)

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

    def _group(self, group: list[Node], leaf) -> Match:
        if len(group) == 1:
            return self.evaluate(group[0], leaf)
        self._quiet += 1  # "liao cheng" is one query word
        try:
            literal = all_of([self.evaluate(node, leaf) for node in group],
                             leaf.reader().doc_count_all())
        finally:
            self._quiet -= 1
        joined = "".join(fold(n.text) for n in group)
        result = literal.union(self.pinyin(joined, TEXT_FIELDS, leaf))
        self._unit(joined, result.mask)
        return result

    def word(self, node: Word, leaf) -> Match:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text, leaf)
        fields = (node.field,) if node.field in TEXT_FIELDS else TEXT_FIELDS
        alternatives = self.context.synonyms.get(fold(node.text), [node.text])
        result = Match.empty(leaf.reader().doc_count_all())
        for alt in alternatives:
            result = result.union(self.word_match(alt, fields, leaf, node.field is None))
        text = fold(node.text)
        if node.field is None and self.context.pinyin and _LATIN_WORD.match(text):
            result = result.union(self.pinyin(text, fields, leaf))
        self._word_units(text, fields, result, leaf, verbatim=node.field is None)
        return result

    def _word_units(self, text: str, fields: tuple[str, ...], result: Match, leaf,
                    verbatim: bool) -> None:
        """Register the query words of one plain word: each of its jieba words (a document
        holding the whole word verbatim holds them all), or the word itself when it is one."""
        if self._quiet:
            return
        kept = [t for t in dict.fromkeys(self.query_terms(text))
                if t not in STOP_WORDS]
        needle = squeeze(text)
        if len(kept) <= 1 or any(ch.isdigit() for ch in needle):
            self._unit(kept[0] if len(kept) == 1 else needle, result.mask)
            return
        whole = np.zeros_like(result.mask)
        if verbatim and _HAN.search(needle):
            whole[self._found(leaf.reader(), needle, False).ids] = True
        for term in kept:
            self._unit(term, self.any_field(term, fields, leaf).mask | whole)

    def word_match(self, text: str, fields: tuple[str, ...], leaf, verbatim: bool) -> Match:
        n = leaf.reader().doc_count_all()
        terms = self.query_terms(text)
        kept = [t for t in terms if t not in STOP_WORDS]
        self.terms.update(kept or terms)
        needle = squeeze(text)
        single = fields[0] if len(fields) == 1 else None
        if not kept:  # only stop words or symbols: not indexed, match the text itself
            return self.substring(leaf, needle, single)
        required = [t for t in kept if t not in QUESTION_WORDS] or kept
        words = self._combine([self.any_field(t, fields, leaf) for t in required], n)
        optional = [t for t in kept if t not in required]
        if optional:  # question words: a little score where the rest matched, never required
            extra = any_of([self.any_field(t, fields, leaf) for t in optional], n)
            words.score += QUESTION_WEIGHT * np.where(words.mask, extra.score, 0.0)
        if any(ch.isdigit() for ch in needle) and (
                len(terms) > 1 or len("".join(terms)) < len(needle)):
            # Quantities (30%, 4万, G20峰会): the parts mean nothing apart ("30" is
            # everywhere), so the exact string is required and the terms only add score.
            exact = self.substring(leaf, needle, single, whole_numbers=True)
            exact.score *= self.verbatim_weight(needle, required)
            exact = Match(exact.mask, exact.score + np.where(words.mask, words.score, 0.0))
            if verbatim and len(_HAN.findall(needle)) >= LOOSE_NUMBER_HAN:
                # A pasted run that cuts a number (023年同类煤电机组): the text around it
                # is evidence enough, below the whole-number matches.
                loose = self.substring(leaf, needle)
                exact = exact.union(loose, LOOSE_NUMBER_WEIGHT
                                    * self.verbatim_weight(needle, required))
            return exact
        if verbatim and _HAN.search(needle):
            weight = self.verbatim_weight(needle, required)
            result = words.union(self.substring(leaf, needle), weight)
            for run, run_terms in self.content_runs(text):
                # Proximity: the query's adjacent content words, adjacent in the text too
                # ("怎样会见外长" → 会见外长), where the whole string is not (a question).
                near = self.substring(leaf, run)
                result.score += self.verbatim_weight(run, run_terms) * np.where(
                    result.mask, near.score, 0.0)
            return result
        return words

    def content_runs(self, text: str) -> list[tuple[str, list[str]]]:
        """Runs of adjacent content words of a query word (stop and question words split
        them), as (squeezed text, its words), when they are not the whole word."""
        cached = self._runs.get(text)
        if cached is not None:
            return cached
        folded = fold(text)
        runs: list[tuple[int, int, list[str]]] = []
        last_end = -1
        for term in iter_terms(folded, extras=False, cut=self.context.cut):
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
        self._runs[text] = [(run, words) for run, words in out
                            if run != whole and _HAN.search(run)]
        return self._runs[text]

    def verbatim_weight(self, needle: str, terms: list[str]) -> float:
        """How much a verbatim match of *needle* counts: grows with its length when it
        spans several words (one word's verbatim match is just that word)."""
        if len(terms) < 2:
            return VERBATIM_SCALE
        size = min(len(needle), VERBATIM_MAX_CHARS)
        return VERBATIM_SCALE * max(size / 2, 1.0) ** VERBATIM_POWER

    def any_field(self, term: str, fields: tuple[str, ...], leaf) -> Match:
        result = self.term(leaf, fields[0], term)
        for name in fields[1:]:
            result = result.union(self.term(leaf, name, term))
        return result

    def pinyin(self, text: str, fields: tuple[str, ...], leaf) -> Match:
        """Words the Latin *text* spells in pinyin; common homophones weigh more."""
        words = self.context.pinyin(text) if self.context.pinyin else []
        result = Match.empty(leaf.reader().doc_count_all())
        if not words:
            return result
        self.terms.update(words)
        freq = {w: sum(self.df(f, w) for f in fields) for w in words}
        top = max(freq.values()) or 1
        for word in words:
            weight = PINYIN_BOOST * (freq[word] / top) ** 0.5
            if weight > 0:
                result = result.union(self.any_field(word, fields, leaf), weight)
        return result

    def keyword(self, field_name: str, text: str, leaf) -> Match:
        value = fold_keyword(text)
        if field_name == "author":
            result = self.term(leaf, "author_key", value)
            parts = query_terms(text, self.context.cut)
            if parts:
                result = result.union(all_of([self.term(leaf, "author", p) for p in parts],
                                             leaf.reader().doc_count_all()))
            return Match(result.mask, np.zeros_like(result.score))
        return self.term(leaf, field_name, value)

    def phrase(self, node: Phrase, leaf) -> Match:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text, leaf)
        self.terms.update(query_terms(node.text, self.context.cut))
        match = self.substring(leaf, squeeze(node.text), node.field)
        self._unit(f'"{squeeze(node.text)}"', match.mask)
        return match

    # -- whole-query extras ------------------------------------------------
    def title_bonus(self, node: Node, leaf) -> np.ndarray:
        """TITLE_ALL_BOOST × title scores where the title holds every plain query word."""
        words = [node] if isinstance(node, Word) else (
            [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
        terms = [t for w in words if w.field is None
                 for t in self.query_terms(w.text)
                 if t not in STOP_WORDS]
        terms = [t for t in terms if t not in QUESTION_WORDS] or terms
        n = leaf.reader().doc_count_all()
        if not terms or not TITLE_ALL_BOOST:
            return np.zeros(n)
        combined = all_of([self.term(leaf, "title", term) for term in terms], n)
        for word in words:
            # A fragment cut out of words (推动生 → 推动, 生): its lone characters are in
            # most titles, so such a title only counts if it holds the fragment itself.
            kept = [t for t in self.query_terms(word.text) if t not in STOP_WORDS]
            needle = squeeze(word.text)
            if (word.field is None and len(kept) > 1 and _HAN.search(needle)
                    and any(len(t) == 1 and _HAN.match(t) for t in kept)):
                found = self._found(leaf.reader(), needle, False)
                held = np.zeros(n, dtype=bool)
                held[found.ids[found.title > 0]] = True
                combined.mask &= held
        return np.where(combined.mask, TITLE_ALL_BOOST * combined.score, 0.0)


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

    def mask(self, evaluator: Evaluator, leaf) -> np.ndarray | None:
        result: np.ndarray | None = None
        for name, value in (("author_key", self.author), ("category", self.category),
                            ("tag", self.tag)):
            values = [value] if isinstance(value, str) else list(value or ())
            if any(values):
                m = any_of([evaluator.term(leaf, name, fold_keyword(v))
                            for v in values if v], leaf.reader().doc_count_all()).mask
                result = m if result is None else result & m
        if self.years or self.months:
            from .facets import period_mask

            m = period_mask(leaf.reader(), self.timezone, self.years, self.months,
                            evaluator.caches)
            result = m if result is None else result & m
        if self.since is not None or self.until is not None:
            dates = segment_data(leaf.reader(), evaluator.caches).dates
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


def rank(searcher, node: Node, context: QueryContext, filters: Filters, *, relaxed: bool,
         sort: str, offset: int, limit: int) -> tuple[Ranked, set[str]]:
    """Evaluate *node* over every segment and return one page of results."""
    evaluator = Evaluator(searcher, context, relaxed)
    masks, scores, dates, counts = [], [], [], []
    words: set[str] = set()
    partial = False
    for leaf, _offset in searcher.leaf_searchers():
        check_time_limit()  # a caller's time_limit (searcher/deadline.py), between segments
        reader = leaf.reader()
        evaluator.start_segment()
        match = evaluator.evaluate(node, leaf)
        counts.append(evaluator.matched_counts(reader.doc_count_all()))
        words.update(evaluator.units)
        mask = match.mask.copy()
        if reader.has_deletions():
            deleted = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
            mask[deleted] = False
        allowed = filters.mask(evaluator, leaf)
        if allowed is not None:
            mask &= allowed
        if relaxed and not partial:
            content = [name for name in evaluator.units if name not in QUESTION_WORDS]
            partial = bool(
                (evaluator.matched_counts(len(mask), content=True)[mask] < len(content)).any())
        score = match.score + evaluator.title_bonus(node, leaf)
        masks.append(mask)
        scores.append(score)
        if sort != "relevance":
            dates.append(segment_data(reader, evaluator.caches).dates)
    check_time_limit()
    mask = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    score = np.concatenate(scores) if scores else np.zeros(0)
    hits = np.flatnonzero(mask)
    total = int(len(hits))
    if sort == "relevance":
        keys = -score[hits]
    else:
        when = np.concatenate(dates)[hits].astype(np.float64)
        undated = when == float(NO_DATE)
        keys = -when if sort == "date" else when
        keys = np.where(undated, np.inf, keys)  # undated documents last either way
    order = np.lexsort((hits, keys))  # ties: index order, deterministic
    page = hits[order[offset : offset + limit]]
    matched = np.concatenate(counts)[page] if counts else np.zeros(0, dtype=np.int32)
    return Ranked([int(d) for d in page], [float(score[d]) for d in page], total, mask,
                  [int(c) for c in matched], len(words), partial), evaluator.terms
