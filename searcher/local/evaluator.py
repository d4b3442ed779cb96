"""Evaluate a query syntax tree against the index with vectorised BM25.

Whoosh's own query engine walks a tree of matcher objects in Python, one
document at a time: with exact totals, verbatim matches and bonuses that was
over 100 ms for a common word at 20,000 articles.  Here the index is still
Whoosh's (postings, field lengths, columns), but each term's postings are read
block by block into numpy arrays and every boolean or scoring step is an array
operation over the whole index at once (:class:`~searcher.local.segments.Space`: all
segments as one range of document numbers), not segment by segment.  A query's cost is a
fixed number of array steps plus work in proportion to the postings and string
occurrences it touches (both kept warm in the byte-capped caches), not Python calls per
matching document or per segment.

The rules (weights, query words, questions, verbatim runs, proximity) are
:mod:`searcher.core.rules`; this module executes them:

* "contains the query word verbatim" is :mod:`searcher.local.substrings`; it also
  returns documents that contain the word only across jieba word boundaries;
* in "any word" ranking a run of adjacent words counts only for what its adjacency adds
  (:meth:`Evaluator.adjacency`), and a quantity inside a question is evidence, not a
  required string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..analysis.normalize import fold, fold_keyword, squeeze
from ..analysis.tokens import QUESTION_WORDS, STOP_WORDS, QueryTerms
from ..core import rules
from ..core.rules import (
    TEXT_FIELDS,
    content_runs,
    cut_fragment,
    identifier_parts,
    number_edges,
    question_only,
    verbatim_weight,
    word_units,
)
from ..deadline import check_time_limit
from ..query import And, Node, Not, Phrase, Word, pinyin_runs
from .caching import ENTRY_OVERHEAD, SearchCaches, heap_bytes
from .matches import Match, add_where, all_of, any_of, match_count
from .segments import Space
from .substrings import Found, segment_text
from .whoosh_adapter import postings_everywhere


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



def _narrow(counts: np.ndarray) -> np.ndarray:
    """*counts* (occurrences or term frequencies) in the narrowest exact type a cache
    entry can hold: uint16 when all are whole numbers up to 65,535 (nearly always),
    else float32 (exact up to 2**24, as Whoosh's weights)."""
    if not len(counts):
        return counts.astype(np.uint16)
    if float(counts.max()) <= 0xFFFF and float(counts.min()) >= 0:
        narrow = counts.astype(np.uint16)
        if np.array_equal(narrow, counts):
            return narrow
    return counts.astype(np.float32, copy=False)


def _bm25(idf: float, tf: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``idf × tf × (K1 + 1) / (tf + norm)`` elementwise (float64), in as few passes and
    temporaries as that expression allows; *norm* is consumed."""
    norm += tf
    score = tf * idf
    score *= rules.K1 + 1
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
        from; ids are int32, and weights float32 as Whoosh stores them, or uint16 when
        they are all whole numbers that fit (term frequencies: 6 bytes a posting instead
        of 8, so more of a varied query stream stays cached; the values are the same).
        """
        key = (space.key, fieldname, term)
        cached = self.caches.postings.get(key)
        if cached is not None:
            return cached
        ids, weights = postings_everywhere(space.leaves, fieldname, term)
        all_ids = ids.astype(np.int32)
        all_weights = _narrow(weights) if len(weights) else np.zeros(0, np.float32)
        return self.caches.postings.put(key, (all_ids, all_weights),
                                        heap_bytes(all_ids, all_weights) + ENTRY_OVERHEAD)

    def df(self, fieldname: str, term: str) -> int:
        """Documents holding *term* in *fieldname*: the length of its postings over the
        whole index (deleted documents included, as in Whoosh's term statistics), which
        a query reads anyway; asking Whoosh meant one term-table lookup per segment."""
        return len(self.postings(self.space, fieldname, term)[0])

    def idf(self, df: int) -> float:
        return rules.idf(self.total_docs, df)

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
            ids, tf = ids[keep], found.title[keep].astype(np.float64) * rules.TITLE_WEIGHT
        elif field_name == "body":
            keep = found.body > 0
            ids, tf = ids[keep], found.body[keep].astype(np.float64)
        else:  # every document found holds it somewhere: nothing to drop
            tf = found.title.astype(np.float64)
            tf *= rules.TITLE_WEIGHT
            tf += found.body
        return Match.sparse(space.n, ids, _bm25(self.idf(df), tf, space.text_norms()[ids]))

    def found(self, space: Space, needle: str, whole_numbers: bool) -> Found:
        """Occurrences of *needle* per document of the whole index, found once per query.

        They are the postings of the string (documents and occurrence counts), and like a
        term's postings they never change for a segment: recently used ones are kept in the
        byte-capped ``postings`` cache (8 bytes a document: int32 ids, and counts as
        uint16 where they fit, :func:`_narrow`), so a common word does not walk its
        millions of positions again on every query.
        """
        key = (needle, whole_numbers)
        found = self._scans.get(key)
        if found is None:
            cache_key = _found_key(space, needle, whole_numbers)
            found = self.caches.postings.get(cache_key)
            if found is None:
                joined = space.text()
                whole = joined.find(needle, whole_numbers) if joined is not None else None
                if whole is not None:  # every segment at once
                    parts = [(whole.ids, whole.title, whole.body)] if len(whole) else []
                else:
                    parts = []
                    for reader, offset in space.leaves:
                        check_time_limit()
                        part = segment_text(reader, self.caches).find(needle, whole_numbers)
                        if len(part):
                            parts.append((part.ids + offset, part.title, part.body))
                found = Found(
                    np.concatenate([p[0] for p in parts]).astype(np.int32) if parts
                    else np.zeros(0, dtype=np.int32),
                    _narrow(np.concatenate([p[1] for p in parts])) if parts
                    else np.zeros(0, dtype=np.uint16),
                    _narrow(np.concatenate([p[2] for p in parts])) if parts
                    else np.zeros(0, dtype=np.uint16))
                self.caches.postings.put(cache_key, found, heap_bytes(
                    found.ids, found.title, found.body) + ENTRY_OVERHEAD)
            self._scans[key] = found
        return found

    def documents_holding(self, space: Space, needle: str) -> int:
        """Documents holding *needle* verbatim: the length of :meth:`found`'s occurrences
        when a search has cached them, else counted without per-document occurrence
        counts (:meth:`SpaceText.count`, :meth:`SegmentText.count`; did-you-mean counts
        spans no search looks up) and cached as a number."""
        found = self.caches.postings.get(_found_key(space, needle, False))
        if found is not None:
            return len(found)
        key = (space.key, "documents", needle)
        count = self.caches.postings.get(key)
        if count is None:
            joined = space.text()
            count = joined.count(needle) if joined is not None else None
            if count is None:  # segment by segment
                count = 0
                for reader, _offset in space.leaves:
                    check_time_limit()
                    count += segment_text(reader, self.caches).count(needle)
            self.caches.postings.put(key, count, ENTRY_OVERHEAD)
        return count

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
        positives: list[Node] = [i for i in items if not isinstance(i, Not)]
        negatives = [i.item for i in items if isinstance(i, Not)]
        groups = pinyin_runs(positives, lambda joined: bool(
            self.context.pinyin and self.context.pinyin(joined)))
        asking = [g for g in groups if question_only(g, self.query_terms)]
        if len(asking) == len(groups):
            asking = []
        result = self._combine([self._group(g, space) for g in groups if g not in asking], n)
        for group in asking:  # "海洋强国 是什么": the question words only add a little score
            extra = self._group(group, space)
            add_where(result.score, result.mask, extra, rules.QUESTION_WEIGHT)
        self._quiet += 1
        try:
            for neg in negatives:
                result.mask &= ~self.evaluate(neg, space).mask
        finally:
            self._quiet -= 1
        return result

    def _combine(self, matches: list[Match], n: int,
                 evidence: Sequence[tuple[Match, float, list[int]]] = (),
                 asked: Sequence[int] = ()) -> Match:
        """AND of *matches*, or OR when the query has been relaxed (then scaled by the share
        of *matches* each document holds, each weighing its idf: COORD_POWER).  Once
        relaxed, *evidence* (a Match, its weight and the positions in *matches* of the
        words it holds: adjacent words found verbatim) adds to the score of the documents
        matched before the scaling: it is evidence about the same words, worth only the
        share of the question a document holds; and a document holding the run verbatim
        holds its words (however its text was segmented).  The words at *asked* (what the
        question asks for: :func:`~searcher.core.rules.asked_words`) weigh ASKED_SHARE of
        their idf in the share."""
        if not self.relaxed:
            return all_of(matches, n)
        result = any_of(matches, n)
        for match, weight, _covered in evidence:
            add_where(result.score, result.mask, match, weight)
        if len(matches) > 1 and rules.COORD_POWER:
            weights = self.share_weights(matches, asked)
            held = np.zeros(n, dtype=np.float64)
            for number, (match, weight) in enumerate(zip(matches, weights, strict=True)):
                mask = match.mask
                for run, _weight, covered in evidence:
                    if number in covered:
                        mask = mask | (run.mask & result.mask)
                held += weight * mask
            if sum(weights) > 0:
                result.score *= (held / sum(weights)) ** rules.COORD_POWER
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
        joined = "".join(fold(cast(Word, n).text) for n in group)  # a run of plain words
        result = literal.union(self.pinyin(joined, TEXT_FIELDS, space), in_place=True)
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
        if node.field is None and self.context.pinyin and rules.LATIN_WORD.match(text):
            result = result.union(self.pinyin(text, fields, space))
        self._word_units(text, fields, result, space, verbatim=node.field is None)
        return result

    def _word_units(self, text: str, fields: tuple[str, ...], result: Match, space: Space,
                    verbatim: bool) -> None:
        """Register the query words of one plain word: each of its jieba words (a document
        holding the whole word verbatim holds them all), or the word itself when it is one."""
        if self._quiet:
            return
        kept, as_one = word_units(text, self.query_terms(text), quantity=not self.relaxed)
        if as_one:
            self._unit(kept[0], result.mask)
            return
        needle = squeeze(text)
        whole = np.zeros_like(result.mask)
        if verbatim and rules.HAN.search(needle):
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
        quantity = rules.is_quantity(needle, terms)
        near = self.proximity(text, fields, space) \
            if verbatim and not quantity and rules.HAN.search(needle) else []
        asked = rules.positions_of(rules.asked_words(terms), required)
        evidence = [(match, weight, rules.positions_of(run_terms, required))
                    for match, weight, run_terms in near] if self.relaxed else []
        words = self._combine(
            self.required_matches(required, fields, space, asked), n, evidence, asked)
        if self.relaxed and verbatim and rules.bigrams_count(needle, required):
            words.score += rules.BIGRAM_WEIGHT * np.where(
                words.mask, self.bigrams(needle, space), 0.0)
        optional = [t for t in kept if t not in required]
        if optional:  # question words: a little score where the rest matched, never required
            extra = any_of([self.any_field(t, fields, space) for t in optional], n)
            add_where(words.score, words.mask, extra, rules.QUESTION_WEIGHT)
        if quantity:
            # Quantities (30%, 4万, G20峰会): the parts mean nothing apart ("30" is
            # everywhere), so the exact string is required and the terms only add score.
            exact = self.substring(space, needle, single, whole_numbers=True)
            exact.score *= self.verbatim_weight(needle, required)
            if self.relaxed:
                # "Any word" ranking (a question holding a number: 2020年8月20号之前的借款
                # …): the exact string is evidence like the other words, not a requirement.
                return words.union(exact, in_place=True)
            exact = Match(exact.mask, exact.score + np.where(words.mask, words.score, 0.0))
            if verbatim and len(rules.HAN.findall(needle)) >= rules.LOOSE_NUMBER_HAN:
                # A pasted run that cuts a number (023年同类煤电机组): the text around it
                # is evidence enough, below the whole-number matches.
                loose = self.substring(space, needle)
                exact = exact.union(loose, rules.LOOSE_NUMBER_WEIGHT
                                    * self.verbatim_weight(needle, required))
            return exact
        if verbatim and rules.HAN.search(needle):
            weight = self.verbatim_weight(needle, required)
            result = words.union(self.substring(space, needle), weight, in_place=True)
            if not self.relaxed:  # "any word" ranking counted them inside the share
                for match, weight, _terms in near:
                    add_where(result.score, result.mask, match, weight)
            return result
        return words

    def bigrams(self, needle: str, space: Space) -> np.ndarray:
        """Each document's BM25 of the character bigrams of *needle*'s Han runs over its
        whole text (title and body alike), summed, and scaled by the share of the bigrams
        it holds, each weighing its idf (``rules.BIGRAM_COORD`` times): a document
        holding one rare pair of a long question (量子 of 量子纠缠) is not lifted over one
        holding most of them.  Summed in place into one whole-index array (a union per
        bigram copied the arrays once per bigram)."""
        score = np.zeros(space.n, dtype=np.float64)
        held = np.zeros(space.n, dtype=np.float64)
        norms = space.text_norms()
        total = 0.0
        for gram in rules.han_bigrams(needle):
            found = self.found(space, gram, False)
            if len(found):
                ids = found.ids.astype(np.intp)  # distinct documents
                tf = found.title.astype(np.float64)
                tf += found.body
                idf = self.idf(len(ids))
                score[ids] += _bm25(idf, tf, norms[ids])
                held[ids] += idf
                total += idf
        if rules.BIGRAM_COORD and total:
            score *= (held / total) ** int(rules.BIGRAM_COORD)
        return score

    def share_weights(self, matches: list[Match], asked: Sequence[int]) -> list[float]:
        """Each word's weight in the share of the query a document holds: its idf, and
        ASKED_SHARE of it for a word asked for."""
        return [self.idf(match_count(m)) * (rules.ASKED_SHARE if i in asked else 1.0)
                for i, m in enumerate(matches)]

    def required_matches(self, required: list[str], fields: tuple[str, ...], space: Space,
                         asked: Sequence[int]) -> list[Match]:
        """Each required word in *fields*.  In "any word" ranking, a word's title score is
        scaled by the share of the query's words that title holds (each weighing its idf,
        TITLE_SHARE_POWER times): a title holding most of the question says the document
        is about it, a title holding one word of it only names a topic, and titles shared
        by many documents (a law's name over its articles) lift all of them alike.  Only
        the words some title holds make up that share."""
        plain = [self.any_field(t, fields, space) for t in required]
        if not (self.relaxed and rules.TITLE_SHARE_POWER and len(required) > 1
                and fields == TEXT_FIELDS):
            return plain
        weights = self.share_weights(plain, asked)
        titles = [self.term(space, "title", t) for t in required]
        # A word no title holds cannot be in a title's share (量子纠缠 asked of a headline).
        total = sum(w for w, title in zip(weights, titles, strict=True) if match_count(title))
        if total <= 0:
            return plain
        held = np.zeros(space.n, dtype=np.float64)
        for title, weight in zip(titles, weights, strict=True):
            held[title.ids if title.is_sparse else title.mask] += weight / total
        out = []
        for term, title in zip(required, titles, strict=True):
            ids = title.ids if title.is_sparse else np.flatnonzero(title.mask)
            values = title.values if title.is_sparse else title.score[ids]
            scaled = Match.sparse(space.n, ids, values * held[ids] ** rules.TITLE_SHARE_POWER)
            out.append(scaled.union(self.term(space, "body", term)))
        return out

    def proximity(self, text: str, fields: tuple[str, ...], space: Space
                  ) -> list[tuple[Match, float, list[str]]]:
        """The query's adjacent content words, adjacent in the text too ("怎样会见外长" →
        会见外长), where the whole string is not (a question): each run found verbatim, its
        weight and its words.  In "any word" ranking a lone word is counted by its own match, and a
        run only for what its adjacency adds (:meth:`adjacency`)."""
        out = []
        for run, run_terms in self.content_runs(text):
            if self.relaxed and len(run_terms) < 2:
                continue
            near = self.substring(space, run)
            weight = self.verbatim_weight(run, run_terms)
            if self.relaxed:
                weight *= self.adjacency(near, run_terms, fields, space)
            if weight:
                out.append((near, weight, run_terms))
        return out

    def adjacency(self, near: Match, terms: list[str], fields: tuple[str, ...],
                  space: Space) -> float:
        """What a run of the query's words found verbatim (*near*) says beyond its words, in
        "any word" ranking: the share of its rarity (idf of the string) above that of its
        rarest word.  Near 1 for a run found in few of the documents holding its words
        (a sentence the question quotes); 0 for a stock phrase, found wherever its rarest
        word is (承担侵权责任), which a question shares with hundreds of articles."""
        found = match_count(near)
        if not found:
            return 0.0
        own = self.idf(found)
        rarest = max(self.idf(match_count(self.any_field(t, fields, space))) for t in terms)
        return max(own - rarest, 0.0) / own

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
            weight = rules.PINYIN_BOOST * (freq[word] / top) ** 0.5
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
        if not terms or not rules.TITLE_ALL_BOOST:
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
                titled = found.ids[found.title > 0]  # ascending: Match.at, no sort
                held &= Match.sparse(space.n, titled, np.zeros(len(titled))).at(docs)[0]
        return np.where(held, rules.TITLE_ALL_BOOST * score, 0.0)


def _found_key(space: Space, needle: str, whole_numbers: bool) -> tuple[Any, ...]:
    """The postings-cache key of :meth:`Evaluator.found`'s occurrences of *needle*."""
    return (space.key, "", needle, whole_numbers)
