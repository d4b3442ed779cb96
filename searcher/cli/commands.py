"""The subcommands: index, search, suggest, similar, show, stats, optimize, check, export
and serve."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .base import (
    EXIT_OK,
    EXIT_PARTIAL,
    TimeoutOption,
    command,
    fail,
    open_engine,
    parse_part,
    state,
    text_argument,
)
from .output import print_facets, print_json, print_results, progress_bar, visible


@command()
def index(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Source folders (default: the folders the index was built from).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch.")] = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: all cores).")] = None,
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer to finish.")] = 0.0,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Documents per commit (default 50000).")] = None,
    userdict: Annotated[Path | None, typer.Option(
        "--userdict", help="jieba user dictionary (word [freq] [tag] per line).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures.")] = False,
    follow_links: Annotated[bool, typer.Option(
        "--follow-links", help="Also follow links that lead out of a source folder.")] = False,
    drafts: Annotated[bool, typer.Option(
        "--drafts", help="Also index drafts (draft: true, published: false, _drafts/).")] = False,
    part: Annotated[str | None, typer.Option(
        "--part", metavar="K/N",
        help="Cluster index only: index (and delete) just share K of N of the documents, "
             "so N machines share the work.")] = None,
) -> None:
    """Index SOURCES: the first run builds, later runs apply only what changed."""
    share = parse_part(part)
    engine = open_engine(userdict=userdict, drafts=drafts or None)
    progress_cm = progress_bar(enabled=not (as_json or quiet) and sys.stderr.isatty())
    with progress_cm as progress:
        report = engine.index(_paths(sources), full=full, jobs=jobs, wait=wait, progress=progress,
                              batch_size=batch_size, follow_links=follow_links or None,
                              part=share)
    if as_json:
        print_json(report.as_dict())
    else:
        for path, reason in report.failed:
            typer.echo(visible(f"failed: {path}: {reason}"), err=quiet)
        if not quiet:
            for path, reason in report.skipped:
                typer.echo(visible(f"skipped: {path}: {reason}"))
            if state.verbose:
                for path, warning in report.warnings:
                    typer.echo(visible(f"warning: {path}: {warning}"), err=True)
            shown = engine.settings.index_dir if share is None else (
                f"{engine.settings.index_dir} (part {share[0]}/{share[1]})")
            typer.echo(
                f"{'rebuilt' if report.full else 'updated'} {shown}: "
                f"{report.added} added, {report.updated} updated, {report.deleted} deleted, "
                f"{report.unchanged} unchanged, {report.moved} moved, "
                f"{len(report.failed)} failed, {len(report.skipped)} skipped, "
                f"{len(report.warnings)} warnings; "
                f"{report.documents} documents, {report.index_bytes / 1e6:.1f} MB, "
                f"{report.duration:.1f} s"
            )
    raise typer.Exit(EXIT_PARTIAL if report.failed else EXIT_OK)



@command()
def search(
    query: Annotated[str, typer.Argument(help='Query, e.g. 认证认可, "exact phrase", a OR b -c.')],
    author: Annotated[list[str] | None, typer.Option(
        help="Only this author (repeat for any of several).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        help="Only this category (repeat for any of several).")] = None,
    tag: Annotated[list[str] | None, typer.Option(
        help="Only this tag (repeat for any of several).")] = None,
    year: Annotated[list[str] | None, typer.Option(
        help="Only dated in this year, e.g. 2021 (repeatable).")] = None,
    month: Annotated[list[str] | None, typer.Option(
        help="Only dated in this month, YYYY-MM (repeatable).")] = None,
    facets: Annotated[str | None, typer.Option(
        "--facets", help="Count all matches by these, e.g. author,category,tag,year,month.",
    )] = None,
    facet_limit: Annotated[int, typer.Option(
        "--facet-limit", min=1, help="Values shown per facet.")] = 10,
    since: Annotated[str | None, typer.Option(help="Dated on or after (YYYY-MM-DD...).")] = None,
    until: Annotated[str | None, typer.Option(help="Dated on or before (inclusive).")] = None,
    sort: Annotated[str, typer.Option(help="relevance, date (newest first) or oldest.")] = (
        "relevance"),
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    page: Annotated[int, typer.Option(min=1)] = 1,
    no_pinyin: Annotated[bool, typer.Option("--no-pinyin", help="Do not match pinyin.")] = False,
    synonyms: Annotated[Path | None, typer.Option(help="Synonyms file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timeout: TimeoutOption = None,
) -> None:
    """Search the index; prints rank, title, date, path and a highlighted snippet."""
    query = text_argument(query, "query")
    since = text_argument(since, "--since")
    until = text_argument(until, "--until")
    sort = text_argument(sort, "--sort")
    author, category, tag = (
        [text_argument(value, name) for value in values] if values else None
        for name, values in (("--author", author), ("--category", category), ("--tag", tag)))
    overrides: dict[str, Any] = {"synonyms": synonyms}
    if no_pinyin:
        overrides["pinyin"] = False
    engine = open_engine(**overrides)
    results = engine.search(query, limit=limit, page=page, author=author,
                            category=category, tag=tag, since=since, until=until, sort=sort,
                            year=year, month=month, facets=facets, facet_limit=facet_limit,
                            timeout=timeout)
    if as_json:
        print_json(results.as_dict())
        return
    print_results(results)
    print_facets(results.facets)



@command()
def suggest(
    prefix: Annotated[str, typer.Argument(help="What was typed so far: 认证, liaoc, lc, ...")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Completions of PREFIX (Chinese, traditional, pinyin or initials), most documents first."""
    found = open_engine().suggest(text_argument(prefix, "prefix"), limit=limit)
    if as_json:
        print_json([s.as_dict() for s in found])
        return
    width = max((len(str(s.count)) for s in found), default=1)
    for s in found:
        typer.echo(f"{s.count:>{width}}  {s.kind:<6}  {visible(s.text)}")


