"""Exceptions a caller can act on.

Every failure the user can fix (a bad query, a missing folder, an index that
is locked or missing) is a :class:`SearcherError` subclass whose message says
what to do; the CLI turns them into one line and an exit code.
"""

from __future__ import annotations


class SearcherError(Exception):
    """Base class for all errors raised on purpose by searcher."""

    #: Exit code the CLI uses for this error (2: the run could not proceed).
    exit_code: int = 2


class QueryError(SearcherError, ValueError):
    """The query string cannot be parsed; the message says where and why."""


class IndexNotFoundError(SearcherError):
    """There is no index at the given location yet (run ``searcher index``)."""


class IndexLockedError(SearcherError):
    """Another process is writing to the index."""


class SourceNotFoundError(SearcherError):
    """A source folder given for indexing does not exist or is not a folder."""


class DocumentError(SearcherError):
    """One file cannot be turned into a document; indexing reports and skips it."""


class ConfigError(SearcherError):
    """A configuration file, dictionary or synonyms file is unusable."""


class UnsupportedWhooshError(SearcherError, ImportError):
    """The installed Whoosh is a version searcher's segment code was not tested against.

    Raised when :mod:`searcher.local.whoosh_adapter` is imported; *version* is
    the version found, *supported* the range searcher works with.
    """

    def __init__(self, version: str, supported: str) -> None:
        super().__init__(
            f"whoosh {version} is not supported: searcher writes Whoosh segments with its own "
            f"code, tested with whoosh-reloaded {supported}; install a supported version "
            f"(pip install 'whoosh-reloaded{supported}')")
        self.version = version
        self.supported = supported
