"""Incremental, parallel, crash-safe indexing of source folders.

One run: take the writer lock, compare the files on disk with what the index
holds (size and mtime, confirmed by a content hash), build segments for new
and changed files in worker processes (:mod:`searcher.local.building`), and commit
each finished segment together with the deletions it implies.  Commits are
Whoosh TOC swaps, so a killed run leaves the last commit intact; the next run
simply sees the remaining files as still new or changed.

Full rebuilds (``full=True`` or a changed analysis fingerprint) write a new
generation and publish it at the end (:mod:`searcher.local.storage`); an
interrupted full rebuild is resumed by the next run.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..analysis.lexicon import (
    PINYIN_FILE,
    add_pinyin_rows,
    usable_pinyin_table,
    write_pinyin_table,
)
from ..analysis.segmenter import FILE_NAME, install_dictionary
from ..config import Settings
from ..core import workers
from ..core.changes import (
    ChangePlan,
    hard_bounds,
    label_sources,
    load_jieba,
    plan_changes,
)
from ..core.contract import ProgressCallback
from ..core.fingerprint import analysis_fingerprint, describe_change, dictionary_key
from ..core.workers import Interrupted, WorkerPool
from ..ingest.sources import SourceFile, check_sources, scan
from ..reports import IndexReport
from .building import (
    BuildResult,
    BuildTask,
    add_bigram_indexes,
    build_segment,
    write_sidecars,
)
from .integrity import SQLITE_FILES, remove_temp_files, seal_sqlite, unseal_sqlite
from .locking import writer_lock
from .manifest import read_manifest
from .repair import open_generation, repair_generation
from .schema import build_schema
from .storage import Generation, IndexDir
from .whoosh_adapter import (
    commit_segments,
    commit_writer,
    create_index,
    index_exists,
    index_folder,
    is_segment_file,
    open_index,
    segment_reader,
)

log = logging.getLogger(__name__)

#: Most documents one worker puts into one segment (and so between two commits).  Every
#: query pays a word lookup and a substring search per segment, so fewer, larger segments
#: keep latency flat as the corpus grows (100k articles in 6 segments instead of 11: the
#: query mix's p50 / p99 over 20k went from 1.53 / 1.86 to 1.40 / 1.74 in one run).
SEGMENT_DOCS = 50_000
#: Most source bytes one worker puts into one segment: what a worker holds grows with its
#: segment's text (~8.5 MB of memory per MB of articles at its peak, when the substring
#: index is written), so this bounds a build's memory whatever the articles' length.  With
#: 128 MiB the 500k build peaked at 2.47 GB (RSS sum: indexing process 460 MB, one worker
#: at 1.41 GB, the other building), above #11's 2 GB; 48 MiB keeps it near 1.8 GB.
SEGMENT_BYTES = 48 * 2**20
#: An incremental run with fewer new/changed files than this stays in-process.
INPROCESS_BELOW = 200




def index_sources(
    root: IndexDir,
    sources: Iterable[str | os.PathLike[str]] | None,
    settings: Settings,
    *,
    full: bool = False,
    jobs: int | None = None,
    wait: float = 0.0,
    progress: ProgressCallback | None = None,
    batch_size: int = SEGMENT_DOCS,
    follow_links: bool | None = None,
) -> IndexReport:
    """Bring the index at *root* up to date with *sources*; see the module docstring.

    *follow_links* (default: ``settings.follow_links``) also indexes what links
    leading out of a source folder point to; otherwise they are skipped and
    listed in ``report.skipped``.
    """
    started = time.monotonic()
    settings = settings.with_overrides(follow_links=follow_links)
    source_list = list(sources or [])
    if not source_list:
        current = root.current()
        source_list = list((current.info().get("sources") if current else None) or [])
    source_paths = check_sources(source_list)
    report = IndexReport()
    with writer_lock(root.root, wait):
        remove_temp_files([root.root, *(g.path for g in root.generations())])
        fp = analysis_fingerprint(settings)
        target, rebuilding = _choose_generation(root, fp, full)
        report.full = rebuilding
        root.remove_stale(keep={target.name})

        # A damaged one is deleted (written below); the intact ones keep their checksums
        verified = unseal_sqlite(target.path, SQLITE_FILES)
        _ensure_query_dictionary(target, fp, settings)
        ix = open_index(str(target.path))
        repaired = repair_generation(ix)  # IndexCorruptError: only 'index --full' can help
        pinyin_intact = usable_pinyin_table(target.path / PINYIN_FILE)
        manifest = read_manifest(ix)
        # Into an index holding no document yet (a full build), the rows the workers add
        # are the whole table: writing it again from the lexicon would repeat them.
        pinyin_intact = pinyin_intact or not manifest
        found = scan(source_paths, follow_links=settings.follow_links)
        report.skipped = found.skipped
        # A rebuild starts empty: the folders' history (which one moved where) is in the
        # generation being served.
        current = root.current()
        history = manifest if not rebuilding or current is None else _manifest_of(current)
        labeling = label_sources(_labels_of(target, current), source_paths, found, history)
        info = target.info()
        info.update(fingerprint=fp, sources=[str(p) for p in source_paths],
                    labels=labeling.labels)
        target.write_info(info)
        plan = plan_changes(manifest, found, labeling, report)
        _apply(ix, target, plan, settings, jobs, report, progress, batch_size)
        if not manifest and report.added and (target.path / PINYIN_FILE).exists():
            _compact(target.path / PINYIN_FILE)
        upgraded = add_bigram_indexes(ix)
        if upgraded:
            log.info("wrote the bigram index of %d older segments", upgraded)

        with ix.searcher() as searcher:
            report.documents = searcher.doc_count()
            if not pinyin_intact or not (target.path / PINYIN_FILE).exists():
                write_pinyin_table(searcher.reader(), target.path / PINYIN_FILE)
            if report.added or report.updated or report.deleted or repaired:
                _merge_suggestions(searcher)
        ix.close()
        seal_sqlite(target.path, SQLITE_FILES, verified)
        info.update(state="ready", updated=time.time(), documents=report.documents)
        target.write_info(info)
        if rebuilding or root.pointed() != target:  # (a damaged CURRENT is written again)
            root.publish(target)
        report.generation = target.name
        report.index_bytes = root.size_bytes()
    report.duration = time.monotonic() - started
    return report


def _compact(path: Path) -> None:
    """Rewrite a SQLite file with full pages (``VACUUM``).  The pinyin table of a new index
    grows by one transaction of sorted rows per segment, interleaved, which leaves its
    pages 10 % empty; a full build compacts it once (0.2 s at 20,000 articles)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        con.execute("VACUUM")
    except sqlite3.Error as exc:  # a larger file, nothing else
        log.warning("could not compact %s: %s", path, exc)
    finally:
        con.close()


