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
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.lexicon import PINYIN_FILE, add_pinyin_rows, char_readings, write_pinyin_table
from ..analysis.segmenter import FILE_NAME, install_dictionary
from ..config import Settings
from ..ingest.documents import content_digest
from ..ingest.sources import SourceFile, check_sources, scan
from ..reports import IndexReport
from .building import (
    BuildResult,
    BuildTask,
    build_segment,
    init_worker,
    pool_context,
    write_sidecars,
)
from .locking import writer_lock
from .manifest import read_manifest
from .schema import analysis_fingerprint, build_schema, fingerprint_text
from .storage import Generation, IndexDir

log = logging.getLogger(__name__)

#: Most documents one worker puts into one segment (and so between two commits).
SEGMENT_DOCS = 12_000
#: An incremental run with fewer new/changed files than this stays in-process.
INPROCESS_BELOW = 200

ProgressCallback = Callable[[int, int], None]


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
) -> IndexReport:
    """Bring the index at *root* up to date with *sources*; see the module docstring."""
    started = time.monotonic()
    source_list = list(sources or [])
    if not source_list:
        current = root.current()
        source_list = list((current.info().get("sources") if current else None) or [])
    source_paths = check_sources(source_list)
    report = IndexReport()
    with writer_lock(root.root, wait):
        fp = analysis_fingerprint(settings)
        target, rebuilding = _choose_generation(root, fp, full)
        report.full = rebuilding
        root.remove_stale(keep={target.name})
        info = target.info()
        info.update(fingerprint=fp, sources=[str(p) for p in source_paths])
        target.write_info(info)

        from whoosh import index as whoosh_index

        _ensure_query_dictionary(target, fp, settings)
        ix = whoosh_index.open_dir(str(target.path))
        manifest = read_manifest(ix)
        plan = _plan(manifest, scan(source_paths), {str(p) for p in source_paths}, report)
        _apply(ix, target, plan, settings, jobs, report, progress, batch_size)

        with ix.searcher() as searcher:
            report.documents = searcher.doc_count()
            if not (target.path / PINYIN_FILE).exists():
                write_pinyin_table(searcher.reader(), target.path / PINYIN_FILE)
            if report.added or report.updated or report.deleted:
                _merge_suggestions(searcher)
        ix.close()
        info.update(state="ready", updated=time.time(), documents=report.documents)
        target.write_info(info)
        if rebuilding:
            root.publish(target)
        report.generation = target.name
        report.index_bytes = root.size_bytes()
    report.duration = time.monotonic() - started
    return report


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
    install_dictionary(gen.path / FILE_NAME, fingerprint_text(fp), lambda: _load_jieba(settings))


def _load_jieba(settings: Settings) -> None:
    """Load jieba (and the user dictionary) in this process."""
    from ..analysis.tokens import _jieba

    init_worker(settings)
    _jieba()


def _choose_generation(root: IndexDir, fp: dict[str, Any], full: bool) -> tuple[Generation, bool]:
    """The generation to write into, and whether it is a rebuild to publish at the end."""
    from whoosh import index as whoosh_index

    current = root.current()
    if current is not None and not full and current.info().get("fingerprint") == fp:
        return current, False
    if current is not None and not full:
        log.warning("analysis settings changed since the index was built: rebuilding it in full")
    for gen in reversed(root.generations()):
        info = gen.info()
        if (gen != current and info.get("state") == "building"
                and info.get("fingerprint") == fp and whoosh_index.exists_in(str(gen.path))):
            log.info("resuming the interrupted rebuild in %s", gen.name)
            return gen, True
    gen = root.new_generation()
    whoosh_index.create_in(str(gen.path), build_schema())
    gen.write_info({"state": "building", "fingerprint": fp, "created": time.time()})
    return gen, True


@dataclass
class _Plan:
    build: list[SourceFile] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # ids in the index that build replaces
    delete: set[str] = field(default_factory=set)


