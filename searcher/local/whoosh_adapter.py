"""Every use of Whoosh's internals, in one module, checked against the versions it was tested on.

searcher writes Whoosh segments with its own code (:mod:`searcher.local.postings`
encodes the postings blocks and term-table rows of Whoosh's ``W3`` codec),
commits staged segments by driving ``SegmentWriter``'s commit steps one by
one, reads postings block by block and field lengths straight from the
codec's columns, and names its sidecar files so that Whoosh's own clean-up
deletes them with their segment.  None of that is Whoosh's public API: a
Whoosh release may change any of it and silently corrupt or misread an index.
So all of it lives here, and importing this module refuses a Whoosh version
outside :data:`SUPPORTED` (:class:`~searcher.errors.UnsupportedWhooshError`).
Raising the upper bound means re-running the test suite (``tests/test_postings.py``
compares the segments written here with Whoosh's own byte for byte), then
changing :data:`SUPPORTED` here and the pin in ``pyproject.toml`` together.

Whoosh's public API (schemas, analyzers, opening an index) is re-exported
from here too, so the rest of the package imports Whoosh from one place;
``tests/test_whoosh_adapter.py`` checks that no other module imports
Whoosh's internal modules or private names.
"""

from __future__ import annotations

import itertools
import pickle
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable
from pickle import dumps
from typing import Any

import whoosh

from ..errors import UnsupportedWhooshError

#: The whoosh-reloaded versions this module's use of internals is tested against
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

# Public API, re-exported so the package imports Whoosh from one place.
from whoosh import columns, fields, formats  # noqa: E402
from whoosh import index as _index  # noqa: E402
from whoosh.analysis import StopFilter, Token, Tokenizer  # noqa: E402

# Internals.  (whoosh.writing is imported where used: searches never need it.)
from whoosh.codec.whoosh3 import (  # noqa: E402
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3PostingsWriter,
    _lenfield,
)
from whoosh.filedb.filestore import FileStorage  # noqa: E402
from whoosh.reading import SegmentReader, TermNotFound  # noqa: E402
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort  # noqa: E402
from whoosh.util.numeric import byte_to_length, length_to_byte  # noqa: E402
from whoosh.util.times import datetime_to_long  # noqa: E402

__all__ = [
    "SUPPORTED", "SUPPORTED_TEXT", "StopFilter", "Token", "Tokenizer", "check_version",
    "columns", "datetime_to_long", "fields", "formats", "installed_version",
]

# -- loading Whoosh's pickles ------------------------------------------------------------
#
# Whoosh writes Python pickles into the index folder: the table of contents (the schema and
# the segment list), each document's stored fields, column headers and posting blocks.
# Loading a pickle can call any function it names, so an index folder (data, that may come
# from elsewhere) could run code.  Replacing Whoosh's formats is out of reach of this
# adapter, so every pickle Whoosh loads goes through an Unpickler that resolves only the
# names a searcher index holds: the classes of Whoosh's schema, formats, analysis, columns
# and segments and searcher's two tokenizers, and a few plain value types (stored dates,
# sets, the helpers pickle itself uses for bytes and arrays).  Anything else (``os.system``,
# ``builtins.eval``, a class of any other module) is refused before it is called: the load
# fails with an ``UnpicklingError`` naming the global, and nothing runs.

#: (module, name) pairs of plain types and pickle's own helpers.
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(mod, name) for mod in ("builtins", "__builtin__") for name in (
        "set", "frozenset", "int", "long", "float", "complex", "bytes", "bytearray", "str",
        "unicode", "list", "dict", "tuple", "bool", "slice", "range")]
    + [("_codecs", "encode"), ("copyreg", "_reconstructor"), ("array", "array"),
       ("array", "_array_reconstructor"), ("collections", "defaultdict"),
       ("collections", "OrderedDict"), ("collections", "deque")]
    + [("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")])
#: Modules whose classes (only classes, defined in that very module) an index may name.
SAFE_CLASS_MODULES = ("whoosh.fields", "whoosh.formats", "whoosh.analysis", "whoosh.columns",
                      "whoosh.codec.whoosh3", "searcher.local.analyzers", "searcher.local.schema")
#: Classes that moved: an index written before names them where they were (it is then
#: rebuilt, but a search must still open it to say so).
MOVED_CLASSES = {("searcher.analysis.tokens", "SearcherTokenizer"):
                 ("searcher.local.analyzers", "SearcherTokenizer"),
                 ("searcher.analysis.tokens", "ChineseAnalyzer"):
                 ("searcher.local.analyzers", "ChineseAnalyzer")}


