"""The files of an index folder that Whoosh would pickle, written as plain data instead.

Replacements of Whoosh internals, installed when this module is imported (after
:mod:`searcher.local.whoosh_version` has checked the version): the stored-fields column
(JSON, deflated against a preset dictionary), the table of contents of each commit and the
terms tables' extras (JSON), and, for the indexes of older schemas that still hold pickles,
an Unpickler that refuses anything but the types an index holds, for every pickle Whoosh
loads.  (Posting blocks are :mod:`searcher.local.whoosh_codec`'s.)  They live apart from
:mod:`searcher.local.whoosh_adapter` (which imports this module, so they are active
whenever Whoosh is used) because they are about Whoosh's file formats, not its API.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import zlib
from collections.abc import Callable
from typing import Any

from . import whoosh_version  # noqa: F401 - first: refuses a Whoosh this code was not tested on

# isort: split
from whoosh import columns
from whoosh import index as _index
from whoosh.filedb import filetables

# -- loading Whoosh's pickles ------------------------------------------------------------
#
# Whoosh writes Python pickles into the index folder: the table of contents (the schema and
# the segment list), each document's stored fields, the terms tables' extras and posting
# blocks.  Loading a pickle can call any function it names, so an index folder (data, that
# may come from elsewhere) could run code.  searcher writes all of them as plain data
# (below, and whoosh_codec); an index of an older schema still holds pickles until it is
# rebuilt, so every pickle Whoosh loads goes through an Unpickler that resolves only the
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
#: Preset dictionary 2: :func:`stored_json` of a typical document's stored fields (see
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


def stored_json(fields: dict[str, Any]) -> bytes:
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
    data = stored_json(fields)
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

# -- the table of contents and the terms table's extras, as JSON ------------------------------
#
# Whoosh pickles two more things into an index folder: the table of contents of each commit
# (``_MAIN_<n>.toc``: the schema, then the segment list) and the "extras" at the end of each
# terms table (``.trm``: the field numbers).  For searcher's own schema both are written as
# JSON instead: the TOC as TOC_TAG, then ``{"generation", "release", "schema", "segments"}``,
# where the schema is recorded by its description and its text dictionary (``schema``
# module) and rebuilt with :func:`~searcher.local.schema.build_schema`, and each segment by
# its id, document count, deleted documents, field length totals and codec settings; the
# extras as EXTRAS_TAG, their length (">i") and the JSON object.  A TOC or table written
# before (a pickle) is still read through the allow-list unpickler; so is the TOC of an
# index with another schema (Whoosh's own tests and tools), which is written Whoosh's way.

TOC_TAG = b"searcher-toc 1\n"
EXTRAS_TAG = b"JSN1"


#: searcher's ``build_schema`` and ``describe_schema``, registered by the schema module
#: when imported (it imports this one through the adapter, so this one cannot import it).
_SCHEMA: list[Callable[..., Any]] = []


def register_schema(build: Callable[..., Any], describe: Callable[[Any], list]) -> None:
    """Make the TOC record searcher's schema as JSON (see above)."""
    _SCHEMA[:] = [build, describe]


def _schema_json(schema: Any) -> dict[str, Any] | None:
    """The TOC's record of *schema*, or None when it is not searcher's schema."""
    if not _SCHEMA:
        return None
    build_schema, describe_schema = _SCHEMA
    text = schema["text"] if "text" in schema.names() else None
    dictionary = getattr(getattr(text, "column_type", None), "_dictionary", None)
    if not isinstance(dictionary, str):
        return None
    description = describe_schema(schema)
    if description != describe_schema(build_schema(dictionary)):
        return None
    return {"fields": description, "text_dictionary": dictionary}


def _schema_from_json(record: dict[str, Any]) -> Any:
    if not _SCHEMA:
        raise RuntimeError("a table of contents records searcher's schema: import "
                           "searcher.local.schema before opening an index")
    build_schema, describe_schema = _SCHEMA
    schema = build_schema(record["text_dictionary"])
    if describe_schema(schema) != record["fields"]:
        raise ValueError("the table of contents records another schema than this searcher "
                         "writes (a rebuild with 'searcher index --full' writes this one)")
    return schema


_SEGMENT_KEYS = {"indexname", "segid", "_codec", "_doccount", "_deleted", "compound",
                 "_fieldlengths"}
_CODEC_KEYS = {"_blocklimit", "_compression", "_inlinelimit", "segment_format"}


