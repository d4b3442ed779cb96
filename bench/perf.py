"""Performance benchmark: searcher vs the jieba+Whoosh recipe, side by side, in one run.

Why: the README's speed claims must come from one command anyone can re-run
on the same corpus.  Each build runs in a fresh temp index dir inside its own
subprocess, so build time, peak memory (the whole process tree) and import
costs are measured the way a user would pay them.  Query latency is measured
in-process after a warm-up pass; cold CLI time is a fresh ``python -m searcher``.

    python bench/perf.py --corpus /tmp/corpus_full --out bench/out/perf.json
    python bench/perf.py --limit 2000
    python bench/perf.py --synthetic 100000 --skip-recipe

With ``--tantivy``, the same run also builds an index with Tantivy + jieba (Rust,
bench/tantivy: compiled first with ``cargo build --release``, not timed) and puts it in the
build table beside searcher and the recipe:

    python bench/perf.py --corpus /tmp/corpus20k --tantivy --memory-queries 0

Memory of a long-lived process (one SearchEngine answering 10,000 varied queries;
RSS at checkpoints), on an index built beforehand, optionally against a second
source tree (the code before a change) on the same index in the same run:

    python bench/perf.py --memory-only --corpus /tmp/corpus200k --index-dir /tmp/ix200k \
        --baseline-src /tmp/before
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402

HERE = Path(__file__).resolve()
TANTIVY = HERE.parent / "tantivy"  # the Rust program's Cargo project
SEED = 20240601
CLI_RUNS = 5


# -- child processes: one build / re-run each, reporting their own rusage ---------------
def _child(argv: list[str]) -> None:
    """Run one build in this (fresh) process and print a JSON line with its cost."""
    import resource

    kind, corpus, index_dir, jobs = argv[0], argv[1], argv[2], int(argv[3])
    started = time.perf_counter()
    out: dict[str, Any] = {}
    if kind in ("searcher", "searcher-incremental"):
        from searcher import SearchEngine

        engine = SearchEngine(index_dir)
        report = engine.index([corpus], full=kind == "searcher", jobs=jobs or None)
        out.update(documents=report.documents, failed=len(report.failed),
                   added=report.added, unchanged=report.unchanged, updated=report.updated)
    else:
        import recipe

        rep = recipe.build(corpus, index_dir)
        out.update(documents=rep.added, failed=rep.failed)
    out["seconds"] = time.perf_counter() - started
    out["maxrss_self_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["maxrss_children_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("RESULT " + json.dumps(out))


@dataclass
class BuildRun:
    seconds: float = 0.0  # inside the child, from first import to done
    wall: float = 0.0  # including interpreter start-up
    documents: int = 0
    failed: int = 0
    index_bytes: int = 0
    peak_tree_pss_mb: float = 0.0
    peak_tree_rss_mb: float = 0.0
    maxrss_self_mb: float = 0.0
    maxrss_child_mb: float = 0.0
    #: Peak RSS of the largest process other than the indexing one, sampled: build
    #: workers start from a fork server, so the getrusage of children does not see them.
    peak_worker_rss_mb: float = 0.0
    #: User + system CPU of the build's processes (those its child waited for), so a
    #: build timed beside other busy processes can still be compared.
    cpu_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def tantivy_binary() -> tuple[Path, float]:
    """Compile bench/tantivy (``cargo build --release``; a no-op when up to date) and return
    its executable and the compile's wall seconds, which no build figure includes."""
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    if not Path(cargo).is_file():
        sys.exit("--tantivy needs Rust's cargo (https://rustup.rs) on PATH or in ~/.cargo/bin")
    started = time.perf_counter()
    done = subprocess.run([cargo, "build", "--release", "--quiet"], cwd=TANTIVY,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cargo build --release in {TANTIVY} failed:\n{done.stderr[-3000:]}")
    return TANTIVY / "target" / "release" / "tantivy-bench", time.perf_counter() - started


def run_build(kind: str, corpus: Path, index_dir: Path, jobs: int,
              tantivy: Path | None = None) -> BuildRun:
    """Run one build in a subprocess while sampling the memory of its process tree (the
    Tantivy build runs the compiled *tantivy* program instead of a Python child)."""
    import resource

    if kind == "tantivy":
        assert tantivy is not None
        cmd = [str(tantivy), "index", str(corpus), str(index_dir)]
    else:
        cmd = [sys.executable, str(HERE), "_child", kind, str(corpus), str(index_dir), str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = benchlib.run_child(cmd, f"{kind} build")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = run.result
    return BuildRun(
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        seconds=data.pop("seconds"), wall=run.wall, documents=data.pop("documents"),
        failed=data.pop("failed"), index_bytes=benchlib.dir_bytes(index_dir),
        peak_tree_pss_mb=run.peak_pss_kb / 1024, peak_tree_rss_mb=run.peak_rss_kb / 1024,
        maxrss_self_mb=data.pop("maxrss_self_kb") / 1024,
        maxrss_child_mb=data.pop("maxrss_children_kb") / 1024,
        peak_worker_rss_mb=run.peak_descendant_rss_kb / 1024, extra=data,
    )


# -- memory of a long-lived process ------------------------------------------------------
MEMORY_QUERIES = 10_000
MEMORY_CHECKPOINTS = (1_000, 2_500, 5_000, 7_500, 10_000)


def _proc_status() -> dict[str, float]:
    """VmRSS / RssAnon / RssFile / VmHWM of this process, in MB."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _malloc_info() -> dict[str, float]:
    """glibc's heap figures (all arenas), MB: in use by live blocks, and freed but kept by
    the allocator (what malloc_trim could hand back, or not, if fragmented); {} elsewhere."""
    import ctypes
    import ctypes.util

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = MallInfo2
    info = fn()
    return {"malloc_used": (info.uordblks + info.hblkhd) / 2**20,
            "malloc_free_kept": info.fordblks / 2**20}


def _caches_of(engine: Any) -> Any:
    """The engine's search caches; None for a version without them (or an index on a
    cluster).  The memory child also runs older source trees (``--baseline-src``)."""
    try:
        from searcher.local.inspection import internals
    except ImportError:  # a version from before the inspection hook
        return getattr(engine, "_caches", None)
    try:
        return internals(engine).caches
    except AttributeError:
        return None


def _memory_child(argv: list[str]) -> None:
    """Run the query file *argv[1]* against index *argv[0]* with one engine (default settings,
    or *argv[3]* as cache_bytes), printing a JSON line of memory figures at each checkpoint,
    and the anonymous memory at three points before the run (for the breakdown)."""
    import resource

    at_start = _proc_status()
    import searcher
    from searcher import SearchEngine
    from searcher.errors import QueryError

    index_dir, queries_path = argv[0], argv[1]
    checkpoints = {int(x) for x in argv[2].split(",")}
    queries = json.loads(Path(queries_path).read_text(encoding="utf-8"))
    engine = SearchEngine(index_dir, cache_bytes=int(argv[3]) if len(argv) > 3 else None)
    opened = _proc_status()
    with contextlib.suppress(QueryError):  # lazy imports, query dictionary, pinyin, OpenCC
        engine.search(queries[0]["text"], limit=10)
    caches = _caches_of(engine)
    if caches is not None:  # what the first query cached counts as caches later
        caches.clear()
    first = {**_proc_status(), **_malloc_info()}
    print("INFO " + json.dumps({"searcher": searcher.__file__, "start": at_start,
                                "opened": opened, "first_query": first,
                                "cache_bytes": getattr(engine.settings, "cache_bytes", None)}),
          flush=True)
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    errors = 0
    for n, q in enumerate(queries, start=1):
        try:
            engine.search(q["text"], limit=10, category=q.get("category"), since=q.get("since"),
                          sort=q.get("sort", "relevance"))
        except QueryError:
            errors += 1
        if n in checkpoints:
            cache = {name: {"bytes": st.bytes, "capacity": st.capacity, "entries": st.entries,
                            "evictions": st.evictions}
                     for name, st in caches.stats().items()} if caches is not None else None
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            print("RESULT " + json.dumps({"queries": n, "seconds": time.perf_counter() - started,
                                          "cpu_seconds": cpu.ru_utime + cpu.ru_stime - cpu0,
                                          "errors": errors, **_proc_status(),
                                          **_malloc_info(), "caches": cache}),
                  flush=True)
    engine.close()


def memory_mix(corpus: Path, n: int = MEMORY_QUERIES, seed: int = SEED) -> list[dict[str, str]]:
    """*n* varied queries from the corpus: words, pairs, phrases, OR, NOT, filtered, pinyin.

    Drawn from 1,500 articles' headlines and bodies, so a long run keeps meeting terms it
    has not seen (what grows an unbounded cache) as well as ones it has.
    """
    from searcher.analysis.lexicon import word_pinyins

    rng = random.Random(seed)
    files = benchlib.article_files(corpus)
    docs = benchlib.load_docs(corpus, rng.sample(files, min(len(files), 1500)))
    words = sorted({w for d in docs for w in benchlib.headline_words(d.title)})
    cats = sorted({c for d in docs for c in d.categories})
    dates = sorted(d.date for d in docs if d.date)
    spelled = [sorted(py)[0] for w in words[:3000] if len(w) <= 3 and (py := word_pinyins(w))]
    out: list[dict[str, str]] = []
    while len(out) < n:
        kind = rng.randrange(10)
        a, b = rng.choice(words), rng.choice(words)
        if kind <= 2:
            out.append({"kind": "word", "text": a})
        elif kind == 3:
            out.append({"kind": "two words", "text": f"{a} {b}"})
        elif kind == 4:
            frag = benchlib.boundary_fragment(rng.choice(docs).sq_body, rng, 2, 6)
            out.append({"kind": "phrase", "text": f'"{frag}"' if frag else a})
        elif kind == 5:
            out.append({"kind": "or", "text": f"{a} OR {b}"})
        elif kind == 6:
            out.append({"kind": "not", "text": f"{a} -{b}"})
        elif kind == 7:
            out.append({"kind": "filtered", "text": a, "category": rng.choice(cats)})
        elif kind == 8:
            out.append({"kind": "filtered", "text": a, "since": rng.choice(dates),
                        "sort": "date"})
        else:
            out.append({"kind": "pinyin", "text": rng.choice(spelled) if spelled else a})
    return out


def measure_memory(index_dir: Path, queries_file: Path, src: Path | None = None,
                   checkpoints: tuple[int, ...] = MEMORY_CHECKPOINTS,
                   cache_bytes: int | None = None) -> dict[str, Any]:
    """Run the query file in a fresh process (searcher from *src* if given); its figures."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, str(HERE), "_memory", str(index_dir), str(queries_file),
           ",".join(str(c) for c in checkpoints)] + ([str(cache_bytes)] if cache_bytes else [])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"memory run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    info = [json.loads(x[5:]) for x in done.stdout.splitlines() if x.startswith("INFO ")][0]
    rows = [json.loads(x[7:]) for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    return {"info": info, "checkpoints": rows}


def memory_table(runs: dict[str, dict[str, Any]]) -> str:
    """RSS (anonymous + file-backed) at each checkpoint, one column per run."""
    names = list(runs)
    rows = [("queries", *(f"{n}: RSS (anon + file) MB" for n in names))]
    by_n = {name: {r["queries"]: r for r in run["checkpoints"]} for name, run in runs.items()}
    for count in sorted({c for rs in by_n.values() for c in rs}):
        cells = []
        for name in names:
            r = by_n[name].get(count)
            cells.append(f"{r['VmRSS']:.0f} ({r['RssAnon']:.0f} + {r['RssFile']:.0f})"
                         if r else "n/a")
        rows.append((f"{count:,}", *cells))
    rows.append(("peak (VmHWM)", *(f"{max(r['VmHWM'] for r in run['checkpoints']):.0f}"
                                   for run in runs.values())))
    rows.append(("seconds for all (CPU)", *(
        f"{run['checkpoints'][-1]['seconds']:.0f} ({run['checkpoints'][-1]['cpu_seconds']:.0f})"
        for run in runs.values())))
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                                for i, (c, w) in enumerate(zip(r, width, strict=True)))
                      for r in rows)