#: Globals already resolved and allowed.
_RESOLVED: dict[tuple[str, str], Any] = {}


class IndexUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only :data:`SAFE_GLOBALS` and the classes of
    :data:`SAFE_CLASS_MODULES` (see above)."""

    def find_class(self, module: str, name: str) -> Any:
        found = _RESOLVED.get((module, name))
        if found is not None:  # every stored-fields load names datetime: once a process
            return found
        module, name = MOVED_CLASSES.get((module, name), (module, name))
        if (module, name) in SAFE_GLOBALS:
            found = super().find_class(module, name)
        elif "." not in name and any(module == m or module.startswith(m + ".")
                                     for m in SAFE_CLASS_MODULES):
            found = super().find_class(module, name)
            if not (isinstance(found, type) and found.__module__ == module):
                found = None
        if found is not None:
            _RESOLVED[(module, name)] = found
            return found
        raise pickle.UnpicklingError(
            f"refused to load {module}.{name} from the index: not a type an index holds "
            "(loading it could run code)")


class _Bytes:
    """A minimal file over bytes for the Unpickler: with ``peek`` the C unpickler takes
    the whole rest at once, where over ``io.BytesIO`` it calls ``read`` for each opcode
    (a stored-fields load took 2.5x ``pickle.loads``; this way the same)."""

    __slots__ = ("data", "at")

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.at = 0

    def read(self, size: int = -1) -> bytes:
        start = self.at
        self.at = len(self.data) if size < 0 else min(start + size, len(self.data))
        return self.data[start : self.at]

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readline(self) -> bytes:
        end = self.data.find(b"\n", self.at)
        return self.read(-1 if end < 0 else end + 1 - self.at)

    def peek(self, _size: int = 0) -> bytes:
        return self.data[self.at :]


def safe_loads(data: bytes, *_args: Any, **_kwargs: Any) -> Any:
    """``pickle.loads`` through :class:`IndexUnpickler`."""
    return IndexUnpickler(_Bytes(data)).load()


def safe_load(handle: Any, *_args: Any, **_kwargs: Any) -> Any:
    """``pickle.load`` through :class:`IndexUnpickler`."""
    return IndexUnpickler(handle).load()


def _restrict_unpickling() -> None:
    """Make every module of Whoosh that loads pickles from an index use :func:`safe_loads`."""
    import types

    from whoosh.codec import whoosh3
    from whoosh.filedb import structfile

    _index.pickle = types.SimpleNamespace(loads=safe_loads, dumps=pickle.dumps,
                                          PicklingError=pickle.PicklingError)
    structfile.load_pickle = safe_load
    columns.loads = safe_loads
    whoosh3.loads = safe_loads


_restrict_unpickling()

# -- stored fields ------------------------------------------------------------------------
#
# Whoosh keeps each document's stored fields as a protocol-2 pickle of a dict, deflated alone
# (534 bytes a document at 20,000 news articles): the same field names, meta keys and the
# datetime class are spelled out again in every document, and protocol 2 writes bytes (a
# stored datetime) as a call of ``_codecs.encode``.  searcher's stored-fields column writes
# protocol 4, deflated against a preset dictionary holding one such dict (286 bytes a
# document).  Its values start with a byte naming the dictionary (1); a value Whoosh wrote
# starts with a zlib header (low nibble 8), so both read, and an unknown one is refused.

#: Preset dictionary 1 of stored fields: the protocol-4 pickle of a typical document's
#: stored fields (see building.document_fields).  Frozen: values written with it need it.
STORED_DICTIONARY_1 = (
    b"\x80\x04\x95\x01\x01\x00\x00\x00\x00\x00\x00}\x94(\x8c\x06author\x94\x8c\x00\x94"
    b"\x8c\x04date\x94\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe8\x01"
    b"\x01\x00\x00\x00\x00\x00\x00\x94\x85\x94R\x94\x8c\x02id\x94h\x02\x8c\x04meta"
    b"\x94}\x94(\x8c\ncategories\x94]\x94\x8c\x04tags\x94]\x94\x8c\x07updated\x94Nh"
    b"\x03\x8c\x192024-01-01T00:00:00+08:00\x94\x8c\x06images\x94}\x94\x8c\x05extra"
    b"\x94}\x94\x8c\x04size\x94K\x00\x8c\x08mtime_ns\x94K\x00\x8c\x06digest\x94h"
    b"\x02\x8c\x08warnings\x94]\x94u\x8c\x04path\x94h\x02\x8c\x07relpath\x94h\x02"
    b"\x8c\x06source\x94h\x02\x8c\x05title\x94h\x02u.")
STORED_DICTIONARIES = {1: STORED_DICTIONARY_1}
_STORED_WRITE = 1


def encode_stored(fields: Any) -> bytes:
    """One document's stored fields as searcher's stored-fields column keeps them.

    A 2 KiB window and a small hash table: the values are a few hundred bytes, and a
    fresh compressor that size costs less than copying a primed default one."""
    if fields is None:
        return b""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -11, 4, zlib.Z_DEFAULT_STRATEGY,
                               STORED_DICTIONARIES[_STORED_WRITE])
    data = pickle.dumps(fields, 4)
    return bytes([_STORED_WRITE]) + deflate.compress(data) + deflate.flush()


def decode_stored(value: bytes) -> Any:
    """The stored fields of one :func:`encode_stored` value, or of one Whoosh wrote."""
    if not value:
        return None
    mark = value[0]
    if mark & 0x0F == 8:  # a zlib stream: Whoosh's own PickleColumn(CompressedBytesColumn)
        data = zlib.decompress(value)
        return safe_loads(data) if data else None
    dictionary = STORED_DICTIONARIES.get(mark)
    if dictionary is None:
        raise ValueError(f"stored fields in an unknown format ({mark}): written by a newer "
                         "searcher?")
    inflate = zlib.decompressobj(-15, dictionary)
    data = inflate.decompress(memoryview(value)[1:]) + inflate.flush()
    if not inflate.eof:
        raise zlib.error("truncated stored fields")
    return safe_loads(data)


class StoredColumn(columns.Column):
    """Whoosh's stored-fields column with :func:`encode_stored`'s values."""

    _default = None

    def writer(self, dbfile: Any) -> Any:
        return _StoredWriter(dbfile)

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int) -> Any:
        return _StoredReader(dbfile, basepos, length, doccount)


class _StoredWriter(columns.VarBytesColumn.Writer):
    def add(self, docnum: int, v: Any) -> None:
        super().add(docnum, encode_stored(v))


class _StoredReader(columns.VarBytesColumn.Reader):
    def __getitem__(self, docnum: int) -> Any:
        return decode_stored(super().__getitem__(docnum))

    def __iter__(self) -> Any:
        for v in super().__iter__():
            yield decode_stored(v)

    def load(self) -> list[Any]:
        return list(self)


def _use_stored_column() -> None:
    from whoosh.codec import whoosh3

    whoosh3.STORED_COLUMN = StoredColumn()


_use_stored_column()

# -- opening and creating indexes --------------------------------------------------------


def open_index(folder: str) -> Any:
    """The Whoosh index in *folder* (``whoosh.index.open_dir``)."""
    return _index.open_dir(folder)


def index_exists(folder: str) -> bool:
    return _index.exists_in(folder)


def create_index(folder: str, schema: Any) -> Any:
    from .integrity import seal_toc

    ix = _index.create_in(folder, schema)
    seal_toc(folder, ix.latest_generation())
    return ix


def index_folder(ix: Any) -> str:
    """The folder a file-based Whoosh index lives in."""
    return ix.storage.folder


# -- segment files ------------------------------------------------------------------------


def segment_file_name(segment_id: str, suffix: str) -> str:
    """A file name Whoosh treats as part of segment *segment_id*.

    Whoosh's clean-up after a commit deletes every file matching its segment
    pattern (``<index>_<id>.<ext>``) whose segment is gone, so sidecar files
    named this way are deleted together with their segment after a merge.
    """
    return f"{segment_id}.{suffix}"


def is_segment_file(name: str, segment: Any) -> bool:
    """Whether the file *name* belongs to *segment* (its id, then a dot)."""
    return name.startswith(f"{segment.segment_id()}.")


def reader_segment_id(reader: Any) -> str:
    """The id of a leaf reader's segment (``MAIN_<random id>``)."""
    return reader.segment().segment_id()


