"""The OpenSearch back end next to the embedded index on the same articles.

Builds both (the local index with ``SearchEngine.index``, the cluster index
with ``OpenSearchBackend.index``), then runs the same queries, derived from the
articles, against both and prints build times, bulk throughput, warm query
latencies and how far the results agree.

    scripts/opensearch-node start                       # prints the URL
    python3 ../shared/tools/make_corpus.py /tmp/os2k --limit 2000
    python3 bench/opensearch_vs_local.py --corpus /tmp/os2k --url http://127.0.0.1:9200
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from searcher import SearchEngine  # noqa: E402
from searcher.analysis.tokens import STOP_WORDS, query_terms  # noqa: E402
from searcher.config import Settings  # noqa: E402
from searcher.opensearch import OpenSearchBackend  # noqa: E402


def queries(engine: SearchEngine, count: int, seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    ids = sorted(s["id"] for _, s in engine._searcher().reader().iter_docs())
    out: dict[str, list[str]] = {"word": [], "two words": [], "phrase": []}
    for doc_id in rng.sample(ids, min(count, len(ids))):
        view = engine.get(doc_id)
        terms = [t for t in query_terms(view.title) if t not in STOP_WORDS and len(t) >= 2]
        if terms:
            out["word"].append(rng.choice(terms))
        if len(terms) >= 2:
            out["two words"].append(" ".join(rng.sample(terms, 2)))
        text = "".join(view.text.split())
        if len(text) > 20:
            start = rng.randrange(0, len(text) - 8)
            phrase = text[start:start + rng.randrange(3, 7)].replace('"', "")
            if phrase:
                out["phrase"].append(f'"{phrase}"')
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    files = [p for p in args.corpus.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory() as tmp:
        engine = SearchEngine(Path(tmp) / "ix")
        started = time.perf_counter()
        local_report = engine.index([args.corpus], jobs=args.jobs)
        local_build = time.perf_counter() - started
        backend = OpenSearchBackend(args.url, Settings(), name="bench-os", replicas=0)
        started = time.perf_counter()
        cluster_report = backend.index([args.corpus], full=True, jobs=args.jobs)
        cluster_build = time.perf_counter() - started
        started = time.perf_counter()
        backend.index([args.corpus])
        cluster_nochange = time.perf_counter() - started

        mix = queries(engine, args.queries)
        for group in mix.values():  # warm both
            for q in group[:5]:
                engine.search(q)
                backend.search(q)
        rows = []
        all_local, all_cluster, overlaps = [], [], []
        for name, group in mix.items():
            local_t, cluster_t = [], []
            for q in group:
                t = time.perf_counter()
                a = engine.search(q)
                local_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                b = backend.search(q)
                cluster_t.append(time.perf_counter() - t)
                if a.hits and name != "phrase":
                    top = {h.id for h in a.hits}
                    overlaps.append(len(top & {h.id for h in b.hits}) / len(top))
            rows.append((name, len(group), pct(local_t, .5), pct(local_t, .99),
                         pct(cluster_t, .5), pct(cluster_t, .99)))
            all_local += local_t
            all_cluster += cluster_t
        rows.append(("all", len(all_local), pct(all_local, .5), pct(all_local, .99),
                     pct(all_cluster, .5), pct(all_cluster, .99)))
        backend.client.indices.delete(index="bench-os-*", ignore=[404])

    print(f"corpus: {len(files)} files, {size / 1e6:.1f} MB; jobs {args.jobs}")
    print(f"{'':28} {'local':>12} {'opensearch':>12}")
    print(f"{'full build (s)':28} {local_build:12.1f} {cluster_build:12.1f}")
    print(f"{'articles/s':28} {local_report.documents / local_build:12.0f} "
          f"{cluster_report.documents / cluster_build:12.0f}")
    print(f"{'index size (MB)':28} {local_report.index_bytes / 1e6:12.1f} "
          f"{cluster_report.index_bytes / 1e6:12.1f}")
    print(f"{'no-change re-run (s)':28} {'':12} {cluster_nochange:12.1f}")
    print()
    print(f"{'queries (warm, ms)':16} {'n':>4} {'local p50':>10} {'p99':>8} "
          f"{'cluster p50':>12} {'p99':>8}")
    for name, n, lp50, lp99, cp50, cp99 in rows:
        print(f"{name:16} {n:4} {lp50:10.1f} {lp99:8.1f} {cp50:12.1f} {cp99:8.1f}")
    print()
    print(f"ranked queries: top-10 overlap mean {statistics.mean(overlaps):.3f}, "
          f"{sum(o >= 0.9 for o in overlaps)}/{len(overlaps)} at 90 % or more")


if __name__ == "__main__":
    main()
