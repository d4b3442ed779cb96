"""Whoosh's ``W3`` codec: the postings blocks and term-table rows searcher writes.

:func:`write_field_postings` writes a field's postings for
:class:`searcher.local.postings.SegmentBuilder` straight into the codec's files, and the
patches installed when this module is imported (after
:mod:`searcher.local.whoosh_version` has checked the version) make the segments Whoosh
writes itself (its merges, ``add_document``) use the same plain blocks and inline
single postings, so both write the same bytes (``tests/test_postings.py``), and make
Whoosh's matcher read them (a segment records :class:`PlainCodec` in the TOC).  All of it
depends on the codec's private layout, hence a module of its own beside
:mod:`searcher.local.whoosh_adapter` (which imports it, so the patches are active
whenever Whoosh is used).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from array import array
from typing import Any

import numpy as np

from . import whoosh_version  # noqa: F401 - first: refuses a Whoosh this code was not tested on

# isort: split
from whoosh import formats
from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PostingsWriter,
    W3TermInfo,
)
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.filedb.structfile import StructFile
from whoosh.reading import TermNotFound
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

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
    """The term-table row of a term with one posting, the posting inlined: what
    ``W3TermInfo.to_bytes`` writes for it (see :func:`_terminfo_to_bytes`)."""
    docnum, freq = flat[0], flat[1]
    weight = array("f", [freq * boost if counted else boost])[0]
    length = lengths[docnum] if lengths is not None else 0
    stats = (INLINED_PLAIN, weight, 1, length_to_byte(length) if length else 0,
             length_to_byte(length), weight, docnum, docnum)
    return _TERM_INFO.pack(*stats) + (pack_uint(freq) if values else b"")


#: Terms with fewer postings than this keep them in their term-table row instead of the
#: postings file: a term found in one document (42 % of a segment's body words, and every
#: id) costs a pointer (12 bytes) and a block (~40 bytes) otherwise.
INLINE_LIMIT = 2

#: Postings per block of a new segment (Whoosh's default is 128).  Searches read a term's
#: postings whole (:func:`read_blocks`), one Python step and one zlib call a block: a word
#: in every article of 500,000 took some 4,000 of each per field.  With 1,024, reading the
#: postings of fifteen common words at 20k took 6.3 instead of 13.1 ms, and the index
#: was 0.6 % smaller.  A segment keeps the limit it was written with (in its codec
#: settings), so older segments read as before.
BLOCK_LIMIT = 1024

#: The flags byte of a term-table row whose postings are inlined as plain bytes (Whoosh's
#: own rows say 1 and pickle them; 0: the postings are in the postings file).
INLINED_PLAIN = 2


def _set_inline(self: Any, ids: Any, weights: Any, values: Any) -> None:
    """``W3TermInfo.set_inlined``, under the name ``W3PostingsWriter.finish_postings``
    calls (Whoosh misspells it, so its inlining raised AttributeError and its codecs
    never inline), with a value per posting even where the format stores none: Whoosh's
    ``ListMatcher`` gives ``""`` (text) for a missing value, which its own merge refuses."""
    self._inlined = (tuple(ids), tuple(weights), tuple(values) or (b"",) * len(ids))


def _terminfo_to_bytes(self: Any) -> bytes:
    """``W3TermInfo.to_bytes`` with inlined postings as plain bytes instead of a pickle.

    The fixed part already holds the one posting of a term found once (its id is the
    first and last id, its weight the total and maximum weight), so its row adds only
    its value (4 bytes for ``Frequency``, none otherwise).  Rows of more postings (only
    when a codec is made with a larger inline limit) add a plain block's data (see
    :func:`_encode_data`): its layout byte, then ids, weights and values."""
    if self._inlined is None:
        return WHOOSH_TO_BYTES(self)
    ids, weights, values = self._inlined
    minlength = 0 if self._minlength is None else length_to_byte(self._minlength)
    fixed = _TERM_INFO.pack(INLINED_PLAIN, self._weight, self._df, minlength,
                            length_to_byte(self._maxlength), self._maxweight, ids[0], ids[-1])
    if len(ids) == 1 and weights[0] == self._weight and not values[0][:1] >= b"\x80":
        return fixed + values[0]
    layout, data = _encode_data(ids, array("f", weights), values)
    return fixed + bytes([layout | _INLINE_BLOCK]) + data


def _terminfo_from_bytes(cls: Any, s: bytes) -> Any:
    """``W3TermInfo.from_bytes`` reading :func:`_terminfo_to_bytes`'s inlined postings
    (a row Whoosh wrote is read by Whoosh's own code)."""
    if s[0] != INLINED_PLAIN:
        return WHOOSH_FROM_BYTES.__func__(cls, s)
    flags, weight, df, minlength, maxlength, maxweight, minid, maxid = _TERM_INFO.unpack_from(s)
    info = cls()
    info._weight, info._df, info._maxweight = weight, df, maxweight
    info._minlength, info._maxlength = byte_to_length(minlength), byte_to_length(maxlength)
    info._minid, info._maxid = minid, maxid
    tail = s[_TERM_INFO.size :]
    if df == 1 and not (tail and tail[0] & _INLINE_BLOCK):
        info._inlined = ((minid,), (weight,), (bytes(tail),))
    else:
        layout = tail[0] & ~_INLINE_BLOCK
        ids, block_weights, block_values = _decode_data(layout, minid, df, tail, 1)
        info._inlined = (tuple(ids.tolist()), tuple(block_weights.tolist()),
                         value_tuple(block_values, df))
    return info


def _patch_codec() -> None:
    """Whoosh's term rows read and write inlined plain postings, and a new segment's codec
    takes BLOCK_LIMIT and INLINE_LIMIT."""
    from whoosh.codec import whoosh3

    whoosh3.W3TermInfo.set_inline = _set_inline
    whoosh3.W3TermInfo.to_bytes = _terminfo_to_bytes
    whoosh3.W3TermInfo.from_bytes = classmethod(_terminfo_from_bytes)
    _blocks, compression, _inline = whoosh3.W3Codec.__init__.__defaults__
    whoosh3.W3Codec.__init__.__defaults__ = (BLOCK_LIMIT, compression, INLINE_LIMIT)



#: Posting blocks whose data is smaller than this are stored uncompressed (the block
#: header says so).  Whoosh's own code means to skip compressing tiny blocks but a bug
#: makes it compress every block, and zlib's per-call set-up cost more than all the rest
#: of writing a rare term.
COMPRESS_FROM = 96

# -- plain posting blocks -----------------------------------------------------------------
#
# Whoosh's W3 codec pickles each block's statistics and data (a tuple of ids, weights and
# values); loading a pickle can run code, and unpickling was most of the cost of a word's
# first read (~250 ns a posting).  searcher writes the same blocks as plain bytes that
# numpy reads with ``frombuffer``:
#
#   posting list   PLAIN_MAGIC, then blocks
#   block          ">i" size of the rest (negative: the last block), then _BLOCK_HEADER:
#                  count, first id, last id, max weight (float32), zlib level (0: none),
#                  min and max length bytes, layout; then the data (deflated if level > 0)
#   data           ids after the first as deltas (uint8, uint16 or uint32, little-endian),
#                  weights (none: all 1.0; one float32: all equal; uint8: whole numbers
#                  below 256; else float32 each), values (none; or each value's bytes
#                  concatenated when the format's values have a fixed size; or uint32
#                  sizes, then the bytes)
#
# The layout byte says which: bits 0-1 the id width, 2-3 the weights, 4-5 the values.
# A block starting with Whoosh's own magic (an index written before) is read by Whoosh's
# own code, so the unpickler only ever sees older indexes.

#: The tag starting a posting list of plain blocks (Whoosh's own is ``W3Bl``).
PLAIN_MAGIC = b"SrP1"
_BLOCK_HEADER = struct.Struct("!HIIfBBBB")
_SIZE = struct.Struct("!i")
_ID_TYPES = ("<u1", "<u2", "<u4")
_W_ONE, _W_SAME, _W_BYTE, _W_FLOAT = 0, 4, 8, 12
_V_NONE, _V_FIXED, _V_SIZED = 0, 16, 32
#: In an inlined row of one posting, a first byte with this bit set means a block's data
#: follows, not a value (never set in the first byte of a value searcher writes: it is a
#: big-endian count, whose first byte is 0 below 2**24).
_INLINE_BLOCK = 0x80


def _encode_data(ids: Any, weights: array, values: Any) -> tuple[int, bytes]:
    """(layout byte, data) of one block's postings (see above)."""
    if len(ids) > 1:
        deltas = [b - a for a, b in zip(ids, ids[1:], strict=False)]
        top = max(deltas)
        width = 0 if top < 256 else 1 if top < 65536 else 2
        id_bytes = _le_array("BHI"[width], deltas)
    else:
        width, id_bytes = 0, b""
    first = weights[0]
    if all(w == first for w in weights):
        wmode, w_bytes = (_W_ONE, b"") if first == 1.0 else (_W_SAME, _le_array("f", [first]))
    elif all(w.is_integer() and 0 <= w < 256 for w in weights):
        wmode, w_bytes = _W_BYTE, bytes([int(w) for w in weights])
    else:
        wmode, w_bytes = _W_FLOAT, _le_array("f", weights)
    if not values or not any(values):
        vmode, v_bytes = _V_NONE, b""
    elif isinstance(values, bytes):
        vmode, v_bytes = _V_FIXED, values
    elif len({len(v) for v in values}) == 1:
        vmode, v_bytes = _V_FIXED, b"".join(values)
    else:
        vmode = _V_SIZED
        v_bytes = _le_array("I", [len(v) for v in values]) + b"".join(values)
    return width | wmode | vmode, id_bytes + w_bytes + v_bytes


def _le_array(typecode: str, items: Any) -> bytes:
    packed = array(typecode, items)
    if not _LITTLE_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _decode_data(layout: int, first: int, count: int, data: bytes,
                 at: int = 0) -> tuple[np.ndarray, np.ndarray, Any]:
    """(ids as int64, weights as float32, values) of one block's data from offset *at*;
    values are None, the bytes of fixed-size values, or a list of each value's bytes."""
    id_type = _ID_TYPES[layout & 3]
    ids = np.empty(count, dtype=np.int64)
    ids[0] = first
    if count > 1:
        deltas = np.frombuffer(data, id_type, count - 1, at)
        np.cumsum(deltas, out=ids[1:])
        ids[1:] += first
        at += deltas.nbytes
    wmode = layout & 12
    if wmode == _W_ONE:
        weights = np.ones(count, dtype=np.float32)
    elif wmode == _W_SAME:
        weights = np.full(count, np.frombuffer(data, "<f4", 1, at)[0], dtype=np.float32)
        at += 4
    elif wmode == _W_BYTE:
        weights = np.frombuffer(data, np.uint8, count, at).astype(np.float32)
        at += count
    else:
        weights = np.frombuffer(data, "<f4", count, at).astype(np.float32)
        at += 4 * count
    vmode = layout & 48
    if vmode == _V_NONE:
        values: Any = None
    elif vmode == _V_FIXED:
        values = bytes(data[at:])
    else:
        sizes = np.frombuffer(data, "<u4", count, at).tolist()
        at += 4 * count
        values = []
        for size in sizes:
            values.append(bytes(data[at : at + size]))
            at += size
    return ids, weights, values


def value_tuple(values: Any, count: int) -> tuple[bytes, ...]:
    """Each posting's value, as an inlined row holds them (``b""`` when none)."""
    if values is None:
        return (b"",) * count
    if isinstance(values, bytes):
        size = len(values) // count
        return tuple(values[i : i + size] for i in range(0, len(values), size))
    return tuple(values)


def encode_block(ids: Any, weights: array, values: Any, maxweight: float,
                  compression: int, minlength: int | None, maxlength: int, last: bool) -> bytes:
    """One plain posting block (size, header, data; see above)."""
    layout, data = _encode_data(ids, weights, values)
    comp = compression if len(data) >= COMPRESS_FROM else 0
    if comp:
        data = zlib.compress(data, comp)
    header = _BLOCK_HEADER.pack(len(ids), ids[0], ids[-1], maxweight, comp,
                                length_to_byte(minlength), length_to_byte(maxlength), layout)
    size = len(header) + len(data)
    return _SIZE.pack(-size if last else size) + header + data


def read_blocks(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(ids, weights) of a whole posting list of plain blocks (its bytes, magic first)."""
    blocks: list[Block] = []
    gather_blocks(data, 0, blocks)
    return decode_blocks(blocks)


#: One plain block as :func:`decode_blocks` takes it: (count, first id, last id, layout,
#: data), the ids shifted by the segment's first document number.
Block = tuple[int, int, int, int, bytes]


def gather_blocks(data: bytes, offset: int, out: list[Block]) -> None:
    """Append the blocks of a posting list of plain blocks (its bytes, magic first) to
    *out*, their ids shifted by *offset* (the segment's first global document number)."""
    at, end = len(PLAIN_MAGIC), len(data)
    header_size = _BLOCK_STRUCT.size
    unpack = _BLOCK_STRUCT.unpack_from
    decompress = zlib.decompress
    while at < end:
        size, count, first, last, _maxw, comp, _minl, _maxl, layout = unpack(data, at)
        start = at + header_size
        at += _SIZE.size + (size if size > 0 else -size)
        block = data[start:at]
        out.append((count, first + offset, last + offset, layout,
                    decompress(block) if comp else block))
        if size < 0:
            break


def decode_blocks(blocks: list[Block]) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, weights float32) of *blocks* in ascending order of ids, decoded in one
    piece: each block's deltas and weights are gathered by kind (delta width, weight
    mode), and numpy turns each kind into ids and weights once for all the blocks (a
    block's first id follows the previous block's last as a delta too), instead of a
    dozen numpy calls a block.  The blocks of several segments (ids shifted by each
    segment's offset) decode as one list: the same values as segment by segment."""
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    deltas: dict[int, tuple[list[int], list[bytes]]] = {}
    weights: dict[int, tuple[list[int], list[bytes]]] = {}
    gaps, counts = [], []
    previous = 0
    for number, (count, first, last, layout, block) in enumerate(blocks):
        gaps.append(first - previous)  # a block's first id: the gap from the last block's
        counts.append(count)
        previous = last
        width = layout & 3
        cut = (1 << width) * (count - 1)
        if count > 1:
            kind = deltas.setdefault(width, ([], []))
            kind[0].append(number)
            kind[1].append(block[:cut])
        wmode = layout & 12
        if wmode != _W_ONE:
            size = 4 if wmode == _W_SAME else count if wmode == _W_BYTE else 4 * count
            kind = weights.setdefault(wmode, ([], []))
            kind[0].append(number)
            kind[1].append(block[cut : cut + size])
    count_array = np.array(counts, dtype=np.int64)
    starts = np.cumsum(count_array) - count_array
    total = int(count_array.sum())
    ids = np.empty(total, dtype=np.int64)
    ids[starts] = gaps
    for width, (numbers, parts) in deltas.items():
        values = np.frombuffer(b"".join(parts), np.dtype(_ID_TYPES[width]))
        if len(numbers) == len(blocks) or len(values) == total - len(blocks):
            ids[_spans(starts + 1, count_array - 1)] = values  # every block's deltas
        else:
            chosen = np.array(numbers)
            ids[_spans(starts[chosen] + 1, count_array[chosen] - 1)] = values
    np.cumsum(ids, out=ids)
    weight_array = np.ones(total, dtype=np.float32)  # _W_ONE
    for wmode, (numbers, parts) in weights.items():
        joined = b"".join(parts)
        chosen = np.array(numbers)
        if wmode == _W_SAME:  # one float32 for the whole block
            values = np.repeat(np.frombuffer(joined, "<f4"), count_array[chosen])
        elif wmode == _W_BYTE:
            values = np.frombuffer(joined, np.uint8)
        else:
            values = np.frombuffer(joined, "<f4")
        if len(numbers) == len(blocks):
            weight_array[:] = values
        else:
            weight_array[_spans(starts[chosen], count_array[chosen])] = values
    return ids, weight_array


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` of every span, in order."""
    before = np.cumsum(lengths) - lengths
    return np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))


_BLOCK_STRUCT = struct.Struct("!i" + _BLOCK_HEADER.format.lstrip("!"))


def _encode_postings(ids: array, freqs: array, limit: int, compression: int, boost: float,
                     counted: bool, values: bool,
                     lengths: list[int] | None) -> tuple[bytes, tuple]:
    """One term's postings as plain blocks (:func:`encode_block`), and its term
    info fields, accumulated exactly as ``W3TermInfo.add_block`` does.  Whoosh builds
    each block posting by posting in Python; here every list is made with one C-level
    call per block.  *counted*: the weights are the counts times *boost* (else *boost*
    each); *values*: the counts are stored too, as big-endian uint32 (``Frequency``)."""
    count = len(ids)
    parts = [PLAIN_MAGIC]
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
        parts.append(encode_block(block_ids, weights, block_values, maxweight,
                                   compression, minlength, maxlength, start + limit >= count))
    stats = (0, total_weight, count, 0 if term_min is None else length_to_byte(term_min),
             length_to_byte(term_max), term_maxweight, ids[0], ids[-1])
    return b"".join(parts), stats


def _write_block(self: Any, last: bool = False) -> None:
    """``W3PostingsWriter._write_block`` writing :func:`encode_block`'s plain blocks, so
    the segments Whoosh writes itself (its merges, ``add_document``) are the same as ours."""
    if self._byteids:  # term vectors (never written by searcher): Whoosh's own blocks
        WHOOSH_WRITE_BLOCK(self, last)
        return
    if not self._blockcount:
        self._postfile.write(PLAIN_MAGIC)
    self._terminfo.add_block(self)
    self._postfile.write(encode_block(
        self._ids, self._weights, self._values, self._maxweight,
        self._compression, self._minlength, self._maxlength, last))
    self._blockcount += 1
    self._new_block()


#: Whoosh's own ``W3PostingsWriter._write_block`` (protocol-2 pickles, float weights, every
#: block compressed), kept for the term vectors searcher never writes, and so that a test can
#: put it back to write a segment Whoosh's way and compare (``tests/test_postings.py``).
WHOOSH_WRITE_BLOCK = W3PostingsWriter._write_block
W3PostingsWriter._write_block = _write_block


#: Whoosh's own term-row encoding, for rows of postings in the postings file and rows an
#: index written before holds.
WHOOSH_TO_BYTES = W3TermInfo.to_bytes
WHOOSH_FROM_BYTES = W3TermInfo.__dict__["from_bytes"]
_patch_codec()

# -- reading plain blocks through Whoosh's matcher -------------------------------------------


def _read_header(self: Any) -> None:
    """``W3LeafMatcher._read_header`` knowing both tags: plain blocks are read by the
    functions below, Whoosh's pickled ones (an index written before) by its own code."""
    self._postfile.seek(self._startoffset)
    magic = self._postfile.read(4)
    if magic == PLAIN_MAGIC:
        self._plain = True
    elif magic != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"postings start with {magic!r}, not a block tag")
    self._baseoffset = self._startoffset + 4


def _goto(self: Any, position: int) -> None:
    if not self._plain:
        WHOOSH_GOTO(self, position)
        return
    self._data = self._ids = self._weights = self._values = None
    self._i = 0
    (size, self._blocklength, self._firstid, self._maxid, self._maxweight, self._compression,
     minlength, maxlength, self._layout) = _BLOCK_STRUCT.unpack(
        self._postfile.get(position, _BLOCK_STRUCT.size))
    self._lastblock = size < 0
    self._nextoffset = position + _SIZE.size + abs(size)
    self._dataoffset = position + _BLOCK_STRUCT.size
    self._minlength = byte_to_length(minlength)
    self._maxlength = byte_to_length(maxlength)


def _read_data(self: Any) -> None:
    if not self._plain:
        WHOOSH_READ_DATA(self)
        return
    data = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
    if self._compression:
        data = zlib.decompress(data)
    self._data = _decode_data(self._layout, self._firstid, self._blocklength, data)


def _plain_data(self: Any, whoosh_reader: Any) -> tuple[Any, ...] | None:
    """The decoded (ids, weights, values) of the current block when it is plain (decoded
    once for all three); None after *whoosh_reader* has read a pickled block itself."""
    if not self._plain:
        whoosh_reader(self)
        return None
    if self._data is None:
        self._read_data()
    return self._data


def _read_ids(self: Any) -> None:
    data = _plain_data(self, WHOOSH_READ_IDS)
    if data is not None:
        self._ids = data[0].tolist()


def _read_weights(self: Any) -> None:
    data = _plain_data(self, WHOOSH_READ_WEIGHTS)
    if data is not None:
        self._weights = data[1].tolist()


def _read_values(self: Any) -> None:
    data = _plain_data(self, WHOOSH_READ_VALUES)
    if data is None:
        return
    if self._fixedsize == 0:
        self._values = (None,) * self._blocklength
    else:
        self._values = value_tuple(data[2], self._blocklength)


def file_descriptor(dbfile: Any) -> int | None:
    """The descriptor of the segment file behind Whoosh's *dbfile* (a ``StructFile``), for
    ``os.pread``; None for a file that is not a plain file of its own (a part of a compound
    segment, a file in memory), which is read through Whoosh as before.

    Whoosh reads a term-table row with four or five ``seek`` and ``read`` calls on one
    shared buffered file, each move refilling its 8 KiB buffer: about 20 µs a lookup, and
    every query looks each of its terms up in every segment (at 500,000 articles, 24
    segments: hundreds a pasted query).  ``pread`` reads just the bytes asked for, at any
    offset, without moving the file's position (threads cannot disturb each other), and
    maps nothing: a map of the files would keep every page a search touched in the
    process's resident memory.
    """
    fd = getattr(dbfile, "_searcher_fd", None)
    if fd is None:
        raw = getattr(dbfile, "file", None)
        fd = raw.fileno() if type(dbfile) is StructFile and isinstance(
            raw, io.BufferedReader) and hasattr(os, "pread") else -1
        dbfile._searcher_fd = fd
    if fd >= 0 and dbfile.is_closed:  # its number may belong to another file by now
        raise ValueError(f"read of closed segment file {dbfile}")
    return fd if fd >= 0 else None


#: Hash slots read at a time when looking a term up (the key is nearly always in the first).
_SLOTS_READ = 8
#: Bytes read at a term row's position: its two lengths, the key and (nearly always) the
#: whole value in one ``pread``.
_ROW_READ = 256


def term_row(tindex: Any, key: bytes) -> bytes | None:
    """The bytes Whoosh's hash file *tindex* (a segment's term table) holds under *key*,
    or None: ``HashReader.get``, read with ``pread`` (:func:`file_descriptor`; the same
    slots, hash and probing as Whoosh's ``ranges_for_key``)."""
    fd = file_descriptor(tindex.dbfile)
    if fd is None:
        return tindex.get(key)
    keyhash = tindex.hashfn(key)
    start, slots = tindex.tables[keyhash & 255]
    if not slots:
        return None
    size = _HASH_POINTER.size
    end = start + slots * size
    at = start + (keyhash >> 8) % slots * size
    window, used = b"", 0
    for _ in range(slots):  # probing from the key's own slot on, wrapping at the end
        if used == len(window):
            window, used = os.pread(fd, min(_SLOTS_READ * size, end - at), at), 0
        slot_hash, item = _HASH_POINTER.unpack_from(window, used)
        used += size
        at = at + size if at + size < end else start  # a window never reads past the end
        if not item:
            return None
        if slot_hash == keyhash:
            row = os.pread(fd, _ROW_READ, item)
            key_length, value_length = _HASH_LENGTHS.unpack_from(row)
            key_at = _HASH_LENGTHS.size
            if key_length == len(key) and row[key_at : key_at + key_length] == key:
                value_at = key_at + key_length
                if value_at + value_length > len(row):
                    return os.pread(fd, value_length, item + value_at)
                return row[value_at : value_at + value_length]
    return None


def postings_bytes(terms: Any, fieldname: str, tbytes: bytes) -> tuple[bytes | None, Any]:
    """(the bytes of its posting list or None, the term's row) of a term of a segment's
    terms reader.

    Plain blocks are read straight from the postings file at the row's extent: a
    Whoosh matcher reads the list's tag and its first block's header when it is made,
    two small reads a segment and term that a search reading the list whole does not
    need.  None when the postings are inlined in the row or pickled (an index written
    before): the caller makes Whoosh's matcher from the row.  Raises TermNotFound.
    """
    row = term_row(terms._tindex, terms._keycoder(fieldname, tbytes))
    if row is None:
        raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
    info = W3TermInfo.from_bytes(row)
    if info.is_inlined():
        return None, info
    offset, length = info.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes keeps it as unpack_int's 1-tuple
        (length,) = length
    fd = file_descriptor(terms._postfile)
    data = os.pread(fd, length, offset) if fd is not None \
        else terms._postfile.get(offset, length)
    if data[: len(PLAIN_MAGIC)] != PLAIN_MAGIC:
        return None, info
    return data, info


def postings_by_row(terms: Any, fieldname: str, tbytes: bytes
                    ) -> tuple[tuple[np.ndarray, np.ndarray] | None, Any]:
    """((ids, weights) or None, the term's row) of a term of a segment's terms reader:
    :func:`postings_bytes`, decoded.  Raises TermNotFound."""
    data, info = postings_bytes(terms, fieldname, tbytes)
    return (read_blocks(data) if data is not None else None), info


WHOOSH_GOTO = W3LeafMatcher._goto
WHOOSH_READ_DATA = W3LeafMatcher._read_data
WHOOSH_READ_IDS = W3LeafMatcher._read_ids
WHOOSH_READ_WEIGHTS = W3LeafMatcher._read_weights
WHOOSH_READ_VALUES = W3LeafMatcher._read_values
W3LeafMatcher._plain = False
W3LeafMatcher._read_header = _read_header
W3LeafMatcher._goto = _goto
W3LeafMatcher._read_data = _read_data
W3LeafMatcher._read_ids = _read_ids
W3LeafMatcher._read_weights = _read_weights
W3LeafMatcher._read_values = _read_values

# -- the codec's name in the table of contents ---------------------------------------------


#: The version of the files searcher writes for a segment (posting blocks, stored fields):
#: 1, plain posting blocks; 2, stored fields as JSON; 3, the terms table's extras as JSON.
#: Raised with SCHEMA_VERSION when a segment file changes in a way older code would misread.
SEGMENT_FORMAT = 3


class PlainCodec(W3Codec):
    """Whoosh's W3 codec as searcher writes it: plain posting blocks and inlined rows
    (above).  Each segment's entry in the table of contents records its codec: a searcher
    that predates plain blocks cannot load this class, and one that predates the segment's
    :data:`SEGMENT_FORMAT` refuses it (``__setstate__``), so either refuses the index
    (naming the table of contents and saying to run ``searcher index --full``) instead of
    misreading its files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segment_format = SEGMENT_FORMAT

    def __setstate__(self, state: dict[str, Any]) -> None:
        found = state.get("segment_format", 1)
        if not isinstance(found, int) or found > SEGMENT_FORMAT:
            raise ValueError(f"segments in format {found!r}, written by a newer searcher "
                             f"(this one reads formats up to {SEGMENT_FORMAT})")
        self.__dict__.update(state)


def _default_codec(*args: Any, **kwargs: Any) -> PlainCodec:
    return PlainCodec(*args, **kwargs)


def _use_plain_codec() -> None:
    import whoosh.codec

    whoosh.codec.default_codec = _default_codec


_use_plain_codec()
