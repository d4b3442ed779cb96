"""``searcher check``: compare the index with the source folders, read-only."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..ingest.sources import check_sources, scan
from ..reports import CheckReport
from .indexing import file_digest
from .manifest import read_manifest


def check_index(ix, sources: Iterable[str | os.PathLike[str]], *,
                follow_links: bool = False) -> CheckReport:
    """Report how the index at *ix* differs from the files under *sources*
    (walked as ``index`` walks them, *follow_links* included)."""
    paths = check_sources(sources)
    manifest = read_manifest(ix)
    found = scan(paths, follow_links=follow_links)
    report = CheckReport(indexed=len(manifest), on_disk=len(found.files), problems=found.problems,
                         skipped=found.skipped)
    roots = {str(p) for p in paths}
    seen = set()
    for f in found.files:
        seen.add(f.id)
        old = manifest.get(f.id)
        if old is None:
            report.missing.append(f.path)
        elif (old["size"], old["mtime_ns"], old["path"]) != (f.size, f.mtime_ns, f.path) and (
            old["path"] != f.path or file_digest(f.path) != old["digest"]
        ):
            report.stale.append(f.path)
    for doc_id, old in manifest.items():
        if doc_id not in seen and old["source"] in roots:
            report.extra.append(old["path"])
    return report