@command()
def similar(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timeout: TimeoutOption = None,
) -> None:
    """Articles related to ID, near-duplicates (the same story elsewhere) first."""
    results = open_engine().similar(doc_id, limit=limit, page=page, timeout=timeout)
    if as_json:
        print_json(results.as_dict())
        return
    print_results(results)


@command()
def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one document's metadata and text."""
    doc = open_engine().get(doc_id)
    if as_json:
        print_json(doc.as_dict())
        return
    for name, value in (("id", doc.id), ("path", doc.path), ("title", doc.title),
                        ("author", doc.author),
                        ("date", doc.date.isoformat() if doc.date else ""),
                        ("categories", ", ".join(doc.categories)), ("tags", ", ".join(doc.tags)),
                        *{**doc.images, **doc.extra}.items(),
                        *(("warning", warning) for warning in doc.warnings)):
        typer.echo(visible(f"{name + ':':<11} {value}"))
    typer.echo("")
    typer.echo(visible(doc.text, keep="\n\t"))


@command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Document count, index size, last update and fields."""
    data = open_engine().stats()
    if as_json:
        print_json(data.as_dict())
        return
    typer.echo(f"index:       {data.index_dir} ({data.generation})")
    typer.echo(f"documents:   {data.documents} in {data.segments} segment(s)")
    typer.echo(f"size:        {data.index_bytes / 1e6:.1f} MB")
    typer.echo(f"last update: {data.last_update}")
    typer.echo(f"sources:     {', '.join(data.sources)}")
    typer.echo(f"fields:      {', '.join(data.fields)}")


@command()
def optimize(
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer to finish.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Merge all segments into one (a new generation, published atomically)."""
    report = open_engine().optimize(wait=wait)
    if as_json:
        print_json(report.to_dict())
        return
    if not report.merged:
        typer.echo(f"already optimized: {report.documents} documents in "
                   f"{report.segments_after} segment(s) ({report.generation})")
        return
    typer.echo(f"optimized: {report.segments_before} segments -> {report.segments_after}, "
               f"{report.documents} documents ({report.dropped} deleted dropped), "
               f"{report.bytes_before / 1e6:.1f} -> {report.bytes_after / 1e6:.1f} MB, "
               f"{report.duration:.1f} s; now {report.generation}")


@command()
def check(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Source folders (default: the folders the index was built from).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    follow_links: Annotated[bool, typer.Option(
        "--follow-links", help="Also follow links that lead out of a source folder.")] = False,
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also read every index file and compare it with its checksum "
                       "(exit 4 naming each damaged file).")] = False,
) -> None:
    """Compare the index with the source folders without changing anything."""
    report = open_engine().check(_paths(sources), follow_links=follow_links or None, deep=deep)
    if as_json:
        print_json(report.as_dict())
    else:
        for kind in ("missing", "extra", "stale", "skipped"):
            for item in getattr(report, kind):
                typer.echo(visible(
                    f"{kind}: {item if isinstance(item, str) else ': '.join(item)}"))
        typer.echo(f"{report.indexed} indexed, {report.on_disk} on disk: "
                   f"{len(report.missing)} missing, {len(report.extra)} extra, "
                   f"{len(report.stale)} stale" + (" — index is up to date" if report.ok else ""))
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PARTIAL)