def _segment_json(segment: Any) -> dict[str, Any] | None:
    """The TOC's record of *segment*, or None when it holds more than a record keeps."""
    from whoosh.codec.whoosh3 import W3Segment

    from .whoosh_codec import PlainCodec

    codec = getattr(segment, "_codec", None)
    if (type(segment) is not W3Segment or type(codec) is not PlainCodec
            or set(vars(segment)) - _SEGMENT_KEYS or set(vars(codec)) - _CODEC_KEYS):
        return None
    deleted = segment._deleted
    return {"index": segment.indexname, "id": segment.segid, "docs": segment._doccount,
            "deleted": None if deleted is None else sorted(deleted),
            "compound": bool(segment.compound),
            "field_lengths": dict(getattr(segment, "_fieldlengths", {})),
            "codec": {"blocklimit": codec._blocklimit, "compression": codec._compression,
                      "inlinelimit": codec._inlinelimit,
                      "format": codec.segment_format}}


def _segment_from_json(record: dict[str, Any]) -> Any:
    from collections import defaultdict

    from whoosh.codec.whoosh3 import W3Segment

    from .whoosh_codec import PlainCodec

    codec = PlainCodec.__new__(PlainCodec)
    settings = record["codec"]
    codec.__setstate__({"_blocklimit": settings["blocklimit"],
                        "_compression": settings["compression"],
                        "_inlinelimit": settings["inlinelimit"],
                        "segment_format": settings["format"]})
    deleted = record["deleted"]
    segment = W3Segment(codec, record["index"], record["docs"], record["id"],
                        None if deleted is None else set(deleted))
    segment.compound = record["compound"]
    segment._fieldlengths = defaultdict(int, record["field_lengths"])
    return segment


def _toc_write(self: Any, storage: Any, indexname: str) -> None:
    """``TOC.write``: JSON for searcher's schema and segments, else Whoosh's pickles."""
    import time

    import whoosh

    schema = _schema_json(self.schema)
    segments = [_segment_json(s) for s in self.segments]
    if schema is None or any(s is None for s in segments):
        WHOOSH_TOC_WRITE(self, storage, indexname)
        return
    body = {"generation": self.generation, "release": list(whoosh.__version__[:3]),
            "schema": schema, "segments": segments}
    tocfilename = self._filename(indexname, self.generation)
    tempfilename = f"{tocfilename}.{time.time()}"
    stream = storage.create_file(tempfilename)
    stream.write(TOC_TAG + json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                 .encode("utf-8"))
    stream.close()
    storage.rename_file(tempfilename, tocfilename, safe=True)


def _toc_read(cls: Any, storage: Any, indexname: str, gen: int | None = None,
              schema: Any = None) -> Any:
    """``TOC.read``: a JSON TOC (:func:`_toc_write`), else Whoosh's own code (pickles)."""
    if gen is None:
        gen = cls._latest_generation(storage, indexname)
        if gen < 0:  # no index: Whoosh's own error
            return WHOOSH_TOC_READ.__func__(cls, storage, indexname, None, schema)
    stream = storage.open_file(cls._filename(indexname, gen))
    try:
        data = stream.read()
    finally:
        stream.close()
    if not data.startswith(TOC_TAG):
        return WHOOSH_TOC_READ.__func__(cls, storage, indexname, gen, schema)
    body = json.loads(data[len(TOC_TAG):].decode("utf-8"))
    if body["generation"] != gen:
        raise ValueError(f"the table of contents of generation {gen} says "
                         f"{body['generation']}")
    if not schema:
        schema = _schema_from_json(body["schema"])
    segments = [_segment_from_json(s) for s in body["segments"]]
    return cls(schema, segments, gen, release=tuple(body["release"]))


def _write_extras(self: Any) -> None:
    """``HashWriter._write_extras`` as EXTRAS_TAG, length, JSON (see above)."""
    data = json.dumps(self.extras, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    self.dbfile.write(EXTRAS_TAG + len(data).to_bytes(4, "big", signed=True) + data)


def _read_extras(self: Any) -> None:
    """``HashReader._read_extras`` of :func:`_write_extras`'s JSON, or Whoosh's pickle."""
    dbfile = self.dbfile
    start = dbfile.tell()
    if dbfile.read(len(EXTRAS_TAG)) == EXTRAS_TAG:
        size = int.from_bytes(dbfile.read(4), "big", signed=True)
        self.extras = json.loads(dbfile.read(size).decode("utf-8"))
        return
    dbfile.seek(start)
    WHOOSH_READ_EXTRAS(self)


WHOOSH_TOC_WRITE = _index.TOC.write
WHOOSH_TOC_READ = _index.TOC.__dict__["read"]
WHOOSH_READ_EXTRAS = filetables.HashReader._read_extras


def _plain_toc_and_extras() -> None:
    _index.TOC.write = _toc_write
    _index.TOC.read = classmethod(_toc_read)
    filetables.HashWriter._write_extras = _write_extras
    filetables.HashReader._read_extras = _read_extras


_plain_toc_and_extras()
