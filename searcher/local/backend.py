"""LocalBackend: the embedded Whoosh index in one folder, as :class:`searcher.SearchEngine`
uses it when ``index_dir`` is a folder.

Searching is thread-safe (each thread gets its own Whoosh searcher) and a
long-lived backend notices new commits and swapped-in rebuilds (the nightly
job) on its next search, without a restart.  Arguments arrive checked
(:mod:`searcher.arguments`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.contract import ProgressCallback
    from ..core.request import SearchRequest
    from ..reports import CheckReport, IndexReport, OptimizeReport
    from ..results import DocumentView, SearchResults, Suggestion

from ..config import Settings
from ..core.contract import Backend
from ..core.fingerprint import analysis_fingerprint, describe_change, dictionary_key
from ..core.hits import document_view, stored_date
from ..core.request import is_text
from ..errors import (
    AmbiguousDocumentError,
    ConfigError,
    DocumentNotFoundError,
    IndexNotFoundError,
    SearcherError,
)
from ..reports import IndexStats
from .caching import SearchCaches
from .integrity import Damage, corrupt_error
from .repair import open_generation, verify_folder
from .search import QueryContext, execute
from .storage import Generation, IndexDir

log = logging.getLogger(__name__)


#: A folder changed less than this long ago may change again within the same timestamp tick
#: (file systems stamp with a coarse clock), so its stamp is not trusted yet.
SETTLE_NS = 2_000_000_000


def settled_stamp(folder: os.PathLike[str] | str) -> int | None:
    """The modification time (ns) of *folder* once it has settled, else None.

    Whoosh learns whether a searcher is current by listing the index folder for a newer
    table of contents: 0.6 ms a search at 200,000 articles (44 segments, 500 files), 0.08
    ms at 20,000, which made every search slower as the index grew.  Any commit adds and
    renames files in that folder, which sets its modification time to the moment it
    happens, so an unchanged time means no commit, provided the time read was already in
    the past by more than the clock's granularity (:data:`SETTLE_NS`): a commit in the
    same tick as a fresh time would not change it (the racy case git's index guards
    against in the same way).
    """
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return None
    return mtime if time.time_ns() - mtime >= SETTLE_NS else None


class LocalBackend(Backend):
    """Index and search the generations of one index folder."""

    checks_time_limit = True  # between ranking steps and facets (searcher/deadline.py)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = IndexDir(settings.index_dir)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: tuple[Any, Generation, Any] | None = None  # (marker, gen, whoosh index)
        self._context: QueryContext | None = None
        # Outlive reopened generations: keys name segments, which commits leave unchanged.
        self._caches = SearchCaches(settings.cache_bytes)
        self._fingerprint_warned = False

    def __repr__(self) -> str:
        return f"LocalBackend({self.location!r})"

    @property
    def location(self) -> str:
        """The index folder, absolute (what ``stats`` and messages show)."""
        return str(self.root.root.absolute())

    # -- writing -----------------------------------------------------------
    def index(self, sources: list[str | os.PathLike[str]] | None = None, *, full: bool = False,
              jobs: int | None = None, wait: float = 0.0,
              progress: ProgressCallback | None = None, batch_size: int | None = None,
              follow_links: bool | None = None,
              part: tuple[int, int] | None = None) -> IndexReport:
        from .indexing import SEGMENT_DOCS, index_sources

        if part is not None:
            raise ConfigError(
                f"--part {part[0]}/{part[1]} needs a cluster index (http(s)://host:port/NAME); "
                f"the local index {self.settings.index_dir} is built by one machine",
                key="part", value=f"{part[0]}/{part[1]}", expected="a cluster index_dir")

        return index_sources(self.root, sources, self.settings, full=full, jobs=jobs,
                             wait=wait, progress=progress, batch_size=batch_size or SEGMENT_DOCS,
                             follow_links=follow_links)

    # -- reading -----------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResults:
        with self._damage_explained():
            searcher, context = self._searcher(), self._query_context()
            results = execute(searcher, request.node, request.query, context,
                              limit=request.limit, page=request.page, filters=request.filters,
                              sort=request.sort, facets=request.facets,
                              facet_limit=request.facet_limit)
            results.notices = list(request.notices)
            results.did_you_mean = self.did_you_mean(request, searcher)
            return results

    def did_you_mean(self, request: SearchRequest, searcher=None) -> str | None:
        """The query with a homophone typo corrected (:mod:`searcher.spelling`), or None."""
        from ..analysis.lexicon import PINYIN_FILE, PinyinTable
        from ..spelling import did_you_mean
        from .search import HomophoneLookup

        searcher = searcher or self._searcher()
        context = self._query_context()
        table = context.pinyin or PinyinTable(self._index()[1].path / PINYIN_FILE)
        return did_you_mean(request.query, request.node,
                            HomophoneLookup(searcher, context, table), context.cut)

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        from .suggest import suggest

        with self._damage_explained():
            return suggest(self._searcher(), prefix, limit, self._caches.suggest)

    def optimize(self, *, wait: float = 0.0) -> OptimizeReport:
        from .optimizing import optimize_index

        return optimize_index(self.root, self.settings, wait=wait)

    def similar(self, doc_id: str, limit: int = 10, page: int = 1) -> SearchResults:
        from .similar import similar

        doc = self.get(doc_id)
        searcher = self._searcher()
        docnum = searcher.document_number(id=doc.id)
        if docnum is None:  # replaced between the two reads (a commit landed)
            raise DocumentNotFoundError(f"no document with id or path {doc_id!r}", doc_id)
        with self._damage_explained():
            return similar(searcher, docnum, doc.id, self._query_context(), limit=limit,
                           page=page)

    def get(self, doc_id: str) -> DocumentView:
        with self._damage_explained():
            return self._get(doc_id)

    def _get(self, doc_id: str) -> DocumentView:
        searcher = self._searcher()
        docnum = searcher.document_number(id=doc_id) if is_text(doc_id) else None
        if docnum is None:
            found = self._ids_by_path(doc_id)
            if len(found) > 1:
                raise AmbiguousDocumentError(doc_id, found)
            docnum = searcher.document_number(id=found[0]) if found else None
        if docnum is None:
            raise DocumentNotFoundError(f"no document with id or path {doc_id!r}", doc_id)
        stored = searcher.stored_fields(docnum)
        meta = stored.get("meta") or {}
        text = bytes(searcher.reader().column_reader("text")[docnum] or b"").decode(
            "utf-8", "surrogatepass")
        return document_view({**stored, "categories": meta.get("categories"),
                              "tags": meta.get("tags")}, meta, text=text,
                             date=stored_date(meta.get("date")))

    def query_cut(self) -> Callable[[str], list[str]] | None:
        """The query segmenter's ``cut`` (the index's frozen dictionary), or None."""
        return self._query_context().cut

    def check(self, sources: list[str | os.PathLike[str]] | None = None, *,
              follow_links: bool | None = None, deep: bool = False) -> CheckReport:
        from .checking import check_index

        if deep:  # every byte of every index file against the checksum written with it
            damage = self.verify(deep=True)
            if damage:
                raise corrupt_error(damage)

        marker, gen, ix = self._index()
        follow = self.settings.follow_links if follow_links is None else follow_links
        info = gen.info()
        return check_index(ix, sources or info.get("sources") or [], follow_links=follow,
                           labels=info.get("labels"))

    def verify(self, *, deep: bool = True) -> list[Damage]:
        """Every damaged file of the current generation (every byte read with *deep*);
        ``SearchEngine.check(deep=True)`` raises IndexCorruptError naming them."""
        gen = self.root.current()
        if gen is None:
            raise IndexNotFoundError(
                f"no index in {self.root.root} yet: run 'searcher index SOURCE' first")
        return verify_folder(gen.path, deep=deep)

    def stats(self) -> IndexStats:
        searcher = self._searcher()
        gen = self._opened[1] if self._opened else None
        info = gen.info() if gen else {}
        updated = info.get("updated")
        return IndexStats(
            index_dir=self.location,
            generation=gen.name if gen else None,
            documents=searcher.doc_count(),
            segments=len(searcher.leaf_searchers()),
            index_bytes=self.root.size_bytes(),
            last_update=dt.datetime.fromtimestamp(updated, dt.timezone.utc).isoformat()
            if updated else None,
            sources=info.get("sources", []),
            fields=sorted(searcher.schema.names()),
            fingerprint=info.get("fingerprint"),
        )

    def close(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None
        with self._lock:
            if self._opened is not None:
                self._opened[2].close()
                self._opened = None

    # -- internals ---------------------------------------------------------
    def _ids_by_path(self, path: str) -> list[str]:
        """Ids of the documents whose source file is *path* (exactly, else after resolving
        links), from the manifest sidecars rather than every stored document."""
        from .manifest import read_manifest

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
            ix = open_generation(gen)
            self._check_fingerprint(gen)
            self._opened = (marker, gen, ix)
            self._context = None
            return self._opened

    @contextlib.contextmanager
    def _damage_explained(self) -> Iterator[None]:
        """Turn an unexpected failure while reading the index into IndexCorruptError when
        a file of it is damaged (a byte flipped in a large file is only found this way, or
        by ``check --deep``); any other failure stays what it is (a bug)."""
        try:
            yield
        except (SearcherError, MemoryError, RecursionError):
            raise
        except Exception:
            opened = self._opened
            # (A generation removed whole is no damaged file: the caller explains that.)
            damage = verify_folder(opened[1].path, deep=True) \
                if opened and opened[1].path.is_dir() else []
            if damage:
                raise corrupt_error(damage) from None
            raise

    def _searcher(self):
        marker, gen, ix = self._index()
        local = self._local
        searcher = getattr(local, "searcher", None)
        stamp = settled_stamp(gen.path)  # before the check: a commit after it changes it
        # A stale searcher is replaced, not refresh()ed: Whoosh's refresh reuses readers of
        # segments whose id is unchanged, and those keep their old deletions.
        if (searcher is not None and getattr(local, "marker", None) == marker
                and ((stamp is not None and stamp == local.stamp) or searcher.up_to_date())):
            local.stamp = stamp
            return searcher
        if searcher is not None:
            searcher.close()
        local.searcher = ix.searcher()
        local.marker = marker
        local.stamp = stamp
        return local.searcher

    def _check_fingerprint(self, gen: Generation) -> None:
        built = gen.info().get("fingerprint")
        current = analysis_fingerprint(self.settings)
        if isinstance(built, dict) and "drafts" in built:  # which files, not how to search
            built = {**built, "drafts": current["drafts"]}
        if built and built != current and not self._fingerprint_warned:
            self._fingerprint_warned = True
            log.warning(
                "the index in %s was built with different analysis settings (%s); results "
                "may be incomplete until you run 'searcher index --full'",
                gen.path, describe_change(built, current))

    def _query_context(self) -> QueryContext:
        context = self._context
        if context is None:
            from ..analysis.lexicon import PINYIN_FILE, PinyinTable, load_synonyms
            from ..analysis.segmenter import open_segmenter

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
