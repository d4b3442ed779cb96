"""How Whoosh loads the pickles of an index folder, and how it stores each document's fields.

Two replacements of Whoosh internals, installed when this module is imported (after
:mod:`searcher.local.whoosh_version` has checked the version): an Unpickler that refuses
anything but the types an index holds, for every pickle Whoosh loads, and a more compact
stored-fields column for the segments Whoosh writes.  They live apart from
:mod:`searcher.local.whoosh_adapter` (which imports this module, so they are active
whenever Whoosh is used) because they are about Whoosh's file formats, not its API.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import zlib
from typing import Any

from . import whoosh_version  # noqa: F401 - first: refuses a Whoosh this code was not tested on

# isort: split
from whoosh import columns
from whoosh import index as _index

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
                      "whoosh.codec.whoosh3", "searcher.local.analyzers", "searcher.local.schema",
                      "searcher.local.whoosh_codec")
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
# datetime class are spelled out again in every document.  searcher's stored-fields column
# writes them as JSON (no pickle: reading them runs no code), deflated against a preset
# dictionary holding one such document.  A value starts with a byte naming its format:
# 2, JSON with STORED_DICTIONARY_2; 1, a protocol-4 pickle with STORED_DICTIONARY_1 (an
# index written before schema 8, read through the allow-list unpickler); a zlib header (low
# nibble 8), Whoosh's own pickle.  An unknown one is refused.
#
# The JSON is ``[fields, names]``: *fields* the stored dict, in its order, each datetime
# value as its ISO text, and *names* the fields that hold a datetime.  Stored values are
# JSON values (the document's meta is made JSON-able when read, ingest.documents) plus
# datetimes at the top level (DATETIME fields); anything else is refused when written,
# naming the field, rather than stored as something else.

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
#: Preset dictionary 2: :func:`_stored_json` of a typical document's stored fields (see
#: building.document_fields).  Frozen: values written with it need it.
STORED_DICTIONARY_2 = (
    b'[{"author":"","date":"2024-01-01T00:00:00","id":"","meta":{"categories":[],'
    b'"tags":[],"updated":null,"date":"2024-01-01T00:00:00+08:00","images":{},"extra":{},'
    b'"size":0,"mtime_ns":0,"digest":"","warnings":[]},"path":"","relpath":"","source":"",'
    b'"title":""},["date"]]')
STORED_DICTIONARIES = {1: STORED_DICTIONARY_1, 2: STORED_DICTIONARY_2}
_STORED_WRITE = 2
_PICKLED = 1
_JSON_TYPES = (str, int, float, bool, type(None), list, dict)


def _stored_json(fields: dict[str, Any]) -> bytes:
    """*fields* as the JSON of stored-fields format 2 (see above)."""
    dates = [name for name, value in fields.items() if isinstance(value, dt.datetime)]
    if dates:
        fields = {name: value.isoformat() if name in dates else value
                  for name, value in fields.items()}
    for name, value in fields.items():
        if not isinstance(value, _JSON_TYPES):
            raise TypeError(f"stored field {name!r}: a {type(value).__name__} cannot be "
                            "stored (JSON values and datetimes only)")
    text = json.dumps([fields, dates], ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def _from_stored_json(data: bytes) -> dict[str, Any]:
    fields, dates = json.loads(data.decode("utf-8", "surrogatepass"))
    for name in dates:
        fields[name] = dt.datetime.fromisoformat(fields[name])
    return fields


def encode_stored(fields: Any) -> bytes:
    """One document's stored fields as searcher's stored-fields column keeps them.

    A 2 KiB window and a small hash table: the values are a few hundred bytes, and a
    fresh compressor that size costs less than copying a primed default one."""
    if fields is None:
        return b""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -11, 4, zlib.Z_DEFAULT_STRATEGY,
                               STORED_DICTIONARIES[_STORED_WRITE])
    data = _stored_json(fields)
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
    return safe_loads(data) if mark == _PICKLED else _from_stored_json(data)


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