def _merge_suggestions(searcher: Any) -> None:
    """Merge and save the suggestion table now, so no search process pays for it (seconds
    at 100,000 articles); it is optional, so a failure is logged, not raised."""
    from .suggest import suggestion_table

    try:
        suggestion_table(searcher)
    except Exception:  # noqa: BLE001 - suggestions are rebuilt on first use anyway
        log.warning("could not prepare the suggestion table", exc_info=True)


def _ensure_query_dictionary(gen: Generation, fp: dict[str, Any], settings: Settings) -> None:
    """Freeze jieba's dictionary into the generation for fast query segmentation."""
    install_dictionary(gen.path / FILE_NAME, dictionary_key(fp), lambda: load_jieba(settings))


def _choose_generation(root: IndexDir, fp: dict[str, Any], full: bool) -> tuple[Generation, bool]:
    """The generation to write into, and whether it is a rebuild to publish at the end."""
    current = root.current()
    if current is not None and not full and current.info().get("fingerprint") == fp:
        return current, False
    if current is not None and not full:
        log.warning("analysis changed (%s): rebuilding the index in full",
                    describe_change(current.info().get("fingerprint"), fp))
    for gen in reversed(root.generations()):
        info = gen.info()
        if (gen != current and info.get("state") == "building"
                and info.get("fingerprint") == fp and index_exists(str(gen.path))
                and _intact(gen)):
            log.info("resuming the interrupted rebuild in %s", gen.name)
            return gen, True
    gen = root.new_generation()
    create_index(str(gen.path), build_schema())
    gen.write_info({"state": "building", "fingerprint": fp, "created": time.time()})
    return gen, True