def run_memory(corpus: Path, index_dir: Path, n: int, baseline: Path | None,
               work: Path, cache_bytes: int | None = None) -> dict[str, Any]:
    """The memory benchmark on an existing index: this code (default settings, or
    *cache_bytes*), then *baseline* if given (its own defaults)."""
    queries = memory_mix(corpus, n)
    queries_file = work / "memory-queries.json"
    queries_file.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    checkpoints = tuple(c for c in MEMORY_CHECKPOINTS if c < n) + (n,)
    runs: dict[str, dict[str, Any]] = {}
    print(f"memory: {n} queries, this code ...", file=sys.stderr, flush=True)
    name = f"this code, cache_bytes {cache_bytes / 2**20:g} MiB" if cache_bytes else "this code"
    runs[name] = measure_memory(index_dir, queries_file, None, checkpoints, cache_bytes)
    if baseline is not None:
        print(f"memory: {n} queries, baseline {baseline} ...", file=sys.stderr, flush=True)
        runs["baseline"] = measure_memory(index_dir, queries_file, baseline, checkpoints)
    print(f"\nwarm memory of one process answering {n:,} varied queries "
          f"({benchlib.dir_bytes(index_dir) / 1e6:.0f} MB index; anon = heap, "
          "file = mapped index files, page cache):")
    print(memory_table(runs))
    for name, run in runs.items():
        last = run["checkpoints"][-1]
        if last.get("caches"):
            held = ", ".join(f"{k} {v['bytes'] / 2**20:.0f}/{v['capacity'] / 2**20:.0f} MiB"
                             f" ({v['evictions']} evicted)" for k, v in last["caches"].items())
            print(f"  {name}: caches at the end: {held}")
        breakdown = memory_breakdown(run)
        if breakdown:
            print(f"  {name}: anonymous memory at the end, MB: " + ", ".join(
                f"{k} {v:.0f}" for k, v in breakdown.items()))
    return {"queries": n, "runs": runs}


