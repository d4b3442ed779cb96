"""``searcher check``: compare the index with the source folders, read-only."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..core.changes import compare_manifest
from ..reports import CheckReport
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
