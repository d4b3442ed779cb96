"""jieba's precise mode, reimplemented once for indexing and for queries.

:func:`precise_cut` is jieba's ``__cut_DAG`` algorithm (word graph, maximum
probability route, HMM for unknown runs) in a single backward pass that
looks each fragment up once; it gives jieba's words exactly (the tests
compare it with jieba on real text) at about 1.6× jieba's speed.  Indexing
runs it over jieba's in-memory dictionary.

Loading jieba's dictionary costs about a second, which would dominate every
``searcher search`` from the command line.  Queries are short, so instead the
index keeps a frozen copy of jieba's dictionary (word → frequency, including
the prefix entries the word graph relies on) in an SQLite file, and
:class:`QuerySegmenter` runs :func:`precise_cut` over only the substrings of
the query it looks up there.  Query terms therefore always line up with the
terms the index was built with.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "querydict.sqlite"


def write_dictionary(path: Path, fingerprint: str) -> None:
    """Freeze the (already initialised) jieba dictionary of this process into *path*."""
    import jieba

    tokenizer = jieba.dt
    tokenizer.check_initialized()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.execute("CREATE TABLE freq (word TEXT PRIMARY KEY, f INTEGER) WITHOUT ROWID")
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.executemany("INSERT INTO freq VALUES (?, ?)", sorted(stored_rows(tokenizer.FREQ)))
        from jieba import finalseg

        con.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("total", str(tokenizer.total)),
            ("max_len", str(max(map(len, tokenizer.FREQ), default=1))),
            ("fingerprint", fingerprint),
            ("force_split", "\n".join(sorted(finalseg.Force_Split_Words))),
        ])
        con.commit()
        con.execute("VACUUM")  # full pages: 12 % smaller than as inserted
    finally:
        con.close()
    os.replace(tmp, path)


def stored_rows(freq: Mapping[str, int]) -> list[tuple[str, int]]:
    """The rows of jieba's dictionary the frozen copy keeps: all but the zero-frequency
    entries that are a proper prefix of another entry (149,068 of 498,113, the prefix
    entries jieba adds for its word graph), which :meth:`QuerySegmenter._lookup` derives
    from the entries it finds."""
    prefixes = {word[:i] for word in freq for i in range(1, len(word))}
    return [(word, f) for word, f in freq.items() if f or word not in prefixes]


def cache_dir() -> Path:
    """Where frozen dictionaries are kept between indexes ($SEARCHER_CACHE_DIR or ~/.cache)."""
    configured = os.environ.get("SEARCHER_CACHE_DIR")
    base = Path(configured) if configured else Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "searcher"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / ".probe"
        probe.touch()
        probe.unlink()
        return base
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"searcher-cache-{os.getuid()}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def install_dictionary(target: Path, fingerprint: str, load_jieba: Callable[[], None]) -> None:
    """Put the frozen dictionary for *fingerprint* at *target*.

    Freezing costs jieba's dictionary load plus writing ~350,000 rows (about
    1.5 s), so it is done once per machine and fingerprint and then copied.
    """
    from .lexicon import sqlite_problem

    problem = sqlite_problem(target) if target.exists() else None
    if problem is None and dictionary_fingerprint(target) == fingerprint \
            and _has_max_len(target):
        return
    if problem is not None:
        log.warning("damaged query dictionary %s (%s): copying it again", target, problem)
    digest = hashlib.sha1(fingerprint.encode("utf-8")).hexdigest()[:16]
    cached = cache_dir() / f"querydict-v3-{digest}.sqlite"
    if dictionary_fingerprint(cached) != fingerprint:
        load_jieba()
        write_dictionary(cached, fingerprint)
    tmp = target.with_suffix(".copy")
    shutil.copyfile(cached, tmp)
    os.replace(tmp, target)


def _has_max_len(path: Path) -> bool:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT 1 FROM meta WHERE key='max_len'").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        con.close()


def dictionary_fingerprint(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = con.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


class QuerySegmenter:
    """jieba's precise mode over a frozen dictionary file (see module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        con = self._con()
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        self.total = float(meta["total"])
        self.logtotal = math.log(self.total)
        self.force_split = set(filter(None, meta.get("force_split", "").split("\n")))
        self.max_len = int(meta.get("max_len") or con.execute(
            "SELECT max(length(word)) FROM freq").fetchone()[0] or 1)

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                  check_same_thread=False)
            self._local.con = con
        return con

    def _lookup(self, sentence: str) -> dict[str, int]:
        n = len(sentence)
        subs = {sentence[i:j] for i in range(n) for j in range(i + 1, min(n, i + self.max_len) + 1)}
        found: dict[str, int] = {}
        items = list(subs)
        con = self._con()
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(con.execute(f"SELECT word, f FROM freq WHERE word IN ({marks})", chunk))
        # the prefix entries the file leaves out (see stored_rows): every proper prefix of
        # an entry is an entry, with frequency 0 unless it is a word itself.  A prefix of
        # no entry found here leads the word graph to no word of this sentence, so these
        # are all the entries precise_cut can reach.
        for word in list(found):
            for i in range(1, len(word)):
                found.setdefault(word[:i], 0)
        return found

    def cut(self, sentence: str) -> list[str]:
        """Words of a run of Han characters, exactly as jieba's ``__cut_DAG`` gives them."""
        return precise_cut(sentence, self._lookup(sentence), self.logtotal, self._hmm_cut)

    def _hmm_cut(self, buf: str) -> list[str]:
        from jieba import finalseg  # only for unknown multi-character runs (names)

        finalseg.Force_Split_Words.update(self.force_split)
        return list(finalseg.cut(buf))