def reader_folder(reader: Any) -> str | None:
    """The index folder of a leaf reader (compound segments wrap it in an overlay)."""
    storage = reader.storage()
    for _ in range(4):
        folder = getattr(storage, "folder", None)
        if folder is not None:
            return str(folder)
        storage = getattr(storage, "b", None)  # OverlayStorage(compound file, folder)
        if storage is None:
            return None
    return None


# -- writing segments ----------------------------------------------------------------------


def staging_writer(folder: str, schema: Any) -> tuple[Any, Any]:
    """A new index in *folder* and an unlocked writer for one non-compound segment.

    ``compound=False``: Whoosh opens the parts of a compound segment by copying
    them into memory (over 100 ms per search process at 20,000 articles);
    plain files are mmap'ed.
    """
    from whoosh.writing import SegmentWriter

    ix = FileStorage(folder).create_index(schema)
    return ix, SegmentWriter(ix, _lk=False, compound=False)


def discard_temp_files(writer: Any) -> None:
    """Delete the writer's temporary storage (its posting pool), once the segment is built."""
    writer._tempstorage.destroy()


def segment_reader(ix: Any, segment: Any) -> Any:
    """A reader of one segment of *ix* (committed or not)."""
    return SegmentReader(ix.storage, ix.schema, segment)