@command()
def export(
    out: Annotated[Path, typer.Argument(help="Folder to write index.json and bulk.ndjson into.")],
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Source folders (default: the folders the local index was built from).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Export format: opensearch.")] = "opensearch",
    shards: Annotated[int, typer.Option("--shards", min=1, help="Primary shards.")] = 1,
    replicas: Annotated[int, typer.Option("--replicas", min=0, help="Replicas per shard.")] = 1,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: all cores).")] = None,
) -> None:
    """Write SOURCES as an OpenSearch index: settings + mapping JSON and bulk NDJSON."""
    if fmt != "opensearch":
        fail(f"--format {fmt!r}: unknown format; expected opensearch")
    engine = open_engine()
    if not sources:
        sources = [Path(p) for p in engine.stats().sources]
    from ..opensearch.sync import export as export_opensearch

    folders: list[str | os.PathLike[str]] = list(sources)
    report = export_opensearch(folders, out, engine.settings, shards=shards, replicas=replicas,
                               jobs=jobs)
    for path, reason in report.failed:
        typer.echo(visible(f"failed: {path}: {reason}"))
    typer.echo(f"exported {report.added} documents to {out / 'bulk.ndjson'} "
               f"(settings and mapping: {out / 'index.json'}), {len(report.failed)} failed; "
               f"load: curl -XPUT $URL/NAME -H 'Content-Type: application/json' "
               f"--data-binary @{out / 'index.json'}")
    raise typer.Exit(EXIT_PARTIAL if report.failed else EXIT_OK)


@command()
def serve(
    host: Annotated[str, typer.Option(
        help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes: one per core uses them all.")] = 1,
    cors: Annotated[list[str] | None, typer.Option(
        "--cors", metavar="ORIGIN", help="Let web pages from ORIGIN call the API (repeatable).",
    )] = None,
    time_budget: Annotated[float, typer.Option(
        "--time-budget", min=0.001, help="Seconds a request may take before it answers 503.",
    )] = 10.0,
    public: Annotated[bool, typer.Option(
        "--public",
        help="Leave source paths and folders out of every answer and page (for serving "
             "beyond this machine; also the public setting, SEARCHER_PUBLIC=1).")] = False,
) -> None:
    """Serve the index over HTTP: a search page at /, the JSON API under /api, docs at /docs."""
    engine = open_engine()
    public = public or engine.settings.public
    from ..errors import SearcherError
    from ..web.app import WebOptions  # the web stack is imported only here
    from ..web.server import serve as run_server

    try:
        documents = engine.stats().documents
    except SearcherError as exc:
        typer.echo(f"warning: {exc}; /healthz answers 503 until the index opens", err=True)
        documents = 0
    engine.close()
    _check_listen(host, port)
    if not _loopback(host):
        typer.echo(f"warning: listening on {host}: other machines can reach this server; "
                   "it has no authentication"
                   + ("" if public else ", and its answers name source files and folders "
                      "(--public leaves them out)"), err=True)
    typer.echo(f"serving {engine.settings.index_dir} ({documents} documents) on "
               f"http://{host}:{port}/ (API reference: /docs); Ctrl-C stops", err=True)
    run_server(engine.settings, host=host, port=port, workers=workers,
               options=WebOptions(time_budget=time_budget, cors_origins=tuple(cors or ()),
                                  public=public),
               log_level="info" if state.verbose else "warning", access_log=state.verbose)


def _paths(sources: list[Path] | None) -> list[str | os.PathLike[str]] | None:
    """Folders given on the command line, as the library takes them."""
    return None if sources is None else list(sources)


def _loopback(host: str) -> bool:
    """Whether every address *host* names is on this machine only (127.0.0.0/8, ::1)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def _check_listen(host: str, port: int) -> None:
    """Fail with one ``error:`` line (exit 2) when *host*:*port* cannot be listened on;
    uvicorn itself would exit 3, the code reserved for bugs."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
              "choose another --port or --host")

