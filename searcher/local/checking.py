"""``searcher check``: compare the index with the source folders, read-only."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..ingest.documents import document_id, draft_reason
from ..ingest.sources import check_sources, scan
from ..reports import CheckReport
from .indexing import file_digest, label_sources
from .manifest import read_manifest


def check_index(ix: Any, sources: Iterable[str | os.PathLike[str]], *,
                follow_links: bool = False, labels: dict[str, str] | None = None) -> CheckReport:
    """Report how the index at *ix* differs from the files under *sources*.

    The folders are walked and labelled as ``index`` would (*follow_links*,
    and *labels*, the generation's labels of the folders it knows), without
    writing anything.
    """
    return compare_manifest(read_manifest(ix), sources, follow_links=follow_links,
                            labels=labels)


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
