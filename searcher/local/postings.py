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
* writes each term's postings in the blocks of up to 128 postings that
  Whoosh's ``W3PostingsWriter`` writes, and its row in the terms table,
  terms in sorted order, with one write per term.

Stored fields, lengths and columns still go through Whoosh's per-document
writer, so the segment is byte-for-byte what ``add_document`` would write
(``tests/test_postings.py`` compares both on real articles).
"""

from __future__ import annotations

import itertools
import struct
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pickle import dumps
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte

#: Blocks whose pickle is smaller than this are stored uncompressed (see _encode_postings).
COMPRESS_FROM = 96
_LITTLE_ENDIAN = sys.byteorder == "little"


class SegmentBuilder:
    """Add documents, then :meth:`finish` to get the finished Whoosh segment.

    *term_functions* maps analysed field names to functions giving the
    index-mode terms of a value, exactly as the field's analyzer would;
    other indexed fields go through ``field.index``.  Every indexed field
    must use Whoosh's ``Frequency`` or ``Existence`` format (the only ones
    whose posting values can be rebuilt from a frequency).
    """

    def __init__(self, writer: Any, term_functions: dict[str, Callable[[str], list[str]]]) -> None:
        self._writer = writer
        self._schema = writer.schema
        self._terms = term_functions
        #: field → term → array of docnum, freq, docnum, freq, ...
        self._postings: dict[str, dict[str | bytes, array]] = {}
        for name in self._schema.names():
            field = self._schema[name]
            supported = isinstance(field.format, formats.Frequency | formats.Existence)
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
        perdoc = writer.perdocwriter
        schema = self._schema
        docnum = writer.docnum
        perdoc.start_doc(docnum)
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
        writer._added = True
        writer.docnum += 1

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
        writer.perdocwriter.close()
        lengths_reader = writer.per_document_reader()
        try:
            fieldwriter = writer.fieldwriter
            for name in sorted(self._postings):
                terms = self._postings[name]
                if not terms:
                    continue
                field = self._schema[name]
                lengths = None
                if field.scorable:
                    lengths = [lengths_reader.doc_field_length(d, name, 0)
                               for d in range(writer.docnum)]
                fieldwriter.start_field(name, field)
                _write_field(fieldwriter, field.format, terms, lengths)
                fieldwriter.finish_field()
                terms.clear()
            fieldwriter.close()
        finally:
            lengths_reader.close()
        writer._close_segment()
        writer._assemble_segment()
        return writer.get_segment()

    def cancel(self) -> None:
        self._postings.clear()
        self._writer.cancel()


def _write_field(fieldwriter: Any, fmt: Any, terms: dict[str | bytes, array],
                 lengths: list[int] | None) -> None:
    """Each term's postings and term-table row, terms in byte order.

    This is ``start_term``/``finish_term`` of Whoosh's ``W3FieldWriter``
    without a ``W3PostingsWriter`` and ``W3TermInfo`` object per term (most
    terms have one tiny block, so that bookkeeping cost more than the
    postings): each term's blocks are encoded into one string, written with
    one call, and its term info packed directly.  A field's terms are all
    ``str`` or all ``bytes``; UTF-8 keeps code-point order, so sorting ``str``
    terms sorts their encoded bytes too.
    """
    postwriter = fieldwriter._postwriter
    if postwriter._inlinelimit > 1:  # Whoosh's default codec never inlines postings
        raise NotImplementedError("a codec that inlines postings in the term table")
    limit, compression = postwriter._blocklimit, postwriter._compression
    postfile, table = fieldwriter._postfile, fieldwriter._tindex
    prefix = pack_ushort(fieldwriter._fieldid)
    boost = float(fmt.field_boost)
    frequency = isinstance(fmt, formats.Frequency)
    offset = postfile.tell()
    for term in sorted(terms):
        flat = terms[term]
        data, stats = _encode_postings(flat[0::2], flat[1::2], limit, compression, boost,
                                       frequency, lengths)
        postfile.write(data)
        table.add(prefix + (term.encode("utf-8") if isinstance(term, str) else term),
                  _TERM_INFO.pack(*stats) + pack_long(offset) + pack_int(len(data)))
        offset += len(data)


#: W3TermInfo's fixed part: flags, weight, doc freq, min/max length byte, max weight,
#: first and last id.
_TERM_INFO = struct.Struct("!BfIBBfII")


def _encode_postings(ids: array, freqs: array, limit: int, compression: int, boost: float,
                     frequency: bool, lengths: list[int] | None) -> tuple[bytes, tuple]:
    """One term's postings in W3 format, and its term info fields.

    The bytes are what ``W3PostingsWriter._write_block`` writes block by
    block; the statistics are accumulated exactly as ``W3TermInfo.add_block``
    does.  Whoosh builds each block posting by posting in Python; here every
    list is made with one C-level call per block.  One deliberate difference:
    blocks whose pickle is under :data:`COMPRESS_FROM` bytes are stored
    uncompressed (the block header says so, and Whoosh's reader honours it).
    Whoosh's own code means to skip compressing tiny blocks but a bug makes
    it compress every block, and zlib's per-call set-up cost more than all
    the rest of writing a rare term.
    """
    count = len(ids)
    parts = [WHOOSH3_HEADER_MAGIC]
    total_weight: float = 0
    term_min: int | None = None
    term_max = 0
    term_maxweight: float = 0
    for start in range(0, count, limit):
        block_ids = ids[start : start + limit]
        size = len(block_ids)
        if frequency:
            block_freqs = freqs[start : start + limit]
            weights = array("f", block_freqs if boost == 1.0 else [f * boost for f in block_freqs])
            packed = array("I", block_freqs)
            if _LITTLE_ENDIAN:
                packed.byteswap()
            values: bytes | None = packed.tobytes()  # Frequency: big-endian uint32 each
        else:
            weights = array("f", [boost]) * size
            values = None  # Existence stores no values
        maxweight = max(weights)
        if lengths is not None:
            block_lengths = [lengths[d] for d in block_ids]
            nonzero = [n for n in block_lengths if n]
            minlength = min(nonzero) if nonzero else None
            maxlength = max(block_lengths)
        else:
            minlength, maxlength = None, 0
        total_weight += sum(weights)
        term_min = minlength if term_min is None else min(term_min, minlength)
        term_max = max(term_max, maxlength)
        term_maxweight = max(term_maxweight, maxweight)

        first = weights[0]
        if weights.count(first) == size:
            mini_weights: float | tuple[float, ...] | None = None if first == 1.0 else first
        else:
            mini_weights = tuple(weights)
        previous = itertools.chain((0,), block_ids)
        deltas = tuple([b - a for a, b in zip(previous, block_ids, strict=False)])
        data = dumps((deltas, mini_weights, values), 2)
        comp = compression if len(data) >= COMPRESS_FROM else 0
        if comp:
            data = zlib.compress(data, comp)
        info = dumps((size, block_ids[-1], maxweight, comp, length_to_byte(minlength),
                      length_to_byte(maxlength)), 2)
        block_length = len(info) + len(data)
        parts.append(pack_int(-block_length if start + limit >= count else block_length))
        parts.append(info)
        parts.append(data)
    stats = (0, total_weight, count, 0 if term_min is None else length_to_byte(term_min),
             length_to_byte(term_max), term_maxweight, ids[0], ids[-1])
    return b"".join(parts), stats
