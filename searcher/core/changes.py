"""Change planning for the nightly job, shared by both back ends.

Which label each source folder has (a moved folder keeps its documents' ids), what a run
must build, replace and delete (:func:`plan_changes`), how an index compares with its
folders (:func:`compare_manifest`, ``searcher check``), the bounds of one file's work and
loading jieba with the user dictionary.  Both the local index and the cluster sync plan
with these, so they count added, updated, moved and deleted documents the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis.tokens import jieba_module, load_userdict
from ..config import Settings
from ..ingest.documents import content_digest, document_id, draft_reason
from ..ingest.sources import Scan, SourceFile, check_sources, new_label, scan
from ..reports import CheckReport, IndexReport
from .workers import Bounds

log = logging.getLogger(__name__)


def hard_bounds(settings: Settings) -> Bounds:
    """When a worker is killed over one file: reading a file is bounded inside the worker
    (``parse_seconds``, ``parse_memory``); this catches what that bound cannot stop (a
    long call into C) and gives the rest of the work on a file (analysis, whose time
    grows with the file's size) three times the room, and at least a minute more."""
    return Bounds(seconds=max(3 * settings.parse_seconds, settings.parse_seconds + 60),
                  memory=3 * settings.parse_memory)


def load_jieba(settings: Settings) -> None:
    """Load jieba and the user dictionary of *settings* in this process (a worker's
    initializer, and before freezing the query dictionary), so that no file's time bound
    pays for them."""
    logging.getLogger("jieba").setLevel(logging.WARNING)
    load_userdict(settings.userdict)
    jieba_module()


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


def held_folders(manifest: Mapping[str, dict[str, Any]]) -> set[str]:
    """The source folders that hold a document read from a file.

    A manifest that can answer without making a record per document (the local
    index's, see :meth:`searcher.local.manifest.Manifest.folders`) is asked; a plain
    mapping is read record by record.
    """
    folders = getattr(manifest, "folders", None)
    if callable(folders):
        return set(folders())
    return {old["source"] for old in manifest.values() if old["source"] and old["path"]}


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
    held = held_folders(manifest)
    vanished = {folder for folder in set(labels) | held
                if folder not in result.run and not os.path.isdir(folder)}
    for folder in vanished - held:
        labels.pop(folder, None)  # nothing carries its label any more
    # The documents of folders that vanished (usually none: then neither these nor the
    # files by relative path are held, 100 MB at 500,000 articles).
    docs: dict[str, list[dict[str, Any]]] = {folder: [] for folder in vanished & held}
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


@dataclass
class ChangePlan:
    """What one run builds, replaces and deletes (:func:`plan_changes`)."""


    build: list[SourceFile] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # ids in the index that build replaces
    #: ids of *existing* whose file only moved (same content at another path)
    relocated: set[str] = field(default_factory=set)
    delete: set[str] = field(default_factory=set)
    moved: int = 0  # new files that replace a deleted document with the same content


def plan_changes(manifest: Mapping[str, dict[str, Any]], found: Scan, labeling: Labeling,
                 report: IndexReport) -> ChangePlan:
    """What a run must build, replace and delete to bring an index holding *manifest*
    (id → path, source, size, mtime, digest) up to date with the files *found*.

    The files to build are labelled (see :class:`Labeling`) in ``found.files`` itself.

    Shared by both back ends, so the local index and a cluster count added,
    updated, moved and deleted documents the same way.
    """
    plan = ChangePlan()
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


def compare_manifest(manifest: Mapping[str, dict[str, Any]],
                     sources: Iterable[str | os.PathLike[str]], *, follow_links: bool = False,
                     labels: dict[str, str] | None = None) -> CheckReport:
    """How an index holding *manifest* (id → path, source, size, mtime_ns, digest: what
    both back ends store per document) differs from the files under *sources*."""
    paths = check_sources(sources)
    found = scan(paths, follow_links=follow_links)
    labeling = label_sources(labels or {}, paths, found, manifest)
    report = CheckReport(indexed=len(manifest), on_disk=len(found.files), problems=found.problems,
                         skipped=found.skipped)
    seen = set()
    labels = {source: labeling.label(source) for source in labeling.run}
    for f in found.files:
        doc_id = document_id(f.relpath, labels[f.source])
        seen.add(doc_id)
        old = manifest.get(doc_id)
        if old is None:
            draft = draft_reason(f.path, f.relpath)  # not indexed unless --drafts
            if draft:
                report.skipped.append((f.path, draft))
            else:
                report.missing.append(f.path)
        elif (old["size"], old["mtime_ns"], old["path"]) != (f.size, f.mtime_ns, f.path) and (
            old["path"] != f.path or file_digest(f.path) != old["digest"]
        ):
            report.stale.append(f.path)
    for doc_id in manifest:  # by id: an entry is decoded only for documents not seen
        if doc_id in seen:
            continue
        old = manifest[doc_id]
        if labeling.pruned(old["source"]):
            report.extra.append(old["path"])
    return report
