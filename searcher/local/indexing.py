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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
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
from ..ingest.documents import content_digest, document_id
from ..ingest.sources import Scan, SourceFile, check_sources, new_label, scan
from ..reports import IndexReport
from . import workers
from .building import (
    BuildResult,
    BuildTask,
    add_bigram_indexes,
    build_segment,
    init_worker,
    write_sidecars,
)
from .integrity import (
    SQLITE_FILES,
    remove_temp_files,
    repair_generation,
    seal_sqlite,
    unseal_sqlite,
)
from .locking import writer_lock
from .manifest import read_manifest
from .schema import analysis_fingerprint, build_schema, describe_change, dictionary_key
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
from .workers import Bounds, Interrupted, WorkerPool

log = logging.getLogger(__name__)

#: Most documents one worker puts into one segment (and so between two commits).
SEGMENT_DOCS = 12_000
#: An incremental run with fewer new/changed files than this stays in-process.
INPROCESS_BELOW = 200


def hard_bounds(settings: Settings) -> Bounds:
    """When a worker is killed over one file: reading a file is bounded inside the worker
    (``parse_seconds``, ``parse_memory``); this catches what that bound cannot stop (a
    long call into C) and gives the rest of the work on a file (analysis, whose time
    grows with the file's size) three times the room, and at least a minute more."""
    return Bounds(seconds=max(3 * settings.parse_seconds, settings.parse_seconds + 60),
                  memory=3 * settings.parse_memory)

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

        unseal_sqlite(target.path, SQLITE_FILES)  # a damaged one is deleted: written below
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
        seal_sqlite(target.path, SQLITE_FILES)
        info.update(state="ready", updated=time.time(), documents=report.documents)
        target.write_info(info)
        if rebuilding or root.pointed() != target:  # (a damaged CURRENT is written again)
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
    install_dictionary(gen.path / FILE_NAME, dictionary_key(fp), lambda: _load_jieba(settings))


def _load_jieba(settings: Settings) -> None:
    """Load jieba (and the user dictionary) in this process."""
    from ..analysis.tokens import _jieba

    init_worker(settings)
    _jieba()


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
    from .backend import open_generation

    try:
        open_generation(gen).close()
    except Exception as exc:  # noqa: BLE001 - damaged: a new rebuild starts instead
        log.warning("not resuming the rebuild in %s: %s", gen.name, exc)
        return False
    return True


@dataclass
class Labeling:
    """Which label each source folder has, and which vanished folders moved where.

    Folders are named by their absolute path as given (not resolved: a nightly
    job indexing ``/srv/site/current/content``, a link re-pointed at every
    deploy, keeps one folder and one label).  ``labels`` maps every source
    folder the index has known to its label (stored in the generation's
    ``searcher.json``; a label is never given to another folder while
    documents carry it).  ``run`` lists the source folders of this run;
    ``merged`` maps a vanished folder to the folder of this run it moved to (its
    documents are updated and pruned as that folder's); ``gone`` lists the
    other vanished folders that still have documents.
    """

    labels: dict[str, str]
    run: set[str]
    merged: dict[str, str] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def label(self, source: str) -> str:
        return self.labels[source]

    def pruned(self, source: str) -> bool:
        """Whether documents of the folder *source* are compared with this run's files."""
        return source in self.run or source in self.merged


def label_sources(known: dict[str, str], sources: list[Path], found: Scan,
                  manifest: Mapping[str, dict[str, Any]]) -> Labeling:
    """Give every source folder of this run its label (see :class:`Labeling`).

    A folder keeps the label it had.  A folder seen for the first time takes over
    the label of a folder that no longer exists when it holds, at the same
    relative paths, the same content for at least half of that folder's
    documents: the folder was moved or renamed, and its documents keep their
    ids.  Otherwise it gets a new label, distinct from every label in use.
    """
    labels = dict(known)
    run = [str(p) for p in sources]
    result = Labeling(labels, set(run))
    counts: Counter[str] = Counter(old["source"] for old in manifest.values()
                                   if old["source"] and old["path"])
    vanished = {folder for folder in set(labels) | set(counts)
                if folder not in result.run and not os.path.isdir(folder)}
    for folder in vanished - set(counts):
        labels.pop(folder, None)  # nothing carries its label any more
    # The documents of folders that vanished (usually none: then neither these nor the
    # files by relative path are held, 100 MB at 500,000 articles).
    docs: dict[str, list[dict[str, Any]]] = {folder: [] for folder in vanished & set(counts)}
    if docs:
        for old in manifest.values():
            if old["source"] in docs and old["path"]:
                docs[old["source"]].append(old)
    files = {(f.source, f.relpath): f for f in found.files} if docs else {}
    digests: dict[str, str | None] = {}
    moves: dict[str, dict[str, int]] = {}  # new folder -> {vanished folder: matches}
    for gone in sorted(vanished & set(docs)):
        matches: dict[str, int] = {}
        for old in docs[gone]:
            relpath = Path(os.path.relpath(old["path"], old["source"])).as_posix()
            for new in run:
                f = files.get((new, relpath))
                if f is not None and f.size == old["size"]:
                    if f.path not in digests:
                        digests[f.path] = file_digest(f.path)
                    if digests[f.path] == old["digest"]:
                        matches[new] = matches.get(new, 0) + 1
        best = max(sorted(matches), key=matches.__getitem__, default=None)
        if best is not None and 2 * matches[best] >= len(docs[gone]):
            result.merged[gone] = best
            moves.setdefault(best, {})[gone] = matches[best]
        else:
            result.gone.add(gone)
    for source in run:
        if source in labels:
            continue
        heirs = [g for g in sorted(moves.get(source, {}), key=lambda g: -moves[source][g])
                 if g in labels]
        if heirs:
            labels[source] = labels.pop(heirs[0])
            log.info("%s was moved to %s: its documents keep their ids", heirs[0], source)
        else:
            labels[source] = new_label(source, labels.values())
    for gone in result.merged:
        labels.pop(gone, None)  # its documents are pruned with the folder it moved to
    return result


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


