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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .local.indexing import ProgressCallback
    from .reports import CheckReport, IndexReport

from .config import Settings, load_settings
from .errors import IndexNotFoundError, QueryError, SearcherError
from .local.caching import SearchCaches
from .local.schema import analysis_fingerprint, fingerprint_text
from .local.search import SORTS, Filters, QueryContext, date_bound, execute
from .local.storage import Generation, IndexDir
from .query import parse_query
from .results import DocumentView, SearchResults

log = logging.getLogger(__name__)


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
              batch_size: int | None = None) -> IndexReport:
        """Bring the index up to date with *sources* (incremental unless *full*).

        Without *sources*, re-indexes the folders the index was last built from.
        *batch_size* caps the documents per commit (progress survives a crash).
        """
        from .local.indexing import SEGMENT_DOCS, index_sources

        return index_sources(self.root, sources, self.settings, full=full, jobs=jobs,
                             wait=wait, progress=progress, batch_size=batch_size or SEGMENT_DOCS)

    # -- reading -----------------------------------------------------------
    def search(self, query: str, limit: int = 10, page: int = 1, author: str | None = None,
               category: str | None = None, since: Any = None, until: Any = None,
               sort: str = "relevance", tag: str | None = None) -> SearchResults:
        """Ranked results for *query* (see README for the syntax).

        *since*/*until* take dates or date strings (a bare date as *until*
        includes that whole day); *sort* is ``relevance``, ``date`` (newest
        first) or ``oldest``.  Raises QueryError for malformed queries or
        options and IndexNotFoundError before the first ``index`` run.
        """
        if limit < 1 or limit > 1000:
            raise QueryError("limit must be between 1 and 1000")
        if page < 1:
            raise QueryError("page must be 1 or more")
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        node = parse_query(query)
        try:
            start = date_bound(since, self.settings.timezone, end=False)
            end = date_bound(until, self.settings.timezone, end=True)
        except ValueError as exc:
            raise QueryError(f"bad date filter: {exc}") from None
        searcher = self._searcher()
        return execute(searcher, node, query, self._query_context(), limit=limit, page=page,
                       filters=Filters(author, category, tag, start, end), sort=sort)

    def get(self, doc_id: str) -> DocumentView:
        """Everything stored for one document, by id or by path of its source file."""
        searcher = self._searcher()
        docnum = searcher.document_number(id=doc_id)
        if docnum is None:
            path = str(Path(doc_id).absolute())
            for num, stored in searcher.reader().iter_docs():
                if stored.get("path") == path:
                    docnum = num
                    break
        if docnum is None:
            raise SearcherError(f"no document with id or path {doc_id!r}")
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

    def check(self, sources: list[str | os.PathLike[str]] | None = None) -> CheckReport:
        """Compare the index with *sources* (default: the folders it was built from)."""
        from .local.checking import check_index

        marker, gen, ix = self._index()
        return check_index(ix, sources or gen.info().get("sources") or [])

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
            from whoosh import index as whoosh_index

            try:
                ix = whoosh_index.open_dir(str(gen.path))
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
        if built and built != analysis_fingerprint(self.settings) and not self._fingerprint_warned:
            self._fingerprint_warned = True
            log.warning(
                "the index in %s was built with different analysis settings (jieba, "
                "dictionary or options changed); results may be incomplete until you run "
                "'searcher index --full'", gen.path)

    def _query_context(self) -> QueryContext:
        context = self._context
        if context is None:
            from .analysis.lexicon import PINYIN_FILE, PinyinTable, load_synonyms
            from .analysis.segmenter import open_segmenter

            gen = self._index()[1]
            segmenter = open_segmenter(
                gen.path, fingerprint_text(analysis_fingerprint(self.settings)))
            context = self._context = QueryContext(
                synonyms=load_synonyms(self.settings.synonyms),
                pinyin=PinyinTable(gen.path / PINYIN_FILE) if self.settings.pinyin else None,
                cut=segmenter.cut if segmenter else None,
                caches=self._caches,
            )
        return context