def precise_cut(sentence: str, freq: Mapping[str, int], logtotal: float,
                hmm_cut: Callable[[str], list[str]]) -> list[str]:
    """jieba's precise-mode words of *sentence* (a run of Han characters).

    *freq* holds jieba's word frequencies including the zero-frequency prefix
    entries; *logtotal* is ``log`` of jieba's total; *hmm_cut* segments runs
    of single characters that do not form a dictionary word (jieba's
    ``finalseg.cut``).  The route maximises the summed log probability, ties
    going to the longer word, exactly like jieba's ``calc``.
    """
    n = len(sentence)
    get = freq.get
    log = math.log
    score = [0.0] * (n + 1)
    ends = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        best = None
        best_end = k
        i = k
        count = get(sentence[k])
        while count is not None:
            if count:
                value = log(count) - logtotal + score[i + 1]
                if best is None or value >= best:
                    best, best_end = value, i
            i += 1
            if i >= n:
                break
            count = get(sentence[k : i + 1])
        score[k] = best if best is not None else 0.0 - logtotal + score[k + 1]
        ends[k] = best_end + 1
    words: list[str] = []
    buf = ""
    x = 0
    while x < n:
        y = ends[x]
        if y - x == 1:
            buf += sentence[x]
        else:
            if buf:
                _flush(buf, get, hmm_cut, words)
                buf = ""
            words.append(sentence[x:y])
        x = y
    if buf:
        _flush(buf, get, hmm_cut, words)
    return words


def _flush(buf: str, get: Callable[[str], int | None], hmm_cut: Callable[[str], list[str]],
           words: list[str]) -> None:
    """Single characters left between words: one word, separate characters, or HMM's cut."""
    if len(buf) == 1:
        words.append(buf)
    elif get(buf):
        words.extend(buf)
    else:
        words.extend(hmm_cut(buf))


#: Segmenters of the most recently opened generations.  A long-lived process sees a new
#: generation after every full rebuild (nightly, for some): older ones are dropped (with
#: their per-thread SQLite connections) instead of accumulating one per generation ever
#: opened; an engine still on an old generation keeps its own reference.
SEGMENTERS_KEPT = 2
_cache: OrderedDict[str, QuerySegmenter] = OrderedDict()
_cache_lock = threading.Lock()


def open_segmenter(folder: Path, fingerprint: str) -> QuerySegmenter | None:
    """The segmenter for an index generation, or None when its dictionary is missing/stale."""
    path = folder / FILE_NAME
    key = f"{path}:{fingerprint}"
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if not path.exists() or dictionary_fingerprint(path) != fingerprint:
        return None
    from .lexicon import sqlite_problem

    problem = sqlite_problem(path)
    if problem is not None:  # queries are cut by jieba itself until 'index' copies it again
        log.warning("damaged query dictionary %s (%s): using jieba's own", path, problem)
        return None
    seg = QuerySegmenter(path)
    with _cache_lock:
        _cache[key] = seg
        while len(_cache) > SEGMENTERS_KEPT:
            _cache.popitem(last=False)
    return seg
