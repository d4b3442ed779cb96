"""Helpers shared by the benchmarks: corpus, machine info, document texts, child runs.

Both benchmarks must derive their queries from the articles themselves and
run on a corpus they can regenerate, so the code for that lives in one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MAKE_CORPUS = REPO.parent / "shared" / "tools" / "make_corpus.py"
EXTENSIONS = (".md", ".markdown", ".html", ".htm")
HAN = re.compile(r"^[\u3400-\u9fff]+$")


def machine() -> dict[str, str | int]:
    """What the numbers were measured on."""
    return {
        "nproc": os.cpu_count() or 1,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def make_corpus(limit: int = 0, synthetic: int = 0) -> Path:
    """Generate a corpus with shared/tools/make_corpus.py into a fresh temp dir."""
    if not MAKE_CORPUS.is_file():
        sys.exit(f"no corpus given and {MAKE_CORPUS} is missing: pass --corpus DIR")
    out = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    cmd = [sys.executable, str(MAKE_CORPUS), str(out)]
    if limit:
        cmd += ["--limit", str(limit)]
    if synthetic:
        cmd += ["--synthetic", str(synthetic)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    print(f"generated corpus: {done.stdout.strip()}", file=sys.stderr)
    return out


def article_files(corpus: Path) -> list[Path]:
    """Every article file under *corpus*, sorted (same rule as the indexers)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(corpus, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(EXTENSIONS):
                found.append(Path(dirpath) / name)
    return sorted(found)


def dir_bytes(path: Path) -> int:
    """Bytes of all files under *path*."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total


@dataclass
class Doc:
    """What the query generators need of one article (texts as searcher reads them)."""

    id: str  # searcher's document id
    relpath: str
    title: str
    body: str
    categories: list[str]
    date: str | None  # ISO date (YYYY-MM-DD) or None
    sq_title: str = ""
    sq_body: str = ""


def _load(args: tuple[str, str]) -> Doc | None:
    from searcher.analysis.normalize import squeeze
    from searcher.errors import DocumentError
    from searcher.ingest.documents import load_document
    from searcher.ingest.sources import new_label

    path, corpus = args
    try:  # the label a first index run gives a lone source folder: ids equal the index's
        d = load_document(path, corpus, label=new_label(corpus, ()))
    except DocumentError:
        return None
    return Doc(d.id, d.relpath, d.title, d.body, list(d.categories),
               d.date.date().isoformat() if d.date else None,
               squeeze(d.title), squeeze(d.body))


def load_docs(corpus: Path, files: list[Path] | None = None, jobs: int | None = None) -> list[Doc]:
    """Title/body of *files* (default: all) via ingest.documents.load_document, in parallel."""
    import multiprocessing

    files = article_files(corpus) if files is None else files
    work = [(str(f), str(corpus)) for f in files]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(work) < 200:
        docs = [_load(w) for w in work]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            docs = pool.map(_load, work, chunksize=64)
    return [d for d in docs if d is not None]


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def headline_words(title: str) -> list[str]:
    """Whole jieba words of a headline: Han only, 2+ characters, not stop words, unique."""
    from searcher.analysis.tokens import STOP_WORDS

    jieba = _jieba()

    seen: list[str] = []
    for word in jieba.lcut(title):
        if len(word) >= 2 and HAN.match(word) and word not in STOP_WORDS and word not in seen:
            seen.append(word)
    return seen


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each jieba word of *text*."""
    for _word, start, end in _jieba().tokenize(text):
        yield start, end


def boundary_fragment(text: str, rng, low: int, high: int, tries: int = 40) -> str | None:
    """A Han-only substring of *text*, *low*–*high* chars, that cuts through a word.

    Its start or end falls inside a jieba word and it spans at least one word
    boundary: the "城市场 inside 聊城市场" kind of fragment that a pure
    word index misses.
    """
    if len(text) < low:
        return None
    bounds = {0, len(text)}
    for start, end in word_spans(text):
        bounds.add(start)
        bounds.add(end)
    for _ in range(tries):
        size = rng.randint(low, high)
        if size > len(text):
            continue
        i = rng.randrange(0, len(text) - size + 1)
        frag = text[i : i + size]
        if not HAN.match(frag):
            continue
        inner = any(i < b < i + size for b in bounds)
        aligned = i in bounds and (i + size) in bounds
        if inner and not aligned:
            return frag
    return None


def dump(path: str | None, data: dict) -> None:
    """Write *data* as JSON to *path* (when given)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


# -- a child run, its process tree's memory sampled -------------------------------------


def process_tree(pid: int) -> list[int]:
    """*pid* and every process below it (from /proc)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return pids


def mem_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; PSS shares forked copy-on-write pages fairly."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


@dataclass
class ChildRun:
    """What :func:`run_child` saw: the child's ``RESULT`` JSON, its wall time, and the peak
    memory of its process tree (kB: PSS sum, RSS sum, largest RSS of a descendant)."""

    result: dict[str, Any]
    wall: float
    peak_pss_kb: int
    peak_rss_kb: int
    peak_descendant_rss_kb: int


def run_child(cmd: Sequence[str], what: str, *, env: dict[str, str] | None = None,
              interval: float = 0.25) -> ChildRun:
    """Run *cmd*, sampling its process tree's memory every *interval* seconds, and read the
    last ``RESULT <json>`` line it prints; exits naming *what* when it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    peak = [0, 0, 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pss = rss = 0
            for pid in process_tree(proc.pid):
                p, r = mem_kb(pid)
                pss += p
                rss += r
                if pid != proc.pid:
                    peak[2] = max(peak[2], r)
            peak[0], peak[1] = max(peak[0], pss), max(peak[1], rss)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return ChildRun(json.loads(lines[-1][7:]), wall, *peak)
