"""The Whoosh schema (the analysis fingerprint it must match is searcher.core.fingerprint).

Postings are the expensive part of a Whoosh build, so each field's format is
chosen deliberately:

* ``title`` and ``body`` — jieba terms with their counts as weights but *no
  positions*: exact phrases are answered by substring matching (below), which
  is exact where positional phrase queries over jieba terms are not, so
  positions would only cost postings bytes and build time.  The format is
  :class:`Counts`, not Whoosh's ``Frequency``, which stores each count twice.
  Title boosted.
* ``author``/``category``/``tag`` — whole folded values as single terms
  (exact filters); ``author`` also gets segmented terms for ``author:`` words.
* ``id`` is indexed (updates delete by it); ``relpath`` and ``date`` are not:
  no search looks a path up, and date filters, sorting and facets read the
  date column (``segments.data_arrays``), so their terms were never read.
* ``text`` (display text) lives in a compressed *column*: one blob per
  document, no postings at all, deflated against a preset dictionary of common
  Chinese words (:class:`TextColumn`).  The folded, whitespace-free text for exact
  substring matching is not stored as such: it is derived from title and body
  and kept only inside the segment's bigram index
  (:mod:`searcher.local.substrings`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

from ..analysis.normalize import fold_keyword
from ..analysis.tokens import STOP_WORDS, index_terms
from ..core.rules import TITLE_BOOST
from .analyzers import ChineseAnalyzer, SearcherTokenizer
from .whoosh_adapter import Token, Tokenizer, columns, fields, formats, register_schema

#: Separator for multi-valued keyword fields (never appears in real values).
SEP = "\x1f"


class WholeValueTokenizer(Tokenizer):
    """Each ``SEP``-separated value, folded, becomes one term (exact-match filters)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        values = value.split(SEP) if tokenize else [value]
        for i, item in enumerate(values):
            text = fold_keyword(item)
            if not text:
                continue
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + i
            yield token


class Counts(formats.Format):
    """Whoosh's ``Frequency`` without its posting values.

    A posting's weight is the term's count in the field times the field boost,
    as with ``Frequency``, which also stores the count itself as a 4-byte value
    per posting; searches read only the weights (``whoosh_adapter.postings_everywhere``),
    so the values were a second copy of the same number (a third of the body
    postings' bytes).  Whoosh reads a value of None for each posting, as for
    ``Existence``.
    """

    posting_size = 0
    __inittypes__ = {"field_boost": float}

    def __init__(self, field_boost: float = 1.0, **options) -> None:
        self.field_boost = field_boost
        self.options = options

    def word_values(self, value, analyzer, **kwargs):
        for word, freq, weight, _count in formats.Frequency.word_values(
                self, value, analyzer, **kwargs):
            yield word, freq, weight, b""

    def encode(self, value) -> bytes:
        return b""

    def combine(self, vs) -> bytes:
        return b""


#: The preset dictionary new indexes deflate display text with (made by
#: scripts/make_text_dictionary.py from jieba's dictionary).
TEXT_DICTIONARY = Path(__file__).with_name("text.zdict")


@cache
def text_dictionary() -> str:
    return TEXT_DICTIONARY.read_bytes().decode("utf-8")


class TextColumn(columns.Column):
    """Each document's bytes, deflated alone (raw deflate, level 6) against a preset
    dictionary: a snippet decompresses only its own document, and the dictionary of
    common words gives even a short text something to refer back to (at 20,000 news
    articles 17.2 MB at level 1 without one, 13.8 MB with it).

    The dictionary is kept in the column object, so in the index's schema: an index
    reads with the dictionary it was written with, whatever :data:`TEXT_DICTIONARY`
    holds later.  It is text (32 KiB of common words), which the table of contents
    records as itself (``whoosh_pickles``).
    """

    def __init__(self, dictionary: str, level: int = 6) -> None:
        self._dictionary = dictionary
        self._level = level

    def _zdict(self) -> bytes:
        return self._dictionary.encode("utf-8")

    def writer(self, dbfile):
        return _TextWriter(dbfile, self._zdict(), self._level)

    def reader(self, dbfile, basepos, length, doccount):
        return _TextReader(dbfile, basepos, length, doccount, self._zdict())


