"""Query-time vocabularies: synonym groups and pinyin → indexed Chinese words.

Pinyin works on the index's own vocabulary: every Chinese word of two or
more characters that indexing sees in a title or body is written to a table
under each of its toneless spellings (``聊城`` → ``liaocheng``; polyphonic
characters give several).  A Latin query matches the words it spells
*exactly*: partial syllables, initials or near-spellings never match, and
Chinese queries never go through pinyin (so ``景点`` can not match ``经典``).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import unicodedata
import zlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError, IndexCorruptError
from .normalize import fold

log = logging.getLogger(__name__)

PINYIN_FILE = "pinyin.sqlite"
MAX_READINGS = 16
_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")


def load_synonyms(path: str | Path | None) -> dict[str, list[str]]:
    """Folded word → every word of its group (itself included), from a comma-separated file."""
    if not path:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read synonyms file {path}: {exc.strerror}") from None
    groups: dict[str, list[str]] = {}
    for line in lines:
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        words = [w.strip() for w in line.replace("，", ",").split(",") if w.strip()]
        if len(words) < 2:
            continue
        for word in words:
            key = fold(word)
            merged = groups.get(key, [])
            groups[key] = merged + [w for w in words if w not in merged]
    return groups


@lru_cache(maxsize=1)
def char_readings() -> dict[str, tuple[str, ...]]:
    """Character → its toneless readings (``长`` → ``zhang``, ``chang``); ü also as v."""
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, tuple[str, ...]] = {}
    for code, readings in pinyin_dict.items():
        plain: list[str] = []
        for reading in readings.split(","):
            toneless = toneless_syllable(reading)
            if toneless and toneless not in plain:
                plain.append(toneless)
            if "u\u0308" in unicodedata.normalize("NFKD", reading):  # ü: typed as v too
                v_form = toneless.replace("u", "v")
                if v_form not in plain:
                    plain.append(v_form)
        table[chr(code)] = tuple(plain)
    return table


def toneless_syllable(reading: str) -> str:
    decomposed = unicodedata.normalize("NFKD", reading)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def word_pinyins(word: str) -> set[str]:
    """Every toneless spelling of *word* (polyphonic characters give several)."""
    table = char_readings()
    spellings = [""]
    for ch in word:
        readings = table.get(ch)
        if not readings:
            return set()
        spellings = [s + r for s in spellings for r in readings][:MAX_READINGS]
    return set(spellings)


def pinyin_rows(words: Iterable[str]) -> set[tuple[str, str]]:
    """(spelling, word) for each Chinese word of two or more characters among *words*."""
    rows: set[tuple[str, str]] = set()
    for word in words:
        if _HAN_WORD.match(word):
            rows.update((py, word) for py in word_pinyins(word))
    return rows


def add_pinyin_rows(path: Path, rows: Iterable[tuple[str, str]]) -> None:
    """Add *rows* to the table at *path* (created if missing), in one transaction.

    Indexing workers compute the rows of the words in their segments and the
    indexing process adds them here before committing the segment, so a run
    only pays for the words it saw.  Words of deleted documents stay: a
    spelling then finds a word with no postings, which matches nothing.
    """
    con = sqlite3.connect(path, timeout=30)
    try:
        with con:
            con.execute("CREATE TABLE IF NOT EXISTS pinyin (py TEXT, word TEXT, "
                        "PRIMARY KEY (py, word)) WITHOUT ROWID")
            con.execute("CREATE TABLE IF NOT EXISTS checksum (name TEXT PRIMARY KEY, "
                        "value INTEGER)")
            found = con.execute("SELECT value FROM checksum WHERE name = 'rows'").fetchone()
            # The sum of the rows' hashes, kept in the same transaction as the rows (a
            # killed run changes neither): check --deep recomputes it (SQLite's own
            # quick_check sees the pages' structure, not a changed byte of a word).
            total = found[0] if found else (0 if _empty(con) else None)
            for row in sorted(rows):
                added = con.execute("INSERT OR IGNORE INTO pinyin VALUES (?, ?)", row).rowcount
                if added and total is not None:
                    total = (total + _row_hash(row)) % _HASH_MODULUS
            if total is not None:
                con.execute("INSERT OR REPLACE INTO checksum VALUES ('rows', ?)", (total,))
    finally:
        con.close()


_HASH_MODULUS = 2**62


def _row_hash(row: tuple[str, str]) -> int:
    """A 32-bit hash of one (spelling, word) row: order-free sums of these checksum a table."""
    return zlib.crc32(f"{row[0]}\0{row[1]}".encode("utf-8", "surrogatepass"))


def _empty(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM pinyin LIMIT 1").fetchone() is None


def pinyin_content_problem(path: Path) -> str | None:
    """Whether the rows of the table at *path* still sum to the checksum written with them
    (``check --deep``); None for an intact table, or one from before the checksum."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'checksum'").fetchone() \
                    is None:
                return None
            found = con.execute("SELECT value FROM checksum WHERE name = 'rows'").fetchone()
            if found is None:
                return None
            total = 0
            for row in con.execute("SELECT py, word FROM pinyin"):
                total = (total + _row_hash(row)) % _HASH_MODULUS
        finally:
            con.close()
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        return f"unreadable ({exc})"
    return None if total == found[0] else "its rows do not match the checksum written with them"


