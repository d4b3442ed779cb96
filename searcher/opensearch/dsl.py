"""Query syntax tree (:mod:`searcher.query`) → OpenSearch query DSL.

The translation executes the rules of :mod:`searcher.core.rules` node by node, as
:mod:`searcher.local.evaluator` does, so both back ends match the same documents:

* a word: all its jieba terms (``query_terms``, stop words dropped) in title or
  body (BM25 on ``title_terms``/``body_terms``); a Chinese word also matches
  documents that contain it verbatim (a substring query on the squeezed text);
  quantities (``30%``, ``4万``) need the exact string with whole numbers;
  synonyms are alternatives, and a Latin word of four letters or more also
  matches its pinyin spelling (weight ``PINYIN_BOOST``);
* a quoted phrase: an exact substring of the folded, whitespace-free title or
  body: a phrase of its character bigrams (exact: consecutive bigrams at
  consecutive positions are the substring; one character is a prefix of
  bigrams); a whole number that must not be part of a longer one is a
  ``regexp`` on the ``wildcard`` fields (verified against the text);
* ``author:``/``category:``/``tag:``: the exact folded value (no score);
* AND → ``bool.must`` (``should`` once relaxed, the score scaled by the share of
  the words held, each weighing its idf), OR → ``bool.should``, NOT → ``bool.must_not``;
* titles holding every plain word get the same bonus as locally;
* the query's words (each distinct jieba word of its plain words, each quoted
  phrase: what the local scorer counts per hit) are named clauses that add no
  score (``constant_score`` with boost 0 under ``should``), so each hit's
  ``matched_queries`` says how many of them it holds.

Title terms are indexed three times (:mod:`searcher.opensearch.mapping`), which
is what the local index's title boost does to term frequencies, so no boost
is needed on the title clauses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis.normalize import fold, squeeze
from ..analysis.tokens import QUESTION_WORDS, STOP_WORDS, QueryTerms
from ..core import rules
from ..core.request import Filters
from ..core.rules import (
    content_runs,
    cut_fragment,
    identifier_parts,
    number_edges,
    question_only,
    verbatim_weight,
    word_units,
)
from ..query import And, Node, Not, Phrase, Word, pinyin_runs
from .mapping import key

#: Characters that may not border a whole number (the local back end's list).
_NUMBER = "0-9."

#: Counts the documents of a list of clauses: (documents in the index, each clause's).
Frequencies = Callable[[list[dict[str, Any]]], tuple[int, list[int]]]


TERM_FIELDS = {"title": "title_terms", "body": "body_terms"}
SQ_FIELDS = {"title": "title_sq", "body": "body_sq"}


@dataclass
class Translation:
    """The query and what the highlighter needs: every term the query looked for."""

    query: dict[str, Any]
    terms: set[str] = field(default_factory=set)
    #: How many query words the query has (named ``UNIT_PREFIX`` + number in the query).
    query_words: int = 0
    #: Latin query words also searched as pinyin spellings (the backend asks which words).
    spellings: list[str] = field(default_factory=list)


#: Prefix of the named clauses that count a hit's query words (:func:`matched_words`).
UNIT_PREFIX = "searcher-word-"


def matched_words(hit: dict[str, Any]) -> int:
    """How many of the query's words an OpenSearch hit holds (its named clauses)."""
    return sum(1 for name in hit.get("matched_queries") or () if name.startswith(UNIT_PREFIX))


def regex_literal(text: str) -> str:
    """*text* as a Lucene regular expression matching exactly itself."""
    return "".join(ch if ch.isalnum() and ord(ch) < 128 or rules.HAN.match(ch) else "\\" + ch
                   for ch in text)


