"""What indexing and checking return: plain, JSON-ready reports."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: A lone surrogate: how Python holds a byte of a file name that is not UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(data: Any, **options: Any) -> str:
    """``json.dumps(data, ensure_ascii=False, **options)`` that is valid UTF-8 whatever the
    data: a path holding a name that is not UTF-8 keeps its bytes as ``\\udcff`` escapes
    (``json.load`` gives the same string back, ``os.fsencode`` the same bytes) instead
    of raw bytes that no JSON reader accepts."""
    text = json.dumps(data, ensure_ascii=False, **options)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class IndexReport:
    """What one indexing run did.  ``failed`` and ``skipped`` list ``(path, reason)``.

    ``skipped`` holds links not followed on purpose (they lead out of their
    source folder) and drafts (unless the ``drafts`` setting is on); unlike
    ``failed`` they do not make the run unsuccessful.
    """

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    moved: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    full: bool = False
    documents: int = 0
    duration: float = 0.0
    index_bytes: int = 0
    generation: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "moved": self.moved,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "warnings": [{"path": p, "warning": w} for p, w in self.warnings],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "full": self.full,
            "documents": self.documents,
            "duration": round(self.duration, 3),
            "index_bytes": self.index_bytes,
            "generation": self.generation,
        }


@dataclass
class CheckReport:
    """Paths on disk but not indexed (missing), indexed but gone (extra), changed (stale)."""

    indexed: int = 0
    on_disk: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: (path, reason): links not followed because they lead out of their source folder, and
    #: drafts (not indexed unless the ``drafts`` setting is on).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "indexed": self.indexed,
            "on_disk": self.on_disk,
            "missing": self.missing,
            "extra": self.extra,
            "stale": self.stale,
            "problems": [{"path": p, "reason": r} for p, r in self.problems],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


@dataclass
class OptimizeReport:
    """What ``optimize`` did: segments before and after, documents kept, sizes, time."""

    generation: str = ""
    previous: str = ""
    segments_before: int = 0
    segments_after: int = 0
    documents: int = 0
    #: Deleted documents the old segments still carried (dropped by the merge).
    dropped: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    duration: float = 0.0
    #: False when there was nothing to do (one segment without deletions).
    merged: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IndexStats:
    """What ``SearchEngine.stats`` reports of an index, the same fields for both back ends.

    ``index_dir`` is the folder or the cluster location (never with credentials);
    ``segments`` counts Whoosh segments, or the primary shards' Lucene segments; a cluster
    also sets ``url`` and ``index`` (its alias).
    """

    index_dir: str
    generation: str | None
    documents: int
    segments: int
    index_bytes: int
    last_update: str | None
    sources: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] | None = None
    url: str | None = None
    index: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready mapping (``url`` and ``index`` only for a cluster)."""
        data = asdict(self)
        if self.url is None and self.index is None:
            del data["url"], data["index"]
        return data