def _intact(gen: Generation) -> bool:
    """Whether an interrupted rebuild can be resumed: its files pass the open check."""

    try:
        open_generation(gen).close()
    except Exception as exc:  # noqa: BLE001 - damaged: a new rebuild starts instead
        log.warning("not resuming the rebuild in %s: %s", gen.name, exc)
        return False
    return True


def _labels_of(target: Generation, current: Generation | None) -> dict[str, str]:
    """The labels known so far: the target's, else (a new rebuild) the served generation's."""
    info = target.info()
    if "labels" not in info and current is not None:
        info = current.info()
    return dict(info.get("labels") or {})


def _manifest_of(gen: Generation) -> Mapping[str, dict[str, Any]]:
    """What the served generation holds, for a rebuild's folder history; {} when it cannot
    be read (a rebuild must succeed whatever state the old index is in)."""
    try:
        ix = open_index(str(gen.path))
    except Exception:  # noqa: BLE001 - an unreadable old index just has no history
        return {}
    try:
        return read_manifest(ix)
    except Exception as exc:  # noqa: BLE001 - a damaged old index, the same
        log.warning("cannot read what %s holds (%s): moved folders get new ids", gen.path, exc)
        return {}
    finally:
        ix.close()


def _apply(ix, gen: Generation, plan: ChangePlan, settings: Settings, jobs: int | None,
           report: IndexReport, progress: ProgressCallback | None, batch_size: int) -> None:
    staging_root = gen.path / "staging"
    shutil.rmtree(staging_root, ignore_errors=True)  # left by a killed run
    staging_root.mkdir()
    pending_deletes = set(plan.delete)
    total = len(plan.build)
    try:
        if not plan.build:
            if pending_deletes:
                _commit(ix, [], pending_deletes)
        else:
            for result in _run_tasks(plan.build, staging_root, settings, jobs, progress,
                                     batch_size):
                report.failed.extend(result.failed)
                report.warnings.extend(result.warnings)
                report.skipped.extend((path, reason) for path, reason, _id in result.skipped)
                # A document that became a draft leaves the index (counted as deleted).
                unpublished = {i for _p, _r, i in result.skipped if i in plan.existing}
                report.deleted += len(unpublished)
                pending_deletes |= unpublished
                replaced = {i for i in result.added if i in plan.existing}
                if result.pinyin:  # before the commit: a crash may leave rows, never lose them
                    add_pinyin_rows(gen.path / PINYIN_FILE, result.pinyin)
                _commit(ix, [result] if result.segment is not None else [],
                        pending_deletes | replaced)
                pending_deletes = set()
                report.added += len(result.added) - len(replaced)
                report.updated += len(replaced - plan.relocated)
                report.moved += len(replaced & plan.relocated)
            if pending_deletes:
                _commit(ix, [], pending_deletes)
        report.deleted += len(plan.delete) - plan.moved
        report.added -= plan.moved
        report.moved += plan.moved
        kept = {f.path for f in plan.build if f.id in plan.existing}
        report.failed = [(p, f"{r}; kept the previously indexed version" if p in kept else r)
                         for p, r in report.failed]
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    if progress:
        progress(total, total)


