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

from . import commands  # noqa: F401 - registers the subcommands on app
from .base import app, main

__all__ = ["app", "main"]
