"""The ``searcher`` command: a thin layer over :class:`searcher.SearchEngine`.

Exit codes (README, "Exit codes"): 0 success; 1 the run finished but some
files failed (``index``) or the index disagrees with the sources
(``check``); 2 the command could not run (bad arguments, query or setting,
missing index or folder, lock held, disk full, no permission); 3 an
unexpected error, i.e. a bug (one line on stderr says where the traceback
is); 4 a damaged index file (named; ``IndexCorruptError``); 124 a search ran past
its time limit (``--timeout``, as ``timeout(1)``); 130 interrupted; 141 the output pipe
was closed.

Text from documents (titles, authors, paths, snippets) is printed with its
control characters shown as escapes (``\\x1b``), so an article cannot drive
the reader's terminal; JSON output escapes them already.

Subcommands are declared with :func:`command` instead of ``app.command``:
it adds the global options (``--index-dir``, ``--config``, ``--verbose``)
to the subcommand too, so they work on both sides of its name, and runs it
under the error handling that turns failures into the codes above.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import inspect
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
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

EXIT_OK, EXIT_PARTIAL, EXIT_FAILED, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CORRUPT = 4  # IndexCorruptError.exit_code: a damaged index file
EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 130, 141   # 128 + SIGINT, 128 + SIGPIPE, as shells do
EXIT_TIMEOUT = 124  # TimeLimitExceeded.exit_code: what timeout(1) exits with

IndexDirOption = Annotated[str | None, typer.Option(
    "--index", "--index-dir", "-d", metavar="DIR|URL",
    help="Index location: a folder, or http(s)://host:port/NAME for an OpenSearch index "
         "(default: $SEARCHER_INDEX_DIR, index_dir in the settings file, ./index_data).")]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="Settings file (default: ./searcher.toml if present).")]
VerboseOption = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Log what happens; print the traceback of an unexpected error.")]
TimeoutOption = Annotated[float | None, typer.Option(
    "--timeout", min=0, metavar="SECONDS",
    help="Stop with exit code 124 after this long (default: search_timeout, 10; 0: no limit).")]


class _State:
    """The global options of this invocation and what the error handler needs to know."""

    def __init__(self) -> None:
        self.index_dir: str | None = None
        self.config: Path | None = None
        self.verbose: bool = False
        #: The index folder the command opened, and whether it held an index then.
        self.used_index_dir: Path | None = None
        self.index_existed: bool = False


state = _State()


@app.callback()
def main_options(index_dir: IndexDirOption = None, config: ConfigOption = None,
                 verbose: VerboseOption = False) -> None:
    """Chinese full-text search for folders of Markdown/HTML articles."""
    state.__init__()
    state.index_dir, state.config, state.verbose = index_dir, config, verbose


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``app.command(...)`` for a subcommand that also takes the global options.

    ``searcher search 聊城 --index-dir DIR`` works like ``searcher --index-dir DIR
    search 聊城`` (given on both sides, the one after the subcommand wins), and
    the subcommand runs under :func:`_guarded`.
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        extra = [
            inspect.Parameter("cli_index_dir", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=IndexDirOption),
            inspect.Parameter("cli_config", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=ConfigOption),
            inspect.Parameter("cli_verbose", inspect.Parameter.KEYWORD_ONLY, default=False,
                              annotation=VerboseOption),
        ]

        @functools.wraps(func)
        def wrapper(*call_args: Any, cli_index_dir: str | None = None,
                    cli_config: Path | None = None, cli_verbose: bool = False,
                    **call_kwargs: Any) -> Any:
            state.index_dir = cli_index_dir or state.index_dir
            state.config = cli_config or state.config
            state.verbose = cli_verbose or state.verbose
            with _logging(state.verbose), _guarded():
                return func(*call_args, **call_kwargs)

        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra])
        return app.command(*args, **kwargs)(wrapper)
    return decorate


@contextlib.contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    """Log records of ``searcher`` to stderr for this command (INFO with --verbose)."""
    logger = logging.getLogger("searcher")
    jieba_logger = logging.getLogger("jieba")
    saved = logger.level, jieba_logger.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(levelname)s: %(message)s" if verbose else "warning: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        jieba_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        jieba_logger.setLevel(saved[1])


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    """Turn every failure into one line on stderr and an honest exit code.

    Expected errors (the library's :class:`SearcherError`, and a full disk,
    a refused permission or a vanished index folder) exit 2 with
    ``error: ...``.  Anything else is a bug: exit 3, and the traceback goes
    to stderr with --verbose, else to a log file whose path is printed.
    """
    from .errors import SearcherError, TimeLimitExceeded, storage_error

    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except TimeLimitExceeded as exc:
        _fail(f"{exc}; narrow the query (another word, a filter) or allow more time with "
              "--timeout SECONDS (0: no limit; the setting is search_timeout)", exc.exit_code)
    except SearcherError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:  # `searcher search ... | head`: nobody reads any more; not 0 or 1,
        with contextlib.suppress(OSError, ValueError):  # which would hide the run's outcome
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_PIPE_CLOSED) from None
    except Exception as exc:  # noqa: BLE001 - the point: nothing escapes unexplained
        from .local.storage import index_gone

        explained = storage_error(exc, state.used_index_dir, state.index_existed, index_gone)
        if explained is not None:
            _fail(str(explained), explained.exit_code)
        _internal_error(exc)


def _fail(message: str, code: int = EXIT_FAILED) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _internal_error(exc: BaseException) -> None:
    """Report a bug: the traceback on stderr (--verbose) or in a log file, then exit 3."""
    text = "".join(traceback.format_exception(exc))
    summary = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if state.verbose:
        typer.echo(text, err=True, nl=False)
        typer.echo(f"internal error: {summary} (a bug in searcher; the traceback is above)",
                   err=True)
        raise typer.Exit(EXIT_INTERNAL)
    log_path = _write_crash_log(text)
    if log_path is None:  # not even the log could be written: the traceback is the record
        typer.echo(text, err=True, nl=False)
        where = "the traceback is above"
    else:
        where = f"traceback in {log_path}"
    typer.echo(f"internal error: {summary} (a bug in searcher; {where}; "
               "--verbose prints it)", err=True)
    raise typer.Exit(EXIT_INTERNAL)


def _write_crash_log(text: str) -> Path | None:
    """Write *text* to a new file in the cache folder (or the temp folder); its path."""
    from . import __version__

    try:
        from .analysis.segmenter import cache_dir

        folders = [cache_dir() / "errors"]
    except Exception:  # noqa: BLE001 - the cache folder itself may be the problem
        folders = []
    folders.append(Path(tempfile.gettempdir()))
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    header = (f"searcher {__version__}, Python {sys.version.split()[0]}, {stamp}\n"
              f"argv: {sys.argv!r}\n\n")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"searcher-error-{stamp}-{os.getpid()}.log"
            path.write_text(header + text, encoding="utf-8", errors="backslashreplace")
            return path
        except OSError:
            continue
    return None


def _engine(**overrides: Any) -> SearchEngine:
    from .config import is_cluster_url, load_settings
    from .engine import SearchEngine
    from .local.storage import IndexDir

    settings = load_settings(state.config, source="command line", index_dir=state.index_dir,
                             **overrides)
    if not is_cluster_url(settings.index_dir):  # what storage errors are explained against
        state.used_index_dir = settings.index_dir
        state.index_existed = IndexDir(settings.index_dir).current() is not None
    return SearchEngine(settings=settings)


def _part(value: str | None) -> tuple[int, int] | None:
    """``--part K/N`` as ``(K, N)``; exit 2 naming the value when it is not one."""
    if value is None:
        return None
    import re

    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        _fail(f"--part {value!r}: expected K/N with 1 <= K <= N, e.g. --part 1/3")
    return int(match.group(1)), int(match.group(2))


def _text_argument(value: str | None, name: str) -> str | None:
    """*value* as text, when the terminal sent bytes that are not UTF-8.

    Python turns argument bytes it cannot decode into lone surrogates
    (``surrogateescape``).  A terminal set to GBK sends ``长江`` as
    ``b3 a4 bd ad``: bytes that are valid GB18030 are read as GB18030 (and
    stderr says so); any other undecodable bytes are an error (exit 2).
    """
    if value is None or not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    from .errors import QueryError

    raw = os.fsencode(value)
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        shown = raw.hex(" ") if len(raw) <= 24 else raw[:24].hex(" ") + " …"
        raise QueryError(
            f"{name} is neither UTF-8 nor GB18030 text (bytes {shown}): set the terminal "
            "to UTF-8 and type it again", argument=name.lstrip("-"), value=value) from None
    typer.echo(f"note: {name} was not UTF-8; read it as GB18030: {text}", err=True)
    return text


#: Control characters: C0 (ESC starts the terminal's commands: ``ESC [2J`` clears the
#: screen, ``ESC ] 0;…`` sets the window title), DEL and C1 (CSI, OSC as one character).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _visible(text: str, keep: str = "") -> str:
    """*text* (from a document or a file name) with its control characters shown as escapes
    (``\\x1b``), except those in *keep* (the newlines and tabs of a whole text)."""
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep
                         else f"\\x{ord(m.group()):02x}", text)


def _marked(text: str, spans: list[tuple[int, int]], style: str, base: str = "") -> Any:
    """A rich Text of *text* (made :func:`_visible`) with the spans (merged, sorted offsets
    into *text*) in *style*; escapes lengthen the text, so spans are applied piece by piece."""
    from rich.text import Text

    out = Text(style=base)
    done = 0
    for start, end in spans:
        out.append(_visible(text[done:start]))
        out.append(_visible(text[start:end]), style=style)
        done = end
    out.append(_visible(text[done:]))
    return out


def _print_json(data: Any) -> None:
    from .reports import json_text

    typer.echo(json_text(data, indent=2, default=str))


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
        "--batch-size", min=1, help="Documents per commit (default 12000).")] = None,
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
    share = _part(part)
    engine = _engine(userdict=userdict, drafts=drafts or None)
    progress_cm = _progress(enabled=not (as_json or quiet) and sys.stderr.isatty())
    with progress_cm as progress:
        report = engine.index(sources, full=full, jobs=jobs, wait=wait, progress=progress,
                              batch_size=batch_size, follow_links=follow_links or None,
                              part=share)
    if as_json:
        _print_json(report.as_dict())
    else:
        for path, reason in report.failed:
            typer.echo(_visible(f"failed: {path}: {reason}"), err=quiet)
        if not quiet:
            for path, reason in report.skipped:
                typer.echo(_visible(f"skipped: {path}: {reason}"))
            if state.verbose:
                for path, warning in report.warnings:
                    typer.echo(_visible(f"warning: {path}: {warning}"), err=True)
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
    query, since, until, sort = (
        _text_argument(value, name) for name, value in (
            ("query", query), ("--since", since), ("--until", until), ("--sort", sort)))
    author, category, tag = (
        [_text_argument(value, name) for value in values] if values else None
        for name, values in (("--author", author), ("--category", category), ("--tag", tag)))
    overrides: dict[str, Any] = {"synonyms": synonyms}
    if no_pinyin:
        overrides["pinyin"] = False
    engine = _engine(**overrides)
    results = engine.search(query, limit=limit, page=page, author=author,
                            category=category, tag=tag, since=since, until=until, sort=sort,
                            year=year, month=month, facets=facets, facet_limit=facet_limit,
                            timeout=timeout)
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
            line.append(_visible(value))
            line.append(f" {count}", style="cyan")
        if not pairs:
            line.append("(none)", style="dim")
        console.print(line)


def _print_results(results) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    for notice in getattr(results, "notices", ()):
        console.print(Text(f"Note: {notice.message}", style="yellow"))
    if getattr(results, "did_you_mean", None):
        console.print(Text(f"您是不是要找：{results.did_you_mean}", style="bold yellow"))
    if results.relaxed:
        console.print(Text("No document has every word; showing the best partial matches.",
                           style="yellow"))
    if not results.hits:
        console.print(Text(f"No results for {results.query!r}." if results.total == 0
                           else f"No results on page {results.page} (of {results.pages})."))
        return
    first = (results.page - 1) * results.limit + 1
    console.print(Text(
        f"{results.total} results, showing {first}-{first + len(results.hits) - 1} "
        f"({results.elapsed * 1000:.0f} ms)", style="dim"))
    for hit in results.hits:
        line = Text(f"{hit.rank:>3}. ")
        line.append_text(_marked(hit.title, hit.title_highlights, "bold reverse", "bold"))
        if hit.near_duplicate:
            line.append("  near-duplicate", style="yellow")
        console.print(line)
        date = hit.date.strftime("%Y-%m-%d %H:%M") if hit.date else "no date"
        console.print(Text(f"     {date}  {_visible(hit.author)}  {_visible(hit.path)}",
                           style="dim"))
        console.print(Text("     ").append_text(_marked(hit.snippet, hit.highlights, "bold red")))


@command()
def suggest(
    prefix: Annotated[str, typer.Argument(help="What was typed so far: 认证, liaoc, lc, ...")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Completions of PREFIX (Chinese, traditional, pinyin or initials), most documents first."""
    found = _engine().suggest(_text_argument(prefix, "prefix"), limit=limit)
    if as_json:
        _print_json([s.as_dict() for s in found])
        return
    width = max((len(str(s.count)) for s in found), default=1)
    for s in found:
        typer.echo(f"{s.count:>{width}}  {s.kind:<6}  {_visible(s.text)}")


