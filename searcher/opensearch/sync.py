"""The nightly job against a cluster: bring index NAME up to date with the source folders.

NAME is always an *alias*.  The documents live in a concrete index
``NAME-g<generation>``; a full rebuild (``full=True``, the first run, or changed
analysis settings) writes a new generation, swaps the alias in one
``_aliases`` call (searches see the old index until then, the new one after)
and then deletes the old index.

An incremental run reads what the index holds about each file (path, source,
size, mtime, digest; a point-in-time with ``search_after``, so it is consistent
and has no 10,000-hit limit), plans exactly like the embedded back end
(:func:`searcher.core.changes.plan_changes`: unchanged, touched, changed, moved, deleted, and a
file that cannot be read tonight keeps its indexed version), and sends the
changes with the bulk helper.  Each document is analysed here
(:func:`searcher.opensearch.mapping.document_source`); a document the cluster rejects is
reported like a bad file, with the cluster's reason.  Too-many-requests (429)
answers are retried with exponential back-off by the bulk helper, 502/503/504
and timeouts by the client.

One writer at a time: the run holds the writer lease of
:mod:`searcher.opensearch.lease`; generations and the manifest are read and swapped by
:mod:`searcher.opensearch.generations`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from ..config import Settings
from ..core.changes import label_sources, plan_changes
from ..core.fingerprint import analysis_fingerprint
from ..errors import DocumentError, IndexLockedError, SearcherError
from ..ingest.documents import document_id, load_document
from ..ingest.sources import Scan, SourceFile, became_link_out, check_sources, scan
from ..reports import IndexReport
from .client import cluster_error
from .generations import (
    current_index,
    drop_stale_generations,
    first_generation,
    generation_name,
    index_meta,
    read_manifest,
)
from .lease import ClusterLock, lock_index
from .mapping import MAPPING_VERSION, document_source, index_body

log = logging.getLogger(__name__)

#: Documents per bulk request (and bytes: whichever comes first).
BULK_DOCS = 500
BULK_BYTES = 20 * 1024 * 1024
#: Analyse in worker processes when a run has at least this many files to send.
PARALLEL_FROM = 200


class _Analysed(NamedTuple):
    """One file analysed by :func:`_analyse`: its JSON source, or why it has none."""

    file: SourceFile
    source: dict[str, Any] | None  # None: failed (*failure*) or left out (*skipped*)
    failure: str = ""
    warnings: tuple[str, ...] = ()
    skipped: str = ""  # a draft the drafts setting leaves out


def _analyse(task: tuple[SourceFile, Settings]) -> _Analysed:
    """The file of *task* analysed for the cluster: runs in worker processes."""
    from ..core.limits import bounded
    from ..core.workers import report_file

    f, settings = task
    report_file(0)
    try:
        if not settings.follow_links and became_link_out(f):
            raise DocumentError("became a link out of the source folder; not followed")
        with bounded(settings.parse_seconds, settings.parse_memory):
            doc = load_document(f.path, f.source, tz=settings.timezone,
                                max_bytes=settings.max_bytes, label=f.label)
        if left_out := doc.left_out(settings.drafts):
            return _Analysed(f, None, skipped=left_out)
        return _Analysed(f, document_source(doc), warnings=tuple(doc.warnings))
    except DocumentError as exc:
        return _Analysed(f, None, str(exc))
    except Exception as exc:  # one bad file must never stop the run
        log.exception("unexpected error indexing %s", f.path)
        return _Analysed(f, None, f"internal error: {exc!r}")


def _init_worker(settings: Settings) -> None:
    from ..analysis.lexicon import char_readings
    from ..core.changes import load_jieba

    load_jieba(settings)
    char_readings()


def _actions(files: list[SourceFile], index: str, settings: Settings, report: IndexReport,
             paths: dict[str, str], jobs: int = 1) -> Iterator[dict[str, Any]]:
    """Bulk actions for *files*, analysed by *jobs* processes (failures go to *report*)."""
    tasks = [(f, settings) for f in files]
    from ..core.workers import SUPPORTED

    if jobs > 1 and len(files) >= PARALLEL_FROM and SUPPORTED:
        from ..core.changes import hard_bounds
        from ..core.workers import Interrupted, WorkerPool

        def recover(stopped: Interrupted) -> tuple[_Analysed, None]:
            return _Analysed(stopped.task[0], None, stopped.reason), None

        with WorkerPool(jobs, _init_worker, (settings,), hard_bounds(settings)) as pool:
            yield from _collect(pool.run(_analyse, tasks, recover), index, report, paths)
    else:
        _init_worker(settings)
        yield from _collect(map(_analyse, tasks), index, report, paths)


def _collect(results: Iterable[_Analysed], index: str, report: IndexReport,
             paths: dict[str, str]) -> Iterator[dict[str, Any]]:
    for f, source, failure, warnings, skipped in results:
        if skipped:
            report.skipped.append((f.path, skipped))
            continue
        if source is None:
            report.failed.append((f.path, failure))
            continue
        report.warnings.extend((f.path, w) for w in warnings)
        paths[source["id"]] = f.path
        yield {"_op_type": "index", "_index": index, "_id": source["id"], "_source": source}


def _bulk(client: Any, actions: Iterable[dict[str, Any]], report: IndexReport,
          paths: dict[str, str]) -> set[str]:
    """Send *actions*; ids the cluster accepted.  Rejected documents go to report.failed."""
    from opensearchpy.helpers import streaming_bulk

    done: set[str] = set()
    for ok, item in streaming_bulk(client, actions, chunk_size=BULK_DOCS,
                                   max_chunk_bytes=BULK_BYTES, raise_on_error=False,
                                   raise_on_exception=True, max_retries=6,
                                   initial_backoff=1, max_backoff=60):
        op, result = next(iter(item.items()))
        doc_id = result.get("_id", "")
        if ok or (op == "delete" and result.get("status") == 404):
            done.add(doc_id)
        else:
            error = result.get("error") or {}
            reason = error.get("reason") if isinstance(error, dict) else str(error)
            kind = error.get("type", "") if isinstance(error, dict) else ""
            report.failed.append((paths.get(doc_id, doc_id),
                                  f"rejected by OpenSearch ({result.get('status')} {kind}): "
                                  f"{reason}"))
    return done


def in_share(doc_id: str, part: tuple[int, int]) -> bool:
    """Whether document *doc_id* belongs to share K of N (*part*): a stable hash of the id,
    the same on every machine and in every run."""
    k, n = part
    digest = hashlib.sha1(doc_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def check_part(part: tuple[int, int]) -> tuple[int, int]:
    """*part* as ``(K, N)`` with 1 <= K <= N, else ConfigError."""
    from ..errors import ConfigError

    ok = (isinstance(part, tuple) and len(part) == 2
          and all(isinstance(x, int) and not isinstance(x, bool) for x in part))
    if not ok or not 1 <= part[0] <= part[1]:
        raise ConfigError(f"part {part!r}: expected K/N with 1 <= K <= N (e.g. 1/2)",
                          key="part", value=part, expected="K/N with 1 <= K <= N")
    return part


def _share(found: Scan, manifest: dict[str, dict[str, Any]], labeling: Any,
           part: tuple[int, int]) -> tuple[Scan, dict[str, dict[str, Any]]]:
    """The files and indexed documents of share *part* (failures to read stay reported)."""
    labels = {source: labeling.label(source) for source in labeling.run}
    files = [f for f in found.files if in_share(document_id(f.relpath, labels[f.source]), part)]
    mine = {i: rec for i, rec in manifest.items() if in_share(i, part)}
    return Scan(files, found.problems, found.skipped), mine


@dataclass
class _Plan:
    """What a run decided before it writes a document: where the documents go and which."""

    old: str | None  # the generation the alias points at, None before the first run
    rebuild: bool  # a new generation, swapped in at the end
    meta: dict[str, Any]  # the new generation's ``_meta``
    changes: Any  # searcher.core.changes.ChangePlan
    target: str = ""  # the index written: *old*, or the new generation


def sync(client: Any, url: str, name: str, sources: list[str | os.PathLike[str]] | None,
         settings: Settings, *, full: bool = False, wait: float = 0.0, shards: int = 1,
         replicas: int = 1, jobs: int | None = None,
         part: tuple[int, int] | None = None) -> IndexReport:
    """Bring alias *name* up to date with *sources*; see the module docstring.

    Three steps under the writer lease: plan (read what the index holds, decide whether to
    rebuild, plan the changes), apply (send them into the index being written) and
    publish (its ``_meta``, then the alias swap of a rebuild).

    With *part* ``(K, N)`` only the documents whose id falls in share K of N
    (:func:`in_share`) are compared, sent and deleted: N machines, each with the
    same source folders, share one run.  A share run never rebuilds: the first one
    creates the index (the same name whichever share comes first), and a needed
    rebuild (``full``, changed analysis settings) is refused with the reason.
    """
    from opensearchpy.exceptions import OpenSearchException

    started = time.monotonic()
    report = IndexReport()
    try:
        if not client.indices.exists(index=lock_index(name)):
            client.indices.create(index=lock_index(name), ignore=400, body={
                "settings": {"number_of_shards": 1, "number_of_replicas": replicas}})
        with ClusterLock(client, url, name, wait, part=part) as lock:
            plan = _plan(client, name, sources, settings, report, full=full, part=part,
                         shards=shards, replicas=replicas)
            _apply(client, name, plan, settings, report, shards=shards, replicas=replicas,
                   jobs=max(1, jobs or os.cpu_count() or 1))
            _publish(client, name, plan, lock, report)
    except OpenSearchException as exc:
        raise cluster_error(exc, url, f"indexing into {name}") from None
    report.duration = time.monotonic() - started
    return report


def _plan(client: Any, name: str, sources: list[str | os.PathLike[str]] | None,
          settings: Settings, report: IndexReport, *, full: bool,
          part: tuple[int, int] | None, shards: int, replicas: int) -> _Plan:
    """Read the index's state and the source folders; decide what the run will write."""
    old = current_index(client, name)
    if part is None:
        drop_stale_generations(client, name, keep=old)
    elif old is None:  # the first share to run creates the index and its alias
        old = first_generation(client, name, shards, replicas)
    meta = index_meta(client, old) if old else {}
    source_list = [str(s) for s in (sources or meta.get("sources") or [])]
    source_paths = check_sources(source_list)
    fp = analysis_fingerprint(settings)
    rebuild = (full or old is None or meta.get("fingerprint") != fp
               or meta.get("mapping_version") != MAPPING_VERSION)
    if part is not None and meta.get("state") == "building" and not full:
        rebuild = False  # created by a share run: filled in place, share by share
    if part is not None and rebuild:
        why = "--full was given" if full else (
            "it was built with other analysis settings or an older mapping")
        raise SearcherError(
            f"index --part {part[0]}/{part[1]} cannot rebuild {name} ({why}): run "
            "'searcher index --full' once without --part, then the parts")
    if old is not None and rebuild and not full:
        log.warning("analysis settings changed since %s was built: rebuilding it", name)
    report.full = rebuild
    found = scan(source_paths, follow_links=settings.follow_links)
    report.skipped = found.skipped
    manifest: dict[str, dict[str, Any]] = {} if rebuild or old is None else read_manifest(
        client, old)
    # A rebuild starts empty: the folders' history is in the index being served.
    history = read_manifest(client, old) if rebuild and old else manifest
    labeling = label_sources(dict(meta.get("labels") or {}), source_paths, found, history)
    new_meta = {"sources": [str(p) for p in source_paths], "fingerprint": fp,
                "labels": labeling.labels}
    if part is not None:
        found, manifest = _share(found, manifest, labeling, part)
    return _Plan(old, rebuild, new_meta, plan_changes(manifest, found, labeling, report))


