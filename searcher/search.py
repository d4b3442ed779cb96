"""Query syntax tree → Whoosh query → ranked, highlighted results.

How each node is matched:

* a word: its jieba terms must all appear in title or body (BM25F, title
  boosted), with a bonus when they appear next to each other; when the word
  contains Chinese, documents containing it verbatim also match, scored far
  below any word match (so they only fill in what segmentation missed);
  synonyms and, for Latin words, pinyin readings are alternatives;
* a quoted phrase: exact substring of the folded, whitespace-free title or
  body (:mod:`searcher.substrings`);
* ``field:value``: title/body terms, or the exact folded author, category or tag.

When no document has every word, the query is relaxed to "any word" and the
results say so.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from whoosh import query as wq

from .analysis import STOP_WORDS, query_terms
from .dates import parse_date, to_utc
from .highlight import highlight_all, make_snippet, needles_for
from .normalize import fold, squeeze
from .query import And, Node, Not, Phrase, Word, positive_literals
from .results import Hit, SearchResults
from .substrings import SubstringQuery

#: Weight of "contains the query word verbatim" next to the word match itself: a document
#: that has the words *and* the exact string beats one with only scattered words, and a
#: rare exact string found only across word boundaries (a headline fragment) still ranks.
VERBATIM_SCALE = 1.0
PINYIN_BOOST = 0.3
PROXIMITY_BOOST = 1.0
#: Bonus when the title holds every word of the query (the strongest known-item signal).
TITLE_ALL_BOOST = 3.0
#: ... more when they are also close together, in order.
TITLE_PHRASE_BOOST = 1.0
TITLE_PHRASE_SLOP = 3
SORTS = ("relevance", "date", "oldest")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"^[a-z]+$")


@dataclass
class QueryContext:
    """Query-time resources: synonym groups and the pinyin lookup."""

    synonyms: dict[str, list[str]] = field(default_factory=dict)
    pinyin: Callable[[str], list[str]] | None = None
    #: Segments Han runs of query words (a frozen-dictionary segmenter; None: jieba).
    cut: Callable[[str], list[str]] | None = None


@dataclass
class _Built:
    query: wq.Query
    terms: set[str] = field(default_factory=set)


class QueryBuilder:
    """Turns syntax-tree nodes into Whoosh queries (``relaxed`` ORs the words)."""

    def __init__(self, context: QueryContext, relaxed: bool = False, reader=None) -> None:
        self.context = context
        self.relaxed = relaxed
        self.reader = reader  # for document frequencies (pinyin homophones)
        self.terms: set[str] = set()

    def build(self, node: Node) -> wq.Query:
        if isinstance(node, Word):
            return self.word(node)
        if isinstance(node, Phrase):
            return self.phrase(node)
        if isinstance(node, Not):
            return wq.Not(self.build(node.item))
        if isinstance(node, And):
            items = self.and_items(node.items)
            if self.relaxed:
                positives = [q for q in items if not isinstance(q, wq.Not)]
                negatives = [q for q in items if isinstance(q, wq.Not)]
                return wq.And([wq.Or(positives), *negatives]) if negatives else wq.Or(positives)
            return wq.And(items)
        return wq.Or([self.build(i) for i in node.items])

    def and_items(self, nodes: tuple[Node, ...]) -> list[wq.Query]:
        """Build AND-ed items; a run of Latin words may also be one pinyin word (liao cheng)."""
        built: list[wq.Query] = []
        i = 0
        while i < len(nodes):
            end = i
            while end < len(nodes) and self._is_latin_word(nodes[end]):
                end += 1
            if end - i >= 2 and self.context.pinyin:
                run = nodes[i:end]
                words = self.context.pinyin("".join(fold(n.text) for n in run))  # type: ignore[union-attr]
                if words:
                    literal = wq.And([self.build(n) for n in run])
                    built.append(wq.Or([literal, self.pinyin_query(words, ("title", "body"))]))
                    i = end
                    continue
            built.append(self.build(nodes[i]))
            i += 1
        return built

    @staticmethod
    def _is_latin_word(node: Node) -> bool:
        return isinstance(node, Word) and node.field is None and bool(
            _LATIN_WORD.match(fold(node.text)))

    def pinyin_query(self, words: list[str], fields: tuple[str, ...]) -> wq.Query:
        """Words spelled by a pinyin query; common homophones first (长江 before 昌江)."""
        self.terms.update(words)
        weights = {w: 1.0 for w in words}
        if self.reader is not None and len(words) > 1:
            freq = {w: sum(self.reader.doc_frequency(f, w) for f in fields) for w in words}
            top = max(freq.values()) or 1
            weights = {w: (freq[w] / top) ** 0.5 for w in words}
        return wq.Or([wq.Term(f, w, boost=PINYIN_BOOST * weights[w])
                      for w in words for f in fields if weights[w] > 0])

    # -- words -------------------------------------------------------------
    def word(self, node: Word) -> wq.Query:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text)
        fields = ("title",) if node.field == "title" else (
            ("body",) if node.field == "body" else ("title", "body"))
        alternatives = [self.word_query(alt, fields, verbatim=node.field is None)
                        for alt in self.context.synonyms.get(fold(node.text), [node.text])]
        if node.field is None and self.context.pinyin and _LATIN_WORD.match(fold(node.text)):
            words = self.context.pinyin(fold(node.text))
            if words:
                alternatives.append(self.pinyin_query(words, fields))
        alternatives = [a for a in alternatives if a is not None]
        if not alternatives:
            return wq.NullQuery
        return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)

    def word_query(self, text: str, fields: tuple[str, ...], verbatim: bool) -> wq.Query | None:
        terms = query_terms(text, self.context.cut)
        kept = [t for t in terms if t not in STOP_WORDS]
        self.terms.update(kept or terms)
        if not kept:
            # Only stop words (or symbols): they are not indexed, so match the text itself.
            needle = squeeze(text)
            field = fields[0] if len(fields) == 1 else None
            return SubstringQuery(needle, field=field) if needle else None
        clauses = [wq.Or([wq.Term(f, t) for f in fields]) if len(fields) > 1
                   else wq.Term(fields[0], t) for t in kept]
        needle = squeeze(text)
        if any(ch.isdigit() for ch in needle) and (
                len(terms) > 1 or len("".join(terms)) < len(needle)):
            # Quantities (30%, 4万, 2.1%, G20峰会): the parts mean nothing apart ("30" is
            # everywhere), so the exact string is required and the terms only add score.
            field = fields[0] if len(fields) == 1 else None
            exact = SubstringQuery(needle, field=field, whole_numbers=True)
            return wq.AndMaybe(exact, wq.And(clauses))
        if len(clauses) == 1:
            matched: wq.Query = clauses[0]
        else:
            matched = (wq.Or if self.relaxed else wq.And)(clauses)
            near = wq.Or([wq.Phrase(f, kept, slop=2, boost=PROXIMITY_BOOST) for f in fields])
            matched = wq.AndMaybe(matched, near)
        if verbatim and _HAN.search(needle):
            matched = wq.Or([matched, SubstringQuery(needle, scale=VERBATIM_SCALE)])
        return matched

    def keyword(self, field_name: str, text: str) -> wq.Query:
        value = " ".join(fold(text).split())
        if field_name == "author":
            parts = query_terms(text, self.context.cut)
            alts: list[wq.Query] = [wq.Term("author_key", value)]
            if parts:
                alts.append(wq.And([wq.Term("author", t) for t in parts]))
            return wq.Or(alts)
        return wq.Term(field_name, value)

    # -- phrases -----------------------------------------------------------
    def phrase(self, node: Phrase) -> wq.Query:
        if node.field in ("author", "category", "tag"):
            return self.keyword(node.field, node.text)
        if node.field in ("title", "body"):
            terms = query_terms(node.text, self.context.cut)
            self.terms.update(terms)
            if not terms:
                return wq.NullQuery
            if len(terms) == 1:
                return wq.Term(node.field, terms[0])
            return wq.Phrase(node.field, terms)
        return SubstringQuery(squeeze(node.text))


def date_bound(value: object, tz: str, end: bool) -> dt.datetime | None:
    """A naive-UTC bound for the date filter; a bare date as *until* means the whole day."""
    if value is None or value == "":
        return None
    whole_day = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", value):
        whole_day = True
    parsed = parse_date(value, tz)
    if end and whole_day:
        parsed = parsed + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return to_utc(parsed).replace(tzinfo=None)


def build_filter(author: str | None, category: str | None, tag: str | None,
                 since: dt.datetime | None, until: dt.datetime | None) -> wq.Query | None:
    parts: list[wq.Query] = []
    if author:
        parts.append(wq.Term("author_key", " ".join(fold(author).split())))
    if category:
        parts.append(wq.Term("category", " ".join(fold(category).split())))
    if tag:
        parts.append(wq.Term("tag", " ".join(fold(tag).split())))
    if since or until:
        parts.append(wq.DateRange("date", since, until))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def execute(searcher, node: Node, raw: str, context: QueryContext, *, limit: int, page: int,
            filter_query: wq.Query | None, sort: str, snippet_width: int = 120) -> SearchResults:
    """Run *node* against a Whoosh searcher and build the results page."""
    started = time.perf_counter()
    relaxed = False
    builder = QueryBuilder(context, reader=searcher.reader())
    results = _run(searcher, _with_title_bonus(builder.build(node), node, context), limit, page,
                   filter_query, sort)
    if results.total == 0 and _can_relax(node):
        builder = QueryBuilder(context, relaxed=True, reader=searcher.reader())
        results = _run(searcher, builder.build(node), limit, page, filter_query, sort)
        relaxed = results.total > 0
    needles = needles_for(positive_literals(node), builder.terms)
    hits = []
    text_column = None
    for rank, hit in enumerate(results.hits, start=(page - 1) * limit + 1):
        stored = hit.fields()
        if text_column is None:
            text_column = searcher.reader().column_reader("text")
        body = bytes(text_column[hit.docnum] or b"").decode("utf-8", "surrogatepass")
        snippet = make_snippet(body, needles, snippet_width)
        meta = stored.get("meta") or {}
        hits.append(Hit(
            id=stored["id"],
            path=stored.get("path", ""),
            title=stored.get("title", ""),
            author=stored.get("author", ""),
            categories=list(meta.get("categories") or []),
            tags=list(meta.get("tags") or []),
            date=_hit_date(meta.get("date"), stored.get("date")),
            score=float(hit.score or 0.0),
            snippet=snippet.text,
            highlights=snippet.highlights,
            title_highlights=highlight_all(stored.get("title", ""), needles),
            rank=rank,
        ))
    return SearchResults(query=raw, total=results.total, page=page, limit=limit, hits=hits,
                         relaxed=relaxed, sort=sort, elapsed=time.perf_counter() - started)


@dataclass
class _Page:
    hits: list
    total: int


def _run(searcher, q: wq.Query, limit: int, page: int, filter_query, sort: str) -> _Page:
    kwargs = {}
    if sort in ("date", "oldest"):
        kwargs["sortedby"] = "date"
        kwargs["reverse"] = sort == "date"
    results = searcher.search(q, limit=page * limit, filter=filter_query, **kwargs)
    start = (page - 1) * limit
    hits = [results[i] for i in range(start, min(start + limit, results.scored_length()))]
    return _Page(hits, len(results))


def _with_title_bonus(q: wq.Query, node: Node, context: QueryContext) -> wq.Query:
    """Reward documents whose title contains every plain word of the query."""
    words = [node] if isinstance(node, Word) else (
        [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
    terms = [t for w in words if w.field is None
             for t in query_terms(w.text, context.cut) if t not in STOP_WORDS]
    if not terms or not TITLE_ALL_BOOST:
        return q
    bonus: wq.Query = wq.And([wq.Term("title", t) for t in terms], boost=TITLE_ALL_BOOST)
    if len(terms) > 1 and TITLE_PHRASE_BOOST:
        bonus = wq.AndMaybe(bonus, wq.Phrase("title", terms, slop=TITLE_PHRASE_SLOP,
                                             boost=TITLE_PHRASE_BOOST))
    return wq.AndMaybe(q, bonus)


def _can_relax(node: Node) -> bool:
    if isinstance(node, Word):
        return node.field is None and len(query_terms(node.text)) > 1
    if isinstance(node, And):
        return sum(1 for i in node.items if not isinstance(i, Not)) > 1 or any(
            _can_relax(i) for i in node.items)
    return False


def _hit_date(iso: str | None, stored: dt.datetime | None) -> dt.datetime | None:
    if iso:
        try:
            return dt.datetime.fromisoformat(iso)
        except ValueError:
            pass
    if stored is not None:
        return stored.replace(tzinfo=dt.timezone.utc)
    return None
