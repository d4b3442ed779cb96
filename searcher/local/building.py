"""Build one Whoosh segment from a batch of files (runs inside a worker process).

Parsing, segmenting with jieba and writing postings are the expensive parts
of indexing, and all three happen here, so N worker processes use N cores.
Each task writes a complete segment into its own staging folder; the parent
process moves the finished segment into the index and commits it
(:mod:`searcher.local.indexing`).  Nothing here touches the live index.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..analysis.lexicon import pinyin_rows
from ..analysis.normalize import squeeze
from ..analysis.tokens import load_userdict
from ..config import Settings
from ..errors import DocumentError
from ..ingest.dates import to_utc
from ..ingest.documents import Document, load_document
from ..ingest.sources import SourceFile, became_link_out
from . import manifest, suggest
from .postings import SegmentBuilder
from .schema import FIELD_BREAK, SEP, build_schema, index_term_functions
from .whoosh_adapter import (
    discard_temp_files,
    index_folder,
    index_segments,
    segment_reader,
    staging_writer,
)

log = logging.getLogger(__name__)

@dataclass
class BuildTask:
    files: list[SourceFile]
    staging_root: str
    settings: Settings


@dataclass
class BuildResult:
    staging: str | None = None
    segment: Any = None
    added: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    #: (path, reason, id): drafts not indexed (see the ``drafts`` setting).
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    #: (pinyin, word) rows for the Chinese words of the segment's titles and bodies.
    pinyin: set[tuple[str, str]] = field(default_factory=set)


_progress: Any = None
#: The pid of this worker's parent when it started (None when not a pool worker): the
#: indexing process, or the fork server that ends with it.
_parent: int | None = None
#: prctl option: the signal the kernel sends this process when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


class ParentGone(Exception):
    """The indexing process that started this worker has ended; its work is abandoned."""


def init_worker(settings: Settings, counter: Any = None, parent: int | None = None) -> None:
    """Pool initializer: end with *parent*, load the user dictionary, remember the counter.

    When the indexing process is killed (``kill -9`` from cron kills it alone, not its
    process group), its workers must not live on: the kernel kills them with it on Linux
    (``PR_SET_PDEATHSIG``), and elsewhere :func:`build_segment` stops at the next file
    when its parent has changed.
    """
    global _progress, _parent
    _progress = counter
    if parent is not None:
        _die_with_parent()
        _parent = os.getppid()  # *parent*, or the fork server, which ends when it does
        if not _alive(parent) or _parent == 1:  # it died before the kernel was told
            os._exit(1)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    load_userdict(settings.userdict)


def _alive(pid: int) -> bool:
    """Whether process *pid* exists (signal 0 is checked, not sent; a process of another
    user exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent ends (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no usable libc: the parent-pid check still applies
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def document_fields(doc: Document) -> dict[str, Any]:
    """The values Whoosh stores and analyses for one document."""
    return {
        "id": doc.id,
        "relpath": doc.relpath,
        "path": doc.path,
        "source": doc.source,
        "title": doc.title,
        "body": doc.body,
        "author": doc.author,
        "author_key": doc.author,
        "category": SEP.join(doc.categories),
        "tag": SEP.join(doc.tags),
        "date": _naive_utc(doc.date),
        "meta": {
            "categories": doc.categories,
            "tags": doc.tags,
            "updated": doc.updated.isoformat() if doc.updated else None,
            "date": doc.date.isoformat() if doc.date else None,
            "images": doc.images,
            "extra": doc.extra,
            "size": doc.size,
            "mtime_ns": doc.mtime_ns,
            "digest": doc.digest,
            "warnings": doc.warnings,
        },
        "text": doc.body.encode("utf-8", "surrogatepass"),
        "squeezed": (squeeze(doc.title) + FIELD_BREAK + squeeze(doc.body)).encode(
            "utf-8", "surrogatepass"
        ),
    }


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return to_utc(value).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None


def build_segment(task: BuildTask) -> BuildResult:
    """Load, analyse and write *task.files* into a fresh segment in a staging folder."""
    result = BuildResult()
    staging = tempfile.mkdtemp(prefix="stage-", dir=task.staging_root)
    ix, writer = staging_writer(staging, build_schema())
    functions = index_term_functions()
    seen: dict[str, list[str]] = {}  # the title's and body's terms of the current document
    for name in ("title", "body"):
        functions[name] = _recording(functions[name], name, seen)
    builder = SegmentBuilder(writer, functions)
    settings = task.settings
    squeezed: list[str] = []
    records: list[manifest.Record] = []
    titles: list[str] = []
    phrases: Counter[str] = Counter()
    try:
        for source_file in task.files:
            if _parent is not None and os.getppid() != _parent:
                raise ParentGone("the indexing process ended")
            try:
                if not settings.follow_links and became_link_out(source_file):
                    raise DocumentError("became a link out of the source folder; not followed")
                doc = load_document(
                    source_file.path, source_file.source,
                    tz=settings.timezone, max_bytes=settings.max_bytes, label=source_file.label,
                )
                if doc.draft and not settings.drafts:
                    result.skipped.append((source_file.path, f"{doc.draft}; not indexed "
                                           "(--drafts indexes it)", doc.id))
                    continue
                values = document_fields(doc)
                seen.clear()
                builder.add_document(values)
                squeezed.append(values["squeezed"].decode("utf-8", "surrogatepass"))
                records.append(manifest.record(values))
                titles.append(doc.title)
                phrases.update(suggest.document_phrases(seen.get("title", []),
                                                        seen.get("body", []), squeezed[-1]))
            except DocumentError as exc:
                result.failed.append((source_file.path, str(exc)))
            except Exception as exc:  # one bad file must never stop the run
                log.exception("unexpected error indexing %s", source_file.path)
                result.failed.append((source_file.path, f"internal error: {exc!r}"))
            else:
                result.added.append(doc.id)
                result.warnings.extend((source_file.path, w) for w in doc.warnings)
            finally:
                if _progress is not None:
                    with _progress.get_lock():
                        _progress.value += 1
        if result.added:
            result.pinyin = pinyin_rows(itertools.chain(builder.terms("title"),
                                                        builder.terms("body")))
            words = builder.doc_frequencies("title")
            for word, df in builder.doc_frequencies("body").items():
                words[word] = max(df, words.get(word, 0))
            suggestions = suggest.segment_arrays(words, titles, phrases)
            result.segment = builder.finish()
            discard_temp_files(writer)
            write_sidecars(ix, result.segment, squeezed, records, suggestions)
            result.staging = staging
        else:
            builder.cancel()
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException as exc:
        builder.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, ParentGone):
            os._exit(1)  # nobody is left to take the result
        raise
    return result


def _recording(function, name: str, seen: dict[str, list[str]]):
    """*function*, also leaving its last result in ``seen[name]`` (for suggestion phrases)."""
    def record(value: str) -> list[str]:
        seen[name] = terms = function(value)
        return terms
    return record


def write_sidecars(ix: Any, segment: Any, squeezed: list[str] | None = None,
                   records: list[manifest.Record] | None = None,
                   suggestions: dict[str, Any] | None = None,
                   phrases: dict[str, int] | None = None) -> None:
    """Arrays the searcher and the next run need per segment, so they never rebuild them
    (see sidecar.py and manifest.py).

    *squeezed* and *records* are each document's squeezed text and manifest
    record when the caller has them (a new segment); otherwise (a segment
    Whoosh merged) they are read from the column and the stored fields, and the
    suggestion phrases are *phrases*, the merged segments' (see
    :func:`suggest.segment_phrases`).
    """
    from . import scoring, substrings
    from .sidecar import save_arrays

    folder, segment_id = index_folder(ix), segment.segment_id()
    reader = segment_reader(ix, segment)
    try:
        if squeezed is None:
            column = reader.column_reader("squeezed")
            squeezed = [bytes(column[d] or b"").decode("utf-8", "surrogatepass")
                        for d in range(reader.doc_count_all())]
        text = substrings.text_arrays(squeezed)
        del squeezed
        save_arrays(folder, segment_id, substrings.SIDECAR, text)
        save_arrays(folder, segment_id, substrings.BIGRAMS_SIDECAR,
                    substrings.bigram_index_arrays(text["codes"], text["histogram"]))
        del text
        if records is None:
            records = manifest.stored_records(reader)
        save_arrays(folder, segment_id, manifest.SIDECAR, manifest.arrays(records))
        save_arrays(folder, segment_id, scoring.SIDECAR, scoring.data_arrays(reader))
        save_arrays(folder, segment_id, suggest.SIDECAR,
                    suggestions if suggestions is not None
                    else suggest.reader_arrays(reader, phrases))
    finally:
        reader.close()


def add_bigram_indexes(ix: Any) -> int:
    """Write the bigram index of every segment of *ix* written without one (an index
    from before it was persisted); returns how many segments got one.

    Each index is computed from the segment's text sidecar (or its column) and saved
    atomically next to it: segments never change, so a search process that opens the
    segment later maps it, one that already scans it linearly goes on doing so, exact
    either way.  Takes a few seconds per 12,000-article segment.
    """
    from . import substrings
    from .sidecar import load_arrays, save_arrays, sidecar_path

    folder, added = index_folder(ix), 0
    for segment in index_segments(ix):
        segment_id = segment.segment_id()
        if all(sidecar_path(folder, segment_id, substrings.BIGRAMS_SIDECAR, key).exists()
               for key in substrings.BIGRAMS_KEYS):
            continue
        reader = segment_reader(ix, segment)
        try:
            text = load_arrays(reader, substrings.SIDECAR, ("codes", "histogram"))
            if text is None:
                column = reader.column_reader("squeezed")
                text = substrings.text_arrays(
                    [bytes(column[d] or b"").decode("utf-8", "surrogatepass")
                     for d in range(reader.doc_count_all())])
                save_arrays(folder, segment_id, substrings.SIDECAR, text)
            save_arrays(folder, segment_id, substrings.BIGRAMS_SIDECAR,
                        substrings.bigram_index_arrays(text["codes"], text["histogram"]))
            added += 1
        finally:
            reader.close()
    return added


#: What the fork server imports once, so that each worker it forks starts with them.
WORKER_MODULES = ["searcher.local.building"]


def pool_context() -> multiprocessing.context.BaseContext:
    """Where build workers start: a fork server where available, spawn elsewhere.

    Not ``fork``: a forked worker starts as a copy of the indexing process, with
    its scan, its plan, the index's manifest and jieba (540 MB in a full build of
    500,000 articles), and every worker's memory counts them again.  Workers forked from the fork
    server (a small process that has imported :data:`WORKER_MODULES`) hold only
    what they load, and no lock another thread of the indexing process held.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(WORKER_MODULES)
        return ctx
    return multiprocessing.get_context("spawn")
