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
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from ..analysis.lexicon import pinyin_rows
from ..analysis.normalize import squeeze
from ..config import Settings
from ..core.limits import bounded
from ..core.rules import FIELD_BREAK
from ..core.workers import report_file
from ..errors import DocumentError
from ..ingest.dates import to_utc
from ..ingest.documents import Document, load_document
from ..ingest.sources import SourceFile, became_link_out
from . import manifest, suggest
from .integrity import seal_segment
from .postings import SegmentBuilder
from .schema import SEP, build_schema, index_term_functions
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
    functions["source"] = _path_term
    builder = SegmentBuilder(writer, functions)
    settings = task.settings
    squeezed: list[str] = []
    records: list[manifest.Record] = []
    titles: list[str] = []
    phrases: Counter[str] = Counter()
    try:
        for number, source_file in enumerate(task.files):
            report_file(number)
            try:
                if not settings.follow_links and became_link_out(source_file):
                    raise DocumentError("became a link out of the source folder; not followed")
                with bounded(settings.parse_seconds, settings.parse_memory):
                    doc = load_document(
                        source_file.path, source_file.source, tz=settings.timezone,
                        max_bytes=settings.max_bytes, label=source_file.label,
                    )
                    left_out = doc.left_out(settings.drafts)
                    values = None if left_out else document_fields(doc)
                    text = None if left_out else (squeeze(doc.title) + FIELD_BREAK
                                                  + squeeze(doc.body))
                if values is None:
                    result.skipped.append((source_file.path, left_out, doc.id))
                    continue
                seen.clear()
                builder.add_document(values)
                assert text is not None  # set with values
                squeezed.append(text)
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
        report_file(None)  # what follows is the segment's, not one file's
        if result.added:
            # text fields' terms are str (bytes are only other fields')
            result.pinyin = pinyin_rows(cast("Iterable[str]", itertools.chain(
                builder.terms("title"), builder.terms("body"))))
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
    except BaseException:
        builder.cancel()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _path_term(path: str) -> list[str]:
    """The term of a path field: the path itself (as Whoosh's ``ID`` field gives it), with
    the bytes of a file name that is not UTF-8 (kept by Python as lone surrogates, which
    no term can hold) written as ``\\xff`` escapes.  The stored value keeps them."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return [path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")]
    return [path]


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
    from . import segments, substrings
    from .sidecar import save_arrays

    folder, segment_id = index_folder(ix), segment.segment_id()
    reader = segment_reader(ix, segment)
    try:
        if squeezed is None:
            squeezed = substrings.squeezed_texts(reader)
        write_text_sidecars(folder, segment_id, squeezed)
        del squeezed
        if records is None:
            records = manifest.stored_records(reader)
        save_arrays(folder, segment_id, manifest.SIDECAR, manifest.arrays(records))
        save_arrays(folder, segment_id, segments.SIDECAR, segments.data_arrays(reader))
        save_arrays(folder, segment_id, suggest.SIDECAR,
                    suggestions if suggestions is not None
                    else suggest.reader_arrays(reader, phrases))
    finally:
        reader.close()
    seal_segment(folder, segment_id, sidecars=True)  # last: the segment's checksums


def write_text_sidecars(folder: str, segment_id: str, squeezed: list[str]) -> None:
    """The substring index of a segment from its squeezed texts: the per-document arrays
    and the packed bigram index (the only copy of the squeezed text; see substrings.py).

    *squeezed* is emptied once its code points are in an array, so that the bigram index
    of a large segment is built without the texts held beside it.
    """
    from . import substrings, text_index
    from .sidecar import save_arrays

    text = substrings.text_arrays(squeezed)
    squeezed.clear()
    save_arrays(folder, segment_id, substrings.SIDECAR, text_index.text_sidecar(text))
    bigrams = text_index.bigram_index_arrays(text["codes"], text["histogram"])
    del text
    save_arrays(folder, segment_id, substrings.BIGRAMS_SIDECAR,
                text_index.pack_bigram_index(bigrams))


def add_bigram_indexes(ix: Any) -> int:
    """Write the substring index of every segment of *ix* whose sidecars are missing
    (or were removed as damaged); returns how many segments got one.

    Each index is computed from the segment's stored title and display text and saved
    atomically next to it: segments never change, so a search process that opens the
    segment later maps it, one that already searches it from memory goes on doing so,
    exact either way.  Takes a few seconds per 10,000-article segment.
    """
    from . import substrings
    from .sidecar import sidecar_path

    folder, added = index_folder(ix), 0
    for segment in index_segments(ix):
        segment_id = segment.segment_id()
        names = [sidecar_path(folder, segment_id, name, key).name
                 for name, keys in ((substrings.SIDECAR, substrings.SIDECAR_KEYS),
                                    (substrings.BIGRAMS_SIDECAR, substrings.BIGRAMS_KEYS))
                 for key in keys]
        if all(os.path.exists(os.path.join(folder, name)) for name in names):
            continue
        reader = segment_reader(ix, segment)
        try:
            write_text_sidecars(folder, segment_id, substrings.squeezed_texts(reader))
            added += 1
        finally:
            reader.close()
        seal_segment(folder, segment_id, names)
    return added
