"""The ``searcher`` command: a thin layer over :class:`searcher.SearchEngine`.

Exit codes: 0 success; 1 the run finished but some files failed (``index``)
or the index disagrees with the sources (``check``); 2 the command could not
run (bad arguments or query, missing index or folder, lock held).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from .engine import SearchEngine

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Chinese full-text search for folders of Markdown/HTML articles.",
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_PARTIAL, EXIT_FAILED = 0, 1, 2


class _State:
    index_dir: Path | None = None
    config: Path | None = None
    verbose: bool = False


state = _State()


@app.callback()
def main_options(
    index_dir: Annotated[Path | None, typer.Option(
        "--index-dir", "-d", help="Index location (default: $SEARCHER_INDEX_DIR or ./index_data).",
    )] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Settings file (default: ./searcher.toml if present).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Chinese full-text search for folders of Markdown/HTML articles."""
    state.index_dir, state.config, state.verbose = index_dir, config, verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s: %(message)s" if verbose else "warning: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("jieba").setLevel(logging.ERROR)


def _engine(**overrides: Any) -> SearchEngine:
    from .config import load_settings
    from .engine import SearchEngine

    settings = load_settings(state.config, index_dir=state.index_dir, **overrides)
    return SearchEngine(settings=settings)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the library's expected errors into one line on stderr and exit code 2."""
    from .errors import SearcherError

    try:
        yield
    except SearcherError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(getattr(exc, "exit_code", EXIT_FAILED)) from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command()
def index(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Source folders (default: the folders the index was built from).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch.")] = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: all cores).")] = None,
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer to finish.")] = 0.0,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Documents per commit (default 12000).")] = None,
    userdict: Annotated[Path | None, typer.Option(
        "--userdict", help="jieba user dictionary (word [freq] [tag] per line).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only failures.")] = False,
) -> None:
    """Index SOURCES: the first run builds, later runs apply only what changed."""
    with _user_errors():
        engine = _engine(userdict=userdict)
        progress_cm = _progress(enabled=not (as_json or quiet) and sys.stderr.isatty())
        with progress_cm as progress:
            report = engine.index(sources, full=full, jobs=jobs, wait=wait, progress=progress,
                                  batch_size=batch_size)
    if as_json:
        _print_json(report.as_dict())
    else:
        for path, reason in report.failed:
            typer.echo(f"failed: {path}: {reason}", err=quiet)
        if not quiet:
            if state.verbose:
                for path, warning in report.warnings:
                    typer.echo(f"warning: {path}: {warning}", err=True)
            typer.echo(
                f"{'rebuilt' if report.full else 'updated'} {engine.settings.index_dir}: "
                f"{report.added} added, {report.updated} updated, {report.deleted} deleted, "
                f"{report.unchanged} unchanged, {report.moved} moved, "
                f"{len(report.failed)} failed, {len(report.warnings)} warnings; "
                f"{report.documents} documents, {report.index_bytes / 1e6:.1f} MB, "
                f"{report.duration:.1f} s"
            )
    raise typer.Exit(EXIT_PARTIAL if report.failed else EXIT_OK)


class _progress:
    """A rich progress bar on a terminal; a no-op callback elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress("indexing", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             transient=True)
        self._bar.start()
        task = self._bar.add_task("index", total=None)

        def update(done: int, total: int) -> None:
            self._bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@app.command()
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
) -> None:
    """Search the index; prints rank, title, date, path and a highlighted snippet."""
    with _user_errors():
        overrides: dict[str, Any] = {"synonyms": synonyms}
        if no_pinyin:
            overrides["pinyin"] = False
        engine = _engine(**overrides)
        results = engine.search(query, limit=limit, page=page, author=author,
                                category=category, tag=tag, since=since, until=until, sort=sort,
                                year=year, month=month, facets=facets, facet_limit=facet_limit)
    if as_json:
        _print_json(results.as_dict())
        return
    _print_results(results)
    _print_facets(results.facets)


def _print_facets(facets: dict[str, list[tuple[str, int]]]) -> None:
    """One line per facet: ``author    趣头条 3 · 新华社 2``."""
    from rich.console import Console
    from rich.text import Text

    if not facets:
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(Text("\nfacets (all matches):", style="dim"))
    width = max(len(name) for name in facets)
    for name, pairs in facets.items():
        line = Text(f"  {name:<{width}}  ", style="bold")
        for i, (value, count) in enumerate(pairs):
            if i:
                line.append(" · ", style="dim")
            line.append(value)
            line.append(f" {count}", style="cyan")
        if not pairs:
            line.append("(none)", style="dim")
        console.print(line)


def _print_results(results) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    if results.relaxed:
        console.print(Text("No document has every word; showing the best partial matches.",
                           style="yellow"))
    if not results.hits:
        console.print(f"No results for {results.query!r}." if results.total == 0
                      else f"No results on page {results.page} (of {results.pages}).")
        return
    first = (results.page - 1) * results.limit + 1
    console.print(Text(
        f"{results.total} results, showing {first}-{first + len(results.hits) - 1} "
        f"({results.elapsed * 1000:.0f} ms)", style="dim"))
    for hit in results.hits:
        title = Text(hit.title, style="bold")
        for start, end in hit.title_highlights:
            title.stylize("bold reverse", start, end)
        line = Text(f"{hit.rank:>3}. ")
        line.append_text(title)
        if hit.near_duplicate:
            line.append("  near-duplicate", style="yellow")
        console.print(line)
        date = hit.date.strftime("%Y-%m-%d %H:%M") if hit.date else "no date"
        console.print(Text(f"     {date}  {hit.author}  {hit.path}", style="dim"))
        snippet = Text(hit.snippet)
        for start, end in hit.highlights:
            snippet.stylize("bold red", start, end)
        console.print(Text("     ").append_text(snippet))


@app.command()
def suggest(
    prefix: Annotated[str, typer.Argument(help="What was typed so far: 认证, liaoc, lc, ...")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Completions of PREFIX (Chinese, traditional, pinyin or initials), most documents first."""
    with _user_errors():
        found = _engine().suggest(prefix, limit=limit)
    if as_json:
        _print_json([s.as_dict() for s in found])
        return
    width = max((len(str(s.count)) for s in found), default=1)
    for s in found:
        typer.echo(f"{s.count:>{width}}  {s.kind:<6}  {s.text}")