class _TextWriter(columns.VarBytesColumn.Writer):
    def __init__(self, dbfile, zdict: bytes, level: int) -> None:
        super().__init__(dbfile)
        # primed once; each document is compressed by a copy (setting the dictionary
        # costs a pass over it)
        self._primed = zlib.compressobj(level, zlib.DEFLATED, -15, 8,
                                        zlib.Z_DEFAULT_STRATEGY, zdict)

    def add(self, docnum, v) -> None:
        if v:
            deflate = self._primed.copy()
            v = deflate.compress(v) + deflate.flush()
        super().add(docnum, v)


class _TextReader(columns.VarBytesColumn.Reader):
    def __init__(self, dbfile, basepos, length, doccount, zdict: bytes) -> None:
        super().__init__(dbfile, basepos, length, doccount)
        self._zdict = zdict

    def _inflate(self, v: bytes) -> bytes:
        if not v:
            return b""
        inflate = zlib.decompressobj(-15, self._zdict)
        out = inflate.decompress(v) + inflate.flush()
        if not inflate.eof:
            raise zlib.error("truncated text column value")
        return out

    def __getitem__(self, docnum) -> bytes:
        return self._inflate(super().__getitem__(docnum))

    def __iter__(self):
        for v in super().__iter__():
            yield self._inflate(v)

    def load(self) -> list[bytes]:
        return list(self)


def _counted(field: fields.TEXT) -> fields.TEXT:
    field.format = Counts(field_boost=field.format.field_boost)
    return field


def _unindexed(field: fields.DATETIME) -> fields.DATETIME:
    """A date kept as a stored value and a sortable column only (no terms)."""
    field.indexed = False
    return field


def build_schema(dictionary: str | None = None) -> fields.Schema:
    """The schema every index is created with (*dictionary*: the text column's preset
    dictionary, default :func:`text_dictionary`; an index reads with its own)."""
    whole = WholeValueTokenizer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        relpath=fields.STORED(),
        path=fields.STORED(),
        source=fields.ID(stored=True),
        title=_counted(fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False, stored=True,
                                   field_boost=TITLE_BOOST)),
        body=_counted(fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False)),
        author=fields.TEXT(analyzer=SearcherTokenizer(), phrase=False, stored=True),
        author_key=fields.KEYWORD(analyzer=whole),
        category=fields.KEYWORD(analyzer=whole, scorable=False),
        tag=fields.KEYWORD(analyzer=whole, scorable=False),
        date=_unindexed(fields.DATETIME(stored=True, sortable=True)),
        meta=fields.STORED(),
        text=fields.COLUMN(TextColumn(text_dictionary() if dictionary is None else dictionary)),
    )


def describe_schema(schema: fields.Schema) -> list[list]:
    """What decides how each field of *schema* is indexed and stored, as plain values
    (the table of contents records the schema this way, ``whoosh_pickles``): a schema with
    the same description and text dictionary as :func:`build_schema`'s is that schema."""
    out = []
    for name in schema.names():
        field = schema[name]
        fmt = field.format
        analyzer = getattr(field, "analyzer", None)
        out.append([name, type(field).__name__, type(fmt).__name__ if fmt else None,
                    fmt.field_boost if fmt else None, bool(field.stored),
                    bool(field.unique), bool(field.scorable), bool(field.indexed),
                    type(analyzer).__name__ if analyzer is not None else None,
                    type(field.column_type).__name__ if field.column_type else None])
    return out


def index_term_functions() -> dict[str, Callable[[str], list[str]]]:
    """Fast equivalents of the analysed fields' analyzers, for the segment builder.

    They must give exactly the terms of the analyzers in :func:`build_schema`
    (``tests/test_postings.py`` checks it); fields not listed here are
    indexed through Whoosh's ``field.index``.
    """
    stop = partial(index_terms, stoplist=STOP_WORDS)
    return {"title": stop, "body": stop, "author": index_terms}


register_schema(build_schema, describe_schema)  # the TOC records this schema as JSON
