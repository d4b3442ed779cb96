"""Checksums of every file of an index generation, and the checks that use them.

Lucene ends every file with a codec footer (a CRC32 written last) and checks
it when the file is opened.  Whoosh's segment files cannot carry a footer (its
readers map them and read to the end), so here each segment has one more file,
``MAIN_<id>.sums``, written after every other file of the segment (in the build
worker, after a merge, after a sidecar is rebuilt): the size and CRC32 of each
of the segment's files, and a CRC32 of its own body on its last line.  Its name
matches Whoosh's segment pattern, so it moves and is deleted with its segment.
The table of contents Whoosh writes at each commit (``_MAIN_<n>.toc``, which
also holds each segment's deletions) gets its size and CRC32 in ``toc.sums``.

What is checked when:

* opening a generation (every search process, every ``index`` run): the TOC
  and every ``.sums`` file in full, the size of every file a ``.sums`` file
  lists, and the CRC32 of Whoosh's files up to :data:`SMALL_FILE` bytes;
* loading a sidecar array the first time in a process: its size, and its CRC32
  when it is at most :data:`SMALL_FILE` bytes (the per-document arrays: a flipped
  byte there used to change answers silently);
* ``searcher check --deep`` (:func:`verify_generation`): every byte of every
  file, and SQLite's own ``quick_check`` of the pinyin table and the query
  dictionary;
* the two SQLite files as a whole: ``sqlite.sums`` holds their size and CRC32,
  recorded when an ``index`` run ends (:func:`seal_sqlite`) and checked at the
  start of the next run (:func:`unseal_sqlite`, which then marks it "being
  written": a killed run leaves no stale record) and by ``check --deep``.  SQLite's quick_check
  sees the pages' structure, not a changed byte of a word or of a free page.

A file's damage is an :class:`~searcher.errors.IndexCorruptError` naming it when
it holds primary data (Whoosh's files, the TOC, the ``.sums`` files: only
``index --full`` can rebuild them).  Sidecar arrays and the other derived files
are rebuilt from the primary data by the next ``index`` run; until then a
search computes what it needs from Whoosh's columns (slower, same answers)
after one warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis.lexicon import PINYIN_FILE
from ..analysis.segmenter import FILE_NAME as QUERY_DICTIONARY
from ..errors import IndexCorruptError

log = logging.getLogger(__name__)

SUMS = "sums"
TOC_SUMS = "toc.sums"
#: Files up to this size are checksummed in full whenever they are opened: a segment's
#: per-document arrays (8 bytes a document: segments of up to 131,072 documents) and its
#: character histogram, not its per-character arrays, bigram table or postings (a cold
#: CLI search at 20,000 articles spends 1-2 ms on checks with this bound, 30-50 ms with
#: 4 MiB, which took in the bigram table).
SMALL_FILE = 1 << 20
_CHUNK = 1 << 20
TOC_NAME = re.compile(r"^_MAIN_([0-9]+)\.toc$")
#: Whoosh's files of a segment (everything else named after the segment is a sidecar).
_SIDECAR_SUFFIX = ".npy"


@dataclass(frozen=True)
class Damage:
    """One damaged file: its path, what is wrong, and whether ``index`` rebuilds it."""

    path: str
    problem: str
    derived: bool
    #: Only a full read finds it (bytes changed in a file larger than SMALL_FILE): an index
    #: run, which checks cheaply, does not see it, so ``index --full`` is the fix.
    deep_only: bool = False

    @property
    def rebuilt_by_index(self) -> bool:
        return self.derived and not self.deep_only

    def __str__(self) -> str:
        fix = ("rebuilt by 'searcher index'" if self.rebuilt_by_index
               else "run 'searcher index --full'")
        return f"{self.path}: {self.problem} ({fix})"


def corrupt_error(damage: list[Damage]) -> IndexCorruptError:
    """The error reporting *damage* (the first file named, every file listed)."""
    first = damage[0]
    more = "; ".join(str(d) for d in damage[1:])
    return IndexCorruptError(first.path, first.problem,
                             derived=all(d.rebuilt_by_index for d in damage),
                             more=more, files=[d.path for d in damage])


def file_crc(path: str | os.PathLike[str]) -> int:
    """CRC32 of a whole file, read in 1 MiB pieces."""
    crc = 0
    with open(path, "rb") as handle:
        while True:
            piece = handle.read(_CHUNK)
            if not piece:
                return crc
            crc = zlib.crc32(piece, crc)


def is_sidecar(name: str) -> bool:
    return name.endswith(_SIDECAR_SUFFIX)


# -- writing ----------------------------------------------------------------------------


def _write_sealed(path: Path, body: dict) -> None:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    data = f"{text}\n{zlib.crc32(text.encode()):08x}\n".encode()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _read_sealed(path: Path) -> dict:
    """The body of a sealed file; raises ValueError when its own checksum fails."""
    data = path.read_bytes()
    text, sep, footer = data.rstrip(b"\n").rpartition(b"\n")
    if not sep or len(footer) != 8 or f"{zlib.crc32(text):08x}".encode() != footer:
        raise ValueError("its checksum does not match its content")
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("not a checksum table")
    return body


def sums_path(folder: str | os.PathLike[str], segment_id: str) -> Path:
    return Path(folder) / f"{segment_id}.{SUMS}"


def _segment_files(folder: Path, segment_id: str) -> list[str]:
    prefix = f"{segment_id}."
    own = f"{segment_id}.{SUMS}"
    return sorted(n for n in os.listdir(folder)
                  if n.startswith(prefix) and n != own and ".tmp" not in n)


def seal_segment(folder: str | os.PathLike[str], segment_id: str,
                 rewritten: Iterable[str] = (), *, sidecars: bool = False) -> None:
    """Record the size and CRC32 of the files of a segment in its ``.sums`` file.

    Files already listed keep their recorded sums (a file damaged later is not
    blessed), except those named in *rewritten*, and every sidecar with *sidecars*,
    which were just written again.
    """
    folder = Path(folder)
    path = sums_path(folder, segment_id)
    try:
        files = dict(_read_sealed(path).get("files") or {})
    except (OSError, ValueError):
        files = {}
    rewritten = set(rewritten)
    for name in _segment_files(folder, segment_id):
        if name not in files or name in rewritten or (sidecars and is_sidecar(name)):
            target = folder / name
            files[name] = [target.stat().st_size, file_crc(target)]
    files = {n: v for n, v in files.items() if (folder / n).exists() or not is_sidecar(n)}
    _write_sealed(path, {"version": 1, "files": files})


def seal_toc(folder: str | os.PathLike[str], generation: int) -> None:
    """Record the size and CRC32 of the TOC Whoosh just wrote (generation *generation*),
    and which of its segments have a ``.sums`` file (so that losing one is noticed)."""
    folder = Path(folder)
    name = f"_MAIN_{generation}.toc"
    toc = folder / name
    sealed = sorted(n[: -len(SUMS) - 1] for n in os.listdir(folder) if n.endswith(f".{SUMS}")
                    and n.startswith("MAIN_"))
    _write_sealed(folder / TOC_SUMS, {"toc": name, "size": toc.stat().st_size,
                                      "crc": file_crc(toc), "sealed": sealed})


def _toc_sums(folder: Path) -> dict | None:
    """The body of ``toc.sums`` when it describes the latest TOC, else None."""
    try:
        body = _read_sealed(folder / TOC_SUMS)
    except (OSError, ValueError):
        return None
    toc = latest_toc(folder)
    return body if toc is not None and body.get("toc") == toc.name else None


# -- reading ----------------------------------------------------------------------------


def segment_sums(folder: str | os.PathLike[str], segment_id: str) -> dict[str, list[int]] | None:
    """name → [size, crc32] of a segment's files; None when it has no ``.sums`` file
    (written by an older version).  Raises IndexCorruptError when it is damaged."""
    path = sums_path(folder, segment_id)
    try:
        return dict(_read_sealed(path)["files"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(str(path), f"unreadable checksums ({exc})") from None


def check_file(path: Path, expected: list[Any], full: bool) -> str | None:
    """What is wrong with *path* given its recorded [size, crc32], or None.

    Its size is always compared; its CRC32 when *full* or it is at most SMALL_FILE.
    """
    size, crc = expected
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if actual != size:
        return f"{actual} bytes where {size} were written"
    if full or size <= SMALL_FILE:
        try:
            if file_crc(path) != crc:
                return "checksum mismatch (its bytes changed after it was written)"
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
    return None


def latest_toc(folder: Path) -> Path | None:
    best = None
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            match = TOC_NAME.match(name)
            if match and (best is None or int(match.group(1)) > best[0]):
                best = (int(match.group(1)), name)
    return folder / best[1] if best else None


def check_toc(folder: Path) -> Damage | None:
    """The TOC's damage, when ``toc.sums`` names the latest TOC (a commit in progress
    may have written the TOC and not its sums yet: then there is nothing to compare)."""
    toc = latest_toc(folder)
    sums = folder / TOC_SUMS
    try:
        body = _read_sealed(sums)
    except FileNotFoundError:
        if toc is not None and any(n.endswith(f".{SUMS}") and n.startswith("MAIN_")
                                   for n in os.listdir(folder)):
            # Written with every commit since checksums exist: only lost by damage.  Only
            # checksums are lost, so the next index run writes it again.
            return Damage(str(sums), "missing", True)
        body = None
    except (OSError, ValueError) as exc:
        return Damage(str(sums), f"unreadable checksums ({exc})", False)
    if toc is None:
        named = body.get("toc") if body else None
        name = named if isinstance(named, str) else "_MAIN_0.toc"
        return Damage(str(folder / name), "missing (no table of contents)", False)
    if body is None:
        return None
    if body.get("toc") != toc.name:
        return None
    problem = check_file(toc, [body.get("size"), body.get("crc")], True)
    return Damage(str(toc), problem, False) if problem else None


def check_segment(folder: Path, segment_id: str, *, deep: bool,
                  sidecars: bool = True) -> list[Damage]:
    """Damage among a segment's files: sizes, CRC32 of small files (all with *deep*).

    Sidecars are checked too unless *sidecars* is false (searches check each when they
    first load it)."""
    try:
        sums = segment_sums(folder, segment_id)
    except IndexCorruptError as exc:
        return [Damage(exc.path, exc.problem, False)]
    if sums is None:
        toc = _toc_sums(folder)
        if toc is not None and segment_id in (toc.get("sealed") or ()):
            return [Damage(str(sums_path(folder, segment_id)), "missing", False)]
        return []
    found = []
    for name, expected in sorted(sums.items()):
        derived = is_sidecar(name)
        if derived and not sidecars:
            continue
        problem = check_file(folder / name, expected, deep)
        if problem:
            deep_only = deep and check_file(folder / name, expected, False) is None
            found.append(Damage(str(folder / name), problem, derived, deep_only))
    return found


# -- sidecars, as searches load them ----------------------------------------------------

_verified: dict[str, str | None] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def sidecar_damage(folder: str, segment_id: str, names: Iterable[str]) -> str | None:
    """The first damaged file among a segment's sidecar files *names*, with the problem
    ("path: problem"), or None; each file is checked once per process (segments never
    change; a rebuilt sidecar is a new file, which is checked again)."""
    sums: dict[str, list[int]] | None = None
    for name in names:
        path = os.path.join(folder, name)
        try:
            st = os.stat(path)
            key = f"{path}:{st.st_ino}:{st.st_mtime_ns}"
        except OSError:
            key = path
        with _lock:
            known = key in _verified
            problem = _verified.get(key)
        if not known:
            if sums is None:
                try:
                    sums = segment_sums(folder, segment_id) or {}
                except IndexCorruptError:
                    sums = {}
            expected = sums.get(name)
            problem = None if expected is None else check_file(Path(path), expected, False)
            with _lock:
                if len(_verified) >= 100_000:  # a server running for months: files of
                    _verified.clear()  # merged-away segments would pile up
                _verified[key] = problem
        if problem:
            return f"{path}: {problem}"
    return None


def warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning about *key* once per process."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message, *args)


# -- the SQLite files, whole --------------------------------------------------------------

SQLITE_SUMS = "sqlite.sums"
#: The generation's SQLite files: the pinyin table and the query dictionary.
SQLITE_FILES = (PINYIN_FILE, QUERY_DICTIONARY)


#: An SQLite file verified against its record: (size, mtime_ns, CRC32).
Verified = dict[str, tuple[int, int, int]]


def seal_sqlite(folder: str | os.PathLike[str], names: Iterable[str],
                verified: Verified | None = None) -> None:
    """Record the size and CRC32 of each SQLite file *names* in *folder* (the end of a run
    that may have written them: nothing writes them again until the next run).  A file
    *verified* at the start of the run and not touched since keeps its checksum unread."""
    folder = Path(folder)
    body = {}
    for name in names:
        try:
            stat = os.stat(folder / name)
        except FileNotFoundError:
            continue
        known = (verified or {}).get(name)
        same = known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns)
        body[name] = [stat.st_size, known[2] if same and known else file_crc(folder / name)]
    _write_sealed(folder / SQLITE_SUMS, body)


def sqlite_record(folder: str | os.PathLike[str]) -> tuple[dict, str | None]:
    """The sizes and CRC32s recorded for the SQLite files of *folder*, and what is wrong
    with the record itself (missing, unreadable), or None.  While a run writes the files
    (or after a killed run) the record says so and lists no file."""
    try:
        return _read_sealed(Path(folder) / SQLITE_SUMS), None
    except FileNotFoundError:
        return {}, "missing"
    except (OSError, ValueError) as exc:
        return {}, f"unreadable ({exc})"


def _sqlite_check(path: Path, expected: object) -> tuple[str | None, tuple[int, int, int] | None]:
    """(what is wrong with the file at *path* against its *expected* record, or None; its
    size, mtime_ns and CRC32 when read)."""
    if not (isinstance(expected, list) and len(expected) == 2):
        return None, None
    try:
        stat = os.stat(path)
        crc = file_crc(path)
    except FileNotFoundError:
        return "missing", None
    except OSError as exc:
        return f"unreadable ({exc.strerror})", None
    if stat.st_size != expected[0]:
        return (f"{stat.st_size} bytes where {expected[0]} were recorded after the last "
                "index run"), None
    if crc != expected[1]:
        return "its bytes do not match the checksum recorded after the last index run", None
    return None, (stat.st_size, stat.st_mtime_ns, crc)


def sqlite_damage(folder: str | os.PathLike[str], name: str, record: dict) -> str | None:
    """Whether the SQLite file *name* still has the size and CRC32 *record* holds for it
    (None also when it holds none)."""
    return _sqlite_check(Path(folder) / name, record.get(name))[0]


def unseal_sqlite(folder: str | os.PathLike[str], names: Iterable[str]) -> Verified:
    """Check each SQLite file *names* against its record, delete the damaged ones (they are
    derived: the run writes them again) with a warning, and mark the record as "being
    written" before the run writes anything.  Returns the files found intact, for
    :func:`seal_sqlite`."""
    folder = Path(folder)
    record, _problem = sqlite_record(folder)
    verified: Verified = {}
    for name in names:
        problem, intact = _sqlite_check(folder / name, record.get(name))
        if intact is not None:
            verified[name] = intact
        elif problem and problem != "missing":
            log.warning("damaged index file %s (%s): writing it again", folder / name, problem)
            (folder / name).unlink(missing_ok=True)
    _write_sealed(folder / SQLITE_SUMS, {"state": "writing"})
    return verified


# -- the whole generation ---------------------------------------------------------------


def open_check(folder: str | os.PathLike[str], segment_ids: Iterable[str]) -> None:
    """The check made when a generation is opened (see the module docstring); raises
    IndexCorruptError for damaged primary files.  Sidecars are left to their first load."""
    folder = Path(folder)
    damage = [d for d in [check_toc(folder)] if d]
    for segment_id in segment_ids:
        damage += check_segment(folder, segment_id, deep=False, sidecars=False)
    for derived in (d for d in damage if d.derived):
        warn_once(derived.path, "damaged index file %s", derived)
    primary = [d for d in damage if not d.derived]
    if primary:
        raise corrupt_error(primary)


#: Temporary files: ``<name>.<pid>[.<thread>].tmp[.npy]`` (a writer's pid), or written
#: only under the writer lock (no pid: stale whenever the lock is free to take).
_TMP_PID = re.compile(r"\.(\d+)(?:\.\d+)?\.tmp(?:\.npy)?$")
_TMP_LOCKED = re.compile(r"(\.tmp|\.tmp\.npy|\.copy|^_MAIN_\d+\.toc\.[0-9.]+)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_temp_files(folders: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Delete temporary files a killed process left in *folders* (call with the writer lock
    held): the suggestion table's and sidecars' (named after their writer's process: kept
    while it runs), and those only a writer makes (Whoosh's ``MAIN.tmp`` pool folder, its
    unfinished TOC, ``.searcher.json.tmp``, ``.CURRENT.tmp``...).  Returns the paths removed."""
    removed = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            match = _TMP_PID.search(name)
            if match:
                if _alive(int(match.group(1))):
                    continue
            elif not _TMP_LOCKED.search(name):
                continue
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with contextlib.suppress(OSError):
                    os.remove(path)
                    removed.append(path)
            elif os.path.isdir(path) and name.endswith(".tmp"):  # Whoosh's writer's pool
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed
