"""Per-segment numpy arrays stored next to a Whoosh segment.

Searching needs a few arrays per segment (the squeezed text as code points,
field lengths, dates).  Computing them from Whoosh's columns costs over a
second at 20,000 articles, which a one-shot command line search cannot
afford, so the worker that writes a segment also writes them, one ``.npy``
file per array named ``MAIN_<segment id>.<name>.<array>.npy``.  Searches map
them into memory instead of reading them (a ``.npz`` archive had to be read
and checksummed whole: 90 ms of a cold search at 20,000 articles).  The names
match Whoosh's own segment file pattern, so Whoosh deletes the files together
with their segment after a merge; the indexer writes them for the merged
segment too.  A segment without them falls back to computing the arrays.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .integrity import sidecar_damage, warn_once
from .whoosh_adapter import reader_folder, reader_segment_id, segment_file_name

if TYPE_CHECKING:
    from .whoosh_types import IndexReader


def sidecar_path(folder: str | os.PathLike[str], segment_id: str, name: str, key: str) -> Path:
    return Path(folder) / segment_file_name(segment_id, f"{name}.{key}.npy")


def save_arrays(folder: str | os.PathLike[str], segment_id: str, name: str,
                arrays: dict[str, np.ndarray]) -> None:
    for key, array in arrays.items():
        path = sidecar_path(folder, segment_id, name, key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npy")
        np.save(tmp, np.ascontiguousarray(array))
        os.replace(tmp, path)


def segment_folder(reader: IndexReader) -> str | None:
    """The index folder of a leaf reader (compound segments wrap it in an overlay)."""
    return reader_folder(reader)


def segment_key(reader: IndexReader) -> tuple[str, str]:
    """Identifies a segment across searchers and processes: (folder, segment id).

    Every cache lookup of a query asks, per segment; a reader's key never changes, so it
    is kept on the reader.
    """
    key = getattr(reader, "_searcher_segment_key", None)
    if key is None:
        key = (segment_folder(reader) or f"memory:{id(reader.storage())}",
               reader_segment_id(reader))
        with contextlib.suppress(AttributeError):  # a reader with __slots__: computed each time
            setattr(reader, "_searcher_segment_key", key)  # noqa: B010 - not declared
    return key


def load_arrays(reader: IndexReader, name: str,
                keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays *keys* saved for *reader*'s segment (read-only maps); None if one is
    missing or damaged (its size, or the checksum of a small one, is not what was written:
    see :mod:`searcher.local.integrity`)."""
    folder = segment_folder(reader)
    if folder is None:
        return None
    segment_id = reader_segment_id(reader)
    damage = sidecar_damage(folder, segment_id,
                            [segment_file_name(segment_id, f"{name}.{key}.npy") for key in keys])
    if damage is not None:
        # Derived data: computed from the segment instead; the next index run rebuilds it.
        warn_once(damage, "damaged index file %s; computing its data from the segment "
                  "instead until 'searcher index' rebuilds it", damage)
        return None
    try:
        return {key: np.load(sidecar_path(folder, segment_id, name, key), mmap_mode="r")
                for key in keys}
    except (OSError, ValueError):
        return None
