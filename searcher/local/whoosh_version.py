"""The Whoosh versions searcher's use of Whoosh's internals is tested against, checked at import.

searcher writes Whoosh segments with its own code, patches how Whoosh loads pickles, stores
fields and encodes postings, and drives ``SegmentWriter``'s commit steps one by one (the
whoosh_* adapter modules).  None of that is Whoosh's public API: a Whoosh release may
change any of it and silently corrupt or misread an index.  So importing this module --
which each adapter module does before it touches any Whoosh internal -- refuses a Whoosh
version outside :data:`SUPPORTED` (:class:`~searcher.errors.UnsupportedWhooshError`).
Raising the upper bound means re-running the test suite (``tests/test_postings.py``
compares the segments searcher writes with Whoosh's own byte for byte), then changing
:data:`SUPPORTED` here and the pin in ``pyproject.toml`` together.
"""

from __future__ import annotations

import re

import whoosh

from ..errors import UnsupportedWhooshError

#: The whoosh-reloaded versions the adapter modules' use of internals is tested against
#: (lowest supported, first unsupported); keep in step with pyproject.toml.
SUPPORTED: tuple[tuple[int, ...], tuple[int, ...]] = ((2, 7, 5), (2, 7, 6))
SUPPORTED_TEXT = ">=2.7.5,<2.7.6"


def installed_version() -> str:
    """The version of the ``whoosh`` package actually imported (``whoosh.__version__``).

    The imported module is what matters, whatever distribution provided it
    (whoosh-reloaded, the original Whoosh or a vendored copy).
    """
    return ".".join(str(part) for part in whoosh.__version__)


def check_version(version: str | None = None) -> str:
    """*version* (default: the installed one) if it is supported, else raise.

    Raises :class:`~searcher.errors.UnsupportedWhooshError` (an ``ImportError``
    too) naming the version found and the supported range.
    """
    found = installed_version() if version is None else version
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", found)
    numbers = tuple(int(n) for n in match.groups()) if match else None
    low, high = SUPPORTED
    if numbers is None or not low <= numbers < high:
        raise UnsupportedWhooshError(found, SUPPORTED_TEXT)
    return found


check_version()
