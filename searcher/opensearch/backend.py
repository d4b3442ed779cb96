"""OpenSearchBackend: what :class:`searcher.SearchEngine` does, against a cluster.

``SearchEngine("http(s)://host:port/NAME")`` delegates to it: index (also one share of
several machines), search (the same arguments, checked by :mod:`searcher.arguments`, and
the same facets), suggest, similar, get, check and stats, with the result types of the
embedded index (:mod:`searcher.results`, :mod:`searcher.reports`).  It can also be used
directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..reports import CheckReport, OptimizeReport

from ..analysis.normalize import squeeze
from ..analysis.segmenter import open_segmenter
from ..analysis.tokens import STOP_WORDS, query_terms
from ..arguments import check_doc_id, check_page, prepare_search
from ..config import Settings, load_settings, parse_cluster_url
from ..core.contract import Backend
from ..core.fingerprint import analysis_fingerprint, dictionary_key
from ..core.hits import document_view, make_hit, stored_date
from ..core.plan import run_search
from ..core.request import SearchRequest
from ..core.rules import FIELD_BREAK
from ..deadline import check_time_limit, time_left
from ..errors import (
    AmbiguousDocumentError,
    ConfigError,
    DocumentNotFoundError,
    IndexNotFoundError,
    TimeLimitExceeded,
)
from ..reports import IndexReport, IndexStats
from ..results import DocumentView, Hit, SearchResults, Suggestion
from ..spelling import did_you_mean, first_units
from .client import connect, public_url
from .dsl import Translation, Translator, filter_clauses, matched_words
from .generations import current_index, index_meta
from .mapping import key
from .suggest import HomophoneLookup
from .sync import check_part, export, sync

#: The aggregation counting a question's matches that hold every word (``relaxed``).
STRICT_COUNT = "searcher-every-word"

#: Deeper pages than this are fetched with search_after (OpenSearch's max_result_window).
MAX_WINDOW = 10_000
#: The aggregation that counts the query's Chinese runs for did-you-mean (searcher.spelling).
SPELLING_AGG = "searcher-spelling"
#: Hit fields read for result pages (the display text is needed for snippets).
HIT_FIELDS = ["id", "path", "title", "text", "author", "categories", "tags", "date", "meta.date"]
#: Keyword facets: name → (field of folded values, source field spelling them as written).
KEYWORD_FACETS = {"author": ("author_key", "author"), "category": ("category", "categories"),
                  "tag": ("tag", "tags")}
#: Date facets: name → (calendar interval, bucket label format: the local labels).
DATE_FACETS = {"year": ("year", "yyyy"), "month": ("month", "yyyy-MM")}


@dataclass
class _Ranking:
    """One ranking step on the cluster (:data:`searcher.core.plan.RankStep`)."""

    total: int
    partial: bool
    terms: set[str]
    translation: Translation
    hits: list[dict[str, Any]]
    found: dict[str, Any]


class OpenSearchBackend(Backend):
    """Index and search alias *name* on the cluster at *url*.

    Credentials and TLS come from the environment (:mod:`searcher.opensearch.client`).
    *shards* and *replicas* apply to indexes this backend creates (full rebuilds).

    >>> backend = OpenSearchBackend("http://127.0.0.1:9200", name="articles")  # doctest: +SKIP
    >>> backend.index(["sample_docs"]).added                                    # doctest: +SKIP
    >>> backend.search("认证认可").hits[0].title                                 # doctest: +SKIP
    """

    #: A search is a request to the cluster: under a time limit (searcher/deadline.py) its
    #: timeout is what is left, but it waits on the network, so the web server runs it in a
    #: thread rather than on its event loop.
    checks_time_limit = False

    def __init__(self, url: str, settings: Settings | None = None, *, name: str = "searcher",
                 shards: int = 1, replicas: int = 1, timeout: float = 30.0) -> None:
        self.url = url
        self.settings = settings or load_settings()
        self.name = name
        self.shards, self.replicas = shards, replicas
        self.client = connect(url, timeout=timeout)
        self._timeout = timeout
        #: For searches under a time limit: one that times out is not retried (the limit is
        #: the answer's deadline); made on first use.
        self._limited_client: Any = None
        self._limited_lock = threading.Lock()
        self._synonyms: dict[str, list[str]] | None = None
        self._cut: Callable[[str], list[str]] | None = None
        self._cut_ready = False

    @classmethod
    def from_location(cls, location: str | os.PathLike[str], settings: Settings | None = None,
                      **kwargs: Any) -> OpenSearchBackend:
        """The backend for an index location ``http(s)://host:port[/prefix]/NAME``.

        This is how an ``index_dir`` naming a cluster becomes a backend: the last
        path segment is the alias, the rest the cluster's URL.  A location that
        went through ``pathlib.Path`` (``https:/host…``) is accepted too.
        """
        try:
            url, name = parse_cluster_url(location)
        except ValueError as exc:
            raise ConfigError(f"not a usable OpenSearch location: it {exc} (expected "
                              "http(s)://host:port/INDEX_NAME)", key="index_dir",
                              value=public_url(os.fspath(location)),
                              expected="http(s)://host:port/INDEX_NAME") from None
        return cls(url, settings, name=name, **kwargs)

    def __repr__(self) -> str:
        return f"OpenSearchBackend({public_url(self.url)!r}, name={self.name!r})"

    @property
    def location(self) -> str:
        """``URL/NAME`` without credentials: what ``stats`` and messages show."""
        return f"{public_url(self.url)}/{self.name}"

    # -- writing -----------------------------------------------------------
    def index(self, sources: list[str | os.PathLike[str]] | None = None, *, full: bool = False,
              wait: float = 0.0, jobs: int | None = None, progress: Any = None,
              batch_size: int | None = None, follow_links: bool | None = None,
              part: tuple[int, int] | None = None) -> IndexReport:
        """Bring the cluster index up to date with *sources* (incremental unless *full*).

        *jobs* processes analyse the documents (default: all cores); *part* ``(K, N)``
        limits the run to share K of N (:func:`searcher.opensearch.sync.sync`).
        *progress* and *batch_size* are the local index's (bulk requests have their
        own size) and are ignored here.
        """
        settings = self.settings
        if follow_links is not None:
            settings = settings.with_overrides(follow_links=follow_links)
        return sync(self.client, self.url, self.name, sources, settings, full=full,
                    wait=wait, shards=self.shards, replicas=self.replicas, jobs=jobs,
                    part=check_part(part) if part is not None else None)

    def export(self, sources: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
               jobs: int | None = None) -> IndexReport:
        """Write settings + mapping JSON and bulk NDJSON for *sources* into *out_dir*."""
        return export(sources, out_dir, self.settings, name=self.name, shards=self.shards,
                      replicas=self.replicas, jobs=jobs)

    # -- reading -----------------------------------------------------------
    def search(self, query: str | SearchRequest, limit: int = 10, page: int = 1,
               author: str | Sequence[str] | None = None,
               category: str | Sequence[str] | None = None, since: Any = None, until: Any = None,
               sort: str = "relevance", tag: str | Sequence[str] | None = None, *,
               year: int | str | Sequence[int | str] | None = None,
               month: str | Sequence[str] | None = None,
               facets: str | Sequence[str] | None = None,
               facet_limit: int = 10) -> SearchResults:
        """Ranked results for *query*: the arguments, checks and results of
        :meth:`searcher.SearchEngine.search`, or a request checked already
        (:func:`searcher.arguments.prepare_search`, what the engine passes)."""
        if isinstance(query, SearchRequest):
            return self._run(query)
        return self._run(prepare_search(
            self.settings.timezone, query, limit, page, author, category, since, until, sort,
            tag, year=year, month=month, facets=facets, facet_limit=facet_limit))

    def _run(self, request: SearchRequest) -> SearchResults:
        """One page for a checked request, ranked as :func:`searcher.core.plan.run_search`
        says (one request per ranking step)."""
        started = time.perf_counter()
        cut = self.query_cut()
        filters = filter_clauses(request.filters)
        aggs = self._facet_aggs(request.facets, request.facet_limit)
        units = first_units(request.node, cut)
        if units:  # the did-you-mean counts ride along (global: whatever the query matches)
            aggs = dict(aggs or {}, **{SPELLING_AGG: {"global": {}, "aggs": {
                "units": HomophoneLookup.aggregation(units)}}})

        def rank_step(relaxed: bool, question: bool) -> _Ranking:
            extra = aggs
            if question:
                # Whether some match lacks a word: more matches than the strict query's
                # (counted in the same request).
                strict = self._translator(cut).translate(request.node).query
                extra = {**(aggs or {}), STRICT_COUNT: {"filter": strict}}
            translation = self._translator(cut, relaxed=relaxed).translate(request.node)
            total, hits, found = self._page(self._body(translation.query, filters, extra),
                                            request.sort, request.offset, request.limit)
            partial = False
            if question:
                counted = (found or {}).pop(STRICT_COUNT, None) or {}
                partial = total > int(counted.get("doc_count", total))
            return _Ranking(total, partial, translation.terms, translation, hits, found)

        planned = run_search(request.node, request.query, cut, rank_step)
        ranking = planned.ranking
        total, found, translation = ranking.total, ranking.found, ranking.translation
        return SearchResults(
            query=request.query, total=total, page=request.page, limit=request.limit,
            relaxed=planned.relaxed, sort=request.sort,
            hits=[self._hit(h, planned.needles, rank, translation.query_words)
                  for rank, h in enumerate(ranking.hits, start=request.offset + 1)],
            elapsed=time.perf_counter() - started,
            facets=self._facet_counts(request.facets, request.facet_limit, found or {}),
            pinyin=self._readings(translation.spellings) if total else {},
            notices=list(request.notices), did_you_mean=self.did_you_mean(
                request, HomophoneLookup.read(found[SPELLING_AGG]["units"], units)
                if units and found and SPELLING_AGG in found else None))

    def _readings(self, spellings: list[str]) -> dict[str, list[str]]:
        """The indexed words each pinyin *spelling* of the query reads as, most documents
        first (as :attr:`searcher.results.SearchResults.pinyin` locally), from the
        ``suggest`` keys ``PINYIN_MARK spelling KEY_SEP word``: one more request, only for
        queries with Latin words that may be pinyin."""
        if not spellings:
            return {}
        from ..analysis.lexicon import word_pinyins
        from .dsl import regex_literal
        from .mapping import KEY_SEP, PINYIN_MARK

        aggs = {str(number): {"terms": {
            "field": "suggest", "size": 20, "order": [{"_count": "desc"}, {"_key": "asc"}],
            "include": regex_literal(PINYIN_MARK + spelling + KEY_SEP) + ".*"}}
            for number, spelling in enumerate(spellings)}
        found = self._search({"size": 0, "track_total_hits": False, "aggs": aggs})
        readings: dict[str, list[str]] = {}
        for number, spelling in enumerate(spellings):
            buckets = found.get("aggregations", {}).get(str(number), {}).get("buckets", [])
            words = [b["key"].split(KEY_SEP, 1)[-1] for b in buckets]
            words = [w for w in words if spelling in word_pinyins(w)]  # not initials
            if words:
                readings[spelling] = words
        return readings

    def did_you_mean(self, request: SearchRequest,
                     counted: dict[str, tuple[int, bool]] | None = None) -> str | None:
        """The query with a homophone typo corrected (:mod:`searcher.spelling`), or None.
        The search counts the query's Chinese runs (*counted*); only a suspect one costs
        more requests (without *counted*, one more)."""
        return did_you_mean(request.query, request.node, HomophoneLookup(self._search),
                            self.query_cut(), counted)

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Completions of *prefix* like :meth:`searcher.SearchEngine.suggest`
        (:mod:`searcher.opensearch.suggest`)."""
        from .suggest import suggest

        return suggest(self._search, prefix, limit)

    def similar(self, doc_id: str, limit: int = 10, page: int = 1) -> SearchResults:
        """Documents like *doc_id* (an id or a source path), best first, never itself.

        ``more_like_this`` over its title and body terms; among the best
        ``CANDIDATES``, near-duplicates (the local index's test: Jaccard similarity of
        character 4-grams) come first with ``hit.near_duplicate`` set.  An unknown id
        raises DocumentNotFoundError, like :meth:`get`.
        """
        from ..core.similarity import CANDIDATES, MAX_TERMS, NEAR_DUPLICATE, jaccard, shingles

        check_page(limit, page)
        started = time.perf_counter()
        doc = self.get(doc_id)
        offset = (page - 1) * limit
        head = min(max(CANDIDATES, offset + limit), MAX_WINDOW)
        body = {
            "query": {"more_like_this": {
                "fields": ["title_terms", "body_terms"],
                "like": [{"_index": self.name, "_id": doc.id}],
                # Any of its MAX_TERMS most distinctive terms, as the local index ranks
                "min_term_freq": 1, "min_doc_freq": 1, "max_query_terms": MAX_TERMS,
                "minimum_should_match": "1"}},
            "size": head, "_source": [*HIT_FIELDS, "title_sq", "body_sq"],
            "sort": [{"_score": "desc"}, {"id": "asc"}], "track_total_hits": True,
        }
        response = self._search(body)
        hits = response["hits"]["hits"]
        source = shingles(_squeezed(doc.title, doc.text))
        similarity = {h["_id"]: jaccard(source, shingles(
            h["_source"].get("title_sq", "") + FIELD_BREAK + h["_source"].get("body_sq", "")))
            for h in hits}
        near = sorted((h for h in hits if similarity[h["_id"]] >= NEAR_DUPLICATE),
                      key=lambda h: -similarity[h["_id"]])  # stable: ties keep the score order
        near_ids = {h["_id"] for h in near}
        chosen = (near + [h for h in hits if h["_id"] not in near_ids])[offset:offset + limit]
        cut = self.query_cut()
        needles = sorted({t for t in query_terms(doc.title, cut) if t not in STOP_WORDS})
        results = [self._hit(h, needles, rank) for rank, h in enumerate(chosen, offset + 1)]
        for hit in results:
            hit.near_duplicate = hit.id in near_ids
        return SearchResults(query=doc.id, total=int(response["hits"]["total"]["value"]),
                             page=page, limit=limit, hits=results,
                             elapsed=time.perf_counter() - started)

    def get(self, doc_id: str) -> DocumentView:
        """Everything stored for one document, by id or by the path of its source file
        (as the local index looks them up); DocumentNotFoundError when none."""
        check_doc_id(doc_id)
        wanted = os.path.abspath(doc_id)
        real = os.path.realpath(wanted)
        body = {"query": {"bool": {"should": [{"ids": {"values": [doc_id]}},
                                              {"terms": {"path": sorted({wanted, real})}}]}},
                "size": 20, "_source": {"excludes": ["*_terms", "*_sq", "pinyin", "suggest",
                                                     "title_key"]}}
        hits = self._search(body)["hits"]["hits"]
        found = [h for h in hits if h["_id"] == doc_id] or \
            [h for h in hits if h["_source"].get("path") == wanted] or hits
        if len(found) > 1:
            raise AmbiguousDocumentError(doc_id, [h["_id"] for h in found])
        if not found:
            raise DocumentNotFoundError(f"no document with id or path {doc_id!r}", doc_id)
        src = found[0]["_source"]
        meta = src.get("meta") or {}
        return document_view(src, meta, text=src.get("text", ""),
                             date=stored_date(meta.get("date"), src.get("date")))

    def query_cut(self) -> Callable[[str], list[str]] | None:
        """The query segmenter's ``cut``: jieba's dictionary with the ``userdict`` setting,
        frozen once per machine (the local index keeps the same file beside its segments),
        so cluster queries cut words exactly like local ones."""
        if not self._cut_ready:
            from ..analysis.segmenter import FILE_NAME, cache_dir, install_dictionary
            from ..core.changes import load_jieba

            words = dictionary_key(analysis_fingerprint(self.settings))
            folder = cache_dir() / f"cluster-{hashlib.sha1(words.encode()).hexdigest()[:16]}"
            folder.mkdir(parents=True, exist_ok=True)
            install_dictionary(folder / FILE_NAME, words, lambda: load_jieba(self.settings))
            segmenter = open_segmenter(folder, words)
            self._cut = segmenter.cut if segmenter else None
            self._cut_ready = True
        return self._cut

    def check(self, sources: list[str | os.PathLike[str]] | None = None, *,
              follow_links: bool | None = None, deep: bool = False) -> CheckReport:
        """Compare the cluster index with *sources* (default: the folders it was built
        from): per-document size, time and digest, as the local ``check`` does (*deep*
        adds nothing: the cluster checks its own files)."""
        from opensearchpy.exceptions import OpenSearchException

        from ..core.changes import compare_manifest
        from .client import cluster_error
        from .generations import read_manifest

        follow = self.settings.follow_links if follow_links is None else follow_links
        try:
            index = self._current()
            meta = index_meta(self.client, index)
            manifest = read_manifest(self.client, index)
        except OpenSearchException as exc:
            raise cluster_error(exc, self.url, f"a check of {self.name}") from None
        return compare_manifest(manifest, sources or meta.get("sources") or [],
                                follow_links=follow, labels=meta.get("labels"))

    def optimize(self, *, wait: float = 0.0) -> OptimizeReport:
        """Refused: a cluster merges its own segments (``POST NAME/_forcemerge`` by hand)."""
        raise ConfigError(
            f"optimize merges the segments of a local index; {self.location} is a cluster, "
            "which merges its own (POST /_forcemerge if you must)",
            key="index_dir", value=self.location, expected="a local index folder")

    def stats(self) -> IndexStats:
        """The local ``stats`` keys (``index_dir`` is this location, without credentials;
        ``segments`` counts the primary shards' Lucene segments) plus ``url`` and
        ``index`` (the alias)."""
        from opensearchpy.exceptions import OpenSearchException

        from .client import cluster_error

        try:
            index = self._current()
            meta = index_meta(self.client, index)
            store = self.client.indices.stats(index=index, metric="store,docs,segments")
            primaries = store["_all"]["primaries"]
            mapping = self.client.indices.get_mapping(index=index)[index]["mappings"]
            documents = int(self.client.count(index=index)["count"])
        except OpenSearchException as exc:
            raise cluster_error(exc, self.url, f"stats of {self.name}") from None
        updated = meta.get("updated")
        return IndexStats(
            index_dir=self.location,
            generation=index,
            documents=documents,
            segments=int(primaries.get("segments", {}).get("count", 0)),
            index_bytes=int(primaries["store"]["size_in_bytes"]),
            last_update=dt.datetime.fromtimestamp(updated, dt.timezone.utc).isoformat()
            if updated else None,
            sources=meta.get("sources", []),
            fields=sorted(mapping.get("properties", {})),
            fingerprint=meta.get("fingerprint"),
            url=public_url(self.url),
            index=self.name,
        )

    def close(self) -> None:
        self.client.close()
        if self._limited_client is not None:
            self._limited_client.close()

    def __enter__(self) -> OpenSearchBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _translator(self, cut: Callable[[str], list[str]] | None,
                    relaxed: bool = False) -> Translator:
        return Translator(self._synonym_groups(), self.settings.pinyin, cut, relaxed=relaxed,
                          frequencies=self._frequencies if relaxed else None)

    def _frequencies(self, clauses: list[dict[str, Any]]) -> tuple[int, list[int]]:
        """Documents in the index and documents matching each of *clauses*, in one request
        (the document frequencies the relaxed ranking weighs its words by)."""
        names = [f"clause-{number}" for number in range(len(clauses))]
        response = self._search({"size": 0, "track_total_hits": True,
                                 "query": {"match_all": {}},
                                 "aggs": {name: {"filter": clause}
                                          for name, clause in zip(names, clauses, strict=True)}})
        found = response.get("aggregations") or {}
        return (int(response["hits"]["total"]["value"]),
                [int(found.get(name, {}).get("doc_count", 0)) for name in names])

    def _synonym_groups(self) -> dict[str, list[str]]:
        if self._synonyms is None:
            from ..analysis.lexicon import load_synonyms

            self._synonyms = load_synonyms(self.settings.synonyms)
        return self._synonyms

    def _current(self) -> str:
        """The concrete index behind the alias, or IndexNotFoundError."""
        index = current_index(self.client, self.name)
        if index is None:
            raise IndexNotFoundError(f"no index {self.location} yet: run 'searcher index "
                                     "SOURCE' first")
        return index

    @staticmethod
    def _body(query: dict[str, Any], filters: list[dict[str, Any]],
              aggs: dict[str, Any] | None = None) -> dict[str, Any]:
        if filters:
            query = {"bool": {"must": [query], "filter": filters}}
        body: dict[str, Any] = {"query": query}
        if aggs:
            body["aggs"] = aggs
        return body

    def _facet_aggs(self, names: tuple[str, ...], limit: int) -> dict[str, Any]:
        """Aggregations counting *names* over all matches: terms of the folded values (count
        descending, ties by value: the local order), each with one document that spells
        the value; date histograms in the configured time zone for year and month."""
        aggs: dict[str, Any] = {}
        for name in names:
            if name in KEYWORD_FACETS:
                field, spelled = KEYWORD_FACETS[name]
                aggs[name] = {
                    "terms": {"field": field, "size": limit,
                              "shard_size": max(limit * 10, 1000),
                              "order": [{"_count": "desc"}, {"_key": "asc"}]},
                    "aggs": {"shown": {"top_hits": {"size": 1, "_source": [spelled],
                                                    "sort": [{"id": "asc"}]}}}}
            else:
                interval, label = DATE_FACETS[name]
                aggs[name] = {"date_histogram": {
                    "field": "date", "calendar_interval": interval, "format": label,
                    "time_zone": self.settings.timezone, "min_doc_count": 1}}
        return aggs

    @staticmethod
    def _facet_counts(names: tuple[str, ...], limit: int, found: dict[str, Any]
                      ) -> dict[str, list[tuple[str, int]]]:
        """``results.facets`` from the aggregations: the local shape, values as written."""
        out: dict[str, list[tuple[str, int]]] = {}
        for name in names:
            buckets = (found.get(name) or {}).get("buckets", [])
            if name in KEYWORD_FACETS:
                spelled = KEYWORD_FACETS[name][1]
                out[name] = [(_spelling(b, spelled), int(b["doc_count"])) for b in buckets]
            else:
                pairs = [(b["key_as_string"], int(b["doc_count"])) for b in buckets]
                out[name] = sorted(pairs, key=lambda p: (-p[1], p[0]))[:limit]
        return out

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        """One search request; under a time limit (searcher/deadline.py) with what is left
        of it as the cluster's and the client's timeout, and TimeLimitExceeded, never a
        partial answer, when it runs out."""
        from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, OpenSearchException

        from .client import cluster_error

        limit = time_left()
        client, options = self.client, {}
        if limit is not None:
            check_time_limit()
            left = max(limit[0], 0.001)
            client, options = self._limited(), {"request_timeout": left}
            body = dict(body, timeout=f"{max(int(left * 1000), 1)}ms")
        try:
            response = client.search(index=self.name, body=body, **options)
        except ConnectionTimeout as exc:
            if limit is None:
                raise cluster_error(exc, self.url, f"a search of {self.name}") from None
            raise TimeLimitExceeded(limit[1]) from None
        except NotFoundError:
            raise IndexNotFoundError(f"no index {self.location} yet: run 'searcher index "
                                     "SOURCE' first") from None
        except OpenSearchException as exc:
            raise cluster_error(exc, self.url, f"a search of {self.name}") from None
        if limit is not None and response.get("timed_out"):  # the cluster stopped early
            raise TimeLimitExceeded(limit[1])
        return response

    def _limited(self) -> Any:
        with self._limited_lock:
            if self._limited_client is None:
                self._limited_client = connect(self.url, timeout=self._timeout,
                                               retry_on_timeout=False)
            return self._limited_client

    def _page(self, body: dict[str, Any], sort: str, offset: int, limit: int
              ) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        """Total, the hits of one page and the aggregations; deep pages walk there with
        search_after."""
        order: list[Any]
        if sort == "relevance":
            order = [{"_score": "desc"}, {"id": "asc"}]
        else:
            direction = "desc" if sort == "date" else "asc"
            order = [{"date": {"order": direction, "missing": "_last"}}, {"id": "asc"}]
        body = dict(body, sort=order, _source=HIT_FIELDS, track_total_hits=True)
        if offset + limit <= MAX_WINDOW:
            response = self._search(dict(body, **{"from": offset, "size": limit}))
            return (int(response["hits"]["total"]["value"]), response["hits"]["hits"],
                    response.get("aggregations") or {})
        # Deep page: skip with cheap pages (ids only) and search_after, then fetch the page.
        plain = {k: v for k, v in body.items() if k != "aggs"}
        skip = dict(plain, _source=False, size=1000, track_total_hits=False)
        after: list[Any] | None = None
        left = offset
        first = self._search(dict(body, size=0))
        total = int(first["hits"]["total"]["value"])
        aggregations = first.get("aggregations") or {}
        while left > 0:
            step = dict(skip, size=min(1000, left))
            if after is not None:
                step["search_after"] = after
            hits = self._search(step)["hits"]["hits"]
            if not hits:
                return total, [], aggregations
            after = hits[-1]["sort"]
            left -= len(hits)
        final = dict(plain, size=limit, track_total_hits=False)
        if after is not None:
            final["search_after"] = after
        return total, self._search(final)["hits"]["hits"], aggregations

    @staticmethod
    def _hit(raw: dict[str, Any], needles: list[str], rank: int,
             query_words: int | None = None) -> Hit:
        """One result; with *query_words* (a search, not ``similar``), how many of them the
        hit holds, from its named clauses (:func:`searcher.opensearch.dsl.matched_words`)."""
        src = raw["_source"]
        return make_hit(src, text=src.get("text", ""),
                        date=stored_date((src.get("meta") or {}).get("date"), src.get("date")),
                        score=float(raw.get("_score") or 0.0), needles=needles, rank=rank,
                        matched=None if query_words is None else matched_words(raw),
                        query_words=query_words)


def _spelling(bucket: dict[str, Any], field: str) -> str:
    """A facet value as a document holding it spells it (``iPhone 13`` for ``iphone 13``),
    as the local facets show it; the folded value when none does."""
    for hit in bucket.get("shown", {}).get("hits", {}).get("hits", []):
        value = hit["_source"].get(field)
        for spelled in value if isinstance(value, list) else [value]:
            if isinstance(spelled, str) and key(spelled) == bucket["key"]:
                return spelled
    return str(bucket["key"])


def _squeezed(title: str, text: str) -> str:
    """The local index's squeezed column: title and body without whitespace."""
    return squeeze(title) + FIELD_BREAK + squeeze(text)
