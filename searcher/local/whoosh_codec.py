"""Whoosh's ``W3`` codec: the postings blocks and term-table rows searcher writes.

:func:`write_field_postings` writes a field's postings for
:class:`searcher.local.postings.SegmentBuilder` straight into the codec's files, and the
patches installed when this module is imported (after
:mod:`searcher.local.whoosh_version` has checked the version) make the segments Whoosh
writes itself (its merges, ``add_document``) use the same compact blocks and inline
single postings, so both write the same bytes (``tests/test_postings.py``).  All of it
depends on the codec's private layout, hence a module of its own beside
:mod:`searcher.local.whoosh_adapter` (which imports it, so the patches are active
whenever Whoosh is used).
"""

from __future__ import annotations

import itertools
import struct
import sys
import zlib
from array import array
from pickle import dumps
from typing import Any

from . import whoosh_version  # noqa: F401 - first: refuses a Whoosh this code was not tested on

# isort: split
from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3PostingsWriter
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import length_to_byte

# -- the W3 codec's postings blocks and term table ---------------------------------------

_LITTLE_ENDIAN = sys.byteorder == "little"
#: W3TermInfo's fixed part: flags, weight, doc freq, min/max length byte, max weight,
#: first and last id.
_TERM_INFO = struct.Struct("!BfIBBfII")


def write_field_postings(writer: Any, name: str, field: Any, terms: dict[str | bytes, array],
                         lengths: list[int] | None) -> None:
    """Each term's postings and term-table row of field *name*, terms in byte order.

    *terms* maps each term to a flat array ``docnum, freq, docnum, freq, ...``.
    This is ``start_term``/``finish_term`` of Whoosh's ``W3FieldWriter``
    without a ``W3PostingsWriter`` and ``W3TermInfo`` object per term (most
    terms have one tiny block, so that bookkeeping cost more than the
    postings): each term's blocks are encoded into one string, written with
    one call, and its term info packed directly.  A field's terms are all
    ``str`` or all ``bytes``; UTF-8 keeps code-point order, so sorting ``str``
    terms sorts their encoded bytes too.
    """
    fieldwriter = writer.fieldwriter
    fmt = field.format
    fieldwriter.start_field(name, field)
    postwriter = fieldwriter._postwriter
    limit, compression = postwriter._blocklimit, postwriter._compression
    inline = postwriter._inlinelimit
    postfile, table = fieldwriter._postfile, fieldwriter._tindex
    prefix = pack_ushort(fieldwriter._fieldid)
    boost = float(fmt.field_boost)
    counted = not isinstance(fmt, formats.Existence)  # weights are counts × boost
    values = isinstance(fmt, formats.Frequency)  # ... and the count is stored again
    offset = postfile.tell()
    for term in sorted(terms):
        flat = terms[term]
        key = prefix + (term.encode("utf-8") if isinstance(term, str) else term)
        if len(flat) < 2 * inline:
            table.add(key, _inlined_term_info(flat, boost, counted, values, lengths))
            continue
        data, stats = _encode_postings(flat[0::2], flat[1::2], limit, compression, boost,
                                       counted, values, lengths)
        postfile.write(data)
        table.add(key, _TERM_INFO.pack(*stats) + pack_long(offset) + pack_int(len(data)))
        offset += len(data)
    fieldwriter.finish_field()


def _inlined_term_info(flat: array, boost: float, counted: bool, values: bool,
                       lengths: list[int] | None) -> bytes:
    """The term-table row of a term with one posting, the posting inlined (see
    :func:`_set_inline`): what ``W3TermInfo.to_bytes`` writes for it."""
    docnum, freq = flat[0], flat[1]
    weight = array("f", [freq * boost if counted else boost])[0]
    length = lengths[docnum] if lengths is not None else 0
    stats = (1, weight, 1, length_to_byte(length) if length else 0, length_to_byte(length),
             weight, docnum, docnum)
    value = pack_uint(freq) if values else b""
    return _TERM_INFO.pack(*stats) + dumps(((docnum,), (weight,), (value,)), 3)


def _set_inline(self: Any, ids: Any, weights: Any, values: Any) -> None:
    """``W3TermInfo.set_inlined``, under the name ``W3PostingsWriter.finish_postings``
    calls (Whoosh misspells it, so its inlining raised AttributeError and its codecs
    never inline), with a value per posting even where the format stores none: Whoosh's
    ``ListMatcher`` gives ``""`` (text) for a missing value, which its own merge refuses."""
    self._inlined = (tuple(ids), tuple(weights), tuple(values) or (b"",) * len(ids))


def _dumps3(obj: Any, _protocol: int = 2) -> bytes:
    return dumps(obj, 3)


#: Terms with fewer postings than this keep them in their term-table row instead of the
#: postings file: a term found in one document (42 % of a segment's body words, and every
#: id) costs a pointer (12 bytes) and a block (~40 bytes) otherwise.
INLINE_LIMIT = 2


def _inline_single_postings() -> None:
    from whoosh.codec import whoosh3

    whoosh3.W3TermInfo.set_inline = _set_inline
    whoosh3.dumps = _dumps3  # inlined postings: bytes as themselves (see _encode_block)
    blocklimit, compression, _inlinelimit = whoosh3.W3Codec.__init__.__defaults__
    whoosh3.W3Codec.__init__.__defaults__ = (blocklimit, compression, INLINE_LIMIT)


_inline_single_postings()


#: Posting blocks whose pickle is smaller than this are stored uncompressed (the block
#: header says so, and Whoosh's reader honours it).  Whoosh's own code means to skip
#: compressing tiny blocks but a bug makes it compress every block, and zlib's per-call
#: set-up cost more than all the rest of writing a rare term.
COMPRESS_FROM = 96