class Translator:
    """Builds the DSL for one query; *relaxed* ORs the words (no document had them all)."""

    def __init__(self, synonyms: dict[str, list[str]] | None = None, pinyin: bool = True,
                 cut: Callable[[str], list[str]] | None = None, relaxed: bool = False,
                 frequencies: Frequencies | None = None) -> None:
        self.synonyms = synonyms or {}
        #: (documents in the index, documents matching each clause): words weigh their idf.
        self.frequencies = frequencies
        self._counts: dict[str, int] = {}  # clause (JSON) → documents, asked once a query
        self._total = 0
        self.pinyin_on = pinyin
        self.cut = cut
        self.relaxed = relaxed
        self.terms: set[str] = set()
        self.spellings: list[str] = []
        #: The query's words → the clauses of the documents holding each (OR).
        self.units: dict[str, list[dict[str, Any]]] = {}
        self._quiet = 0  # > 0 while translating what is not a query word of its own
        #: ``query_terms`` of a text, segmented once per query (several steps ask).
        self.query_terms = QueryTerms(cut)

    def translate(self, node: Node) -> Translation:
        main = self.node(node)
        bonus = self.title_bonus(node)
        should = [] if bonus is None else [bonus]
        # Named, scoreless: a hit's matched_queries names the query words it holds.
        should += [{"constant_score": {"filter": _any(clauses), "boost": 0.0,
                                       "_name": f"{UNIT_PREFIX}{number}"}}
                   for number, clauses in enumerate(self.units.values())]
        query: dict[str, Any] = {"bool": {"must": [main]}}
        if should:
            query["bool"]["should"] = should
        return Translation(query, self.terms, len(self.units), list(dict.fromkeys(self.spellings)))

    # -- query words (the local scorer's ``_unit``) --------------------------
    def _unit(self, name: str, clause: dict[str, Any]) -> None:
        if not self._quiet:
            self.units.setdefault(name, []).append(clause)

    def _quietly(self, make: Callable[[], Any]) -> Any:
        self._quiet += 1
        try:
            return make()
        finally:
            self._quiet -= 1

    def _word_units(self, text: str, fields: tuple[str, ...], result: dict[str, Any],
                    verbatim: bool) -> None:
        """The query words of one plain word: each of its jieba words (a document holding
        the whole word verbatim holds them all), or the word itself when it is one."""
        if self._quiet:
            return
        kept, as_one = word_units(text, self.query_terms(text), quantity=not self.relaxed)
        if as_one:
            self._unit(kept[0], result)
            return
        needle = squeeze(text)
        whole = [self.substring(needle)] if verbatim and rules.HAN.search(needle) else []
        for term in kept:
            self._unit(term, _any([self.any_field(term, fields), *whole]))

    # -- nodes -------------------------------------------------------------
    def node(self, node: Node) -> dict[str, Any]:
        if isinstance(node, Word):
            return self.word(node)
        if isinstance(node, Phrase):
            return self.phrase(node)
        if isinstance(node, Not):  # only inside OR: "a OR -b"
            return {"bool": {"must_not": [self._quietly(lambda: self.node(node.item))]}}
        if isinstance(node, And):
            return self.conjunction(node.items)
        return _any([self.node(item) for item in node.items])

    def conjunction(self, items: tuple[Node, ...]) -> dict[str, Any]:
        positives = [i for i in items if not isinstance(i, Not)]
        negatives = self._quietly(
            lambda: [self.node(i.item) for i in items if isinstance(i, Not)])
        groups = pinyin_runs(positives, lambda joined: self.pinyin_on and len(joined) >= 4)
        asking = [g for g in groups if question_only(g, self.query_terms)]
        if len(asking) == len(groups):
            asking = []
        combined = self.combine([self.group(g) for g in groups if g not in asking])
        if asking:  # "海洋强国 是什么": the question words only add a little score
            combined = _plus(combined, [{"bool": {"should": [self.group(g) for g in asking],
                                                  "boost": rules.QUESTION_WEIGHT}}])
        if negatives:
            combined = {"bool": {"must": [combined], "must_not": negatives}}
        return combined

    def combine(self, clauses: list[dict[str, Any]],
                evidence: Sequence[tuple[dict[str, Any], list[int]]] = (),
                asked: Sequence[int] = (),
                held_by: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """AND of *clauses*, or OR once relaxed, scaled like the local ranking by the share
        of the clauses a document holds, each weighing its idf (the document frequencies
        from *frequencies*): ``function_score`` multiplying the score by the sum of the
        weights of the clauses it matches, COORD_POWER times.  Once relaxed, *evidence*
        (adjacent words found verbatim, and the positions in *clauses* of their words)
        scores inside the scaling, and a document holding a run holds its words, as
        locally (:meth:`searcher.local.evaluator.Evaluator._combine`); the clauses at
        *asked* (what the question asks for) weigh ASKED_SHARE of their idf there.
        *held_by*: unscored clauses matching the same documents as *clauses* (the plain
        words, where *clauses* scale their title scores), which count and filter them."""
        if not self.relaxed:
            return _all(clauses)
        extra = [clause for clause, _covered in evidence]
        if len(clauses) < 2:
            return _plus(_all(clauses), extra)
        plain = clauses if held_by is None else held_by
        weights = self.share_weights(plain, asked)
        share = sum(weights)
        if share <= 0:  # only words asked for: "any word", unscaled (as locally)
            return _plus(_any(clauses), extra)
        result = _plus(_any(clauses), extra)
        held = [_any([c, *(run for run, covered in evidence if number in covered)])
                for number, c in enumerate(plain)]
        for _ in range(int(rules.COORD_POWER)):  # score × share ** COORD_POWER
            result = {"function_score": {
                "query": result,
                "functions": [{"filter": c, "weight": w / share}
                              for c, w in zip(held, weights, strict=True)],
                "score_mode": "sum", "boost_mode": "multiply"}}
        return result

    def share_weights(self, clauses: list[dict[str, Any]], asked: Sequence[int]
                      ) -> list[float]:
        """Each clause's weight in the share of the query a document holds: its idf (1
        without *frequencies*), ASKED_SHARE of it for a word asked for."""
        weights = [1.0] * len(clauses)
        if self.frequencies is not None:
            total, counts = self.counts(clauses)
            weights = [rules.idf(total, count) for count in counts]
        return [w * (rules.ASKED_SHARE if i in asked else 1.0) for i, w in enumerate(weights)]

    def required_clauses(self, required: list[str], plain: list[dict[str, Any]],
                         fields: tuple[str, ...], asked: Sequence[int]) -> list[dict[str, Any]]:
        """Each required word in *fields* (*plain*: its clause as is); in "any word" ranking
        its title score scaled by the share of the words the title holds,
        TITLE_SHARE_POWER times, as locally
        (:meth:`searcher.local.evaluator.Evaluator.required_matches`): a
        ``function_score`` over the title term summing the weights of the title terms a
        document holds."""
        if not (self.relaxed and rules.TITLE_SHARE_POWER and len(required) > 1
                and fields == rules.TEXT_FIELDS):
            return plain
        weights = self.share_weights(plain, asked)
        if self.frequencies is not None:  # only words some title holds make up the share
            _total, counts = self.counts([{"term": {TERM_FIELDS["title"]: t}} for t in required])
            weights = [w if count else 0.0 for w, count in zip(weights, counts, strict=True)]
        total = sum(weights)
        if total <= 0:
            return plain
        functions = [{"filter": {"term": {TERM_FIELDS["title"]: t}}, "weight": w / total}
                     for t, w in zip(required, weights, strict=True)]
        out = []
        for term in required:
            title: dict[str, Any] = {"term": {TERM_FIELDS["title"]: term}}
            for _ in range(int(rules.TITLE_SHARE_POWER)):
                title = {"function_score": {"query": title, "functions": functions,
                                            "score_mode": "sum", "boost_mode": "multiply"}}
            out.append(_any([title, {"term": {TERM_FIELDS["body"]: term}}]))
        return out

    def group(self, group: list[Node]) -> dict[str, Any]:
        if len(group) == 1:
            return self.node(group[0])
        literal = self._quietly(lambda: _all([self.node(n) for n in group]))
        joined = "".join(fold(n.text) for n in group if isinstance(n, Word))  # Latin words
        result = _any([literal, self.pinyin(joined)])
        self._unit(joined, result)  # "liao cheng" is one query word
        return result

    def word(self, node: Word) -> dict[str, Any]:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text)
        fields = (node.field,) if node.field in TERM_FIELDS else ("title", "body")
        alternatives = self.synonyms.get(fold(node.text), [node.text])
        clauses = [self.word_match(alt, fields, node.field is None) for alt in alternatives]
        text = fold(node.text)
        if node.field is None and self.pinyin_on and rules.LATIN_WORD.match(text) \
                and len(text) >= 4:
            clauses.append(self.pinyin(text))
        result = clauses[0] if len(clauses) == 1 else _any(clauses)
        self._word_units(text, fields, result, verbatim=node.field is None)
        return result

    def word_match(self, text: str, fields: tuple[str, ...], verbatim: bool) -> dict[str, Any]:
        terms = self.query_terms(text)
        kept = [t for t in terms if t not in STOP_WORDS]
        self.terms.update(kept or terms)
        needle = squeeze(text)
        single = fields[0] if len(fields) == 1 else None
        if not kept:  # only stop words or symbols: match the text itself
            return self.substring(needle, single)
        parts = identifier_parts(needle, terms)
        if parts is not None:  # a name queried whole: a phrase of its parts, or the token
            named = _all([*(self.any_field(t, fields) for t in parts),
                          self.substring(needle, single, whole_numbers=number_edges(needle))])
            return _any([self.any_field(terms[0], fields), named]) if len(terms) == 1 \
                else named
        required = [t for t in kept if t not in QUESTION_WORDS] or kept
        if self.relaxed and self.frequencies is not None:
            # Every document frequency this word's ranking needs, in one request.
            runs = [(r, ts) for r, ts in content_runs(text, self.cut) if len(ts) >= 2] \
                if verbatim and rules.HAN.search(needle) else []
            self.counts([*(self.any_field(t, fields) for t in {*required, *(
                t for _, ts in runs for t in ts)}), *(self.substring(r) for r, _ in runs)])
        quantity = rules.is_quantity(needle, terms)
        near = self.proximity(text, fields) \
            if verbatim and not quantity and rules.HAN.search(needle) else []
        asked = rules.positions_of(rules.asked_words(terms), required)
        plain = [self.any_field(t, fields) for t in required]
        evidence = [(clause, rules.positions_of(run_terms, required))
                    for clause, run_terms in near] if self.relaxed else []
        words = self.combine(
            self.required_clauses(required, plain, fields, asked), evidence, asked, plain)
        if self.relaxed and verbatim and rules.bigrams_count(needle, required):
            words = _plus(words, [self.bigrams(needle)])
        optional = [t for t in kept if t not in required]
        if optional:  # question words: a little score where the rest matched, never required
            words = _plus(words, [{"bool": {
                "should": [self.any_field(t, fields) for t in optional],
                "boost": rules.QUESTION_WEIGHT}}])
        if quantity:
            # Quantities: the exact string is required, the terms only add score.
            exact = self.substring(needle, single, whole_numbers=True,
                                   weight=verbatim_weight(needle, required))
            if self.relaxed:  # "any word" ranking: the string is evidence, not required
                return _any([words, exact])
            exact = {"bool": {"must": [exact], "should": [words]}}
            if verbatim and len(rules.HAN.findall(needle)) >= rules.LOOSE_NUMBER_HAN:
                # A pasted run that cuts a number (023年同类煤电机组): the text around it
                # is evidence enough, below the whole-number matches (as locally).
                exact = _any([exact, self.substring(
                    needle, weight=rules.LOOSE_NUMBER_WEIGHT * verbatim_weight(needle, required))])
            return exact
        if verbatim and rules.HAN.search(needle):
            # The local ranking's verbatim evidence: stronger the longer the string, and
            # runs of adjacent query words found adjacent in the text (proximity).
            result = _any([words, self.verbatim(needle, required)])
            # "Any word" ranking counted the runs inside the share (combine).
            return result if self.relaxed else _plus(result, [c for c, _terms in near])
        return words

    def proximity(self, text: str, fields: tuple[str, ...]
                  ) -> list[tuple[dict[str, Any], list[str]]]:
        """:meth:`searcher.local.evaluator.Evaluator.proximity`: the runs of adjacent query
        words, each scored as verbatim evidence (once relaxed, only runs of several words,
        for what their adjacency adds), with their words."""
        near = []
        for run, run_terms in content_runs(text, self.cut):
            if self.relaxed and len(run_terms) < 2:
                continue  # "any word" ranking: a lone word is counted by its own match
            scale = self.adjacency(run, run_terms, fields) if self.relaxed else 1.0
            if scale > 0:
                near.append((self.verbatim(run, run_terms, scale), run_terms))
        return near

    def counts(self, clauses: list[dict[str, Any]]) -> tuple[int, list[int]]:
        """(documents in the index, documents matching each of *clauses*), each clause
        counted once per query (*frequencies* asks the cluster for those not yet known)."""
        keys = [json.dumps(c, sort_keys=True, ensure_ascii=False) for c in clauses]
        missing = {k: c for k, c in zip(keys, clauses, strict=True) if k not in self._counts}
        if missing and self.frequencies is not None:
            self._total, found = self.frequencies(list(missing.values()))
            self._counts.update(zip(missing, found, strict=True))
        return self._total, [self._counts.get(k, 0) for k in keys]

    def adjacency(self, run: str, terms: list[str], fields: tuple[str, ...]) -> float:
        """:meth:`searcher.local.evaluator.Evaluator.adjacency`: the share of the run's
        rarity above its rarest word's (document frequencies from *frequencies*)."""
        if self.frequencies is None:
            return 1.0
        total, counts = self.counts(
            [self.substring(run), *(self.any_field(t, fields) for t in terms)])
        if not counts[0]:
            return 0.0
        own = rules.idf(total, counts[0])
        return max(own - max(rules.idf(total, c) for c in counts[1:]), 0.0) / own

    def bigrams(self, needle: str) -> dict[str, Any]:
        """:meth:`searcher.local.evaluator.Evaluator.bigrams`: each character bigram of
        *needle*'s Han runs, BM25 over ``text_grams`` (the whole text), summed, times
        BIGRAM_WEIGHT, and scaled by the share of the bigrams a document holds (each
        weighing its idf, BIGRAM_COORD times: ``function_score`` as in :meth:`combine`)."""
        grams = rules.han_bigrams(needle)
        result: dict[str, Any] = {"bool": {"should": [
            {"term": {"text_grams": {"value": gram, "boost": rules.BIGRAM_WEIGHT}}}
            for gram in grams]}}
        if not rules.BIGRAM_COORD or self.frequencies is None:
            return result
        total, counts = self.counts([{"term": {"text_grams": gram}} for gram in grams])
        weights = [rules.idf(total, count) if count else 0.0 for count in counts]
        share = sum(weights)
        if share <= 0:
            return result
        functions = [{"filter": {"term": {"text_grams": gram}}, "weight": weight / share}
                     for gram, weight in zip(grams, weights, strict=True) if weight]
        for _ in range(int(rules.BIGRAM_COORD)):
            result = {"function_score": {"query": result, "functions": functions,
                                         "score_mode": "sum", "boost_mode": "multiply"}}
        return result

    def any_field(self, term: str, fields: tuple[str, ...]) -> dict[str, Any]:
        clauses = [{"term": {TERM_FIELDS[f]: term}} for f in fields]
        return clauses[0] if len(clauses) == 1 else _any(clauses)

    def pinyin(self, text: str) -> dict[str, Any]:
        if not self._quiet:
            self.spellings.append(text)
        return {"term": {"pinyin": {"value": text, "boost": rules.PINYIN_BOOST}}}

    def keyword(self, field_name: str, text: str) -> dict[str, Any]:
        value = key(text)
        if field_name == "author":
            options: list[dict[str, Any]] = [{"term": {"author_key": value}}]
            parts = self.query_terms(text)
            if parts:
                options.append(_all([{"term": {"author_terms": p}} for p in parts]))
            return {"bool": {"filter": [_any(options)]}}
        return {"bool": {"filter": [{"term": {field_name: value}}]}}

    def phrase(self, node: Phrase) -> dict[str, Any]:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text)
        self.terms.update(self.query_terms(node.text))
        result = self.substring(squeeze(node.text), node.field)
        self._unit(f'"{squeeze(node.text)}"', result)
        return result

    def verbatim(self, needle: str, terms: list[str], scale: float = 1.0) -> dict[str, Any]:
        """The verbatim evidence of *needle*, a run of the query's words *terms*: scored
        (:meth:`substring` with a weight) when it spans several words; one word's verbatim
        match adds the constant a quoted phrase scores, as before (scored, frequent words
        ranked long articles first: the bigram field has no length norms)."""
        if len(terms) < 2:
            return self.substring(needle)
        return self.substring(needle, weight=scale * verbatim_weight(needle, terms))

    def substring(self, needle: str, field_name: str | None = None,
                  whole_numbers: bool = False, weight: float | None = None) -> dict[str, Any]:
        """Documents whose squeezed title/body contain *needle* (exact).

        A quoted phrase scores a constant.  With *weight* (the verbatim evidence of plain
        words, :func:`searcher.core.rules.verbatim_weight`) the bigram phrase is scored
        by BM25 like any phrase: the rarer its bigrams and the more often it occurs, the
        more it counts, as the local index scores a string by its document frequency and
        occurrences; divided by its bigram count, since BM25 adds one idf per bigram
        where the local score has one for the whole string."""
        if not needle:
            return {"match_none": {}}
        pattern = ".*" + regex_literal(needle) + ".*"
        if whole_numbers:
            head = f"(.*[^{_NUMBER}])?" if needle[0].isdigit() else ".*"
            tail = f"([^{_NUMBER}].*)?" if needle[-1].isdigit() else ".*"
            pattern = head + regex_literal(needle) + tail
        names = (field_name,) if field_name in SQ_FIELDS else ("title", "body")
        clauses: list[dict[str, Any]] = []
        for name in names:
            exact: dict[str, Any]
            grams = SQ_FIELDS[name] + ".grams"
            if whole_numbers:  # a number that must not be part of a longer one
                exact = {"regexp": {SQ_FIELDS[name]: {"value": pattern, "flags": "NONE"}}}
            elif len(needle) >= 2:
                # Consecutive character bigrams at consecutive positions: exactly the
                # substring, from the postings (milliseconds, where the regexp reads values).
                exact = {"match_phrase": {grams: needle}}
            else:  # every character starts a bigram (the text ends with END_MARK)
                exact = {"prefix": {grams: needle}}
            field_weight = rules.TITLE_WEIGHT if name == "title" else 1.0
            if weight is not None and "match_phrase" in exact:
                clauses.append({"match_phrase": {grams: {
                    "query": needle, "boost": weight * field_weight / (len(needle) - 1)}}})
                continue
            clauses.append({"constant_score": {
                "filter": exact,
                "boost": (rules.VERBATIM_SCALE if weight is None else weight) * field_weight}})
        return clauses[0] if len(clauses) == 1 else _any(clauses)

    # -- whole-query extras ------------------------------------------------
    def title_bonus(self, node: Node) -> dict[str, Any] | None:
        words = [node] if isinstance(node, Word) else (
            [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
        terms = [t for w in words if w.field is None
                 for t in self.query_terms(w.text) if t not in STOP_WORDS]
        terms = [t for t in terms if t not in QUESTION_WORDS] or terms
        if not terms or not rules.TITLE_ALL_BOOST:
            return None
        fragments = []
        for word in words:
            # A fragment cut out of words (推动生 → 推动, 生): its lone characters are in
            # most titles, so such a title only counts if it holds the fragment itself.
            if word.field is None and cut_fragment(word.text, self.query_terms(word.text)):
                fragments.append({"match_phrase": {SQ_FIELDS["title"] + ".grams":
                                                   squeeze(word.text)}})
        bonus: dict[str, Any] = {"must": [{"term": {"title_terms": t}} for t in terms],
                                 "boost": rules.TITLE_ALL_BOOST}
        if fragments:
            bonus["filter"] = fragments
        return {"bool": bonus}


def _all(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return clauses[0] if len(clauses) == 1 else {"bool": {"must": clauses}}


def _plus(clause: dict[str, Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
    """*clause*'s documents, scored by it plus whichever of *extra* they match."""
    return {"bool": {"must": [clause], "should": extra}} if extra else clause


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return clauses[0] if len(clauses) == 1 else {
        "bool": {"should": clauses, "minimum_should_match": 1}}


def filter_clauses(filters: Filters) -> list[dict[str, Any]]:
    """The filters of a checked request (:mod:`searcher.arguments`) as filter clauses.

    Author/category/tag: any of the folded values of each; the date range
    (naive-UTC bounds); years and months as date ranges in the filters' time
    zone, the way the local index turns dates into months.
    """
    clauses: list[dict[str, Any]] = []
    for name, value in (("author_key", filters.author), ("category", filters.category),
                        ("tag", filters.tag)):
        values = [value] if isinstance(value, str) else list(value or ())
        keys = sorted({key(v) for v in values if v})
        if keys:
            clauses.append({"terms": {name: keys}})
    if filters.since is not None or filters.until is not None:
        bounds: dict[str, str] = {}
        if filters.since is not None:
            bounds["gte"] = filters.since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if filters.until is not None:
            bounds["lte"] = filters.until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        clauses.append({"range": {"date": bounds}})
    for numbers, span in ((filters.years, _year_span), (filters.months, _month_span)):
        if numbers:
            clauses.append(_any([{"range": {"date": dict(
                zip(("gte", "lt"), span(n), strict=True), time_zone=filters.timezone,
                format="strict_date_hour_minute_second")}} for n in sorted(set(numbers))]))
    return clauses


def _year_span(year: int) -> tuple[str, str]:
    return f"{year:04d}-01-01T00:00:00", f"{year + 1:04d}-01-01T00:00:00"


def _month_span(number: int) -> tuple[str, str]:
    """Bounds of month number ``y * 12 + m - 1`` (:func:`searcher.local.facets.month_numbers`)."""
    year, month = divmod(number, 12)
    after_year, after = divmod(number + 1, 12)
    return (f"{year:04d}-{month + 1:02d}-01T00:00:00",
            f"{after_year:04d}-{after + 1:02d}-01T00:00:00")
