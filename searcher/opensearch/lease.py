"""The writer lease of a cluster index: one writer at a time, across machines.

The run creates the document ``writer`` in index ``NAME-lock`` with ``op_type=create``
(fails if it exists) holding the owner and an expiry time, renews it while it runs and
deletes it at the end.  A lease whose expiry has passed (its writer died) is taken over, with
sequence-number checks so two waiting writers cannot both take it.  Share runs
(``--part K/N``) hold one lease each and run side by side, but never beside a whole run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from ..errors import IndexLockedError

log = logging.getLogger(__name__)

#: Seconds a writer's lease lasts without renewal (it is renewed every third of this).
LEASE_SECONDS = 120.0


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
