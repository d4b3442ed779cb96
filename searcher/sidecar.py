"""Per-segment numpy arrays stored next to a Whoosh segment.

Searching needs a few arrays per segment (the squeezed text as code points,
field lengths, dates).  Computing them from Whoosh's columns costs over a
second at 20,000 articles, which a one-shot command line search cannot
afford, so the worker that writes a segment also writes them, as
``MAIN_<segment id>.<name>.npz``.  That name matches Whoosh's own segment file
pattern, so Whoosh deletes the file together with its segment after a merge.
Segments without one (made by merging) fall back to computing the arrays.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def sidecar_path(folder: str | os.PathLike[str], segment_id: str, name: str) -> Path:
    return Path(folder) / f"{segment_id}.{name}.npz"


def save_arrays(folder: str | os.PathLike[str], segment_id: str, name: str,
                arrays: dict[str, np.ndarray]) -> None:
    path = sidecar_path(folder, segment_id, name)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def segment_folder(reader) -> str | None:
    """The index folder of a leaf reader (compound segments wrap it in an overlay)."""
    storage = reader.storage()
    for _ in range(4):
        folder = getattr(storage, "folder", None)
        if folder is not None:
            return str(folder)
        storage = getattr(storage, "b", None)  # OverlayStorage(compound file, folder)
        if storage is None:
            return None
    return None


def segment_key(reader) -> tuple[str, str]:
    """Identifies a segment across searchers and processes: (folder, segment id)."""
    return (segment_folder(reader) or f"memory:{id(reader.storage())}",
            reader.segment().segment_id())


def load_arrays(reader, name: str) -> dict[str, np.ndarray] | None:
    """The arrays saved for *reader*'s segment, or None when there are none."""
    folder = segment_folder(reader)
    if folder is None:
        return None
    path = sidecar_path(folder, reader.segment().segment_id(), name)
    try:
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError):
        return None
