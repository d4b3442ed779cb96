"""The command line's frame: the typer app, its global options, the exit codes, and the
error handling that turns every failure into one of them (see :mod:`searcher.cli`).
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
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, overload

import typer

if TYPE_CHECKING:
    from ..engine import SearchEngine

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


class RunState:
    """The global options of this invocation and what the error handler needs to know."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to no options given (each invocation starts here)."""
        self.index_dir: str | None = None
        self.config: Path | None = None
        self.verbose: bool = False
        #: The index folder the command opened, and whether it held an index then.
        self.used_index_dir: Path | str | None = None
        self.index_existed: bool = False


state = RunState()


@app.callback()
def main_options(index_dir: IndexDirOption = None, config: ConfigOption = None,
                 verbose: VerboseOption = False) -> None:
    """Chinese full-text search for folders of Markdown/HTML articles."""
    state.reset()
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
    from ..errors import SearcherError, TimeLimitExceeded, storage_error

    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except TimeLimitExceeded as exc:
        fail(f"{exc}; narrow the query (another word, a filter) or allow more time with "
              "--timeout SECONDS (0: no limit; the setting is search_timeout)", exc.exit_code)
    except SearcherError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:  # `searcher search ... | head`: nobody reads any more; not 0 or 1,
        with contextlib.suppress(OSError, ValueError):  # which would hide the run's outcome
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_PIPE_CLOSED) from None
    except Exception as exc:  # noqa: BLE001 - the point: nothing escapes unexplained
        from ..local.storage import index_gone

        explained = storage_error(exc, state.used_index_dir, state.index_existed, index_gone)
        if explained is not None:
            fail(str(explained), explained.exit_code)
        internal_error(exc)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def internal_error(exc: BaseException) -> NoReturn:
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
    from .. import __version__

    try:
        from ..analysis.segmenter import cache_dir

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


def open_engine(**overrides: Any) -> SearchEngine:
    from ..config import is_cluster_url, load_settings
    from ..engine import SearchEngine
    from ..local.storage import IndexDir

    settings = load_settings(state.config, source="command line", index_dir=state.index_dir,
                             **overrides)
    if not is_cluster_url(settings.index_dir):  # what storage errors are explained against
        state.used_index_dir = settings.index_dir
        state.index_existed = IndexDir(settings.index_dir).current() is not None
    return SearchEngine(settings=settings)


def parse_part(value: str | None) -> tuple[int, int] | None:
    """``--part K/N`` as ``(K, N)``; exit 2 naming the value when it is not one."""
    if value is None:
        return None

    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        fail(f"--part {value!r}: expected K/N with 1 <= K <= N, e.g. --part 1/3")
    return int(match.group(1)), int(match.group(2))


@overload
def text_argument(value: str, name: str) -> str: ...
@overload
def text_argument(value: None, name: str) -> None: ...
def text_argument(value: str | None, name: str) -> str | None:
    """*value* as text, when the terminal sent bytes that are not UTF-8.

    Python turns argument bytes it cannot decode into lone surrogates
    (``surrogateescape``).  A terminal set to GBK sends ``长江`` as
    ``b3 a4 bd ad``: bytes that are valid GB18030 are read as GB18030 (and
    stderr says so); any other undecodable bytes are an error (exit 2).
    """
    if value is None or not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    from ..errors import QueryError

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




def main() -> None:
    """Console-script entry point (errors outside a subcommand are bugs too: exit 3)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - subcommands handle their own; this is the rest
        try:
            internal_error(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
