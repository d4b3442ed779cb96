"""Exceptions a caller can act on.

Every failure the user can fix (a bad query, a missing folder, an index that
is locked or missing, a bad setting, a full disk) is a :class:`SearcherError`
subclass whose message says what to do; the CLI turns them into one line and
exit code 2.  Anything else escaping the library is a bug (exit code 3).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


class SearcherError(Exception):
    """Base class for all errors raised on purpose by searcher."""

    #: Exit code the CLI uses for this error (2: the run could not proceed).
    exit_code: int = 2


class QueryError(SearcherError, ValueError):
    """The query (or a search option) cannot be used; the message says where and why.

    *position* is the 0-based offset in the offending text where the problem is
    (None when it is not at one place, e.g. an empty query), so that a caller
    such as the web page can point at it; *argument* names the offending
    argument (``query``, ``author``, ``limit``...) when the error is about one,
    and *value* is what was passed.
    """

    def __init__(self, message: str, position: int | None = None, *,
                 argument: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.argument = argument
        self.value = value
        self.position = position


class IndexNotFoundError(SearcherError):
    """There is no index at the given location yet (run ``searcher index``)."""


class DocumentNotFoundError(SearcherError, LookupError):
    """No document in the index has this id (``doc_id`` holds the id asked for)."""

    def __init__(self, message: str, doc_id: str) -> None:
        super().__init__(message)
        self.doc_id = doc_id


class AmbiguousDocumentError(SearcherError, LookupError):
    """A source path names several documents (one file reached from two nested source
    folders): ``ids`` lists them, sorted; ask for one of them by id."""

    def __init__(self, doc_id: str, ids: list[str]) -> None:
        self.doc_id = doc_id
        self.ids = sorted(ids)
        super().__init__(f"{doc_id} is indexed as {len(self.ids)} documents "
                         f"({', '.join(self.ids)}): give one of these ids")


class TimeLimitExceeded(SearcherError):
    """A search ran past its time limit (``timeout``, the ``search_timeout`` setting or
    :func:`searcher.time_limit`; *seconds* holds it).  The search stopped between two steps;
    nothing changed.  The CLI exits 124 for it, as ``timeout(1)`` does."""

    exit_code = 124

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the search took longer than its {seconds:g} s time limit")
        self.seconds = seconds


class IndexCorruptError(SearcherError):
    """A file of the index is damaged: its size or checksum is not what was written.

    *path* names the (first) damaged file and *problem* what is wrong with it;
    *files* lists every damaged file found.  *derived* is true when all of them
    are derived data that the next ``searcher index`` run rebuilds; otherwise
    ``searcher index --full`` rebuilds the index (it never reads the damaged one).
    The CLI exits with code 4.
    """

    exit_code = 4

    def __init__(self, path: str, problem: str, *, derived: bool = False, more: str = "",
                 files: list[str] | None = None) -> None:
        fix = ("run 'searcher index' to rebuild it" if derived
               else "run 'searcher index --full' to rebuild the index")
        super().__init__(f"index file {path} is damaged: {problem}; {fix}"
                         + (f" (also: {more})" if more else ""))
        self.path = path
        self.problem = problem
        self.derived = derived
        self.files = files or [path]


class IndexLockedError(SearcherError):
    """Another process is writing to the index."""


class SourceNotFoundError(SearcherError):
    """A source folder given for indexing does not exist or is not a folder."""


class DocumentError(SearcherError):
    """One file cannot be turned into a document; indexing reports and skips it."""


class ConfigError(SearcherError):
    """A setting, configuration file, dictionary or synonyms file is unusable.

    For a bad setting, *source* is where the value came from (the settings
    file's path, ``environment`` or ``argument``), *key* the name it was given
    under there (``timezone``, ``SEARCHER_TIMEZONE``), *value* the value as
    read and *expected* what would have been accepted.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None,
                 value: Any = None, expected: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.key = key
        self.value = value
        self.expected = expected


class StorageError(SearcherError):
    """The operating system refused to read or write the index or a file it needs.

    Raised for what the user has to fix outside searcher: no space left,
    no permission, a read-only file system, an index folder removed while
    it was in use.  *path* is the file concerned (when known) and *errno*
    the operating system's error number (None when the index vanished).
    """

    def __init__(self, message: str, *, path: str | None = None,
                 errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


#: errno values that mean "the disk is full" (EFBIG: a file size limit, e.g. ulimit -f).
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: numpy's message for a short write (``ndarray.tofile``), which carries no errno: what a
#: full disk looks like when the sidecar arrays are written.
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
#: errno values that mean "you may not write (or read) here".
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}


def storage_error(exc: BaseException, index_dir: str | os.PathLike[str] | None,
                  index_existed: bool = False,
                  vanished: Callable[[Path], bool] | None = None) -> StorageError | None:
    """The :class:`StorageError` that explains *exc*, or None when it is not one we expect.

    *exc* escaped an operation on the index in *index_dir*.  Three situations
    are expected and explained: the disk is full, permission is denied (or
    the file system is read-only), and the index folder, which existed when
    the operation started (*index_existed*), is gone (*vanished* says whether a folder
    still holds a usable index: the back end knows what one looks like).  Anything else, for
    example an ``OSError`` with another errno, is left to the caller as the
    bug it probably is.
    """
    root = Path(index_dir) if index_dir is not None else None
    if isinstance(exc, OSError) and exc.errno is None and _SHORT_WRITE.search(str(exc)):
        return StorageError(
            f"cannot write: the disk took only part of a write ({exc}); free some disk space "
            "and run the command again (the index keeps its last complete commit)")
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        # A copy, move or link names its source first and the file it writes second
        # (``filename2``): the full disk is the second's, maybe another file system.
        written = _name(exc.filename2 if exc.filename2 is not None else exc.filename)
        where = f" {written}" if written else ""
        return StorageError(
            f"cannot write{where}: {exc.strerror}; free some disk space and run the command "
            "again (the index keeps its last complete commit)",
            path=written, errno=exc.errno)
    if _is_sqlite(exc) and "disk is full" in str(exc):
        return StorageError(
            f"cannot write: {exc}; free some disk space and run the command again "
            "(the index keeps its last complete commit)")
    if _is_sqlite(exc) and "readonly database" in str(exc):
        return StorageError(f"cannot use the index folder {root}: {exc}; check its owner and "
                            "permissions, or pass --index-dir", path=str(root))
    if isinstance(exc, OSError) and exc.errno in _NO_PERMISSION:
        name = _name(exc.filename)
        inside = root is not None and name is not None and _is_within(Path(name), root)
        what = (name if not inside and name is not None
                else f"the index folder {root}" if root is not None else "a file")
        return StorageError(
            f"cannot use {what}: {exc.strerror}"
            + (f" ({name})" if inside and name != str(root) else "")
            + ("; check its owner and permissions, or pass --index-dir" if inside
               else "; check its owner and permissions"),
            path=name, errno=exc.errno)
    if index_existed and root is not None and vanished is not None and vanished(root):
        return StorageError(
            f"the index folder {root} was removed while the command was using it: "
            "run 'searcher index SOURCE' to build it again",
            path=str(root), errno=getattr(exc, "errno", None))
    return None


def _is_sqlite(exc: BaseException) -> bool:
    """An error of the sqlite3 module (the pinyin table and the query dictionary)."""
    return type(exc).__module__ == "sqlite3" and hasattr(exc, "sqlite_errorcode")


def _name(filename: Any) -> str | None:
    if filename is None:
        return None
    return os.fsdecode(filename) if isinstance(filename, (bytes, os.PathLike)) else str(filename)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.absolute().relative_to(root.absolute())
    except ValueError:
        return False
    return True


class UnsupportedWhooshError(SearcherError, ImportError):
    """The installed Whoosh is a version searcher's segment code was not tested against.

    Raised when :mod:`searcher.local.whoosh_version` is imported (every whoosh_* adapter
    module imports it before touching Whoosh's internals); *version* is
    the version found, *supported* the range searcher works with.
    """

    def __init__(self, version: str, supported: str) -> None:
        super().__init__(
            f"whoosh {version} is not supported: searcher writes Whoosh segments with its own "
            f"code, tested with whoosh-reloaded {supported}; install a supported version "
            f"(pip install 'whoosh-reloaded{supported}')")
        self.version = version
        self.supported = supported


class ClusterError(SearcherError):
    """The cluster refused or failed a request; ``status`` and ``reason`` say why."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