@command()
def similar(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timeout: TimeoutOption = None,
) -> None:
    """Articles related to ID, near-duplicates (the same story elsewhere) first."""
    results = _engine().similar(doc_id, limit=limit, page=page, timeout=timeout)
    if as_json:
        _print_json(results.as_dict())
        return
    _print_results(results)


@command()
def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (or source path).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one document's metadata and text."""
    doc = _engine().get(doc_id)
    if as_json:
        _print_json(doc.as_dict())
        return
    for name, value in (("id", doc.id), ("path", doc.path), ("title", doc.title),
                        ("author", doc.author),
                        ("date", doc.date.isoformat() if doc.date else ""),
                        ("categories", ", ".join(doc.categories)), ("tags", ", ".join(doc.tags)),
                        *{**doc.images, **doc.extra}.items(),
                        *(("warning", warning) for warning in doc.warnings)):
        typer.echo(_visible(f"{name + ':':<11} {value}"))
    typer.echo("")
    typer.echo(_visible(doc.text, keep="\n\t"))


@command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Document count, index size, last update and fields."""
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


@command()
def optimize(
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer to finish.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Merge all segments into one (a new generation, published atomically)."""
    report = _engine().optimize(wait=wait)
    if as_json:
        _print_json(report.to_dict())
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
    report = _engine().check(sources, follow_links=follow_links or None, deep=deep)
    if as_json:
        _print_json(report.as_dict())
    else:
        for kind in ("missing", "extra", "stale", "skipped"):
            for item in getattr(report, kind):
                typer.echo(_visible(
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
        _fail(f"--format {fmt!r}: unknown format; expected opensearch")
    engine = _engine()
    if not sources:
        sources = [Path(p) for p in engine.stats()["sources"]]
    from .opensearch.sync import export as export_opensearch

    report = export_opensearch(sources, out, engine.settings, shards=shards, replicas=replicas,
                               jobs=jobs)
    for path, reason in report.failed:
        typer.echo(_visible(f"failed: {path}: {reason}"))
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
    engine = _engine()
    public = public or engine.settings.public
    from .errors import SearcherError
    from .web.app import WebOptions  # the web stack is imported only here
    from .web.server import serve as run_server

    try:
        documents = engine.stats()["documents"]
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


def _loopback(host: str) -> bool:
    """Whether every address *host* names is on this machine only (127.0.0.0/8, ::1)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


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
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
              "choose another --port or --host")


def main() -> None:
    """Console-script entry point (errors outside a subcommand are bugs too: exit 3)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - subcommands handle their own; this is the rest
        try:
            _internal_error(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
