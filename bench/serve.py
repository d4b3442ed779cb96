"""Load benchmark of `searcher serve` next to the library called in a loop (not a test).

Drives the real server over loopback only (127.0.0.1) with a bounded number of requests and
a bounded time: N concurrent HTTP/1.1 clients in one asyncio process on the same machine
over a mix of word, two-word, phrase, filtered and faceted queries taken from the corpus
itself (bench/perf.py's mix plus faceted queries), against one worker and two.  The
baseline is SearchEngine.search over the same queries in a loop in one process.  The runs
take turns in rounds (6 by default, each starting with the next run), so that a shared
machine's drifting speed hits each alike: its speed drifts by up to 2x within seconds, so
long runs one after another compare different machines, while very short ones pay for each
run's start and end (16 clients connecting at once, the last requests with few clients
left).  Prints a table with the CPU each request cost the server (all its processes) and
the client, and the library's per search; --out writes JSON.

Each client keeps its connection for --per-connection requests (10), then reconnects, as
HTTP clients with keep-alive pools do; this costs the client ~0.3 ms of CPU a request (on
uvloop) instead of ~1 ms with a new connection every time (--per-connection 1, asyncio's
loop).  `serve --workers N` hands each new connection to the worker with the fewest open
(searcher/web/server.py).

    python3 ../shared/tools/make_corpus.py /tmp/corpus20k
    searcher --index-dir /tmp/ix20k index /tmp/corpus20k
    nice python3 bench/serve.py --corpus /tmp/corpus20k --index-dir /tmp/ix20k

Targets (printed last, each with its verdict): no errors; throughput with one worker >= 0.8x
the library loop and with two workers >= 1.5x; p99 under load <= 10x the library's p99,
judged on the run with one worker per core.  With fewer workers than cores the p99 is shown
next to its floor: 16 clients that always have a request waiting on one worker wait for the
15 ahead of theirs, so their mean latency is 16 / throughput (Little's law), already ~10x the
library's p99 when one worker matches the library's speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from perf import Query, query_mix  # noqa: E402

HOST = "127.0.0.1"  # loopback only, always
FACETS = "author,category,year"


def queries(corpus: Path, n: int, seed: int) -> list[tuple[Query, bool]]:
    """perf.py's mix (words, two words, phrases, filtered) plus a fifth of faceted ones."""
    mix = query_mix(corpus, n=n - n // 5, seed=seed)
    rng = random.Random(seed + 1)
    words = [q for q in mix if q.kind == "word"]
    faceted = [(Query("faceted", rng.choice(words).text), True) for _ in range(n // 5)]
    out = [(q, False) for q in mix] + faceted
    rng.shuffle(out)
    return out


def search_kwargs(query: Query, faceted: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"limit": 10}
    if query.category:
        kwargs["category"] = query.category
    if query.since:
        kwargs["since"] = query.since
    if faceted:
        kwargs["facets"] = FACETS.split(",")
    return kwargs


def target(query: Query, faceted: bool) -> str:
    params: dict[str, Any] = {"q": query.text, "limit": 10}
    if query.category:
        params["category"] = query.category
    if query.since:
        params["since"] = query.since
    if faceted:
        params["facets"] = FACETS
    return "/api/search?" + urlencode(params)


def stats(latencies: list[float], errors: int, wall: float, cpu: tuple[float, float]
          ) -> dict[str, Any]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if latencies else [0] * 99
    done = max(len(latencies), 1)
    return {"requests": len(latencies) + errors, "errors": errors, "seconds": wall,
            "throughput": len(latencies) / wall if wall else 0.0,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000,
            "cpu_ms": cpu[0] / done * 1000, "client_cpu_ms": cpu[1] / done * 1000}


def middle_half(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles of *values* (their range when there are few)."""
    if len(values) < 4:
        return min(values), max(values)
    cuts = statistics.quantiles(values, n=4, method="inclusive")
    return cuts[0], cuts[2]


def little_mean_ms(clients: int, throughput: float) -> float:
    """Little's law: clients that always have a request waiting wait, on average, for
    clients / throughput (ms); no order of serving them lowers that mean, only the spread."""
    return 1000 * clients / throughput if throughput else 0.0


def verdicts(rows: dict[str, dict[str, Any]], workers: list[int], clients: int) -> list[str]:
    """The issue's targets against this run, as a table.  The p99 target is judged on the
    run with one worker per core (the deployment for this machine): with fewer workers than
    cores, clients that always have a request waiting queue behind each other, and Little's
    law puts their mean latency at clients / throughput whatever the server does, so that
    run's p99 is shown next to that floor rather than judged."""
    library = rows["library loop (1 process)"]
    by_workers = {w: row for w, (name, row) in zip(workers, list(rows.items())[1:],
                                                    strict=True)}
    cores = os.cpu_count() or 1
    out = ["| target | this run | met |", "| --- | --- | --- |"]

    def line(target: str, value: float | None, text: str, ok: bool | None) -> None:
        mark = "–" if value is None else ("yes" if ok else "**no**")
        out.append(f"| {target} | {text if value is not None else 'not run'} | {mark} |")

    errors = sum(row["errors"] for row in rows.values())
    line("no errors", errors, str(errors), errors == 0)
    for count, floor in ((1, 0.8), (2, 1.5)):
        row = by_workers.get(count)
        ratio = row["throughput"] / library["throughput"] if row else None
        line(f"{count} worker{'s' if count > 1 else ''}: throughput >= {floor}x the library",
             ratio, f"{ratio:.2f}x" if ratio is not None else "", (ratio or 0) >= floor)
    judged = by_workers.get(cores) or by_workers.get(max(by_workers, default=0))
    for count, row in sorted(by_workers.items()):
        p99 = row["p99_ms"] / library["p99_ms"]
        if row is judged:
            line(f"p99 <= 10x the library's ({count} worker(s), {cores} cores)", p99,
                 f"{p99:.1f}x", p99 <= 10)
        else:
            floor_ms = little_mean_ms(clients, row["throughput"])
            out.append(f"| p99 with {count} worker(s): shown, not judged | {p99:.1f}x "
                       f"(Little's-law mean alone: {floor_ms / library['p99_ms']:.1f}x) | – |")
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process *pid* and its children (uvicorn's
    workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


class Library:
    """SearchEngine.search in a loop in this process, warmed up by one pass of the mix."""

    def __init__(self, index_dir: Path, mix: list[tuple[Query, bool]]) -> None:
        from searcher import SearchEngine

        self.engine = SearchEngine(index_dir)
        self.mix = mix
        for query, faceted in mix:
            self.engine.search(query.text, **search_kwargs(query, faceted))

    def run(self, start: int, requests: int, time_limit: float):
        latencies: list[float] = []
        errors = 0
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(start, start + requests):
            query, faceted = self.mix[i % len(self.mix)]
            t0 = time.perf_counter()
            try:
                self.engine.search(query.text, **search_kwargs(query, faceted))
                latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors += 1
                print(f"library error: {query.text!r}: {exc}", file=sys.stderr)
            if time.perf_counter() - started > time_limit:
                break
        wall = time.perf_counter() - started
        return latencies, errors, wall, (time.process_time() - cpu, 0.0)


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str],
                  deadline: float, per_connection: int) -> None:
    """One client: its requests one after another, a new connection every *per_connection*
    requests (so that the kernel can spread them over the workers; the time to connect is
    part of the latency)."""
    writer = None
    try:
        for i, path in enumerate(paths):
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            if writer is None or i % per_connection == 0:
                if writer is not None:
                    writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                errors.append(f"{status} {path}: {body[:200]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"connection: {exc!r}")
    finally:
        if writer is not None:
            writer.close()


async def _load(port: int, paths: list[str], clients: int, time_limit: float,
                per_connection: int):
    latencies: list[float] = []
    errors: list[str] = []
    shares = [paths[i::clients] for i in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, share, latencies, errors, started + time_limit,
                                   per_connection) for share in shares))
    return latencies, errors, time.perf_counter() - started


def run_async(coro: Any) -> Any:
    """Run the clients on uvloop when it imports (a dependency of `serve`): the load generator
    shares the two cores with the server, and asyncio's own loop costs it more CPU a request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`searcher serve --workers N` on a free loopback port, warmed up by the mix."""

    def __init__(self, index_dir: Path, mix: list[tuple[Query, bool]], workers: int,
                 clients: int, time_limit: float, per_connection: int) -> None:
        self.port = free_port()
        self.per_connection = per_connection
        self.clients, self.workers = clients, workers
        self.paths = [target(q, f) for q, f in mix]
        env = {**os.environ, "PYTHONPATH": str(benchlib.REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "serve",
             "--host", HOST, "--port", str(self.port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit("server did not start: "
                                     + self.proc.stderr.read().decode(errors="replace")) from None
                time.sleep(0.3)
        # Every query at least once per worker (the kernel spreads the connections).
        run_async(_load(self.port, self.paths * workers, clients, time_limit, 1))

    def run(self, start: int, requests: int, time_limit: float):
        timed = [self.paths[i % len(self.paths)] for i in range(start, start + requests)]
        server, client = tree_cpu(self.proc.pid), time.process_time()
        latencies, errors, wall = run_async(_load(self.port, timed, self.clients,
                                                    time_limit, self.per_connection))
        cpu = (tree_cpu(self.proc.pid) - server, time.process_time() - client)
        for error in errors[:5]:
            print(f"server error ({self.workers} worker(s)): {error}", file=sys.stderr)
        return latencies, len(errors), wall, cpu

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the indexed articles")
    parser.add_argument("--index-dir", type=Path, required=True, help="an index of --corpus")
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--requests", type=int, default=2000, help="per run (bounded)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--per-connection", type=int, default=10,
                        help="requests per connection before a client reconnects (see above)")
    parser.add_argument("--rounds", type=int, default=6, help="runs take turns this often")
    parser.add_argument("--time-limit", type=float, default=600.0,
                        help="seconds per configuration (all rounds)")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    mix = queries(args.corpus, args.queries, args.seed)
    kinds = {}
    for query, _ in mix:
        kinds[query.kind] = kinds.get(query.kind, 0) + 1
    print(f"{len(mix)} queries: {kinds}", file=sys.stderr)
    load_before = os.getloadavg()[0]
    runners: dict[str, Any] = {"library loop (1 process)": Library(args.index_dir, mix)}
    try:
        for workers in args.workers:
            name = f"server, {workers} worker{'s' if workers > 1 else ''}, {args.clients} clients"
            runners[name] = Server(args.index_dir, mix, workers, args.clients, args.time_limit,
                                   args.per_connection)
        # Rounds take turns so that the shared machine's drifting load hits every run alike.
        per_round = args.requests // args.rounds
        collected = {name: ([], 0, 0.0, (0.0, 0.0)) for name in runners}
        ratios: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for number in range(args.rounds):
            round_rates = {}
            # Each round starts with the next run, so that none is always first after a pause.
            for name in names[number % len(names):] + names[:number % len(names)]:
                runner = runners[name]
                latencies, errors, wall, cpu = runner.run(number * per_round, per_round,
                                                          args.time_limit / args.rounds)
                old = collected[name]
                collected[name] = (old[0] + latencies, old[1] + errors, old[2] + wall,
                                   (old[3][0] + cpu[0], old[3][1] + cpu[1]))
                round_rates[name] = len(latencies) / wall
            base = round_rates["library loop (1 process)"]
            for name, rate in round_rates.items():
                ratios[name].append(rate / base)
            print(f"round {number + 1}: " + ", ".join(
                f"{name.split(',')[0 if 'library' in name else 1].strip()} {rate:.1f}/s"
                for name, rate in round_rates.items()), file=sys.stderr)
    finally:
        for runner in runners.values():
            if isinstance(runner, Server):
                runner.stop()
    rows = {name: stats(*values) for name, values in collected.items()}
    library = rows["library loop (1 process)"]
    print(f"\n{len(mix)}-query mix ({', '.join(f'{k} {v}' for k, v in kinds.items())}), "
          f"{args.per_connection} request(s) per connection, "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{benchlib.machine()['cpu']}\n")
    print("| run | requests | errors | req/s | × library (middle half of rounds) | p50 ms | "
          "p99 ms | p99 × library | CPU ms/req | client CPU ms/req |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        spread = "–".join(f"{r:.2f}" for r in middle_half(ratios[name]))
        print(f"| {name} | {row['requests']} | {row['errors']} | {row['throughput']:.1f} | "
              f"{row['throughput'] / library['throughput']:.2f} ({spread}) | "
              f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
              f"{row['p99_ms'] / library['p99_ms']:.1f} | {row['cpu_ms']:.1f} | "
              + (f"{row['client_cpu_ms']:.2f} |" if "library" not in name else "– |"))
        row["ratio_per_round"] = ratios[name]
    floors = [f"{name.split(',')[1].strip()}: {args.clients} / {row['throughput']:.1f} req/s = "
              f"{little_mean_ms(args.clients, row['throughput']):.0f} ms "
              f"({little_mean_ms(args.clients, row['throughput']) / library['p99_ms']:.1f}x "
              "the library's p99)" for name, row in rows.items()
              if "library" not in name and row["throughput"]]
    print("\nMean latency under load (Little's law: clients / throughput, whatever the order "
          "of serving): " + "; ".join(floors))
    print()
    for line in verdicts(rows, args.workers, args.clients):
        print(line)
    benchlib.dump(args.out, {"machine": benchlib.machine(), "clients": args.clients,
                             "queries": kinds, "runs": rows})


if __name__ == "__main__":
    main()
