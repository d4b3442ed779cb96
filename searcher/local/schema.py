"""The Whoosh schema and the analysis fingerprint that must match it.

Postings are the expensive part of a Whoosh build, so each field's format is
chosen deliberately:

* ``title`` and ``body`` — jieba terms with frequencies but *no positions*:
  exact phrases are answered by substring matching (below), which is exact
  where positional phrase queries over jieba terms are not, so positions
  would only cost postings bytes and build time.  Title boosted.
* ``author``/``category``/``tag`` — whole folded values as single terms
  (exact filters); ``author`` also gets segmented terms for ``author:`` words.
* ``text`` (display text) and ``squeezed`` (folded, whitespace-free text for
  exact substring matching) live in compressed *columns*: one blob per
  document, no postings at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from whoosh import columns, fields
from whoosh.analysis import Tokenizer

from ..analysis.normalize import fold
from ..analysis.tokens import (
    STOP_WORDS,
    ChineseAnalyzer,
    SearcherTokenizer,
    index_terms,
    jieba_version,
)

TITLE_BOOST = 3.0
#: Bump when analysis or the schema change in a way that needs a rebuild.
SCHEMA_VERSION = 3
#: Separator for multi-valued keyword fields (never appears in real values).
SEP = "\x1f"
#: Separates title from body in the squeezed text so no match spans both.
FIELD_BREAK = "\x1e"


class WholeValueTokenizer(Tokenizer):
    """Each ``SEP``-separated value, folded, becomes one term (exact-match filters)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        from whoosh.analysis import Token

        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        values = value.split(SEP) if tokenize else [value]
        for i, item in enumerate(values):
            text = " ".join(fold(item).split())
            if not text:
                continue
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + i
            yield token


def build_schema() -> fields.Schema:
    """The schema every index is created with."""
    whole = WholeValueTokenizer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        relpath=fields.ID(stored=True),
        path=fields.STORED(),
        source=fields.ID(stored=True),
        title=fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False, stored=True,
                          field_boost=TITLE_BOOST),
        body=fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False),
        author=fields.TEXT(analyzer=SearcherTokenizer(), phrase=False, stored=True),
        author_key=fields.KEYWORD(analyzer=whole),
        category=fields.KEYWORD(analyzer=whole, scorable=False),
        tag=fields.KEYWORD(analyzer=whole, scorable=False),
        date=fields.DATETIME(stored=True, sortable=True),
        meta=fields.STORED(),
        text=fields.COLUMN(columns.CompressedBytesColumn(level=1)),
        squeezed=fields.COLUMN(columns.CompressedBytesColumn(level=1)),
    )


def index_term_functions() -> dict[str, Callable[[str], list[str]]]:
    """Fast equivalents of the analysed fields' analyzers, for the segment builder.

    They must give exactly the terms of the analyzers in :func:`build_schema`
    (``tests/test_postings.py`` checks it); fields not listed here are
    indexed through Whoosh's ``field.index``.
    """
    stop = partial(index_terms, stoplist=STOP_WORDS)
    return {"title": stop, "body": stop, "author": index_terms}


def fingerprint(userdict_digest: str = "", options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What determines the terms in the index; a mismatch means ``searcher index --full``."""
    from importlib.metadata import version

    return {
        "schema": SCHEMA_VERSION,
        "jieba": jieba_version(),
        "opencc": version("opencc"),
        "userdict": userdict_digest,
        "options": options or {},
    }


def fingerprint_text(fp: dict[str, Any]) -> str:
    return json.dumps(fp, sort_keys=True, ensure_ascii=False)


def analysis_fingerprint(settings: Any) -> dict[str, Any]:
    """The fingerprint for *settings* (its user dictionary's content hash included)."""
    from ..analysis.tokens import file_digest

    return fingerprint(file_digest(settings.userdict))