def memory_breakdown(run: dict[str, Any]) -> dict[str, float]:
    """Where the anonymous memory of a run's last checkpoint goes, in MB."""
    info, last = run["info"], run["checkpoints"][-1]
    if "first_query" not in info or "malloc_free_kept" not in last or not last.get("caches"):
        return {}
    start = info["start"]["RssAnon"]
    opened = info["opened"]["RssAnon"] - start
    first = info["first_query"]["RssAnon"] - start - opened
    caches = sum(v["bytes"] for v in last["caches"].values()) / 2**20
    kept = last["malloc_free_kept"]
    out = {"interpreter + bench": start, "searcher imports + engine": opened,
           "first query (lazy imports, dictionaries)": first, "caches (accounted)": caches,
           "freed, kept by malloc": kept}
    out["other (untracked, unaccounted)"] = last["RssAnon"] - sum(out.values())
    out["total anon"] = last["RssAnon"]
    return out


# -- the query mix ----------------------------------------------------------------------
@dataclass
class Query:
    kind: str
    text: str
    category: str | None = None
    since: str | None = None


def query_mix(corpus: Path, n: int = 200, seed: int = SEED) -> list[Query]:
    """~200 queries from the corpus itself: words, word pairs, quoted fragments, filtered,
    and the kinds whose cost grows with the corpus: two-character quoted fragments (most
    match thousands of articles), the commonest headline words, Latin words and numbers,
    and (*n* / 10 more) pasted text.

    Every kind is drawn from the articles' own text, so a larger corpus of the same kind
    of articles gets the same kinds of queries, matching proportionally more articles.
    """
    rng = random.Random(seed)
    files = benchlib.article_files(corpus)
    sample = rng.sample(files, min(len(files), 600))
    docs = benchlib.load_docs(corpus, sample)
    rng.shuffle(docs)
    words = [w for d in docs for w in benchlib.headline_words(d.title)[:3]]
    cats = sorted({c for d in docs for c in d.categories[1:]}) or sorted(
        {c for d in docs for c in d.categories})
    dates = sorted(d.date for d in docs if d.date)
    n_word, n_pair, n_phrase = n * 25 // 100, n * 15 // 100, n * 15 // 100
    n_short, n_common, n_latin = n * 10 // 100, n * 10 // 100, n * 10 // 100
    n_filter = n - n_word - n_pair - n_phrase - n_short - n_common - n_latin
    out = [Query("word", w) for w in rng.sample(words, min(n_word, len(words)))]
    out += [Query("two words", " ".join(rng.sample(words, 2))) for _ in range(n_pair)]

    def quoted(kind: str, count: int, low: int, high: int) -> list[Query]:
        """*count* quoted fragments of *low*–*high* characters, one per article, each at a
        random position of its text (so common bigrams come up most)."""
        found: list[Query] = []
        for d in docs:
            if len(found) >= count:
                break
            frag = benchlib.boundary_fragment(d.sq_body, rng, low, high)
            if frag:
                found.append(Query(kind, f'"{frag}"'))
        return found

    out += quoted("phrase", n_phrase, 3, 4)
    out += quoted("short phrase", n_short, 2, 2)
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    common = sorted(counts, key=lambda w: (-counts[w], w))[: max(n_common, 1) * 3]
    out += [Query("common word", rng.choice(common)) for _ in range(n_common if common else 0)]
    latin = sorted({m.group() for d in docs for m in _LATIN.finditer(d.body)})
    out += [Query("latin / digits", rng.choice(latin)) for _ in range(n_latin if latin else 0)]
    for i in range(n_filter):
        word = rng.choice(words)
        if i % 2 == 0 and cats:
            out.append(Query("filtered", word, category=rng.choice(cats)))
        else:
            out.append(Query("filtered", word, since=dates[len(dates) // 2] if dates else None))
    # Kinds added since draw from a generator of their own, after the rest: the kinds above
    # are the same queries for a seed as before.  Pasted text (8–16 characters of an
    # article, unquoted, cut anywhere): several words and the strings between them, each
    # looked up in every segment, so its cost grows with the corpus more than a word's.
    more = random.Random(seed * 31 + 7)
    pasted: list[Query] = []
    for d in reversed(docs):
        if len(pasted) >= n * 10 // 100:
            break
        frag = benchlib.boundary_fragment(d.sq_body, more, 8, 16)
        if frag:
            pasted.append(Query("pasted text", frag))
    return out + pasted


#: Latin words and numbers of two or more characters (``GDP``, ``5G``, ``2021``).
_LATIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{2,12}(?![A-Za-z0-9])")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000,
            "mean": statistics.fmean(values) * 1000}


def time_searcher(index_dir: Path, queries: list[Query],
                  warm_up: list[Query] | None = None) -> dict[str, Any]:
    """Warm in-process latency of SearchEngine.search (top 10, with snippets)."""
    from searcher import SearchEngine
    from searcher.errors import QueryError, TimeLimitExceeded

    engine = SearchEngine(index_dir)
    failed = (QueryError, TimeLimitExceeded)
    try:
        return _timed(lambda q: _run_query(engine, q, failed), queries, warm_up)
    finally:
        engine.close()


FACETS = ["author", "category", "tag", "year", "month"]


def time_facets(index_dir: Path, queries: list[Query]) -> dict[str, Any]:
    """Warm latency of the query mix without and with all five facets, interleaved query by
    query (alternating which goes first) so both see the same machine."""
    from searcher import SearchEngine
    from searcher.errors import QueryError

    engine = SearchEngine(index_dir)

    def run(q: Query, facets: list[str] | None) -> None:
        with contextlib.suppress(QueryError):
            engine.search(q.text, limit=10, category=q.category, since=q.since, facets=facets)

    try:
        for q in queries:
            run(q, None)
            run(q, FACETS)
        times: dict[str, list[float]] = {"plain": [], "facets": []}
        for i, q in enumerate(queries):
            order = [("plain", None), ("facets", FACETS)]
            for name, facets in (order if i % 2 == 0 else order[::-1]):
                t = time.perf_counter()
                run(q, facets)
                times[name].append(time.perf_counter() - t)
        out = {name: percentiles(values) for name, values in times.items()}
        out["p50_ratio"] = out["facets"]["p50"] / out["plain"]["p50"]
        return out
    finally:
        engine.close()


def suggest_prefixes(queries: list[Query], n: int = 300, seed: int = SEED) -> list[str]:
    """What people type: 1-3 leading characters of headline words, pinyin prefixes, initials."""
    from pypinyin import lazy_pinyin

    rng = random.Random(seed)
    words = sorted({q.text for q in queries if q.kind == "word" and len(q.text) >= 2})
    out: list[str] = []
    while len(out) < n and words:
        word = rng.choice(words)
        spelled = lazy_pinyin(word)
        joined = "".join(spelled)
        kind = len(out) % 4
        if kind == 0:
            out.append(word[: rng.randint(1, min(3, len(word)))])
        elif kind == 1 and joined.isascii() and joined.isalpha():
            out.append(joined[: rng.randint(2, len(joined))])
        elif kind == 2 and joined.isascii() and joined.isalpha():
            out.append("".join(p[0] for p in spelled))
        else:
            out.append(word)
    return out


def time_suggest(index_dir: Path, prefixes: list[str]) -> dict[str, Any]:
    """First call (merges the segments' suggestion data), then warm latency of suggest()."""
    from searcher import SearchEngine

    engine = SearchEngine(index_dir)
    try:
        t = time.perf_counter()
        engine.suggest("中", limit=10)
        first = time.perf_counter() - t
        for prefix in prefixes:
            engine.suggest(prefix, limit=10)
        times = []
        for prefix in prefixes:
            t = time.perf_counter()
            engine.suggest(prefix, limit=10)
            times.append(time.perf_counter() - t)
        return {"first_call_s": first, "warm": percentiles(times), "prefixes": len(prefixes)}
    finally:
        engine.close()


def time_suggest_scaled(index_dir: Path, prefixes: list[str], scale: int) -> dict[str, Any]:
    """suggest's lookup on a table *scale* times the index's vocabulary and titles.

    Stands in for a *scale* times larger index when there is no time to build one: every
    word, phrase and title also appears with *scale* - 1 one-character suffixes (their
    counts a fraction of the original's), so key ranges grow *scale*-fold.
    """
    from searcher import SearchEngine
    from searcher.local import suggest as module
    from searcher.local.inspection import internals

    engine = SearchEngine(index_dir)
    try:
        merged: list[dict[str, int]] = [{}, {}, {}]
        for leaf, _ in internals(engine).searcher().leaf_searchers():
            words, counts, titles, phrases, phrase_counts = module._segment_part(leaf.reader())
            for target, texts, numbers in ((merged[0], words, counts.tolist()),
                                           (merged[1], phrases, phrase_counts.tolist()),
                                           (merged[2], titles, [1] * len(titles))):
                for text, count in zip(texts, numbers, strict=True):
                    target[text] = target.get(text, 0) + count
    finally:
        engine.close()
    rng = random.Random(SEED)
    suffixes = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"[: max(scale - 1, 0)]
    grown = []
    for part in merged:
        out = dict(part)
        for text, count in part.items():
            for ch in suffixes:
                out[text + ch] = max(1, count // rng.randint(2, 10))
        grown.append(out)
    t = time.perf_counter()
    table = module.table_from_counts(*grown)
    build = time.perf_counter() - t
    keys = [module.prefix_key(p) for p in prefixes]
    for key in keys:
        table.lookup(key, 10)
    times = []
    for key in keys:
        t = time.perf_counter()
        table.lookup(key, 10)
        times.append(time.perf_counter() - t)
    return {"scale": scale, "entries": len(table.texts), "keys": len(table.keys),
            "build_s": build, "lookup": percentiles(times)}


def features_report(index_dir: Path, queries: list[Query], scale: int = 0) -> dict[str, Any]:
    """Facets (with vs without, same run) and suggestions on an index; prints a table."""
    print("timing facets and suggestions ...", file=sys.stderr, flush=True)
    facets = time_facets(index_dir, queries)
    suggest = time_suggest(index_dir, suggest_prefixes(queries))
    rows = [("", "p50", "p95"),
            ("warm query, no facets (ms)", f"{facets['plain']['p50']:.1f}",
             f"{facets['plain']['p95']:.1f}"),
            ("warm query, 5 facets (ms)", f"{facets['facets']['p50']:.1f}",
             f"{facets['facets']['p95']:.1f}"),
            ("facets p50 cost", f"{(facets['p50_ratio'] - 1) * 100:+.1f} %", ""),
            (f"warm suggest ({suggest['prefixes']} prefixes, ms)",
             f"{suggest['warm']['p50']:.2f}", f"{suggest['warm']['p95']:.2f}"),
            ("suggest p99 / first call", f"{suggest['warm']['p99']:.2f} ms",
             f"{suggest['first_call_s']:.2f} s")]
    out = {"facets": facets, "suggest": suggest}
    if scale > 1:
        scaled = time_suggest_scaled(index_dir, suggest_prefixes(queries), scale)
        rows.append((f"suggest lookup, {scale}x vocabulary ({scaled['keys']:,} keys, ms)",
                     f"{scaled['lookup']['p50']:.2f}", f"{scaled['lookup']['p95']:.2f}"))
        rows.append(("  p99 / merging that table", f"{scaled['lookup']['p99']:.2f} ms",
                     f"{scaled['build_s']:.1f} s"))
        out["suggest_scaled"] = scaled
    print(table(rows))
    return out


def time_recipe(index_dir: Path, queries: list[Query],
                warm_up: list[Query] | None = None) -> dict[str, Any]:
    """Warm in-process latency of the recipe's MultifieldParser search (top 10 ids)."""
    import datetime as dt

    import recipe

    engine = recipe.RecipeSearcher(index_dir)

    def run(q: Query) -> int:
        since = dt.datetime.fromisoformat(q.since) if q.since else None
        try:
            return len(engine.search(q.text, 10, since=since))  # no category field in recipe
        except Exception:  # noqa: BLE001 - count parser failures, keep timing
            return -1

    try:
        return _timed(run, queries, warm_up)
    finally:
        engine.close()


def in_fresh_interpreter(function: Callable[..., Any], *args: Any) -> Any:
    """*function(*args)* in a new interpreter that has not imported searcher, as in a
    recipe user's process: importing searcher makes Whoosh load index pickles through
    its allow-list, which refuses the jieba tokenizer class the recipe's schema names."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _timed(run: Callable[[Query], int], queries: list[Query],
           warm_up: list[Query] | None = None) -> dict[str, Any]:
    """One warm-up pass (dictionaries, segment texts, lazy imports), then a timed pass.

    With *warm_up* (another mix of the same kinds) the warm-up runs that, so the timed
    queries are new to the process, as a user's are: a query timed a second time is
    answered from the caches of its postings and substrings, which hid what a new
    common word or short phrase costs."""
    for q in queries if warm_up is None else warm_up:
        run(q)
    times: dict[str, list[float]] = {}
    errors = 0
    for q in queries:
        t = time.perf_counter()
        errors += run(q) < 0
        times.setdefault(q.kind, []).append(time.perf_counter() - t)
    return _latency(times, errors)


def _latency(times: dict[str, list[float]], errors: int) -> dict[str, Any]:
    every = [t for ts in times.values() for t in ts]
    return {"all": percentiles(every), "by_kind": {k: percentiles(v) for k, v in times.items()},
            "queries": len(every), "errors": errors}


#: Timed passes over the query mix in ``--latency`` (every query of every pass a sample).
LATENCY_PASSES = 3


#: The growth targets: at 5x the articles, p50 at most 1.5x and p99 at most 2x their
#: values at the smaller size, for every query kind.
GROWTH_TARGETS = (1.5, 2.0)


def ratio_rows(out: dict[str, Any], codes: list[str], kinds: list[str]
               ) -> list[tuple[str, ...]]:
    """Rows of p50 / p99 of each index over the first index timed with the same code
    (``--latency`` of 20k and 100k, possibly for two source trees: each tree's 100k over
    its own 20k), overall and per kind, wall and CPU; a ratio over GROWTH_TARGETS is
    marked ``!``."""
    runs = list(out.values())
    base = [next(j for j in range(len(runs)) if codes[j] == codes[i]) for i in range(len(runs))]

    def ratio(i: int, measure: str, kind: str | None) -> str:
        def get(run: dict[str, Any]) -> dict[str, float] | None:
            lat = run[measure]
            return lat["all"] if kind is None else lat["by_kind"].get(kind)

        mine, first = get(runs[i]), get(runs[base[i]])
        if mine is None or first is None or not first["p50"] or not first["p99"]:
            return "n/a"
        p50, p99 = mine["p50"] / first["p50"], mine["p99"] / first["p99"]
        return (f"{p50:.2f}x{'!' if p50 > GROWTH_TARGETS[0] else ' '} / "
                f"{p99:.2f}x{'!' if p99 > GROWTH_TARGETS[1] else ' '}")

    rows: list[tuple[str, ...]] = []
    for measure, label in (("latency", ""), ("cpu", "CPU ")):
        rows.append((f"{label}p50 / p99 over the first of its code",
                     *(ratio(i, measure, None) for i in range(len(runs)))))
        rows += [(f"— {kind} ({label or 'wall '}ratio)", *(ratio(i, measure, kind)
                                                          for i in range(len(runs))))
                 for kind in kinds]
    return rows


def latency_report(pairs: list[tuple[Path, ...]], n: int, passes: int = LATENCY_PASSES
                   ) -> dict[str, Any]:
    """Warm latency of each (corpus, index[, source tree]) triple's own query mix, printed
    as one table (p50 / p95 / p99 ms, overall and by kind, wall and CPU time, and each
    index's p50 and p99 over those of the first index timed with the same code, overall
    and by kind: :func:`ratio_rows`).

    The indexes are timed side by side, not one after the other: one process per index
    (running the searcher of its source tree, this one's by default) opens it and warms
    it with a mix of another seed; then query *i* of every mix is timed before query
    *i + 1* (the order of the indexes alternating), over *passes* mixes of new seeds: every
    timed query is new to the process, as a user's are (a repeated query is answered
    from the caches of its postings and substrings).  A shared machine's speed drifts by
    tens of percent over a minute; interleaved, every index sees the same drift, so their
    ratios hold still where the absolute figures do not.  The same index under two source
    trees (old and new code) is compared the same way.  Every timed query is a sample
    (``passes × n`` per index): a p99 of one pass of 200 queries is its second or third
    slowest, which one hiccup moves.
    """
    runs = []
    mixes: dict[Path, list[list[Query]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for number, (corpus, index_dir, *src) in enumerate(pairs):
            if corpus not in mixes:  # the warm-up mix, then one new mix per pass
                mixes[corpus] = [query_mix(corpus, n, SEED + p) for p in range(-1, passes)]
            mix = [q for m in mixes[corpus][1:] for q in m]
            mix_file = Path(tmp) / f"mix-{number}.json"
            mix_file.write_text(json.dumps({
                "warm_up": [q.__dict__ for q in mixes[corpus][0]],
                "timed": [q.__dict__ for q in mix]}, ensure_ascii=False), encoding="utf-8")
            env = dict(os.environ)
            if src:
                env["PYTHONPATH"] = str(src[0])
            print(f"warming {index_dir} ({corpus}){f' with {src[0]}' if src else ''} ...",
                  file=sys.stderr, flush=True)
            child = subprocess.Popen([sys.executable, str(HERE), "_latency", str(index_dir),
                                      str(mix_file)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
            if child.stdout.readline().strip() != "ready":
                sys.exit(f"the latency process for {index_dir} failed")
            runs.append({"child": child, "mix": mix, "times": {}, "cpu": {}, "errors": 0,
                         "label": f"{index_dir}" + (f" ({src[0]})" if src else ""),
                         "documents": len(benchlib.article_files(corpus)),
                         "index_bytes": benchlib.dir_bytes(index_dir)})
        print(f"timing {len(runs)} indexes side by side, {passes} passes ...",
              file=sys.stderr, flush=True)
        started = time.perf_counter()
        for i in range(max(len(run["mix"]) for run in runs)):
            order = runs if i % 2 == 0 else runs[::-1]
            for run in order:
                if i >= len(run["mix"]):
                    continue
                run["child"].stdin.write(f"{i}\n")
                run["child"].stdin.flush()
                seconds, cpu, total = run["child"].stdout.readline().split()
                run["errors"] += int(total) < 0
                run["times"].setdefault(run["mix"][i].kind, []).append(float(seconds))
                run["cpu"].setdefault(run["mix"][i].kind, []).append(float(cpu))
        seconds = time.perf_counter() - started
        for run in runs:
            run["child"].stdin.close()
            run["child"].wait()
    out: dict[str, Any] = {}
    for run in runs:
        out[run["label"]] = {"documents": run["documents"], "index_bytes": run["index_bytes"],
                             "latency": _latency(run["times"], run["errors"]),
                             "cpu": _latency(run["cpu"], run["errors"]),
                             "passes": passes, "seconds": seconds}
    rows = [("", *(f"{v['documents']:,} articles ({v['index_bytes'] / 1e6:.0f} MB)"
                   for v in out.values()))]
    if any(len(p) > 2 for p in pairs):
        rows.append(("code", *(str(p[2]) if len(p) > 2 else "this tree" for p in pairs)))

    def cell(p: dict[str, float]) -> str:
        return f"{p['p50']:.1f} / {p['p95']:.1f} / {p['p99']:.1f}"

    rows.append(("warm p50 / p95 / p99 (ms)", *(cell(v["latency"]["all"]) for v in out.values())))
    kinds = sorted({k for v in out.values() for k in v["latency"]["by_kind"]})
    for kind in kinds:
        rows.append((f"— {kind}", *(cell(v["latency"]["by_kind"][kind])
                                    if kind in v["latency"]["by_kind"] else "n/a"
                                    for v in out.values())))
    # CPU time of the searching thread: what a query costs whatever else the machine runs
    # (wall time on a loaded machine adds the waits for a core).
    rows.append(("CPU p50 / p95 / p99 (ms)", *(cell(v["cpu"]["all"]) for v in out.values())))
    for kind in kinds:
        rows.append((f"— {kind} (CPU)", *(cell(v["cpu"]["by_kind"][kind])
                                          if kind in v["cpu"]["by_kind"] else "n/a"
                                          for v in out.values())))
    rows += ratio_rows(out, [str(p[2]) if len(p) > 2 else "" for p in pairs], kinds)
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                              for i, (c, w) in enumerate(zip(r, width, strict=True)))
                    for r in rows))
    print(f"({passes} mixes of {n} queries per index, each query new to its process, "
          f"interleaved, {seconds:.0f} s; ! marks a ratio over the targets "
          f"{GROWTH_TARGETS[0]}x p50 / {GROWTH_TARGETS[1]}x p99)")
    return out


def _latency_child(argv: list[str]) -> None:
    """Serve ``latency_report``: open index *argv[0]*, run the mix in *argv[1]* once to warm
    up, print ``ready``, then for each query number read on stdin print its seconds and
    total (-1: a query error, or a search past the default time limit: a cold first query
    of a large index may take that long while the page cache fills)."""
    from searcher import SearchEngine
    from searcher.errors import QueryError, TimeLimitExceeded

    engine = SearchEngine(argv[0])
    failed = (QueryError, TimeLimitExceeded)
    mixes = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    mix = [Query(**q) for q in mixes["timed"]]
    for q in mixes["warm_up"]:
        _run_query(engine, Query(**q), failed)
    print("ready", flush=True)
    for line in sys.stdin:
        q = mix[int(line)]
        t, cpu = time.perf_counter(), time.thread_time()
        total = _run_query(engine, q, failed)
        print(f"{time.perf_counter() - t:.9f} {time.thread_time() - cpu:.9f} {total}",
              flush=True)
    engine.close()


def _run_query(engine, q: Query, query_error: tuple[type[Exception], ...]) -> int:
    """One query of the mix as the latency table times it (top 10, with snippets)."""
    try:
        return engine.search(q.text, limit=10, category=q.category, since=q.since).total
    except query_error:
        return -1


def cold_cli(cmd: list[str]) -> float | None:
    """Median wall time of CLI_RUNS fresh processes, or None when the command fails."""
    runs = []
    for _ in range(CLI_RUNS):
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=benchlib.REPO)
        runs.append(time.perf_counter() - t)
        if done.returncode != 0:
            print(f"cold CLI failed: {' '.join(cmd)}\n{done.stderr[-800:]}", file=sys.stderr)
            return None
    return statistics.median(runs)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- report -----------------------------------------------------------------------------
def _fmt(value: Any, spec: str = ".1f", unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:{spec}}{unit}"


def table(rows: list[tuple[str, ...]]) -> str:
    """Label column left-aligned, the others right-aligned (short rows padded)."""
    n = max(len(r) for r in rows)
    rows = [tuple(r) + ("",) * (n - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    widths[2:] = [max(12, w) for w in widths[2:]]
    return "\n".join("  ".join([r[0].ljust(widths[0])]
                               + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
                      for r in rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_latency":
        _latency_child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="article folder (default: generate one)")
    ap.add_argument("--limit", type=int, default=0,
                    help="real articles to generate (0: all ~19,900) when no --corpus")
    ap.add_argument("--synthetic", type=int, default=0,
                    help="extra synthetic articles to generate (100k/200k scale runs)")
    ap.add_argument("--jobs", type=int, default=0, help="searcher worker processes (0: nproc)")
    ap.add_argument("--skip-recipe", action="store_true", help="benchmark searcher only")
    ap.add_argument("--tantivy", action="store_true",
                    help="also build with Tantivy + jieba (bench/tantivy; needs cargo)")
    ap.add_argument("--queries", type=int, default=200, help="size of the query mix")
    ap.add_argument("--out", help="write all numbers as JSON here")
    ap.add_argument("--features-index", type=Path,
                    help="only time facets and suggestions on this existing index of --corpus")
    ap.add_argument("--suggest-scale", type=int, default=0,
                    help="also time suggest lookups on a table N times the vocabulary")
    ap.add_argument("--memory-queries", type=int, default=MEMORY_QUERIES,
                    help="queries for the long-lived process memory run (0: skip it)")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the memory run, on the index given with --index-dir")
    ap.add_argument("--index-dir", type=Path, help="an index of --corpus built beforehand")
    ap.add_argument("--keep-index", type=Path, metavar="DIR",
                    help="build searcher's index in DIR (new or empty) and keep it afterwards")
    ap.add_argument("--baseline-src", type=Path,
                    help="a second source tree (holding searcher/) to measure the same way")
    ap.add_argument("--latency", action="append", metavar="CORPUS=INDEX[=SRC]", default=[],
                    help="only time the query mix on existing indexes (repeat: one table), "
                         "each with the searcher of source tree SRC if given")
    ap.add_argument("--passes", type=int, default=LATENCY_PASSES,
                    help="timed passes over the mix in --latency (default %(default)s)")
    ap.add_argument("--no-features", action="store_true",
                    help="skip timing facets and suggestions in the full run (scale runs)")
    ap.add_argument("--cache-bytes", type=int,
                    help="cache_bytes of this code's engine in the memory run (default: setting)")
    args = ap.parse_args()
    if args.features_index:
        if args.corpus is None:
            sys.exit("--features-index needs --corpus (the query mix comes from it)")
        print(f"machine: load average at start {_load()}")
        result = features_report(args.features_index, query_mix(args.corpus, args.queries),
                                 args.suggest_scale)
        print(f"(load average at end {_load()})")
        benchlib.dump(args.out, result)
        return
    if args.latency:
        info = benchlib.machine()
        print(f"machine: nproc={info['nproc']} python={info['python']} cpu={info['cpu']}; "
              f"load average at start {_load()}")
        result = latency_report([tuple(Path(p) for p in pair.split("=", 2))
                                 for pair in args.latency], args.queries, args.passes)
        print(f"(load average at end {_load()})")
        benchlib.dump(args.out, {"machine": info, "latency": result})
        return
    if args.memory_only:
        if args.corpus is None or args.index_dir is None:
            ap.error("--memory-only needs --corpus and --index-dir (an index of that corpus)")
        info = benchlib.machine()
        print(f"machine: nproc={info['nproc']} python={info['python']} cpu={info['cpu']}; "
              f"load average at start {_load()}")
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            mem = run_memory(args.corpus.absolute(), args.index_dir, args.memory_queries,
                             args.baseline_src, Path(tmp), args.cache_bytes)
        print(f"(load average at end {_load()})")
        benchlib.dump(args.out, {"machine": info, "corpus": str(args.corpus), "memory": mem})
        return

    info = benchlib.machine()
    print(f"machine: nproc={info['nproc']} python={info['python']} cpu={info['cpu']}")
    print(f"         {info['platform']}; load average at start {_load()}")
    generated = args.corpus is None
    corpus = benchlib.make_corpus(args.limit, args.synthetic) if generated else args.corpus
    corpus = corpus.absolute()
    files = benchlib.article_files(corpus)
    corpus_bytes = sum(f.stat().st_size for f in files)
    jobs = args.jobs or os.cpu_count() or 1
    print(f"corpus: {corpus} ({len(files)} files, {corpus_bytes / 1e6:.1f} MB); "
          f"searcher jobs={jobs}\n", flush=True)
    tantivy = None
    if args.tantivy:  # compiled before anything is timed, so the compile overlaps nothing
        print("cargo build --release (bench/tantivy) ...", file=sys.stderr, flush=True)
        tantivy, cargo_s = tantivy_binary()
        print(f"tantivy program compiled/checked in {cargo_s:.1f} s (not part of its build "
              "time)\n", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-perf-"))
    result: dict[str, Any] = {"machine": info, "corpus": str(corpus), "files": len(files),
                              "corpus_bytes": corpus_bytes, "jobs": jobs}
    try:
        queries = query_mix(corpus, args.queries)
        result["query_mix"] = [q.__dict__ for q in queries]

        s_dir = args.keep_index or work / "searcher"
        print("building with searcher ...", file=sys.stderr, flush=True)
        s_build = run_build("searcher", corpus, s_dir, jobs)
        print(f"  built in {s_build.seconds:.1f} s, peak tree RSS sum "
              f"{s_build.peak_tree_rss_mb:.0f} MB, PSS {s_build.peak_tree_pss_mb:.0f} MB",
              file=sys.stderr, flush=True)
        print("re-running searcher (no change) ...", file=sys.stderr, flush=True)
        s_incr = run_build("searcher-incremental", corpus, s_dir, jobs)
        print("timing searcher queries ...", file=sys.stderr, flush=True)
        warm_up = query_mix(corpus, args.queries, SEED - 1)  # the timed queries are new
        s_lat = time_searcher(s_dir, queries, warm_up)
        first_word = next(q.text for q in queries if q.kind == "word")
        s_cold = cold_cli([sys.executable, "-m", "searcher", "--index-dir", str(s_dir),
                           "search", first_word, "--limit", "10"])
        result["searcher"] = {"build": s_build.__dict__, "incremental": s_incr.__dict__,
                              "latency": s_lat, "cold_cli_s": s_cold,
                              "features": None if args.no_features
                              else features_report(s_dir, queries)}
        if args.memory_queries:
            result["memory"] = run_memory(corpus, s_dir, args.memory_queries,
                                          args.baseline_src, work, args.cache_bytes)
        if not args.keep_index:
            shutil.rmtree(s_dir, ignore_errors=True)

        r_build = r_lat = r_cold = None
        if not args.skip_recipe:
            r_dir = work / "recipe"
            print("building with the recipe ...", file=sys.stderr, flush=True)
            r_build = run_build("recipe", corpus, r_dir, 1)
            print("timing recipe queries ...", file=sys.stderr, flush=True)
            r_lat = in_fresh_interpreter(time_recipe, r_dir, queries, warm_up)
            r_cold = cold_cli([sys.executable, str(HERE.parent / "recipe.py"), "search",
                               str(r_dir), first_word, "--limit", "10"])
            result["recipe"] = {"build": r_build.__dict__, "latency": r_lat, "cold_cli_s": r_cold}
            shutil.rmtree(r_dir, ignore_errors=True)

        t_build = None
        if tantivy is not None:
            t_dir = work / "tantivy"
            print("building with Tantivy + jieba ...", file=sys.stderr, flush=True)
            t_build = run_build("tantivy", corpus, t_dir, 0, tantivy)
            result["tantivy"] = {"build": t_build.__dict__, "cargo_build_s": cargo_s}
            shutil.rmtree(t_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if generated:
            shutil.rmtree(corpus, ignore_errors=True)

    def both(fn) -> tuple[str, str]:
        return fn(s_build, s_lat, s_cold, "s"), (
            fn(r_build, r_lat, r_cold, "r") if r_build is not None else "n/a")

    rows: list[tuple[str, ...]] = [("", "searcher", "recipe")
                                   + (("tantivy+jieba",) if t_build else ())]

    def add(label: str, fn, build_only: bool = True) -> None:
        """A row; the Tantivy column (when run) has build figures only, no query timings."""
        tail = () if t_build is None else (fn(t_build, None, None, "t") if build_only
                                           else "n/a",)
        rows.append((label, *both(fn), *tail))

    add("full build (s)", lambda b, _l, _c, _k: f"{b.seconds:.1f}")
    add("full build incl. start-up (s)", lambda b, _l, _c, _k: f"{b.wall:.1f}")
    add("full build CPU, user + sys (s)", lambda b, _l, _c, _k: f"{b.cpu_seconds:.1f}")
    add("articles/s", lambda b, _l, _c, _k: f"{b.documents / b.seconds:.0f}")
    add("documents indexed", lambda b, _l, _c, _k: f"{b.documents} ({b.failed} failed)")
    add("index size (MB)", lambda b, _l, _c, _k: f"{b.index_bytes / 1e6:.1f}")
    add("peak memory, tree PSS (MB)", lambda b, _l, _c, _k: f"{b.peak_tree_pss_mb:.0f}")
    add("peak memory, tree RSS sum (MB)", lambda b, _l, _c, _k: f"{b.peak_tree_rss_mb:.0f}")
    add("peak RSS: indexing process / largest other process (MB)",
        lambda b, _l, _c, _k: f"{b.maxrss_self_mb:.0f} / {b.peak_worker_rss_mb:.0f}")
    rows.append(("no-change re-run (s)", f"{s_incr.seconds:.2f}", "n/a")
                + (("n/a",) if t_build else ()))
    for p in ("p50", "p95", "p99"):
        add(f"warm query {p} (ms)",
            lambda _b, lat, _c, _k, p=p: f"{lat['all'][p]:.1f}", build_only=False)
    add("query errors", lambda _b, lat, _c, _k: f"{lat['errors']}/{lat['queries']}",
        build_only=False)
    add("cold CLI search, median of 5 (s)", lambda _b, _l, cold, _k: _fmt(cold, ".2f"),
        build_only=False)
    ratio = r_build.seconds / s_build.seconds if r_build else None
    rows.append(("build time ratio recipe/searcher", "", _fmt(ratio, ".2f", "x")))
    result["build_ratio_recipe_over_searcher"] = ratio
    if t_build is not None:
        t_ratio = t_build.seconds / s_build.seconds
        rows.append(("build time ratio tantivy/searcher", "", "", _fmt(t_ratio, ".2f", "x")))
        result["build_ratio_tantivy_over_searcher"] = t_ratio
    print(table(rows))
    print(f"(load average at end {_load()}: other processes on the machine skew every number)")
    result["load_end"] = _load()
    print("\nwarm latency by query kind, p50 / p95 / p99 (ms):")
    kinds = list(s_lat["by_kind"])
    krows = [("", "searcher", "recipe")]
    for kind in kinds:
        s = s_lat["by_kind"][kind]
        r = r_lat["by_kind"].get(kind) if r_lat else None
        n = sum(1 for q in queries if q.kind == kind)
        krows.append((f"{kind} ({n})", f"{s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f}",
                      f"{r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f}" if r else "n/a"))
    print(table(krows))
    print("\n(searcher latency includes snippets and highlights; the recipe returns ids only "
          "and has no category field, so its filtered queries use the date filter alone)")
    benchlib.dump(args.out, result)


if __name__ == "__main__":
    main()