def index_segments(ix: Any) -> list[Any]:
    """The segments of *ix*'s latest commit (TOC)."""
    return list(ix._segments())


def commit_writer(ix: Any) -> Any:
    """A locked writer on *ix* for :func:`commit_segments` (``compound=False``, see above)."""
    from whoosh.writing import SegmentWriter

    return SegmentWriter(ix, compound=False)


#: Segments with at least this many documents are never merged by a commit.  Whoosh's own
#: policy (MERGE_SMALL) merges the smallest segments once, past the fourth, their running
#: total of documents is below fib(rank + 5): with a parallel build's segments of ~10,000
#: documents that stays false up to ~25 segments and then holds for half the index at once.
#: A 500,000-article build stalled in such a merge of ~260,000 articles (Whoosh's merge
#: re-pickles every posting: 4.9 GB of spill files after 20 minutes).  Merging everything is
#: ``searcher optimize``'s job; commits only tidy up the small segments nightly runs add.
LARGE_SEGMENT_DOCS = 2000


def merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's MERGE_SMALL over the segments below LARGE_SEGMENT_DOCS only (all of them
    when none is larger: exactly MERGE_SMALL), without segments of deleted documents only;
    returns the segments kept."""
    from whoosh.writing import MERGE_SMALL

    # A segment whose documents are all deleted is dropped (its files go with it): it
    # would cost every query a round and every suggestion table its words until merged.
    # (One stays when every document is deleted: readers of an index need a segment.)
    segments = [s for s in segments if s.doc_count() > 0] or segments[:1]
    small = [s for s in segments if s.doc_count_all() < LARGE_SEGMENT_DOCS]
    if len(small) == len(segments):
        return MERGE_SMALL(writer, segments)
    kept = MERGE_SMALL(writer, small)
    if kept is small:  # nothing merged
        return segments
    kept_ids = {id(s) for s in kept}
    return [s for s in segments
            if s.doc_count_all() >= LARGE_SEGMENT_DOCS or id(s) in kept_ids]


def commit_segments(writer: Any, new_segments: list[Any],
                    on_merged: Callable[[Any, list[Any]], None]) -> None:
    """``writer.commit()``, with *new_segments* (finished elsewhere) added to the TOC.

    The documents added to *writer* itself and any merge Whoosh's policy makes
    become a segment first; *on_merged* is called on it and the segments merged
    into it (their files still exist) before the TOC names it.  The TOC swap is
    the atomic step.
    """
    before = list(writer.segments)
    segments = writer._merge_segments(merge_small_segments, False, True)
    if writer._added:
        kept = {s.segment_id() for s in segments}
        merged = writer._finalize_segment()
        on_merged(merged, [s for s in before if s.segment_id() not in kept])
        segments.append(merged)
    else:
        writer._close_segment()
    writer._commit_toc(segments + new_segments)
    from .integrity import seal_toc

    seal_toc(writer.storage.folder, writer.generation)
    writer._finish()


def start_document(writer: Any) -> tuple[Any, int]:
    """(per-document writer, number) for the next document of *writer*, started."""
    perdoc = writer.perdocwriter
    perdoc.start_doc(writer.docnum)
    return perdoc, writer.docnum


def document_added(writer: Any) -> None:
    """Account for one document written through :func:`start_document`."""
    writer._added = True
    writer.docnum += 1


def document_lengths(writer: Any, names: Iterable[str]) -> dict[str, list[int]]:
    """Each document's stored length of each field in *names* (closes the per-doc writer)."""
    writer.perdocwriter.close()
    reader = writer.per_document_reader()
    try:
        return {name: [reader.doc_field_length(d, name, 0) for d in range(writer.docnum)]
                for name in names}
    finally:
        reader.close()


