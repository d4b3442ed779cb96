"""searcher: embedded Chinese full-text search for folders of Markdown/HTML articles.

Public API::

    from searcher import SearchEngine
    engine = SearchEngine("index_data")
    report = engine.index(["sample_docs"])
    results = engine.search("认证认可")
"""

from __future__ import annotations

from .config import Settings, load_settings
from .deadline import time_limit
from .engine import SearchEngine
from .errors import (
    AmbiguousDocumentError,
    ClusterError,
    ConfigError,
    DocumentError,
    DocumentNotFoundError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    QueryError,
    SearcherError,
    SourceNotFoundError,
    TimeLimitExceeded,
)
from .reports import CheckReport, IndexReport, IndexStats, OptimizeReport
from .results import DocumentView, Hit, SearchResults, Suggestion

__version__ = "0.1.0"

__all__ = [
    "AmbiguousDocumentError",
    "CheckReport",
    "ClusterError",
    "ConfigError",
    "DocumentError",
    "DocumentNotFoundError",
    "DocumentView",
    "Hit",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexReport",
    "IndexStats",
    "OptimizeReport",
    "QueryError",
    "SearchEngine",
    "SearchResults",
    "SearcherError",
    "Settings",
    "SourceNotFoundError",
    "Suggestion",
    "TimeLimitExceeded",
    "__version__",
    "load_settings",
    "time_limit",
]