def _apply(client: Any, name: str, plan: _Plan, settings: Settings, report: IndexReport, *,
           shards: int, replicas: int, jobs: int) -> None:
    """Write the planned changes into the generation being written (a new one to rebuild)."""
    if plan.rebuild:
        plan.target = generation_name(name)
        client.indices.create(index=plan.target, body=index_body(
            shards, replicas, dict(plan.meta, state="building")))
        # No refreshes while the bulk load runs: one at the end.
        client.indices.put_settings(index=plan.target,
                                    body={"index": {"refresh_interval": "-1"}})
    else:
        assert plan.old is not None  # an index to update in place exists
        plan.target = plan.old
    changes = plan.changes
    target = plan.target
    paths = {f.id: f.path for f in changes.build}
    accepted = _bulk(client, _actions(changes.build, target, settings, report, paths, jobs),
                     report, paths)
    replaced = accepted & changes.existing
    report.added = len(accepted) - len(replaced) - changes.moved
    report.updated = len(replaced - changes.relocated)
    report.moved = len(replaced & changes.relocated) + changes.moved
    ids = {f.path: f.id for f in changes.build}  # a document that became a draft leaves
    unpublished = {ids[p] for p, _ in report.skipped if ids.get(p) in changes.existing}
    if changes.delete or unpublished:
        _bulk(client, ({"_op_type": "delete", "_index": target, "_id": d}
                       for d in sorted(changes.delete | unpublished)), report, {})
    report.deleted = len(changes.delete) - changes.moved + len(unpublished)
    kept = {f.path for f in changes.build if f.id in changes.existing}
    report.failed = [(p, f"{r}; kept the previously indexed version" if p in kept else r)
                     for p, r in report.failed]
    if plan.rebuild:
        client.indices.put_settings(index=target, body={"index": {"refresh_interval": None}})
    client.indices.refresh(index=target)


