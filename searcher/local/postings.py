"""Write one Whoosh segment with postings gathered in memory and written in one sorted pass.

Whoosh's own ``SegmentWriter.add_document`` sends every posting through a
posting pool that pickles it to a temporary run file, then merges the runs
with a heap when the segment is finished: at 10,000 articles per segment
that pool was ~40 % of a build's time (profile in README, "Where the time
goes").  :class:`SegmentBuilder` keeps the same Whoosh segment format and
the same codec, but

* counts each analysed field's terms itself (``Counter`` over the terms of
  :func:`searcher.local.schema.index_terms`, no ``Token`` objects), and appends
  ``(docnum, freq)`` to an in-memory array per term (8 bytes a posting);
* writes each term's postings in the blocks (up to ``whoosh_codec.BLOCK_LIMIT``
  postings) that Whoosh's ``W3PostingsWriter`` writes, and its row in the terms table,
  terms in sorted order, with one write per term (that codec layout is
  encoded in :mod:`searcher.local.whoosh_codec`, one of the whoosh_* adapter
  modules that hold every use of Whoosh's internals).

Stored fields, lengths and columns still go through Whoosh's per-document
writer, so the segment is byte-for-byte what ``add_document`` would write
(``tests/test_postings.py`` compares both on real articles).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from .schema import Counts
from .whoosh_adapter import (
    document_added,
    document_lengths,
    finish_segment,
    formats,
    start_document,
)
from .whoosh_codec import COMPRESS_FROM, write_field_postings

__all__ = ["COMPRESS_FROM", "SegmentBuilder"]


class SegmentBuilder:
    """Add documents, then :meth:`finish` to get the finished Whoosh segment.

    *term_functions* maps analysed field names to functions giving the
    index-mode terms of a value, exactly as the field's analyzer would;
    other indexed fields go through ``field.index``.  Every indexed field
    must use Whoosh's ``Frequency`` or ``Existence`` format or
    :class:`~searcher.local.schema.Counts` (the only ones whose posting values
    can be rebuilt from a frequency).
    """

    def __init__(self, writer: Any, term_functions: dict[str, Callable[[str], list[str]]]) -> None:
        self._writer = writer
        self._schema = writer.schema
        self._terms = term_functions
        #: field → term → array of docnum, freq, docnum, freq, ...
        self._postings: dict[str, dict[str | bytes, array]] = {}
        for name in self._schema.names():
            field = self._schema[name]
            supported = isinstance(field.format, formats.Frequency | formats.Existence
                                   | Counts)
            if field.indexed and not supported:
                raise TypeError(f"field {name!r}: format {type(field.format).__name__} "
                                "is not supported by SegmentBuilder")
            if field.vector or field.separate_spelling():
                raise TypeError(f"field {name!r}: term vectors and spelling are not supported")
            boost = field.format.field_boost if field.indexed else 1.0
            if array("f", [boost])[0] != boost:
                # Whoosh keeps such a boost unrounded in block headers; we write float32 weights.
                raise TypeError(f"field {name!r}: boost {boost} is not exact in single precision")
            self._postings[name] = {}

    def terms(self, name: str) -> Iterable[str | bytes]:
        """The distinct terms added so far to field *name* (before :meth:`finish`)."""
        return self._postings[name].keys()

    def doc_frequencies(self, name: str) -> dict[str | bytes, int]:
        """Term → number of documents holding it, for one field (before :meth:`finish`)."""
        return {term: len(entry) // 2 for term, entry in self._postings[name].items()}

    def add_document(self, values: dict[str, Any]) -> None:
        """Add one document; like ``SegmentWriter.add_document(**values)``."""
        writer = self._writer
        schema = self._schema
        perdoc, docnum = start_document(writer)
        try:
            for name in sorted(values):
                value = values[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    counts = self._count(name, field, value)
                    if field.scorable:
                        length = counts.total()
                    postings = self._postings[name]
                    for term, freq in counts.items():
                        entry = postings.get(term)
                        if entry is None:
                            postings[term] = array("I", (docnum, freq))
                        else:
                            entry.append(docnum)
                            entry.append(freq)
                perdoc.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    perdoc.add_column_value(name, column, field.to_column_value(value))
        except BaseException:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        document_added(writer)

    def _count(self, name: str, field: Any, value: Any) -> Counter[str | bytes]:
        """Term → frequency: ``str`` terms from a term function, ``bytes`` from Whoosh."""
        terms = self._terms.get(name)
        if terms is not None:
            return Counter(terms(value))
        counts: Counter[str | bytes] = Counter()
        for tbytes, freq, _weight, _vbytes in field.index(value):
            counts[tbytes] += freq
        return counts

    def finish(self) -> Any:
        """Write the postings and close the segment; returns Whoosh's segment object."""
        writer = self._writer
        names = sorted(name for name, terms in self._postings.items() if terms)
        lengths = document_lengths(writer, [n for n in names if self._schema[n].scorable])
        for name in names:
            write_field_postings(writer, name, self._schema[name], self._postings[name],
                                 lengths.get(name))
            self._postings[name].clear()
        return finish_segment(writer)

    def cancel(self) -> None:
        self._postings.clear()
        self._writer.cancel()