def _plan(manifest: dict[str, dict[str, Any]], found, sources: set[str],
          report: IndexReport) -> _Plan:
    plan = _Plan()
    report.failed.extend(found.problems)
    problem_paths = {p for p, _ in found.problems}
    seen: dict[str, SourceFile] = {}
    for f in found.files:
        if f.id in seen:
            report.failed.append((f.path, f"same relative path as {seen[f.id].path}; skipped"))
            continue
        seen[f.id] = f
        old = manifest.get(f.id)
        if old is None:
            plan.build.append(f)
        elif old["size"] == f.size and old["mtime_ns"] == f.mtime_ns and old["path"] == f.path:
            report.unchanged += 1
        elif (old["path"] == f.path and old["size"] == f.size
              and file_digest(f.path) == old["digest"]):
            report.unchanged += 1  # touched, not changed
        else:
            plan.build.append(f)
            plan.existing.add(f.id)
    for doc_id, old in manifest.items():
        if doc_id in seen or old["source"] not in sources:
            continue
        if old["path"] in problem_paths:
            continue  # cannot be read tonight: keep what we have
        plan.delete.add(doc_id)
    if plan.delete:
        gone = {(manifest[d]["size"], manifest[d]["digest"]) for d in plan.delete}
        for f in plan.build:
            if f.id not in plan.existing and any(size == f.size for size, _ in gone) \
                    and (f.size, file_digest(f.path)) in gone:
                report.moved += 1
    return plan


def file_digest(path: str) -> str | None:
    """Content hash of the file at *path*, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return content_digest(handle.read())
    except OSError:
        return None


def _apply(ix, gen: Generation, plan: _Plan, settings: Settings, jobs: int | None,
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
                replaced = {i for i in result.added if i in plan.existing}
                if result.pinyin:  # before the commit: a crash may leave rows, never lose them
                    add_pinyin_rows(gen.path / PINYIN_FILE, result.pinyin)
                _commit(ix, [result] if result.segment is not None else [],
                        pending_deletes | replaced)
                pending_deletes = set()
                report.added += len(result.added) - len(replaced)
                report.updated += len(replaced)
            if pending_deletes:
                _commit(ix, [], pending_deletes)
        report.deleted = len(plan.delete) - report.moved
        report.added -= report.moved
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
    in_process = jobs == 1 or total < INPROCESS_BELOW
    batch_size = max(1, batch_size)
    per_round = batch_size if in_process else batch_size * jobs
    parts = math.ceil(total / per_round) * (1 if in_process else jobs)
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
    _load_jieba(settings)  # once here; forked workers inherit it (and the pinyin table)
    char_readings()
    ctx = pool_context()
    counter = ctx.Value("i", 0)
    stop = threading.Event()
    try:
        # Workers live for the whole run: the pool forks them once, here, from this thread,
        # before the progress thread starts.  (Replacing workers mid-run forks from the pool's
        # own thread while others run, and a child can inherit a lock held by another thread:
        # a build hung that way in tests.)
        with ctx.Pool(min(jobs, len(tasks)), initializer=init_worker,
                      initargs=(settings, counter)) as pool:
            if progress:
                threading.Thread(target=_report_progress, args=(counter, total, progress, stop),
                                 daemon=True).start()
            yield from pool.imap_unordered(build_segment, tasks)
    finally:
        stop.set()


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


def _report_progress(counter, total: int, progress: ProgressCallback,
                     stop: threading.Event) -> None:
    while not stop.wait(0.25):
        progress(min(counter.value, total), total)


def _commit(ix, results: list[BuildResult], delete_ids: set[str]) -> None:
    """One atomic commit: delete *delete_ids*, then add the finished staged segments."""
    from whoosh.writing import SegmentWriter

    writer = SegmentWriter(ix, compound=False)
    try:
        for doc_id in delete_ids:
            writer.delete_by_term("id", doc_id)
        new_segments = []
        for result in results:
            for name in os.listdir(result.staging):
                if result.segment.segid in name:
                    os.replace(os.path.join(result.staging, name),
                               os.path.join(ix.storage.folder, name))
            new_segments.append(result.segment)
        segments = writer._merge_segments(None, False, True)
        if writer._added:
            merged = writer._finalize_segment()
            write_sidecars(ix, merged)  # else every search process recomputes them
            segments.append(merged)
        else:
            writer._close_segment()
        writer._commit_toc(segments + new_segments)
        writer._finish()
    except BaseException:
        writer.cancel()
        raise
    finally:
        for result in results:
            shutil.rmtree(result.staging, ignore_errors=True)
