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
    """The query string cannot be parsed; the message says where and why.

    ``position`` is the 0-based offset in the query string where the problem is (None when
    the problem is not at one place, e.g. an empty query or a bad option), so that a caller
    such as the web page can point at it.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class IndexNotFoundError(SearcherError):
    """There is no index at the given location yet (run ``searcher index``)."""


class DocumentNotFoundError(SearcherError, LookupError):
    """No document in the index has this id (``doc_id`` holds the id asked for)."""

    def __init__(self, message: str, doc_id: str) -> None:
        super().__init__(message)
        self.doc_id = doc_id


class IndexLockedError(SearcherError):
    """Another process is writing to the index."""


class SourceNotFoundError(SearcherError):
    """A source folder given for indexing does not exist or is not a folder."""


class DocumentError(SearcherError):
    """One file cannot be turned into a document; indexing reports and skips it."""


class ConfigError(SearcherError):
    """A configuration file, dictionary or synonyms file is unusable."""