@dataclass
class _Plan:
    build: list[SourceFile] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # ids in the index that build replaces
    #: ids of *existing* whose file only moved (same content at another path)
    relocated: set[str] = field(default_factory=set)
    delete: set[str] = field(default_factory=set)
    moved: int = 0  # new files that replace a deleted document with the same content


def plan_changes(manifest: Mapping[str, dict[str, Any]], found: Scan, labeling: Labeling,
          report: IndexReport) -> _Plan:
    """What a run must build, replace and delete to bring an index holding *manifest*
    (id → path, source, size, mtime, digest) up to date with the files *found*.

    The files to build are labelled (see :class:`Labeling`) in ``found.files`` itself.

    Shared by both back ends, so the local index and a cluster count added,
    updated, moved and deleted documents the same way.
    """
    plan = _Plan()
    report.failed.extend(found.problems)
    problem_paths = {p for p, _ in found.problems}
    seen: set[str] = set()
    labels = {source: labeling.label(source) for source in labeling.run}
    files = found.files
    for index, f in enumerate(files):
        label = labels[f.source]
        doc_id = document_id(f.relpath, label)  # f.id once labelled; no copy of f per file
        if doc_id in seen:  # only if two (label, relative path) pairs share a hash
            first = next(g.path for g in files if document_id(g.relpath, labels[g.source])
                         == doc_id)
            report.failed.append((f.path, f"same id as {first}; skipped"))
            continue
        seen.add(doc_id)
        old = manifest.get(doc_id)
        if old is not None and old["size"] == f.size and (
                (old["mtime_ns"] == f.mtime_ns and old["path"] == f.path)
                or (old["path"] == f.path and file_digest(f.path) == old["digest"])):
            report.unchanged += 1  # (touched, not changed, when only the mtime differs)
            continue
        # Labelled in place, so that a full build of 500,000 files holds one object per
        # file, not a scanned one and a labelled copy (40 MB more).
        f = files[index] = replace(f, label=label)
        plan.build.append(f)
        if old is not None:
            plan.existing.add(doc_id)
            if old["path"] != f.path and old["size"] == f.size and (
                    file_digest(f.path) == old["digest"]):
                plan.relocated.add(doc_id)  # its folder was moved
    vanished: dict[tuple[Any, Any], list[str]] = {}  # content -> ids, folder no longer exists
    for doc_id in manifest:
        if doc_id in seen:
            continue
        old = manifest[doc_id]
        if labeling.pruned(old["source"]):
            if old["path"] in problem_paths:
                continue  # cannot be read tonight: keep what we have
            plan.delete.add(doc_id)
        elif old["source"] in labeling.gone:
            vanished.setdefault((old["size"], old["digest"]), []).append(doc_id)
    sizes = {manifest[d]["size"] for d in plan.delete} | {size for size, _ in vanished}
    if sizes:
        deleted = {(manifest[d]["size"], manifest[d]["digest"]) for d in plan.delete}
        for f in plan.build:
            if f.id in plan.existing or f.size not in sizes:
                continue
            content = (f.size, file_digest(f.path))
            if content in deleted:
                plan.moved += 1
            elif vanished.get(content):  # renamed from a folder that is gone: no duplicate
                plan.delete.add(vanished[content].pop())
                plan.moved += 1
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
    with WorkerPool(min(jobs, len(tasks)), init_worker, (settings,), bounds) as pool:
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