@app.command()
def similar(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Articles related to ID, near-duplicates (the same story elsewhere) first."""
    with _user_errors():
        results = _engine().similar(doc_id, limit=limit, page=page)
    if as_json:
        _print_json(results.as_dict())
        return
    _print_results(results)


@app.command()
def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one document's metadata and text."""
    with _user_errors():
        doc = _engine().get(doc_id)
    if as_json:
        _print_json(doc.as_dict())
        return
    typer.echo(f"id:         {doc.id}\npath:       {doc.path}\ntitle:      {doc.title}")
    typer.echo(f"author:     {doc.author}\ndate:       {doc.date.isoformat() if doc.date else ''}")
    typer.echo(f"categories: {', '.join(doc.categories)}\ntags:       {', '.join(doc.tags)}")
    for key, value in {**doc.images, **doc.extra}.items():
        typer.echo(f"{key + ':':<11} {value}")
    for warning in doc.warnings:
        typer.echo(f"warning:    {warning}")
    typer.echo("")
    typer.echo(doc.text)


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Document count, index size, last update and fields."""
    with _user_errors():
        data = _engine().stats()
    if as_json:
        _print_json(data)
        return
    typer.echo(f"index:       {data['index_dir']} ({data['generation']})")
    typer.echo(f"documents:   {data['documents']} in {data['segments']} segment(s)")
    typer.echo(f"size:        {data['index_bytes'] / 1e6:.1f} MB")
    typer.echo(f"last update: {data['last_update']}")
    typer.echo(f"sources:     {', '.join(data['sources'])}")
    typer.echo(f"fields:      {', '.join(data['fields'])}")


@app.command()
def check(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Source folders (default: the folders the index was built from).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare the index with the source folders without changing anything."""
    with _user_errors():
        report = _engine().check(sources)
    if as_json:
        _print_json(report.as_dict())
    else:
        for kind in ("missing", "extra", "stale"):
            for path in getattr(report, kind):
                typer.echo(f"{kind}: {path}")
        typer.echo(f"{report.indexed} indexed, {report.on_disk} on disk: "
                   f"{len(report.missing)} missing, {len(report.extra)} extra, "
                   f"{len(report.stale)} stale" + (" — index is up to date" if report.ok else ""))
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PARTIAL)


@app.command()
def serve(
    host: Annotated[str, typer.Option(
        help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    cors: Annotated[list[str] | None, typer.Option(
        "--cors", metavar="ORIGIN", help="Let web pages from ORIGIN call the API (repeatable).",
    )] = None,
    time_budget: Annotated[float, typer.Option(
        "--time-budget", min=0.001, help="Seconds a request may take before it answers 503.",
    )] = 10.0,
) -> None:
    """Serve the index over HTTP: a search page at /, the JSON API under /api, docs at /docs."""
    with _user_errors():
        engine = _engine()
        from .errors import SearcherError
        from .web.app import WebOptions  # the web stack is imported only here
        from .web.server import serve as run_server

        try:
            documents = engine.stats()["documents"]
        except SearcherError as exc:
            typer.echo(f"warning: {exc}; /healthz answers 503 until the index opens", err=True)
            documents = 0
        engine.close()
    typer.echo(f"serving {engine.settings.index_dir} ({documents} documents) on "
               f"http://{host}:{port}/ (API reference: /docs); Ctrl-C stops", err=True)
    run_server(engine.settings, host=host, port=port, workers=workers,
               options=WebOptions(time_budget=time_budget, cors_origins=tuple(cors or ())),
               log_level="info" if state.verbose else "warning", access_log=state.verbose)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
