"""SearchEngine: the one object other applications use.

It names an index location and answers queries there; the location picks
the back end: a folder is the embedded Whoosh index
(:class:`searcher.local.backend.LocalBackend`), an ``http(s)://host:port/NAME``
URL an OpenSearch index or alias (:class:`searcher.opensearch.OpenSearchBackend`).
Both share the analysis and the query tree; arguments are checked here once
(:mod:`searcher.arguments`), so every back end gets the same errors and
returns the same result types.  Searching is thread-safe, and a long-lived
engine sees the nightly job's changes without a restart.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reports import CheckReport, IndexReport, IndexStats, OptimizeReport

from .arguments import check_doc_id, check_page, prepare_search
from .config import Settings, is_cluster_url, load_settings
from .core.contract import Backend, ProgressCallback
from .deadline import time_limit
from .errors import QueryError
from .query import parse_query
from .results import DocumentView, SearchResults, Suggestion


def open_backend(settings: Settings) -> Backend:
    """The back end for ``settings.index_dir``: a cluster for a URL, else the folder."""
    if is_cluster_url(settings.index_dir):
        from .opensearch.backend import OpenSearchBackend

        return OpenSearchBackend.from_location(settings.index_dir, settings)
    from .local.backend import LocalBackend

    return LocalBackend(settings)


class SearchEngine:
    """Index and search one index location (a folder, or a cluster URL).

    >>> engine = SearchEngine("index_data")          # doctest: +SKIP
    >>> engine.index(["sample_docs"]).added          # doctest: +SKIP
    >>> engine.search("认证认可").hits[0].title       # doctest: +SKIP
    >>> SearchEngine("http://127.0.0.1:9200/articles").stats().documents  # doctest: +SKIP
    """

    def __init__(self, index_dir: str | os.PathLike[str] | None = None,
                 settings: Settings | None = None, **overrides: Any) -> None:
        if settings is None:
            settings = load_settings(**overrides)
        elif overrides:
            settings = settings.with_overrides(**overrides)
        if index_dir is not None:
            settings = settings.with_overrides(index_dir=index_dir)
        self.settings = settings
        self.backend: Backend = open_backend(settings)

    @property
    def is_cluster(self) -> bool:
        """Whether the index is on an OpenSearch cluster."""
        return is_cluster_url(self.settings.index_dir)

    @property
    def checks_time_limit(self) -> bool:
        """Whether a search stops at its time limit between its own steps (the local index),
        rather than waiting on the network for an answer bounded by that limit (a
        cluster): a server may run the first kind on its event loop, the second in a thread."""
        return self.backend.checks_time_limit

    # -- writing -----------------------------------------------------------
    def index(self, sources: list[str | os.PathLike[str]] | None = None, *, full: bool = False,
              jobs: int | None = None, wait: float = 0.0,
              progress: ProgressCallback | None = None,
              batch_size: int | None = None,
              follow_links: bool | None = None,
              part: tuple[int, int] | None = None) -> IndexReport:
        """Bring the index up to date with *sources* (incremental unless *full*).

        Without *sources*, re-indexes the folders the index was last built from.
        *batch_size* caps the documents per commit (progress survives a crash).
        Links leading out of a source folder are skipped (``report.skipped``)
        unless *follow_links* (default: the ``follow_links`` setting).
        *part* ``(K, N)`` (a cluster only) indexes and deletes only the K-th of N
        shares of the documents (a stable hash of the id), so N machines can
        share the work.
        """
        return self.backend.index(sources, full=full, jobs=jobs, wait=wait, progress=progress,
                                  batch_size=batch_size, follow_links=follow_links, part=part)

    def optimize(self, *, wait: float = 0.0) -> OptimizeReport:
        """Merge every segment of the index into one, for faster queries.

        Writes a new generation and publishes it atomically, like a full rebuild:
        searches keep the old one until the swap, and a run killed midway leaves
        the index as it was.  Returns an OptimizeReport (``merged`` is False when
        there was nothing to merge).  Raises IndexNotFoundError, IndexLockedError
        (after *wait* seconds) or ConfigError (built with other analysis settings).
        """
        return self.backend.optimize(wait=wait)

    # -- reading -----------------------------------------------------------
    def search(self, query: str, limit: int = 10, page: int = 1,
               author: str | Sequence[str] | None = None,
               category: str | Sequence[str] | None = None, since: Any = None, until: Any = None,
               sort: str = "relevance", tag: str | Sequence[str] | None = None, *,
               year: int | str | Sequence[int | str] | None = None,
               month: str | Sequence[str] | None = None,
               facets: str | Sequence[str] | None = None,
               facet_limit: int = 10, timeout: float | None = None) -> SearchResults:
        """Ranked results for *query* (see README for the syntax).

        *since*/*until* take dates or date strings (a bare date as *until*
        includes that whole day); *sort* is ``relevance``, ``date`` (newest
        first) or ``oldest``.  *author*, *category*, *tag*, *year* (``2021``)
        and *month* (``"2021-06"``) take one value or a list: any of the
        values of one filter, and every filter given.  *facets* (names from
        ``author, category, tag, year, month``) fills ``results.facets`` with
        the top *facet_limit* ``(value, count)`` pairs over all matches.
        Raises QueryError for malformed queries or options,
        IndexNotFoundError before the first ``index`` run, and TimeLimitExceeded
        after *timeout* seconds (default: the ``search_timeout`` setting; 0: no limit).
        """
        with self._time_limit(timeout):
            request = prepare_search(self.settings.timezone, query, limit, page, author,
                                     category, since, until, sort, tag, year=year, month=month,
                                     facets=facets, facet_limit=facet_limit)
            return self.backend.search(request)

    def _time_limit(self, timeout: float | None) -> contextlib.AbstractContextManager[None]:
        """The time limit of one search: *timeout* seconds, None for the setting, 0 none
        (see :mod:`searcher.deadline`; a caller's own :func:`time_limit` still applies)."""
        if timeout is None:
            timeout = self.settings.search_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not timeout >= 0:  # NaN too
            raise QueryError(f"timeout must be a number of seconds, 0 or more, not {timeout!r}",
                             argument="timeout", value=timeout)
        return time_limit(timeout) if 0 < timeout < math.inf else contextlib.nullcontext()

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Completions of what is typed so far: indexed words and whole titles starting with
        *prefix*, most documents first.

        *prefix* may be Chinese, traditional, Latin, a pinyin prefix (``liaoc``) or
        pinyin initials (``lc``): each gives ``聊城``.  Returns ``[]`` for empty or
        unusable input (it never raises on any text); *limit* is capped at 100.
        """
        return self.backend.suggest(prefix, limit)

    def similar(self, doc_id: str, limit: int = 10, page: int = 1, *,
                timeout: float | None = None) -> SearchResults:
        """Articles related to *doc_id* (an id or a source path), best first, never itself.

        Results have the shape of :meth:`search` (``query`` is the article's id):
        related by the article's most distinctive terms, near-duplicates (the same
        story under another path) first with ``hit.near_duplicate`` set.  An
        unknown id raises the same error as :meth:`get`; *timeout* is :meth:`search`'s.
        """
        check_page(limit, page)
        check_doc_id(doc_id)
        with self._time_limit(timeout):
            return self.backend.similar(doc_id, limit, page)

    def get(self, doc_id: str) -> DocumentView:
        """Everything stored for one document, by its id or by the path of its source file.

        *doc_id* is looked up as an id first, then as a path (relative to the
        current folder, links resolved).  Every document has its own id and
        path, even when two source folders hold the same relative path, so
        either names one document; a path that names several (one file reached
        from two nested source folders) raises AmbiguousDocumentError (``ids`` lists them).
        A path may hold the lone surrogates Python uses for file-name bytes that
        are not UTF-8 (U+DC80..U+DCFF); any other non-text raises QueryError.
        An unknown id or path raises DocumentNotFoundError.
        """
        check_doc_id(doc_id)
        return self.backend.get(doc_id)

    def highlight(self, text: str, query: str) -> list[tuple[int, int]]:
        """``[start, end)`` spans of *text* (e.g. a whole ``get(id).text``) matched by *query*.

        The same needles as the hits' snippets: the query's words and phrases and their jieba
        terms (without synonym and pinyin expansions), so a document page can mark the
        query's matches in its full text.  Raises QueryError like :meth:`search`.
        """
        from .analysis.tokens import STOP_WORDS, query_terms
        from .highlight import highlight_all, needles_for
        from .query import positive_literals

        literals = positive_literals(parse_query(query))
        cut = self.backend.query_cut()
        terms: list[str] = []
        for word, is_phrase in literals:
            if not is_phrase:
                found = query_terms(word, cut)
                terms.extend([t for t in found if t not in STOP_WORDS] or found)
        return highlight_all(text, needles_for(literals, terms))

    def check(self, sources: list[str | os.PathLike[str]] | None = None, *,
              follow_links: bool | None = None, deep: bool = False) -> CheckReport:
        """Compare the index with *sources* (default: the folders it was built from).

        *follow_links* (default: the setting) must match how the index was built.
        With *deep*, every byte of every index file is first compared with the checksum
        written with it (a local index; a cluster checks its own): damage raises
        :class:`~searcher.errors.IndexCorruptError` naming every damaged file.
        """
        return self.backend.check(sources, follow_links=follow_links, deep=deep)

    def stats(self) -> IndexStats:
        """Document count, size, last update, sources and fields of the current index.

        The same fields for both back ends (``index_dir`` is the folder or the cluster
        location, never with credentials); a cluster also sets ``url`` and ``index``.
        ``stats().as_dict()`` is the JSON-ready mapping ``searcher stats --json`` and
        ``/api/stats`` print.
        """
        return self.backend.stats()

    def close(self) -> None:
        """Release searchers, files and connections (also done at garbage collection)."""
        self.backend.close()

    def __enter__(self) -> SearchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SearchEngine({self.backend!r})"