def _mini_ids(ids: Any) -> bytes | tuple[int, ...]:
    """A block's doc ids as deltas: one byte each when every delta fits (the usual case
    past the rarest terms), else a tuple.  Whoosh's reader only iterates them, and
    iterating ``bytes`` gives ints."""
    deltas = [b - a for a, b in zip(itertools.chain((0,), ids), ids, strict=False)]
    return bytes(deltas) if max(deltas) < 256 else tuple(deltas)


def _mini_weights(weights: Any) -> bytes | float | tuple[float, ...] | None:
    """A block's weights as Whoosh minifies them (None: all 1.0; one float: all equal),
    except that whole numbers below 256 (term counts, times an integral field boost) are
    one byte each instead of a pickled float (9 bytes).  Whoosh's reader indexes them,
    and ``bytes`` gives ints: the same numbers."""
    first = weights[0]
    if all(w == first for w in weights):
        return None if first == 1.0 else first
    if all(w.is_integer() and 0 <= w < 256 for w in weights):
        return bytes([int(w) for w in weights])
    return tuple(weights)


def _encode_block(ids: Any, mini_weights: Any, values: Any, maxweight: float,
                  compression: int, minlength: int | None, maxlength: int, last: bool) -> bytes:
    """One W3 posting block (length, info, data) as searcher writes it: pickle protocol 3
    (``bytes`` as themselves; protocol 2 spells them as a call of ``_codecs.encode`` on a
    text, ~40 bytes each), one-byte deltas and weights (see above), and a whole-number
    maximum weight as an int.  Whoosh's reader reads it as any other block."""
    data = dumps((_mini_ids(ids), mini_weights, values), 3)
    comp = compression if len(data) >= COMPRESS_FROM else 0
    if comp:
        data = zlib.compress(data, comp)
    if maxweight == int(maxweight):
        maxweight = int(maxweight)
    info = dumps((len(ids), ids[-1], maxweight, comp, length_to_byte(minlength),
                  length_to_byte(maxlength)), 3)
    size = len(info) + len(data)
    return pack_int(-size if last else size) + info + data


def _encode_postings(ids: array, freqs: array, limit: int, compression: int, boost: float,
                     counted: bool, values: bool,
                     lengths: list[int] | None) -> tuple[bytes, tuple]:
    """One term's postings in W3 format (blocks of :func:`_encode_block`), and its term
    info fields, accumulated exactly as ``W3TermInfo.add_block`` does.  Whoosh builds
    each block posting by posting in Python; here every list is made with one C-level
    call per block.  *counted*: the weights are the counts times *boost* (else *boost*
    each); *values*: the counts are stored too, as big-endian uint32 (``Frequency``)."""
    count = len(ids)
    parts = [WHOOSH3_HEADER_MAGIC]
    total_weight: float = 0
    term_min: int | None = None
    term_max = 0
    term_maxweight: float = 0
    for start in range(0, count, limit):
        block_ids = ids[start : start + limit]
        size = len(block_ids)
        block_values: bytes | None = None
        if counted:
            block_freqs = freqs[start : start + limit]
            weights = array("f", block_freqs if boost == 1.0 else [f * boost for f in block_freqs])
            if values:
                packed = array("I", block_freqs)
                if _LITTLE_ENDIAN:
                    packed.byteswap()
                block_values = packed.tobytes()
        else:
            weights = array("f", [boost]) * size
        maxweight = max(weights)
        if lengths is not None:
            block_lengths = [lengths[d] for d in block_ids]
            nonzero = [n for n in block_lengths if n]
            minlength = min(nonzero) if nonzero else None
            maxlength = max(block_lengths)
        else:
            minlength, maxlength = None, 0
        total_weight += sum(weights)
        if minlength is not None:  # None: the field keeps no lengths
            term_min = minlength if term_min is None else min(term_min, minlength)
        term_max = max(term_max, maxlength)
        term_maxweight = max(term_maxweight, maxweight)
        parts.append(_encode_block(block_ids, _mini_weights(weights), block_values, maxweight,
                                   compression, minlength, maxlength, start + limit >= count))
    stats = (0, total_weight, count, 0 if term_min is None else length_to_byte(term_min),
             length_to_byte(term_max), term_maxweight, ids[0], ids[-1])
    return b"".join(parts), stats


def _write_block(self: Any, last: bool = False) -> None:
    """``W3PostingsWriter._write_block`` writing :func:`_encode_block`'s blocks, so the
    segments Whoosh writes itself (its merges, ``add_document``) are as compact as ours."""
    if self._byteids:  # term vectors (never written by searcher): Whoosh's own blocks
        WHOOSH_WRITE_BLOCK(self, last)
        return
    if not self._blockcount:
        self._postfile.write(WHOOSH3_HEADER_MAGIC)
    self._terminfo.add_block(self)
    self._postfile.write(_encode_block(
        self._ids, _mini_weights(self._weights), self._mini_values(), self._maxweight,
        self._compression, self._minlength, self._maxlength, last))
    self._blockcount += 1
    self._new_block()


#: Whoosh's own ``W3PostingsWriter._write_block`` (protocol-2 pickles, float weights, every
#: block compressed), kept for the term vectors searcher never writes, and so that a test can
#: put it back to write a segment Whoosh's way and compare (``tests/test_postings.py``).
WHOOSH_WRITE_BLOCK = W3PostingsWriter._write_block
W3PostingsWriter._write_block = _write_block
