"""The OpenSearch back end next to the embedded index: same articles, same machine, one run.

Builds both (the local index with ``SearchEngine.index``, the cluster index with
``OpenSearchBackend.index``, both full builds with the same worker processes), then
times bench/perf.py's query mix (words, word pairs, quoted fragments, filtered by
category or date; ``perf.query_mix``) against both, query by query, and prints:

* full build time and articles/s (source MB/s) for each back end;
* bulk-load throughput on the cluster: documents/s and MB/s (uncompressed NDJSON)
  over the time spent inside ``_bulk`` requests, while the analysis runs in the
  worker processes at the same time (so it is what the cluster ingests under load,
  not an isolated maximum);
* bulk-load throughput alone (``--replay``, on by default): every document of the new
  index, already analysed, dumped to NDJSON and sent again with plain ``_bulk`` requests of
  500 documents into a fresh index, one request at a time (what ``curl --data-binary`` of an
  export does, with no analysis competing for the CPU);
* warm query p50/p95/p99 per back end and per kind, and how far the top 10s agree.

    export URL=$(OPENSEARCH_NODE_HEAP=2g scripts/opensearch-node start | tail -n 1)
    python3 bench/opensearch_vs_local.py --corpus /tmp/corpus20k --url "$URL" \\
        --work /tmp/bench-os20k
    # only the bulk replay, from a cluster index a previous run kept (--keep):
    python3 bench/opensearch_vs_local.py --corpus /tmp/corpus20k --url "$URL" \
        --name bench-os20k --replay-only
    # reuse a local index of the same corpus built beforehand (it is searched, not built):
    python3 bench/opensearch_vs_local.py --corpus /tmp/corpus200k --url "$URL" \\
        --local-index /tmp/ix200k-copy
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchlib  # noqa: E402
import perf  # noqa: E402

from searcher import SearchEngine  # noqa: E402
from searcher.config import Settings  # noqa: E402
from searcher.errors import QueryError  # noqa: E402
from searcher.opensearch import OpenSearchBackend  # noqa: E402


class BulkMeter:
    """Counts the time and bytes of every ``_bulk`` request a client sends.

    Wraps the client's own ``bulk`` method (the bulk helper calls it once per
    chunk), so the measured time is the real round trip: compression, transfer,
    and the cluster indexing the chunk.
    """

    def __init__(self, client: Any) -> None:
        self.seconds = 0.0
        self.bytes = 0
        self.requests = 0
        inner = client.bulk

        def bulk(*args: Any, **kwargs: Any) -> Any:
            body = kwargs.get("body", args[0] if args else "")
            self.bytes += len(body.encode("utf-8")) if isinstance(body, str) else len(body)
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.requests += 1

        client.bulk = bulk


def replay_bulk(backend: OpenSearchBackend, folder: Path, shards: int,
                chunk: int = 500) -> dict[str, Any]:
    """Dump the documents behind the alias to NDJSON, then time loading it into a new index."""
    from opensearchpy.helpers import scan

    from searcher.opensearch.generations import current_index
    from searcher.opensearch.mapping import index_body

    client = backend.client
    source = current_index(client, backend.name)
    if source is None:
        sys.exit(f"no index behind alias {backend.name} to replay")
    dump = folder / "replay.ndjson"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    docs = 0
    with dump.open("w", encoding="utf-8") as out:
        for hit in scan(client, index=source, query={"query": {"match_all": {}}}, size=1000,
                        scroll="5m"):
            out.write(json.dumps({"index": {"_id": hit["_id"]}}) + "\n")
            out.write(json.dumps(hit["_source"], ensure_ascii=False) + "\n")
            docs += 1
    dumped = time.perf_counter() - started
    target = f"{backend.name}-replay"
    client.indices.delete(index=target, ignore=[404])
    body = index_body(shards, 0)
    body["settings"]["index"]["refresh_interval"] = "-1"
    client.indices.create(index=target, body=body)
    size = dump.stat().st_size
    requests = 0
    try:
        started = time.perf_counter()
        with dump.open("rb") as handle:
            while True:
                lines = [line for _ in range(2 * chunk) if (line := handle.readline())]
                if not lines:
                    break
                answer = client.bulk(index=target, body=b"".join(lines), request_timeout=600)
                requests += 1
                if answer.get("errors"):
                    sys.exit(f"the replay was refused: {str(answer)[:300]}")
        loaded = time.perf_counter() - started
        client.indices.put_settings(index=target, body={"index": {"refresh_interval": None}})
        client.indices.refresh(index=target)
        total = time.perf_counter() - started
        count = int(client.count(index=target)["count"])
    finally:
        client.indices.delete(index=target, ignore=[404])
        dump.unlink(missing_ok=True)
    if count != docs:
        sys.exit(f"the replay loaded {count} of {docs} documents")
    return {"documents": docs, "bytes": size, "requests": requests, "dump_s": dumped,
            "bulk_s": loaded, "with_refresh_s": total}


def replay_rows(replay: dict[str, Any]) -> list[tuple[str, str, str]]:
    docs, seconds = replay["documents"], replay["bulk_s"]
    return [("bulk replay, documents / NDJSON MB", "",
             f"{docs} / {replay['bytes'] / 1e6:.0f}"),
            ("bulk replay, requests / time (s)", "", f"{replay['requests']} / {seconds:.1f}"),
            ("bulk replay, docs/s", "", f"{docs / seconds:.0f}"),
            ("bulk replay, MB/s NDJSON", "", f"{replay['bytes'] / 1e6 / seconds:.2f}"),
            ("bulk replay + refresh (s)", "", f"{replay['with_refresh_s']:.1f}")]


def _searcher(search: Any) -> Any:
    def run(q: perf.Query) -> Any:
        try:
            return search(q.text, limit=10, category=q.category, since=q.since)
        except QueryError:
            return None
    return run


def time_queries(engine: SearchEngine, backend: OpenSearchBackend,
                 queries: list[perf.Query]) -> dict[str, Any]:
    """One warm-up pass over both, then a timed pass, query by query, alternating which
    back end goes first so both see the same machine."""
    runs = {"local": _searcher(engine.search), "opensearch": _searcher(backend.search)}
    for q in queries:
        for run in runs.values():
            run(q)
    times: dict[str, dict[str, list[float]]] = {name: {} for name in runs}
    errors = {name: 0 for name in runs}
    overlaps: list[float] = []
    totals_equal = 0
    for i, q in enumerate(queries):
        order = list(runs.items()) if i % 2 == 0 else list(runs.items())[::-1]
        answers = {}
        for name, run in order:
            started = time.perf_counter()
            answers[name] = run(q)
            times[name].setdefault(q.kind, []).append(time.perf_counter() - started)
            errors[name] += answers[name] is None
        local, cluster = answers["local"], answers["opensearch"]
        if local is not None and cluster is not None:
            totals_equal += local.total == cluster.total
            if local.hits and q.kind != "phrase":
                top = {h.id for h in local.hits}
                overlaps.append(len(top & {h.id for h in cluster.hits}) / len(top))
    out: dict[str, Any] = {}
    for name, by_kind in times.items():
        every = [t for ts in by_kind.values() for t in ts]
        out[name] = {"all": perf.percentiles(every),
                     "by_kind": {k: perf.percentiles(v) for k, v in by_kind.items()},
                     "errors": errors[name]}
    out["overlaps"] = overlaps
    out["totals_equal"] = totals_equal
    out["queries"] = len(queries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--url", required=True, help="the cluster, http(s)://host:port")
    parser.add_argument("--queries", type=int, default=200, help="size of perf.py's mix")
    parser.add_argument("--jobs", type=int, default=2, help="analysis processes, both sides")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--name", default="bench-os", help="alias on the cluster (dropped)")
    parser.add_argument("--work", type=Path,
                        help="folder for the local index (default: a temp folder, removed)")
    parser.add_argument("--local-index", type=Path,
                        help="an existing local index of --corpus to search instead of "
                             "building one (its build is not timed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the cluster index and the local index afterwards")
    parser.add_argument("--no-replay", dest="replay", action="store_false",
                        help="skip the bulk replay (it dumps and reloads every document)")
    parser.add_argument("--replay-only", action="store_true",
                        help="only the bulk replay, from the index behind --name (kept by an "
                             "earlier run with --keep)")
    parser.add_argument("--out", help="write all numbers as JSON here")
    args = parser.parse_args()
    if args.replay_only:
        with OpenSearchBackend(args.url, Settings(), name=args.name, timeout=120) as backend:
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            folder = Path(tempfile.mkdtemp(prefix="bench-os-replay-"))
            try:
                replay = replay_bulk(backend, folder, args.shards)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        print(f"load average at start {load}, at end "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(perf.table([("", "", "opensearch"), *replay_rows(replay)]))
        benchlib.dump(args.out, {"replay": replay})
        return

    info = benchlib.machine()
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    corpus = args.corpus.absolute()
    files = benchlib.article_files(corpus)
    size = sum(p.stat().st_size for p in files)
    print(f"machine: nproc={info['nproc']} python={info['python']} cpu={info['cpu']}; "
          f"load average at start {load_start}", flush=True)
    print(f"corpus: {corpus} ({len(files)} files, {size / 1e6:.1f} MB); jobs {args.jobs}; "
          f"cluster {args.url} shards {args.shards} replicas 0", flush=True)
    queries = perf.query_mix(corpus, args.queries)

    temp = None
    if args.local_index:
        local_dir = args.local_index
    else:
        work = args.work or Path(temp := tempfile.mkdtemp(prefix="bench-os-local-"))
        local_dir = work / "local"
    result: dict[str, Any] = {"machine": info, "corpus": str(corpus), "files": len(files),
                              "corpus_bytes": size, "jobs": args.jobs, "url": args.url}
    backend = OpenSearchBackend(args.url, Settings(), name=args.name, shards=args.shards,
                                replicas=0, timeout=120)
    try:
        local_build = local_rerun = None
        if args.local_index:
            engine = SearchEngine(local_dir)
            local_docs = engine.stats().documents
            local_bytes = benchlib.dir_bytes(local_dir)
        else:
            shutil.rmtree(local_dir, ignore_errors=True)
            engine = SearchEngine(local_dir)
            print("building the local index ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            report = engine.index([corpus], full=True, jobs=args.jobs)
            local_build = time.perf_counter() - started
            local_docs, local_bytes = report.documents, report.index_bytes
            started = time.perf_counter()
            engine.index([corpus], jobs=args.jobs)
            local_rerun = time.perf_counter() - started

        print("building the cluster index ...", file=sys.stderr, flush=True)
        meter = BulkMeter(backend.client)
        started = time.perf_counter()
        cluster_report = backend.index([corpus], full=True, jobs=args.jobs)
        cluster_build = time.perf_counter() - started
        bulk = {"seconds": meter.seconds, "bytes": meter.bytes, "requests": meter.requests}
        started = time.perf_counter()
        backend.index([corpus], jobs=args.jobs)
        cluster_rerun = time.perf_counter() - started
        replay = None
        if args.replay:
            print("replaying the bulk load ...", file=sys.stderr, flush=True)
            folder = Path(tempfile.mkdtemp(prefix="bench-os-replay-"))
            try:
                replay = replay_bulk(backend, folder, args.shards)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        print(f"timing {len(queries)} queries on both ...", file=sys.stderr, flush=True)
        lat = time_queries(engine, backend, queries)
        engine.close()
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                backend.client.indices.delete(index=f"{args.name}-*", ignore=[404],
                                              expand_wildcards="all")
            if temp:
                shutil.rmtree(temp, ignore_errors=True)
            elif not args.local_index:
                shutil.rmtree(local_dir, ignore_errors=True)
        backend.close()
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())

    docs = cluster_report.documents
    rows: list[tuple[str, str, str]] = [("", "local", "opensearch")]
    rows.append(("documents", f"{local_docs}", f"{docs} ({len(cluster_report.failed)} failed)"))
    rows.append(("full build (s)", "reused" if local_build is None else f"{local_build:.1f}",
                 f"{cluster_build:.1f}"))
    if local_build is not None:
        rows.append(("full build, articles/s", f"{local_docs / local_build:.0f}",
                     f"{docs / cluster_build:.0f}"))
        rows.append(("full build, source MB/s", f"{size / 1e6 / local_build:.2f}",
                     f"{size / 1e6 / cluster_build:.2f}"))
    else:
        rows.append(("full build, articles/s", "", f"{docs / cluster_build:.0f}"))
    rows.append(("bulk load, docs/s (in _bulk)", "",
                 f"{docs / bulk['seconds']:.0f}" if bulk["seconds"] else "n/a"))
    rows.append(("bulk load, MB/s NDJSON (in _bulk)", "",
                 f"{bulk['bytes'] / 1e6 / bulk['seconds']:.1f}" if bulk["seconds"] else "n/a"))
    rows.append(("bulk requests / time in them (s)", "",
                 f"{bulk['requests']} / {bulk['seconds']:.1f}"))
    if replay:
        rows += replay_rows(replay)
    rows.append(("index size (MB)", f"{local_bytes / 1e6:.1f}",
                 f"{cluster_report.index_bytes / 1e6:.1f}"))
    rows.append(("no-change re-run (s)", "" if local_rerun is None else f"{local_rerun:.1f}",
                 f"{cluster_rerun:.1f}"))
    for p in ("p50", "p95", "p99"):
        rows.append((f"warm query {p} (ms)", f"{lat['local']['all'][p]:.1f}",
                     f"{lat['opensearch']['all'][p]:.1f}"))
    rows.append(("query errors", f"{lat['local']['errors']}/{lat['queries']}",
                 f"{lat['opensearch']['errors']}/{lat['queries']}"))
    print()
    print(perf.table(rows))
    print(f"(load average at end {load_end}; other processes on the machine skew every number)")
    print("\nwarm latency by query kind, p50 / p99 (ms):")
    krows = [("", "local", "opensearch")]
    for kind, stats in lat["local"]["by_kind"].items():
        n = sum(1 for q in queries if q.kind == kind)
        other = lat["opensearch"]["by_kind"][kind]
        krows.append((f"{kind} ({n})", f"{stats['p50']:.1f} / {stats['p99']:.1f}",
                      f"{other['p50']:.1f} / {other['p99']:.1f}"))
    print(perf.table(krows))
    overlaps = lat["overlaps"]
    if overlaps:
        print(f"\nsame total on both: {lat['totals_equal']}/{lat['queries']} queries; ranked "
              f"top-10 overlap mean {statistics.mean(overlaps):.3f} "
              f"({sum(o >= 0.9 for o in overlaps)}/{len(overlaps)} at 90 % or more)")
    result.update(local={"build_s": local_build, "rerun_s": local_rerun, "documents": local_docs,
                         "index_bytes": local_bytes, "latency": lat["local"]},
                  opensearch={"build_s": cluster_build, "rerun_s": cluster_rerun,
                              "documents": docs, "index_bytes": cluster_report.index_bytes,
                              "bulk": bulk, "replay": replay,
                              "latency": lat["opensearch"]},
                  overlaps=overlaps, totals_equal=lat["totals_equal"],
                  load=[load_start, load_end], query_mix=[q.__dict__ for q in queries])
    benchlib.dump(args.out, result)


if __name__ == "__main__":
    main()