def _publish(client: Any, name: str, plan: _Plan, lock: ClusterLock,
             report: IndexReport) -> None:
    """Mark the written generation ready and, for a rebuild, swap the alias onto it (not
    when the lease was lost meanwhile: another writer may be at work)."""
    target, old = plan.target, plan.old
    client.indices.put_mapping(index=target, body={"_meta": dict(
        plan.meta, updated=time.time(), state="ready", mapping_version=MAPPING_VERSION)})
    if lock.lost:
        raise IndexLockedError(f"lost the writer lease on {name} during the run; "
                               "another writer may have taken over")
    if plan.rebuild:
        swap: list[dict[str, Any]] = [{"add": {"index": target, "alias": name}}]
        if old is not None:
            swap.insert(0, {"remove": {"index": old, "alias": name}})
        client.indices.update_aliases(body={"actions": swap})
        if old is not None:
            client.indices.delete(index=old, ignore=404)
    report.generation = target
    report.documents = int(client.count(index=target)["count"])
    stats = client.indices.stats(index=target, metric="store")
    report.index_bytes = int(stats["_all"]["primaries"]["store"]["size_in_bytes"])


def export(sources: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
           settings: Settings, *, name: str = "searcher", shards: int = 1,
           replicas: int = 1, jobs: int | None = None) -> IndexReport:
    """Write ``index.json`` (settings + mappings) and ``bulk.ndjson`` into *out_dir*.

    Load them into any cluster with::

        curl -XPUT  "$URL/NAME" -H 'Content-Type: application/json' --data-binary @index.json
        curl -XPOST "$URL/NAME/_bulk" -H 'Content-Type: application/x-ndjson' \\
             --data-binary @bulk.ndjson

    (``bulk.ndjson`` names no index, so it goes wherever the URL says.)  Files
    that cannot be read are reported, as by ``searcher index``.
    """
    started = time.monotonic()
    report = IndexReport(full=True)
    source_paths = check_sources(sources)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = scan(source_paths, follow_links=settings.follow_links)
    report.failed.extend(found.problems)
    report.skipped = found.skipped
    labeling = label_sources({}, source_paths, found, {})
    files = [replace(f, label=labeling.label(f.source)) for f in found.files]
    meta = {"sources": [str(p) for p in source_paths],
            "fingerprint": analysis_fingerprint(settings), "exported": time.time()}
    (out / "index.json").write_text(
        json.dumps(index_body(shards, replicas, meta), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8")
    seen: set[str] = set()
    tmp = out / "bulk.ndjson.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        for action in _actions(files, name, settings, report, {},
                               max(1, jobs or os.cpu_count() or 1)):
            if action["_id"] in seen:
                continue
            seen.add(action["_id"])
            handle.write(json.dumps({"index": {"_id": action["_id"]}}) + "\n")
            handle.write(json.dumps(action["_source"], ensure_ascii=False) + "\n")
            report.added += 1
    os.replace(tmp, out / "bulk.ndjson")
    report.documents = report.added
    report.index_bytes = sum(p.stat().st_size for p in (out / "index.json",
                                                       out / "bulk.ndjson"))
    report.generation = str(out)
    report.duration = time.monotonic() - started
    return report
