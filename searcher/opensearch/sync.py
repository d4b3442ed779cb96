"""The nightly job against a cluster: bring index NAME up to date with the source folders.

NAME is always an *alias*.  The documents live in a concrete index
``NAME-g<generation>``; a full rebuild (``full=True``, the first run, or changed
analysis settings) writes a new generation, swaps the alias in one
``_aliases`` call (searches see the old index until then, the new one after)
and then deletes the old index.

An incremental run reads what the index holds about each file (path, source,
size, mtime, digest; a point-in-time with ``search_after``, so it is consistent
and has no 10,000-hit limit), plans exactly like the embedded back end
(:func:`searcher.local.indexing.plan_changes`: unchanged, touched, changed, moved, deleted, and a
file that cannot be read tonight keeps its indexed version), and sends the
changes with the bulk helper.  Each document is analysed here
(:func:`searcher.opensearch.mapping.document_source`); a document the cluster rejects is
reported like a bad file, with the cluster's reason.  Too-many-requests (429)
answers are retried with exponential back-off by the bulk helper, 502/503/504
and timeouts by the client.

One writer at a time: the run creates the document ``writer`` in index
``NAME-lock`` with ``op_type=create`` (fails if it exists) holding the
owner and an expiry time, renews it while it runs and deletes it at the end.
A lease whose expiry has passed (its writer died) is taken over, with
sequence-number checks so two waiting writers cannot both take it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import DocumentError, IndexLockedError, SearcherError
from ..ingest.documents import document_id, load_document
from ..ingest.sources import Scan, SourceFile, became_link_out, check_sources, scan
from ..local.indexing import label_sources, plan_changes
from ..local.schema import analysis_fingerprint
from ..reports import IndexReport
from .client import cluster_error
from .mapping import MAPPING_VERSION, document_source, index_body

log = logging.getLogger(__name__)

#: Seconds a writer's lease lasts without renewal (it is renewed every third of this).
LEASE_SECONDS = 120.0
#: Documents per bulk request (and bytes: whichever comes first).
BULK_DOCS = 500
BULK_BYTES = 20 * 1024 * 1024
#: Manifest fields read back from the index by an incremental run.
MANIFEST_FIELDS = ["id", "path", "source", "size", "mtime_ns", "digest"]
#: Analyse in worker processes when a run has at least this many files to send.
PARALLEL_FROM = 200


def lock_index(name: str) -> str:
    return f"{name}-lock"


class ClusterLock:
    """The writer lease for alias *name* (see the module docstring)."""

    def __init__(self, client: Any, url: str, name: str, wait: float = 0.0,
                 lease: float = LEASE_SECONDS, part: tuple[int, int] | None = None) -> None:
        self.client, self.url, self.name = client, url, name
        self.index = lock_index(name)
        #: The lease document: ``writer`` for a whole run, ``part-K-of-N`` for one share.
        self.lease_id = f"part-{part[0]}-of-{part[1]}" if part else "writer"
        self.wait, self.lease = wait, lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._seq: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    def __enter__(self) -> ClusterLock:
        from opensearchpy.exceptions import ConflictError, NotFoundError

        deadline = time.monotonic() + self.wait
        while True:
            body = {"owner": self.owner, "expires": time.time() + self.lease}
            try:
                r = self.client.index(index=self.index, id=self.lease_id, body=body,
                                      op_type="create", refresh="true")
                self._seq = (r["_seq_no"], r["_primary_term"])
                rival = self._rival()
                if rival is None:
                    break
                # A whole run and a share run exclude each other: give ours back and wait.
                with contextlib.suppress(ConflictError, NotFoundError):
                    self.client.delete(index=self.index, id=self.lease_id,
                                       if_seq_no=self._seq[0], if_primary_term=self._seq[1],
                                       refresh="true")
                self._seq = None
                held = rival
            except ConflictError:
                try:
                    held = self.client.get(index=self.index, id=self.lease_id)
                except NotFoundError:
                    continue  # released meanwhile: try again at once
            holder = held["_source"]
            if holder.get("expires", 0) < time.time():
                log.warning("taking over the expired writer lease of %s", holder.get("owner"))
                with contextlib.suppress(ConflictError, NotFoundError):
                    self.client.delete(index=self.index, id=held["_id"],
                                       if_seq_no=held["_seq_no"],
                                       if_primary_term=held["_primary_term"])
                continue
            if time.monotonic() >= deadline:
                err = IndexLockedError(
                    f"OpenSearch index {self.name} is being written by {holder.get('owner')} "
                    f"(lease until {time.strftime('%H:%M:%S', time.localtime(holder['expires']))}"
                    "); try again later or use --wait")
                err.holder = holder.get("owner")  # type: ignore[attr-defined]
                raise err
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._renewer = threading.Thread(target=self._renew, daemon=True,
                                         name="searcher-opensearch-lease")
        self._renewer.start()
        return self

    def _rival(self) -> dict[str, Any] | None:
        """A live lease that excludes ours: share runs run side by side, but not beside a
        whole run (which may rebuild or delete any document)."""
        # Expiry compared here, from _source: the lock index maps ``expires`` dynamically (as
        # a float, whose ~2-minute precision at today's epoch seconds a range query inherits).
        hits = self.client.search(index=self.index, body={
            "query": {"match_all": {}}, "size": 1000,
            "seq_no_primary_term": True})["hits"]["hits"]
        now = time.time()
        for hit in hits:
            other = hit["_id"]
            if other != self.lease_id and "writer" in (self.lease_id, other) \
                    and hit["_source"].get("expires", 0) > now:
                return hit
        return None

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                assert self._seq is not None
                r = self.client.index(index=self.index, id=self.lease_id,
                                      body={"owner": self.owner,
                                            "expires": time.time() + self.lease},
                                      if_seq_no=self._seq[0], if_primary_term=self._seq[1])
                self._seq = (r["_seq_no"], r["_primary_term"])
            except Exception:  # noqa: BLE001 - a lost lease is reported at the end
                log.error("lost the writer lease on %s", self.name)
                self.lost = True
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self._seq is not None and not self.lost:
            try:
                self.client.delete(index=self.index, id=self.lease_id, if_seq_no=self._seq[0],
                                   if_primary_term=self._seq[1], refresh="true")
            except Exception:  # noqa: BLE001 - expires by itself
                log.warning("could not release the writer lease on %s; it expires by itself",
                            self.name)


def generation_name(name: str) -> str:
    """A new concrete index name for alias *name*: NAME-g<UTC time to the millisecond>."""
    now = time.time()
    return f"{name}-g{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}{int(now * 1000) % 1000:03d}"


def current_index(client: Any, name: str) -> str | None:
    """The concrete index alias *name* points at, or None before the first run."""
    from opensearchpy.exceptions import NotFoundError

    try:
        found = client.indices.get_alias(name=name)
    except NotFoundError:
        if client.indices.exists(index=name):
            from ..errors import ConfigError

            raise ConfigError(f"OpenSearch index {name} is a plain index, not an alias "
                              "managed by searcher; choose another name") from None
        return None
    return sorted(found)[-1] if found else None


def _drop_stale_generations(client: Any, name: str, keep: str | None) -> None:
    """Delete NAME-g* indexes the alias does not point at: rebuilds a killed writer left.

    Only the lease holder calls this, so no other writer is filling one of them.
    """
    found = client.indices.get(index=f"{name}-g*", expand_wildcards="all",
                               ignore_unavailable=True, allow_no_indices=True)
    for index in sorted(found):
        if index != keep and re.fullmatch(re.escape(name) + r"-g\d{17}", index):
            log.warning("deleting %s, left by an interrupted rebuild", index)
            client.indices.delete(index=index, ignore=404)


def index_meta(client: Any, index: str) -> dict[str, Any]:
    mapping = client.indices.get_mapping(index=index)
    return dict(mapping[index]["mappings"].get("_meta") or {})


def read_manifest(client: Any, index: str, page: int = 2000) -> dict[str, dict[str, Any]]:
    """id → {path, source, size, mtime_ns, digest} of every document, via PIT + search_after."""
    pit = client.create_pit(index=index, params={"keep_alive": "2m"})["pit_id"]
    out: dict[str, dict[str, Any]] = {}
    try:
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": page, "_source": MANIFEST_FIELDS, "query": {"match_all": {}},
                "pit": {"id": pit, "keep_alive": "2m"}, "sort": [{"id": "asc"}],
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = after
            hits = client.search(body=body)["hits"]["hits"]
            for hit in hits:
                out[hit["_source"]["id"]] = hit["_source"]
            if len(hits) < page:
                return out
            after = hits[-1]["sort"]
    finally:
        with contextlib.suppress(Exception):  # PITs expire by themselves
            client.delete_pit(body={"pit_id": [pit]})


#: How :func:`_analyse` marks a draft's reason (it is skipped, not failed).
DRAFT = "\0draft: "


def _analyse(task: tuple[SourceFile, Settings]) -> tuple[SourceFile, dict[str, Any] | None,
                                                       str, list[str]]:
    """(file, JSON source or None, failure reason, warnings): runs in worker processes.

    A draft (unless the ``drafts`` setting is on) has no source and a reason that starts
    with :data:`DRAFT`.
    """
    f, settings = task
    try:
        if not settings.follow_links and became_link_out(f):
            raise DocumentError("became a link out of the source folder; not followed")
        doc = load_document(f.path, f.source, tz=settings.timezone, max_bytes=settings.max_bytes,
                            label=f.label)
        if doc.draft and not settings.drafts:
            return f, None, f"{DRAFT}{doc.draft}; not indexed (--drafts indexes it)", []
        return f, document_source(doc), "", list(doc.warnings)
    except DocumentError as exc:
        return f, None, str(exc), []
    except Exception as exc:  # one bad file must never stop the run
        log.exception("unexpected error indexing %s", f.path)
        return f, None, f"internal error: {exc!r}", []


def _init_worker(settings: Settings) -> None:
    from ..analysis.lexicon import char_readings
    from ..analysis.tokens import _jieba
    from ..local.building import init_worker

    init_worker(settings)
    _jieba()
    char_readings()


def _actions(files: list[SourceFile], index: str, settings: Settings, report: IndexReport,
             paths: dict[str, str], jobs: int = 1) -> Iterator[dict[str, Any]]:
    """Bulk actions for *files*, analysed by *jobs* processes (failures go to *report*)."""
    tasks = [(f, settings) for f in files]
    if jobs > 1 and len(files) >= PARALLEL_FROM:
        from ..local.building import pool_context

        with pool_context().Pool(jobs, initializer=_init_worker, initargs=(settings,)) as pool:
            yield from _collect(pool.imap(_analyse, tasks, chunksize=8), index, report, paths)
    else:
        _init_worker(settings)
        yield from _collect(map(_analyse, tasks), index, report, paths)


def _collect(results: Iterable[tuple[SourceFile, dict[str, Any] | None, str, list[str]]],
             index: str, report: IndexReport, paths: dict[str, str]
             ) -> Iterator[dict[str, Any]]:
    for f, source, failure, warnings in results:
        if source is None and failure.startswith(DRAFT):
            report.skipped.append((f.path, failure[len(DRAFT):]))
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


def _first_generation(client: Any, name: str, shards: int, replicas: int) -> str:
    """The index a first share run creates for alias *name*: one fixed name, so shares that
    start together create (and alias) the same index instead of one each."""
    from opensearchpy.exceptions import RequestError

    target = f"{name}-g{'0' * 17}"
    try:
        client.indices.create(index=target, body=index_body(
            shards, replicas, {"state": "building"}))
    except RequestError as exc:
        if "already_exists" not in str(getattr(exc, "error", "")):
            raise
    client.indices.update_aliases(body={"actions": [{"add": {"index": target, "alias": name}}]})
    return target


def sync(client: Any, url: str, name: str, sources: list[str | os.PathLike[str]] | None,
         settings: Settings, *, full: bool = False, wait: float = 0.0, shards: int = 1,
         replicas: int = 1, jobs: int | None = None,
         part: tuple[int, int] | None = None) -> IndexReport:
    """Bring alias *name* up to date with *sources*; see the module docstring.

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
            old = current_index(client, name)
            if part is None:
                _drop_stale_generations(client, name, keep=old)
            elif old is None:  # the first share to run creates the index and its alias
                old = _first_generation(client, name, shards, replicas)
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
            manifest: dict[str, dict[str, Any]] = {} if rebuild else read_manifest(client, old)
            # A rebuild starts empty: the folders' history is in the index being served.
            history = read_manifest(client, old) if rebuild and old else manifest
            labeling = label_sources(dict(meta.get("labels") or {}), source_paths, found,
                                     history)
            new_meta = {"sources": [str(p) for p in source_paths], "fingerprint": fp,
                        "labels": labeling.labels}
            if rebuild:
                target = generation_name(name)
                client.indices.create(index=target, body=index_body(
                    shards, replicas, dict(new_meta, state="building")))
                # No refreshes while the bulk load runs: one at the end.
                client.indices.put_settings(index=target,
                                            body={"index": {"refresh_interval": "-1"}})
            else:
                target = old
            if part is not None:
                found, manifest = _share(found, manifest, labeling, part)
            plan = plan_changes(manifest, found, labeling, report)
            paths = {f.id: f.path for f in plan.build}
            jobs = max(1, jobs or os.cpu_count() or 1)
            accepted = _bulk(client, _actions(plan.build, target, settings, report, paths, jobs),
                             report, paths)
            replaced = accepted & plan.existing
            report.added = len(accepted) - len(replaced) - plan.moved
            report.updated = len(replaced - plan.relocated)
            report.moved = len(replaced & plan.relocated) + plan.moved
            ids = {f.path: f.id for f in plan.build}  # a document that became a draft leaves
            unpublished = {ids[p] for p, _ in report.skipped if ids.get(p) in plan.existing}
            if plan.delete or unpublished:
                _bulk(client, ({"_op_type": "delete", "_index": target, "_id": d}
                               for d in sorted(plan.delete | unpublished)), report, {})
            report.deleted = len(plan.delete) - plan.moved + len(unpublished)
            kept = {f.path for f in plan.build if f.id in plan.existing}
            report.failed = [(p, f"{r}; kept the previously indexed version" if p in kept else r)
                             for p, r in report.failed]
            if rebuild:
                client.indices.put_settings(index=target,
                                            body={"index": {"refresh_interval": None}})
            client.indices.refresh(index=target)
            new_meta.update(updated=time.time(), state="ready")
            client.indices.put_mapping(index=target, body={"_meta": dict(
                new_meta, mapping_version=MAPPING_VERSION)})
            if lock.lost:
                raise IndexLockedError(f"lost the writer lease on {name} during the run; "
                                       "another writer may have taken over")
            if rebuild:
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
    except OpenSearchException as exc:
        raise cluster_error(exc, url, f"indexing into {name}") from None
    report.duration = time.monotonic() - started
    return report


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