def finish_segment(writer: Any) -> Any:
    """Close the segment's files and return Whoosh's segment object."""
    writer._close_segment()
    writer._assemble_segment()
    return writer.get_segment()


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
        _whoosh_write_block(self, last)
        return
    if not self._blockcount:
        self._postfile.write(WHOOSH3_HEADER_MAGIC)
    self._terminfo.add_block(self)
    self._postfile.write(_encode_block(
        self._ids, _mini_weights(self._weights), self._mini_values(), self._maxweight,
        self._compression, self._minlength, self._maxlength, last))
    self._blockcount += 1
    self._new_block()


_whoosh_write_block = W3PostingsWriter._write_block
W3PostingsWriter._write_block = _write_block


# -- reading --------------------------------------------------------------------------------


def term_postings(reader: Any, fieldname: str, term: str) -> tuple[list[int], list[float]]:
    """Doc ids and weights of *term* in one segment, deleted documents included.

    Reads the matcher's blocks whole instead of stepping posting by posting.
    A term (or field) not in the segment gives two empty lists.
    """
    try:
        matcher = reader._terms.matcher(fieldname, term.encode("utf-8"),
                                        reader.schema[fieldname].format)
    except TermNotFound:
        return [], []
    ids: list[int] = []
    weights: list[float] = []
    if not hasattr(matcher, "_read_data"):  # an inlined term (a few postings in the terms)
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights
    while matcher.is_active():
        # What W3LeafMatcher._read_ids / _read_weights give, without their Python generator
        # a posting (a common word's 50,000 postings at 100,000 articles cost 10 ms that way).
        if matcher._data is None:
            matcher._read_data()
        deltas, block_weights = matcher._data[0], matcher._data[1]
        ids.extend(deltas if matcher._byteids else itertools.accumulate(deltas))
        if block_weights is None or isinstance(block_weights, float):
            # Whoosh makes an array("f") of the one weight: float32, like every weight.
            single = array("f", [1.0 if block_weights is None else block_weights])[0]
            weights.extend([single] * matcher._blocklength)
        else:
            weights.extend(block_weights)
        matcher._next_block()
    return ids, weights


def length_bytes(reader: Any, fieldname: str) -> Any:
    """The column of one byte per document encoding *fieldname*'s length (None: no column).

    Decode with :data:`BYTE_TO_LENGTH`.
    """
    return reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)


#: Field length of each length byte (Whoosh stores lengths in one lossy byte).
BYTE_TO_LENGTH: tuple[int, ...] = tuple(byte_to_length(i) for i in range(256))


def field_doc_frequencies(reader, fieldname: str):
    """(term, document frequency) of one field of a segment (for suggestions).

    Whoosh's own ``iter_field`` builds a term-info object per term (about a
    second per 10,000 articles); its terms file is a sequence of
    ``(key length, value length, key, value)`` records with the document
    frequency at a fixed place in the value, so one pass over the bytes reads
    it.  Anything unexpected falls back to ``iter_field``.
    """
    if fieldname not in reader.schema:
        return
    try:
        terms = reader._terms
        table = terms._tindex
        fnum = terms._fieldmap.get(fieldname)
        if fnum is None:
            return
        raw = table.dbfile.get(table.startofdata, table.endofdata - table.startofdata)
    except AttributeError:
        for term, info in reader.iter_field(fieldname):
            yield (term.decode("utf-8", "surrogatepass") if isinstance(term, bytes) else term,
                   info.doc_frequency())
        return
    lengths = struct.Struct("!ii").unpack_from
    pos, end = 0, len(raw)
    while pos < end:
        keylen, datalen = lengths(raw, pos)
        key = pos + 8
        if (raw[key] << 8) | raw[key + 1] == fnum:
            data = key + keylen
            yield (raw[key + 2 : data].decode("utf-8", "surrogatepass"),
                   int.from_bytes(raw[data + 5 : data + 9], "big"))  # "!BfI": flags, weight, df
        pos = key + keylen + datalen
