"""Opening, verifying and repairing a whole generation (above the per-file checks of
:mod:`searcher.local.integrity`, which the segment writers use): opening checks the primary
files, ``check --deep`` verifies every file, and an ``index`` run rebuilds damaged derived
files (sidecars, suggestion phrases) from the primary data."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError, IndexNotFoundError
from . import schema  # noqa: F401 - registers the schema a table of contents records
from .integrity import (
    SQLITE_FILES,
    SQLITE_SUMS,
    TOC_NAME,
    TOC_SUMS,
    Damage,
    check_segment,
    check_toc,
    corrupt_error,
    latest_toc,
    open_check,
    seal_toc,
    sqlite_damage,
    sqlite_record,
)
from .storage import Generation

log = logging.getLogger(__name__)


def open_generation(gen: Generation) -> Any:
    """The Whoosh index of *gen*, its files checked as :func:`integrity.open_check` does.

    Raises IndexCorruptError naming a damaged file (the table of contents when Whoosh
    cannot read it)."""
    from .whoosh_adapter import index_segments, open_index

    toc = latest_toc(gen.path)
    damage = check_toc(gen.path)
    if damage is not None and not damage.derived:  # (a lost toc.sums: open_check warns)
        raise corrupt_error([damage])
    try:
        ix = open_index(str(gen.path))
        segment_ids = [s.segment_id() for s in index_segments(ix)]
    except Exception as exc:  # noqa: BLE001 - any unreadable index is the same problem
        if toc is None:
            raise IndexNotFoundError(
                f"index in {gen.path} cannot be opened ({exc}); "
                "rebuild it with 'searcher index --full'") from None
        raise IndexCorruptError(str(toc), f"unreadable ({type(exc).__name__}: {exc})") from None
    try:
        open_check(gen.path, segment_ids)
    except IndexCorruptError:
        ix.close()
        raise
    return ix


def verify_folder(folder: os.PathLike[str] | str, *, deep: bool = True) -> list[Damage]:
    """Every damaged file of the generation in *folder* (see integrity.verify_generation)."""
    from .whoosh_adapter import index_segments, open_index

    try:
        ix = open_index(str(folder))
        try:
            segment_ids: list[str] | None = [s.segment_id() for s in index_segments(ix)]
        finally:
            ix.close()
    except Exception as exc:  # noqa: BLE001 - reported as the TOC's damage below
        segment_ids = None
        toc = latest_toc(Path(folder))
        unreadable = [Damage(str(toc or Path(folder) / "_MAIN_0.toc"),
                             f"unreadable ({type(exc).__name__}: {exc})", False)]
    else:
        unreadable = []
    damage = verify_generation(folder, segment_ids, deep=deep)
    if unreadable and not any(d.path == unreadable[0].path for d in damage):
        damage = unreadable + damage
    return damage


def verify_generation(folder: str | os.PathLike[str], segment_ids: Iterable[str] | None, *,
                      deep: bool = True) -> list[Damage]:
    """Every damaged file of a generation (``check --deep``): the TOC, each segment's files
    (in full with *deep*), the derived files.  *segment_ids* None: the TOC was unreadable."""
    from ..analysis.lexicon import PINYIN_FILE, pinyin_content_problem, sqlite_problem
    from .suggest import BASE_FILE, TABLE_FILE, table_problem

    folder = Path(folder)
    damage = [d for d in [check_toc(folder)] if d]
    for segment_id in segment_ids or ():
        damage += check_segment(folder, segment_id, deep=deep)
    record, problem = sqlite_record(folder) if deep else ({}, None)
    if problem:  # the next run writes it again
        damage.append(Damage(str(folder / SQLITE_SUMS), problem, True))
    for name in SQLITE_FILES:  # every index run writes both
        cheap = sqlite_problem(folder / name) if (folder / name).exists() else "missing"
        problem = cheap or (sqlite_problem(folder / name, deep=True) if deep else None)
        if not problem and deep and name == PINYIN_FILE:
            problem = pinyin_content_problem(folder / name)
        # A file that differs from its record is rewritten by the next run (which checks it)
        whole = sqlite_damage(folder, name, record) if deep and not cheap else None
        problem = problem or whole
        if problem:
            damage.append(Damage(str(folder / name), problem, True,
                                 deep_only=not cheap and not whole))
    try:
        info = json.loads((folder / "searcher.json").read_text(encoding="utf-8"))
        problem = None if isinstance(info, dict) and info.get("fingerprint") else \
            "no fingerprint"
    except (OSError, ValueError) as exc:
        problem = f"unreadable ({exc})"
    if problem:
        damage.append(Damage(str(folder / "searcher.json"), problem, True))
    for name in (TABLE_FILE, BASE_FILE):
        problem = table_problem(folder / name)
        if problem:
            damage.append(Damage(str(folder / name), problem, True))
    return damage


def repair_generation(ix: object, *, deep: bool = False) -> list[str]:
    """Check the generation of the open Whoosh index *ix* before an ``index`` run writes
    to it, and rebuild its damaged derived files from the primary data.

    Raises IndexCorruptError for damage to primary data (``index --full`` rebuilds
    without reading it).  The check is the cheap one (sizes, checksums of files up to
    SMALL_FILE; every byte with *deep*): reading a 20,000-article index in full takes
    over a second, which every nightly run would pay.  Returns the paths of the files
    rebuilt.
    """
    from .building import write_sidecars
    from .whoosh_adapter import index_folder, index_segments

    folder = Path(index_folder(ix))
    segments = index_segments(ix)
    damage = [d for d in [check_toc(folder)] if d]
    for segment in segments:
        damage += check_segment(folder, segment.segment_id(), deep=deep)
    primary = [d for d in damage if not d.derived]
    if primary:
        raise corrupt_error(primary)
    repaired = []
    if any(os.path.basename(d.path) == TOC_SUMS for d in damage):
        toc = latest_toc(folder)
        if toc is not None:
            log.warning("missing %s: writing it again", folder / TOC_SUMS)
            named = TOC_NAME.match(toc.name)
            assert named is not None  # latest_toc finds TOCs by this name
            seal_toc(folder, int(named.group(1)))
            repaired.append(str(folder / TOC_SUMS))
        damage = [d for d in damage if os.path.basename(d.path) != TOC_SUMS]
    damaged_ids = {os.path.basename(d.path).split(".", 1)[0] for d in damage}
    for segment in segments:
        if segment.segment_id() not in damaged_ids:
            continue
        files = [d.path for d in damage
                 if os.path.basename(d.path).split(".", 1)[0] == segment.segment_id()]
        log.warning("damaged index files %s: writing them again from the segment",
                    ", ".join(files))
        phrases = _intact_phrases(ix, segment, files)
        for path in files:
            with contextlib.suppress(OSError):
                os.remove(path)
        write_sidecars(ix, segment, phrases=phrases)
        repaired += files
    # (The saved suggestion table is checked whenever it is loaded, and a damaged one is
    # built and saved again then: reading 16 MB here at 20,000 articles is not needed.)
    return repaired


def _intact_phrases(ix: object, segment: object, damaged: list[str]) -> dict[str, int]:
    """The segment's suggestion phrases, unless their sidecar is among *damaged* (phrases
    come from the source documents, so only ``index --full`` can recompute them)."""
    from .suggest import segment_phrases
    from .whoosh_adapter import segment_reader

    if any(".suggest.phrase" in os.path.basename(p) for p in damaged):
        return {}
    reader = segment_reader(ix, segment)
    try:
        return segment_phrases(reader)
    finally:
        reader.close()
