"""OpenSearchBackend: index, search, get and stats against a cluster, with the same
result types as the embedded index (:mod:`searcher.results`, :mod:`searcher.reports`)."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from typing import Any

from ..config import Settings, load_settings
from ..errors import ConfigError, IndexNotFoundError, QueryError, SearcherError
from ..highlight import highlight_all, make_snippet, needles_for
from ..local.search import SORTS, _can_relax, date_range
from ..query import parse_query, positive_literals
from ..reports import IndexReport
from ..results import DocumentView, Hit, SearchResults
from .client import connect, public_url
from .dsl import Translator, filter_clauses
from .sync import current_index, export, index_meta, sync

_LOCATION = re.compile(r"^(?P<scheme>https?):/+(?P<rest>[^/]+(?:/[^/]+)*?)/(?P<name>[^/]+)/?$")


def is_cluster_location(location: str | os.PathLike[str]) -> bool:
    """Whether an index location names a cluster (``http(s)://…``) rather than a folder."""
    return bool(re.match(r"^https?:/", str(location)))


#: Deeper pages than this are fetched with search_after (OpenSearch's max_result_window).
MAX_WINDOW = 10_000
#: Hit fields read for result pages (the display text is needed for snippets).
HIT_FIELDS = ["id", "path", "title", "text", "author", "categories", "tags", "date", "meta.date"]
#: Facets: name → aggregation.
FACETS = {
    "category": {"terms": {"field": "category"}},
    "tag": {"terms": {"field": "tag"}},
    "author": {"terms": {"field": "author_key"}},
    "month": {"date_histogram": {"field": "date", "calendar_interval": "month",
                                 "format": "yyyy-MM", "min_doc_count": 1}},
}


class OpenSearchBackend:
    """Index and search alias *name* on the cluster at *url*.

    Credentials and TLS come from the environment (:mod:`searcher.opensearch.client`).
    *shards* and *replicas* apply to indexes this backend creates (full rebuilds).

    >>> backend = OpenSearchBackend("http://127.0.0.1:9200", name="articles")  # doctest: +SKIP
    >>> backend.index(["sample_docs"]).added                                    # doctest: +SKIP
    >>> backend.search("认证认可").hits[0].title                                 # doctest: +SKIP
    """

    def __init__(self, url: str, settings: Settings | None = None, *, name: str = "searcher",
                 shards: int = 1, replicas: int = 1, timeout: float = 30.0) -> None:
        self.url = url
        self.settings = settings or load_settings()
        self.name = name
        self.shards, self.replicas = shards, replicas
        self.client = connect(url, timeout=timeout)
        self._synonyms: dict[str, list[str]] | None = None

    @classmethod
    def from_location(cls, location: str | os.PathLike[str], settings: Settings | None = None,
                      **kwargs: Any) -> OpenSearchBackend:
        """The backend for an index location ``http(s)://host:port[/prefix]/NAME``.

        This is how an ``index_dir`` naming a cluster becomes a backend: the last
        path segment is the alias, the rest the cluster's URL.  A location that
        went through ``pathlib.Path`` (``https:/host…``) is accepted too.
        """
        text = str(location)
        match = _LOCATION.match(text)
        if not match or not match.group("name"):
            raise ConfigError(f"not an OpenSearch location: {public_url(text)!r} "
                              "(expected http(s)://host:port/INDEX_NAME)")
        url = f"{match.group('scheme')}://{match.group('rest')}"
        return cls(url, settings, name=match.group("name"), **kwargs)

    def __repr__(self) -> str:
        return f"OpenSearchBackend({public_url(self.url)!r}, name={self.name!r})"

    # -- writing -----------------------------------------------------------
    def index(self, sources: list[str | os.PathLike[str]] | None = None, *, full: bool = False,
              wait: float = 0.0, jobs: int | None = None) -> IndexReport:
        """Bring the cluster index up to date with *sources* (incremental unless *full*).

        *jobs* processes analyse the documents (default: all cores).
        """
        return sync(self.client, self.url, self.name, sources, self.settings, full=full,
                    wait=wait, shards=self.shards, replicas=self.replicas, jobs=jobs)

    def export(self, sources: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
               jobs: int | None = None) -> IndexReport:
        """Write settings + mapping JSON and bulk NDJSON for *sources* into *out_dir*."""
        return export(sources, out_dir, self.settings, name=self.name, shards=self.shards,
                      replicas=self.replicas, jobs=jobs)

    # -- reading -----------------------------------------------------------
    def search(self, query: str, limit: int = 10, page: int = 1, author: str | None = None,
               category: str | None = None, since: Any = None, until: Any = None,
               sort: str = "relevance", tag: str | None = None) -> SearchResults:
        """Ranked results for *query*; the same arguments and results as SearchEngine.search."""
        started = time.perf_counter()
        node, filters = self._prepare(query, limit, page, sort, author, category, tag,
                                      since, until)
        offset = (page - 1) * limit
        translation = Translator(self._synonym_groups(), self.settings.pinyin).translate(node)
        body = self._body(translation.query, filters)
        total, hits = self._page(body, sort, offset, limit)
        relaxed = False
        if total == 0 and _can_relax(node):
            translation = Translator(self._synonym_groups(), self.settings.pinyin,
                                     relaxed=True).translate(node)
            total, hits = self._page(self._body(translation.query, filters), sort, offset, limit)
            relaxed = total > 0
        needles = needles_for(positive_literals(node), translation.terms)
        return SearchResults(
            query=query, total=total, page=page, limit=limit, relaxed=relaxed, sort=sort,
            hits=[self._hit(h, needles, rank) for rank, h in enumerate(hits, start=offset + 1)],
            elapsed=time.perf_counter() - started)

    def facets(self, query: str, author: str | None = None, category: str | None = None,
               since: Any = None, until: Any = None, tag: str | None = None, size: int = 20
               ) -> dict[str, list[tuple[str, int]]]:
        """Counts of category, tag, author (folded values) and month over every match."""
        node, filters = self._prepare(query, 1, 1, "relevance", author, category, tag,
                                      since, until)
        translation = Translator(self._synonym_groups(), self.settings.pinyin).translate(node)
        extra = {"terms": {"size": size, "shard_size": max(size * 10, 1000)},
                 # months in the configured zone, as the local index counts them
                 "date_histogram": {"time_zone": self.settings.timezone}}
        aggs = {name: {k: dict(v, **extra[k]) for k, v in agg.items()}
                for name, agg in FACETS.items()}
        body = dict(self._body(translation.query, filters), size=0, aggs=aggs)
        body["track_total_hits"] = False
        response = self._search(body)
        return {name: [(b.get("key_as_string", b["key"]), int(b["doc_count"]))
                       for b in response["aggregations"][name]["buckets"]]
                for name in FACETS}

    def similar(self, doc_id: str, limit: int = 10) -> SearchResults:
        """Documents like *doc_id* (more_like_this over its title and body terms)."""
        started = time.perf_counter()
        body = {
            "query": {"more_like_this": {
                "fields": ["title_terms", "body_terms"],
                "like": [{"_index": self.name, "_id": doc_id}],
                "min_term_freq": 1, "min_doc_freq": 1, "max_query_terms": 40,
                "minimum_should_match": "10%"}},
            "size": limit, "_source": HIT_FIELDS, "track_total_hits": True,
        }
        response = self._search(body)
        hits = response["hits"]["hits"]
        return SearchResults(query=f"similar:{doc_id}", total=response["hits"]["total"]["value"],
                             page=1, limit=limit,
                             hits=[self._hit(h, [], rank) for rank, h in enumerate(hits, 1)],
                             elapsed=time.perf_counter() - started)

    def get(self, doc_id: str) -> DocumentView:
        """Everything stored for one document, by id or by path of its source file."""
        path = os.path.abspath(doc_id)
        body = {"query": {"bool": {"should": [{"ids": {"values": [doc_id]}},
                                              {"term": {"path": path}}]}},
                "size": 1, "_source": {"excludes": ["*_terms", "*_sq", "pinyin"]}}
        hits = self._search(body)["hits"]["hits"]
        if not hits:
            raise SearcherError(f"no document with id or path {doc_id!r}")
        src = hits[0]["_source"]
        meta = src.get("meta") or {}
        return DocumentView(
            id=src["id"], path=src.get("path", ""), relpath=src.get("relpath", ""),
            title=src.get("title", ""), author=src.get("author", ""),
            categories=list(src.get("categories") or []), tags=list(src.get("tags") or []),
            date=_date(meta.get("date"), src.get("date")), updated=meta.get("updated"),
            images=dict(meta.get("images") or {}), extra=dict(meta.get("extra") or {}),
            warnings=list(meta.get("warnings") or []), text=src.get("text", ""))

    def stats(self) -> dict[str, Any]:
        """Document count, size, last update and sources of the index behind the alias."""
        from opensearchpy.exceptions import OpenSearchException

        from .client import cluster_error

        try:
            index = current_index(self.client, self.name)
            if index is None:
                raise IndexNotFoundError(f"no index {self.name} on {public_url(self.url)} yet: "
                                         "run an index first")
            meta = index_meta(self.client, index)
            store = self.client.indices.stats(index=index, metric="store,docs")
            primaries = store["_all"]["primaries"]
        except OpenSearchException as exc:
            raise cluster_error(exc, self.url, f"stats of {self.name}") from None
        updated = meta.get("updated")
        return {
            "url": public_url(self.url),
            "index": self.name,
            "generation": index,
            "documents": int(self.client.count(index=index)["count"]),
            "index_bytes": int(primaries["store"]["size_in_bytes"]),
            "last_update": dt.datetime.fromtimestamp(updated, dt.timezone.utc).isoformat()
            if updated else None,
            "sources": meta.get("sources", []),
            "fingerprint": meta.get("fingerprint"),
        }

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> OpenSearchBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _prepare(self, query: str, limit: int, page: int, sort: str, author: str | None,
                 category: str | None, tag: str | None, since: Any, until: Any):
        if limit < 1 or limit > 1000:
            raise QueryError("limit must be between 1 and 1000")
        if page < 1:
            raise QueryError("page must be 1 or more")
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        node = parse_query(query)
        start, end = date_range(since, until, self.settings.timezone)
        return node, filter_clauses(author, category, tag, start, end)

    def _synonym_groups(self) -> dict[str, list[str]]:
        if self._synonyms is None:
            from ..analysis.lexicon import load_synonyms

            self._synonyms = load_synonyms(self.settings.synonyms)
        return self._synonyms

    @staticmethod
    def _body(query: dict[str, Any], filters: list[dict[str, Any]]) -> dict[str, Any]:
        if filters:
            query = {"bool": {"must": [query], "filter": filters}}
        return {"query": query}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        from opensearchpy.exceptions import NotFoundError, OpenSearchException

        from .client import cluster_error

        try:
            return self.client.search(index=self.name, body=body)
        except NotFoundError:
            raise IndexNotFoundError(f"no index {self.name} on {public_url(self.url)} yet: "
                                     "run an index first") from None
        except OpenSearchException as exc:
            raise cluster_error(exc, self.url, f"a search of {self.name}") from None

    def _page(self, body: dict[str, Any], sort: str, offset: int, limit: int
              ) -> tuple[int, list[dict[str, Any]]]:
        """Total and the hits of one page; deep pages walk there with search_after."""
        order: list[Any]
        if sort == "relevance":
            order = [{"_score": "desc"}, {"id": "asc"}]
        else:
            direction = "desc" if sort == "date" else "asc"
            order = [{"date": {"order": direction, "missing": "_last"}}, {"id": "asc"}]
        body = dict(body, sort=order, _source=HIT_FIELDS, track_total_hits=True)
        if offset + limit <= MAX_WINDOW:
            response = self._search(dict(body, **{"from": offset, "size": limit}))
            return int(response["hits"]["total"]["value"]), response["hits"]["hits"]
        # Deep page: skip with cheap pages (ids only) and search_after, then fetch the page.
        skip = dict(body, _source=False, size=1000, track_total_hits=False)
        after: list[Any] | None = None
        left = offset
        total = int(self._search(dict(body, size=0))["hits"]["total"]["value"])
        while left > 0:
            step = dict(skip, size=min(1000, left))
            if after is not None:
                step["search_after"] = after
            hits = self._search(step)["hits"]["hits"]
            if not hits:
                return total, []
            after = hits[-1]["sort"]
            left -= len(hits)
        final = dict(body, size=limit, track_total_hits=False)
        if after is not None:
            final["search_after"] = after
        return total, self._search(final)["hits"]["hits"]

    @staticmethod
    def _hit(raw: dict[str, Any], needles: list[str], rank: int) -> Hit:
        src = raw["_source"]
        text = src.get("text", "")
        snippet = make_snippet(text, needles)
        title = src.get("title", "")
        return Hit(
            id=src["id"], path=src.get("path", ""), title=title, author=src.get("author", ""),
            categories=list(src.get("categories") or []), tags=list(src.get("tags") or []),
            date=_date((src.get("meta") or {}).get("date"), src.get("date")),
            score=float(raw.get("_score") or 0.0), snippet=snippet.text,
            highlights=snippet.highlights, title_highlights=highlight_all(title, needles),
            rank=rank)


def _date(iso: str | None, utc: str | None) -> dt.datetime | None:
    for value in (iso, utc):
        if value:
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None
