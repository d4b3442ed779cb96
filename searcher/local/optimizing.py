"""``searcher optimize``: merge every segment of the index into one, atomically.

A parallel build leaves one segment per worker and batch (17 at 200,000
articles), and each nightly run adds more; every query then repeats its work
per segment (term lookups, postings reads, the substring search).  Optimizing
copies all live documents into one new segment of a *new generation*, with
every sidecar (texts, bigram index, manifest, field lengths, suggestion words,
titles and phrases), and publishes it the way a full rebuild does: the
``CURRENT`` pointer is replaced in one step.  Searches keep using the old
generation until then (an open engine notices the new one on its next query);
a run killed midway leaves the old generation as it was, and the next index or
optimize run removes the unfinished one.

Whoosh's own merge (``add_reader``) does the copying: it is not fast (its
posting pool pickles every posting), which is why this is a command to run
when convenient, not part of every index run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from typing import Any

from ..config import Settings
from ..core.fingerprint import analysis_fingerprint, describe_change
from ..errors import ConfigError, IndexNotFoundError
from ..reports import OptimizeReport
from . import suggest
from .building import write_sidecars
from .integrity import SQLITE_FILES, SQLITE_SUMS, remove_temp_files
from .locking import writer_lock
from .repair import open_generation
from .schema import build_schema
from .storage import Generation, IndexDir
from .whoosh_adapter import (
    commit_segments,
    commit_writer,
    create_index,
    index_exists,
    index_folder,
    index_segments,
    segment_reader,
)

#: Files of a generation that belong to no segment and stay valid after a merge.
#: Copied byte for byte, so their recorded checksums (copied last) still hold.
GENERATION_FILES = (*SQLITE_FILES, SQLITE_SUMS)


def optimize_index(root: IndexDir, settings: Settings, *, wait: float = 0.0) -> OptimizeReport:
    """Merge every segment of *root*'s current generation into one, in a new generation
    published atomically; see the module docstring.  Raises IndexNotFoundError without an
    index, IndexLockedError while another process writes, and ConfigError when the index
    was built with other analysis settings (``searcher index --full`` rebuilds it anyway)."""
    started = time.monotonic()
    report = OptimizeReport()
    with writer_lock(root.root, wait):
        current = root.current()
        if current is None or not index_exists(str(current.path)):
            raise IndexNotFoundError(f"no index in {root.root}: run 'searcher index' first")
        info = current.info()
        fp = analysis_fingerprint(settings)
        if info.get("fingerprint") != fp:
            raise ConfigError(
                f"the index in {current.path} was built with other analysis settings "
                f"({describe_change(info.get('fingerprint'), fp)}); 'searcher index --full' "
                "rebuilds it as one generation instead", source="index", key="fingerprint",
                value=info.get("fingerprint"), expected=str(fp))
        root.remove_stale(keep={current.name})  # an unfinished rebuild or optimize
        report.previous = report.generation = current.name
        report.bytes_before = report.bytes_after = root.size_bytes()
        remove_temp_files([root.root, current.path])
        old = open_generation(current)  # IndexCorruptError: merging would copy the damage
        try:
            segments = index_segments(old)
            report.segments_before = len(segments)
            report.documents = sum(s.doc_count() for s in segments)
            report.dropped = sum(s.doc_count_all() - s.doc_count() for s in segments)
            if len(segments) <= 1 and not report.dropped:
                report.segments_after = len(segments)
                report.merged = False
                report.duration = time.monotonic() - started
                return report
            target = root.new_generation()
            try:
                _merge_into(old, segments, target, info)
            except BaseException:
                shutil.rmtree(target.path, ignore_errors=True)
                raise
        finally:
            old.close()
        info = dict(info, state="ready", updated=time.time(), documents=report.documents,
                    optimized=time.time())
        target.write_info(info)
        root.publish(target)
        report.generation = target.name
        report.segments_after = 1 if report.documents else 0
        report.bytes_after = root.size_bytes()
    report.duration = time.monotonic() - started
    return report


def _merge_into(old: Any, segments: list[Any], target: Generation, info: dict) -> None:
    """Write one segment holding every live document of *segments* into *target*."""
    for name in GENERATION_FILES:
        try:
            shutil.copyfile(os.path.join(index_folder(old), name), target.path / name)
        except FileNotFoundError:
            continue
    target.write_info(dict(info, state="building", created=time.time()))
    ix = create_index(str(target.path), build_schema())
    phrases: Counter[str] = Counter()
    writer = commit_writer(ix)
    try:
        for segment in segments:
            reader = segment_reader(old, segment)
            try:
                phrases.update(_phrases(reader))
                writer.add_reader(reader)  # live documents only
            finally:
                reader.close()
        commit_segments(writer, [], lambda merged, _sources: write_sidecars(
            ix, merged, phrases=dict(phrases)))
    except BaseException:
        writer.cancel()
        ix.close()
        raise
    with ix.searcher() as searcher:  # the merged suggestion table, so no search pays for it
        suggest.suggestion_table(searcher)
    ix.close()


def _phrases(reader: Any) -> dict[str, int]:
    return suggest.segment_phrases(reader)