def write_pinyin_table(reader: Any, path: Path, fields: tuple[str, ...] = ("title", "body")) -> int:
    """Write the table afresh from every title and body word in the index.

    Only needed when the table is missing (an index written before it
    existed); normal runs use :func:`add_pinyin_rows`.
    """
    rows: set[tuple[str, str]] = set()
    for field in fields:
        words = (t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.lexicon(field))
        rows |= pinyin_rows(words)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    add_pinyin_rows(tmp, rows)
    os.replace(tmp, path)
    return len(rows)


_SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_problem(path: Path, *, deep: bool = False) -> str | None:
    """What is wrong with the SQLite file at *path*, or None (also when it is absent).

    Cheap: the header's magic, and the file's size against the page count the header
    records (a truncated file is caught without reading it).  *deep*: SQLite's own
    ``PRAGMA quick_check`` over every page too.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return f"not an SQLite database ({size} bytes)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # the header's page count is current
    if valid and pages and size < pages * page_size:
        return f"{size} bytes where its header records {pages * page_size}"
    if deep:
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = con.execute("PRAGMA quick_check").fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            return f"unreadable ({exc})"
        if rows != [("ok",)]:
            return "SQLite quick_check: " + "; ".join(str(r[0]) for r in rows[:3])
    return None


def usable_pinyin_table(path: Path) -> bool:
    """Whether the table at *path* exists and is intact; a damaged one is deleted, with a
    warning, so that the indexing run writes it again (``write_pinyin_table``)."""
    problem = sqlite_problem(path)
    if problem is None and path.exists():
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                con.execute("SELECT count(*) FROM pinyin").fetchone()
            finally:
                con.close()
        except sqlite3.Error as exc:
            problem = f"unreadable ({exc})"
    if problem is None:
        return path.exists()
    log.warning("damaged pinyin table %s (%s): writing it again", path, problem)
    path.unlink(missing_ok=True)
    return False


class PinyinTable:
    """Looks up the indexed words a toneless pinyin string spells exactly.

    A missing or damaged table (a lost or damaged file: every index run writes it) makes
    a query that needs it fail with :class:`~searcher.errors.IndexCorruptError` naming
    it, rather than with SQLite's error or a silently empty answer; the next ``searcher
    index`` run writes it again.  Queries that are not pinyin never open it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._broken: tuple[str, str] | None = None  # (file signature, problem)

    def __call__(self, text: str) -> list[str]:
        if not text.isascii() or not text.isalpha() or len(text) < 4:
            return []
        return self._query("SELECT word FROM pinyin WHERE py = ?", [text])

    def spelled(self, spellings: list[str]) -> list[str]:
        """The indexed words any of *spellings* spells (``searcher.spelling``'s homophones).

        A hint, never an error: with the table missing or damaged it knows no words (a
        pinyin query is what reports the damage)."""
        spellings = [s for s in spellings if s.isascii() and s.isalpha()]
        if not spellings or not self.path.exists():
            return []
        marks = ",".join("?" * len(spellings))
        try:
            return self._query(f"SELECT DISTINCT word FROM pinyin WHERE py IN ({marks})",
                               spellings)
        except IndexCorruptError:
            return []

    def _query(self, sql: str, values: list[str]) -> list[str]:
        """The words *sql* selects, on this thread's connection; a damaged table raises."""
        if self._broken is not None:
            if self._broken[0] == self._signature():
                return self._off(self._broken[1])
            self._broken = None  # written again since: try it
            self._local = threading.local()
        con = getattr(self._local, "con", None)
        if con is None:
            problem = sqlite_problem(self.path) if self.path.exists() else "missing"
            if problem is not None:
                return self._off(problem)
            try:
                con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                return self._off(str(exc))
            self._local.con = con
        try:
            return [w for (w,) in con.execute(sql, values)]
        except sqlite3.DatabaseError as exc:
            return self._off(str(exc))

    def _signature(self) -> str:
        try:
            st = os.stat(self.path)
        except OSError:
            return "missing"
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def _off(self, problem: str) -> list[str]:
        """Refuse a pinyin lookup on a damaged table: an error naming it, not a wrong answer."""
        if self._broken is None:
            self._broken = (self._signature(), problem)
        raise IndexCorruptError(str(self.path), problem, derived=True)