def _run_tasks(files: list[SourceFile], staging_root: Path, settings: Settings,
               jobs: int | None, progress: ProgressCallback | None, batch_size: int):
    """Yield BuildResults as segments finish, using *jobs* worker processes."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    total = len(files)
    in_process = jobs == 1 or total < INPROCESS_BELOW or not workers.SUPPORTED
    batch_size = max(1, batch_size)
    builders = 1 if in_process else jobs
    rounds = max(math.ceil(total / (batch_size * builders)),
                 math.ceil(sum(f.size for f in files) / (SEGMENT_BYTES * builders)))
    parts = rounds * builders
    chunks = [piece for chunk in split_by_size(files, parts)
              for piece in (chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))]
    tasks = [BuildTask(chunk, str(staging_root), settings) for chunk in chunks]
    if in_process:
        done = 0
        for task in tasks:
            result = build_segment(task)
            done += len(task.files)
            if progress:
                progress(done, total)
            yield result
        return
    finished = 0

    def recover(stopped: Interrupted) -> tuple[BuildResult, BuildTask | None]:
        """The file a worker ended on is reported; the task's other files are built again."""
        task, index = stopped.task, stopped.index
        culprit = task.files[index]
        rest = task.files[:index] + task.files[index + 1:]
        retry = BuildTask(rest, task.staging_root, task.settings) if rest else None
        return BuildResult(failed=[(culprit.path, stopped.reason)]), retry

    bounds = hard_bounds(settings)
    # Each worker loads jieba and the pinyin table for itself.
    with WorkerPool(min(jobs, len(tasks)), load_jieba, (settings,), bounds) as pool:
        def tick() -> None:
            if progress:
                progress(min(finished + pool.files_done(), total), total)

        for result in pool.run(build_segment, tasks, recover, tick):
            finished += len(result.added) + len(result.failed)
            yield result


def split_by_size(files: list[SourceFile], parts: int) -> list[list[SourceFile]]:
    """*files* in at most *parts* consecutive chunks of about equal total bytes.

    Work is proportional to bytes, not files, so equal-sized chunks keep every
    worker busy until the end (equal counts left one worker idle for 7 % of a
    20,000-article build).
    """
    total = sum(f.size for f in files) or 1
    chunks: list[list[SourceFile]] = [[] for _ in range(max(1, parts))]
    done = 0
    for f in files:
        index = min(len(chunks) - 1, done * len(chunks) // total)
        chunks[index].append(f)
        done += f.size
    return [chunk for chunk in chunks if chunk]


def _phrases_of(ix, segments: list) -> dict[str, int]:
    from .suggest import segment_phrases

    total: Counter[str] = Counter()
    for segment in segments:
        reader = segment_reader(ix, segment)
        try:
            total.update(segment_phrases(reader))
        finally:
            reader.close()
    return dict(total)


def _commit(ix, results: list[BuildResult], delete_ids: set[str]) -> None:
    """One atomic commit: delete *delete_ids*, then add the finished staged segments."""
    writer = commit_writer(ix)
    try:
        for doc_id in delete_ids:
            writer.delete_by_term("id", doc_id)
        new_segments = []
        for result in results:
            staging = result.staging
            assert staging is not None  # only results that staged a segment are committed
            for name in os.listdir(staging):
                if is_segment_file(name, result.segment):
                    os.replace(os.path.join(staging, name),
                               os.path.join(index_folder(ix), name))
            new_segments.append(result.segment)
        # A segment Whoosh merges gets its sidecars too, else every search process
        # recomputes them; its suggestion phrases are those of the segments it merged.
        commit_segments(writer, new_segments, lambda merged, sources: write_sidecars(
            ix, merged, phrases=_phrases_of(ix, sources)))
    except BaseException:
        writer.cancel()
        raise
    finally:
        for result in results:
            if result.staging is not None:
                shutil.rmtree(result.staging, ignore_errors=True)
