"""Generations of a cluster index: alias NAME points at one concrete ``NAME-g<time>``.

A full rebuild writes a new generation and swaps the alias in one ``_aliases`` call, so
searches see the old index until then and the new one after; the index's ``_meta`` holds
what the nightly job needs (sources, analysis fingerprint, labels, state), and the documents'
manifest fields tell an incremental run what each file was when it was indexed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any

from .mapping import index_body

log = logging.getLogger(__name__)

#: Manifest fields read back from the index by an incremental run.
MANIFEST_FIELDS = ["id", "path", "source", "size", "mtime_ns", "digest"]


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


def drop_stale_generations(client: Any, name: str, keep: str | None) -> None:
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


def first_generation(client: Any, name: str, shards: int, replicas: int) -> str:
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
