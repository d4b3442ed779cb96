"""SearchEngine: the one object other applications use.

It owns an index directory, indexes source folders into it and answers
queries.  Searching is thread-safe (each thread gets its own Whoosh
searcher) and a long-lived engine notices new commits and swapped-in
rebuilds (the nightly job) on its next search, without a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .local.indexing import ProgressCallback
    from .local.optimizing import OptimizeReport
    from .reports import CheckReport, IndexReport

from .config import Settings, load_settings
from .errors import DocumentNotFoundError, IndexNotFoundError, QueryError, SearcherError
from .local.caching import SearchCaches
from .local.schema import analysis_fingerprint, describe_change, dictionary_key
from .local.search import SORTS, Filters, QueryContext, date_range, execute
from .local.storage import Generation, IndexDir
from .query import parse_query
from .results import DocumentView, SearchResults, Suggestion

log = logging.getLogger(__name__)


def _is_text(value: str) -> bool:
    """True when *value* is encodable text (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: Any, name: str, *, optional: bool) -> None:
    """Raise QueryError unless *value* is a str of real characters (or None if *optional*).

    Lone surrogates (what Python makes of undecodable bytes) cannot be folded,
    segmented or stored; they would fail deep inside the search.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        if name in ("since", "until") and isinstance(value, (dt.date, int, float)):
            return
        raise QueryError(f"{name} must be a string, not {type(value).__name__}",
                         argument=name, value=value)
    if _is_text(value):
        return
    for position, char in enumerate(value, start=1):
        if "\ud800" <= char <= "\udfff":
            raise QueryError(
                f"{name} is not valid text: a lone surrogate (U+{ord(char):04X}) at character "
                f"{position}, which is what undecodable bytes become; decode the bytes with "
                "their real encoding first", position - 1, argument=name, value=value)


def _check_whole(value: Any, name: str, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"{name} must be a whole number, not {value!r}", argument=name,
                         value=value)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise QueryError(f"{name} must be {span}, not {value}", argument=name, value=value)


class SearchEngine:
    """Index and search one index directory.

    >>> engine = SearchEngine("index_data")          # doctest: +SKIP
    >>> engine.index(["sample_docs"]).added          # doctest: +SKIP
    >>> engine.search("认证认可").hits[0].title       # doctest: +SKIP
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
        self.root = IndexDir(settings.index_dir)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: tuple[Any, Generation, Any] | None = None  # (marker, gen, whoosh index)
        self._context: QueryContext | None = None
        # Outlive reopened generations: keys name segments, which commits leave unchanged.
        self._caches = SearchCaches(settings.cache_bytes)
        self._fingerprint_warned = False

    # -- writing -----------------------------------------------------------
    def index(self, sources: list[str | os.PathLike[str]] | None = None, *, full: bool = False,
              jobs: int | None = None, wait: float = 0.0,
              progress: ProgressCallback | None = None,
              batch_size: int | None = None,
              follow_links: bool | None = None) -> IndexReport:
        """Bring the index up to date with *sources* (incremental unless *full*).

        Without *sources*, re-indexes the folders the index was last built from.
        *batch_size* caps the documents per commit (progress survives a crash).
        Links leading out of a source folder are skipped (``report.skipped``)
        unless *follow_links* (default: the ``follow_links`` setting).
        """
        from .local.indexing import SEGMENT_DOCS, index_sources

        return index_sources(self.root, sources, self.settings, full=full, jobs=jobs,
                             wait=wait, progress=progress, batch_size=batch_size or SEGMENT_DOCS,
                             follow_links=follow_links)

    def optimize(self, *, wait: float = 0.0) -> OptimizeReport:
        """Merge every segment of the index into one, for faster queries.

        Writes a new generation and publishes it atomically, like a full rebuild:
        searches keep the old one until the swap, and a run killed midway leaves
        the index as it was.  Returns an OptimizeReport (``merged`` is False when
        there was nothing to merge).  Raises IndexNotFoundError, IndexLockedError
        (after *wait* seconds) or ConfigError (built with other analysis settings).
        """
        from .local.optimizing import optimize_index

        return optimize_index(self.root, self.settings, wait=wait)

    # -- reading -----------------------------------------------------------
    def search(self, query: str, limit: int = 10, page: int = 1,
               author: str | Sequence[str] | None = None,
               category: str | Sequence[str] | None = None, since: Any = None, until: Any = None,
               sort: str = "relevance", tag: str | Sequence[str] | None = None, *,
               year: int | str | Sequence[int | str] | None = None,
               month: str | Sequence[str] | None = None,
               facets: str | Sequence[str] | None = None,
               facet_limit: int = 10) -> SearchResults:
        """Ranked results for *query* (see README for the syntax).

        *since*/*until* take dates or date strings (a bare date as *until*
        includes that whole day); *sort* is ``relevance``, ``date`` (newest
        first) or ``oldest``.  *author*, *category*, *tag*, *year* (``2021``)
        and *month* (``"2021-06"``) take one value or a list: any of the
        values of one filter, and every filter given.  *facets* (names from
        ``author, category, tag, year, month``) fills ``results.facets`` with
        the top *facet_limit* ``(value, count)`` pairs over all matches.
        Raises QueryError for malformed queries or options and
        IndexNotFoundError before the first ``index`` run.
        """
        _check_whole(limit, "limit", 1, 1000)
        _check_whole(page, "page", 1, None)
        for name, value in (("query", query), ("author", author), ("category", category),
                            ("tag", tag), ("since", since), ("until", until), ("sort", sort)):
            several = name in ("author", "category", "tag") and isinstance(value, (list, tuple))
            for one in value if several else [value]:
                _check_text(one, name, optional=name != "query")
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}",
                             argument="sort", value=sort)
        from .local.facets import MAX_FACET_LIMIT, as_values, check_facets, month_numbers

        facet_names = check_facets(facets)
        _check_whole(facet_limit, "facet_limit", 1, MAX_FACET_LIMIT)
        years, months = month_numbers(year, month)
        node = parse_query(query)
        start, end = date_range(since, until, self.settings.timezone)
        filters = Filters(as_values(author, "author"), as_values(category, "category"),
                          as_values(tag, "tag"), start, end, years, months,
                          self.settings.timezone)
        searcher = self._searcher()
        return execute(searcher, node, query, self._query_context(), limit=limit, page=page,
                       filters=filters, sort=sort, facets=facet_names, facet_limit=facet_limit)

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Completions of what is typed so far: indexed words and whole titles starting with
        *prefix*, most documents first.

        *prefix* may be Chinese, traditional, Latin, a pinyin prefix (``liaoc``) or
        pinyin initials (``lc``): each gives ``聊城``.  Returns ``[]`` for empty or
        unusable input (it never raises on any text); *limit* is capped at 100.
        """
        from .local.suggest import suggest

        return suggest(self._searcher(), prefix, limit, self._caches.suggest)

    def similar(self, doc_id: str, limit: int = 10, page: int = 1) -> SearchResults:
        """Articles related to *doc_id* (an id or a source path), best first, never itself.

        Results have the shape of :meth:`search` (``query`` is the article's id):
        related by the article's most distinctive terms, near-duplicates (the same
        story under another path) first with ``hit.near_duplicate`` set.  An
        unknown id raises the same error as :meth:`get`.
        """
        from .local.similar import similar

        _check_whole(limit, "limit", 1, 1000)
        _check_whole(page, "page", 1, None)
        doc = self.get(doc_id)
        searcher = self._searcher()
        docnum = searcher.document_number(id=doc.id)
        if docnum is None:  # replaced between the two reads (a commit landed)
            raise DocumentNotFoundError(f"no document with id or path {doc_id!r}", doc_id)
        return similar(searcher, docnum, doc.id, self._query_context(), limit=limit, page=page)

    def get(self, doc_id: str) -> DocumentView:
        """Everything stored for one document, by its id or by the path of its source file.

        *doc_id* is looked up as an id first, then as a path (relative to the
        current folder, links resolved).  Every document has its own id and
        path, even when two source folders hold the same relative path, so
        either names one document; a path that names several (one file reached
        from two nested source folders) raises SearcherError listing their ids.
        A path may hold the lone surrogates Python uses for file-name bytes that
        are not UTF-8 (U+DC80..U+DCFF); any other non-text raises QueryError.
        """
        if not isinstance(doc_id, str) or not doc_id:
            raise QueryError("the document id must be a non-empty string", argument="doc_id",
                             value=doc_id)
        if any("\ud800" <= c <= "\udfff" and not "\udc80" <= c <= "\udcff" for c in doc_id):
            _check_text(doc_id, "doc_id", optional=False)
        searcher = self._searcher()
        docnum = searcher.document_number(id=doc_id) if _is_text(doc_id) else None
        if docnum is None:
            found = self._ids_by_path(doc_id)
            if len(found) > 1:
                raise SearcherError(f"{doc_id} is indexed as {len(found)} documents "
                                    f"({', '.join(sorted(found))}): give one of these ids")
            docnum = searcher.document_number(id=found[0]) if found else None
        if docnum is None:
            raise DocumentNotFoundError(f"no document with id or path {doc_id!r}", doc_id)
        stored = searcher.stored_fields(docnum)
        meta = stored.get("meta") or {}
        text = bytes(searcher.reader().column_reader("text")[docnum] or b"").decode(
            "utf-8", "surrogatepass")
        date = dt.datetime.fromisoformat(meta["date"]) if meta.get("date") else None
        return DocumentView(
            id=stored["id"], path=stored.get("path", ""), relpath=stored.get("relpath", ""),
            title=stored.get("title", ""), author=stored.get("author", ""),
            categories=list(meta.get("categories") or []), tags=list(meta.get("tags") or []),
            date=date, updated=meta.get("updated"), images=dict(meta.get("images") or {}),
            extra=dict(meta.get("extra") or {}), warnings=list(meta.get("warnings") or []),
            text=text,
        )

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
        cut = self._query_context().cut
        terms: list[str] = []
        for word, is_phrase in literals:
            if not is_phrase:
                found = query_terms(word, cut)
                terms.extend([t for t in found if t not in STOP_WORDS] or found)
        return highlight_all(text, needles_for(literals, terms))

    def check(self, sources: list[str | os.PathLike[str]] | None = None, *,
              follow_links: bool | None = None) -> CheckReport:
        """Compare the index with *sources* (default: the folders it was built from).

        *follow_links* (default: the setting) must match how the index was built.
        """
        from .local.checking import check_index

        marker, gen, ix = self._index()
        follow = self.settings.follow_links if follow_links is None else follow_links
        info = gen.info()
        return check_index(ix, sources or info.get("sources") or [], follow_links=follow,
                           labels=info.get("labels"))

    def stats(self) -> dict[str, Any]:
        """Document count, size on disk, last update and fields of the current index."""
        searcher = self._searcher()
        gen = self._opened[1] if self._opened else None
        info = gen.info() if gen else {}
        updated = info.get("updated")
        return {
            "index_dir": str(self.root.root.absolute()),
            "generation": gen.name if gen else None,
            "documents": searcher.doc_count(),
            "segments": len(searcher.leaf_searchers()),
            "index_bytes": self.root.size_bytes(),
            "last_update": dt.datetime.fromtimestamp(updated, dt.timezone.utc).isoformat()
            if updated else None,
            "sources": info.get("sources", []),
            "fields": sorted(searcher.schema.names()),
            "fingerprint": info.get("fingerprint"),
        }

    def close(self) -> None:
        """Release searchers and files (also done when the engine is garbage-collected)."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None
        with self._lock:
            if self._opened is not None:
                self._opened[2].close()
                self._opened = None

    def __enter__(self) -> SearchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _ids_by_path(self, path: str) -> list[str]:
        """Ids of the documents whose source file is *path* (exactly, else after resolving
        links), from the manifest sidecars rather than every stored document."""
        from .local.manifest import read_manifest

        manifest = read_manifest(self._index()[2])
        wanted = os.path.abspath(path)
        found = [i for i, rec in manifest.items() if rec["path"] == wanted]
        if not found:
            real = os.path.realpath(wanted)
            name = os.path.basename(real)
            found = [i for i, rec in manifest.items() if rec["path"]
                     and os.path.basename(rec["path"]) == name
                     and os.path.realpath(rec["path"]) == real]
        return found

    def _index(self):
        """The Whoosh index of the current generation, reopened when CURRENT changes."""
        marker = self.root.current_marker()
        with self._lock:
            if self._opened is not None and self._opened[0] == marker:
                return self._opened
            gen = self.root.current()
            if gen is None:
                raise IndexNotFoundError(
                    f"no index in {self.root.root} yet: run 'searcher index SOURCE' first")
            from .local.whoosh_adapter import open_index

            try:
                ix = open_index(str(gen.path))
            except Exception as exc:  # noqa: BLE001 - any unreadable index is the same problem
                raise IndexNotFoundError(
                    f"index in {gen.path} cannot be opened ({exc}); "
                    "rebuild it with 'searcher index --full'") from None
            self._check_fingerprint(gen)
            self._opened = (marker, gen, ix)
            self._context = None
            return self._opened

    def _searcher(self):
        marker, gen, ix = self._index()
        local = self._local
        searcher = getattr(local, "searcher", None)
        # A stale searcher is replaced, not refresh()ed: Whoosh's refresh reuses readers of
        # segments whose id is unchanged, and those keep their old deletions.
        if (searcher is not None and getattr(local, "marker", None) == marker
                and searcher.up_to_date()):
            return searcher
        if searcher is not None:
            searcher.close()
        local.searcher = ix.searcher()
        local.marker = marker
        return local.searcher

    def _check_fingerprint(self, gen: Generation) -> None:
        built = gen.info().get("fingerprint")
        current = analysis_fingerprint(self.settings)
        if built and built != current and not self._fingerprint_warned:
            self._fingerprint_warned = True
            log.warning(
                "the index in %s was built with different analysis settings (%s); results "
                "may be incomplete until you run 'searcher index --full'",
                gen.path, describe_change(built, current))

    def _query_context(self) -> QueryContext:
        context = self._context
        if context is None:
            from .analysis.lexicon import PINYIN_FILE, PinyinTable, load_synonyms
            from .analysis.segmenter import open_segmenter

            gen = self._index()[1]
            segmenter = open_segmenter(
                gen.path, dictionary_key(analysis_fingerprint(self.settings)))
            context = self._context = QueryContext(
                synonyms=load_synonyms(self.settings.synonyms),
                pinyin=PinyinTable(gen.path / PINYIN_FILE) if self.settings.pinyin else None,
                cut=segmenter.cut if segmenter else None,
                caches=self._caches,
            )
        return context
