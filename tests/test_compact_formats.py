"""The index's compact encodings read back exactly what was written.

Display text is deflated against a preset dictionary kept in the index's schema
(schema.TextColumn); stored fields are pickled with protocol 4 and deflated against a
frozen dictionary (whoosh_pickles.StoredColumn), and fields Whoosh stored its own way
still read.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import pickle
import zlib
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SHARED
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from searcher.ingest.documents import load_document
from searcher.local import schema as schema_module
from searcher.local import whoosh_adapter, whoosh_pickles
from searcher.local.building import document_fields
from searcher.local.postings import SegmentBuilder
from searcher.local.schema import TEXT_DICTIONARY, build_schema, index_term_functions

ROOT = Path(__file__).resolve().parent.parent


def _documents(folder: Path = SAMPLE_DOCS) -> list[dict]:
    out = []
    for path in sorted(p for p in folder.rglob("*.md") if p.is_file()):
        try:
            out.append(document_fields(load_document(str(path), str(folder),
                                                     tz="Asia/Shanghai")))
        except Exception:  # noqa: BLE001 - the bad sample files are tested elsewhere
            continue
    assert len(out) > 10
    return out


def _index(folder: Path, documents: list[dict]):
    folder.mkdir(parents=True)
    ix = FileStorage(str(folder)).create_index(build_schema())
    writer = SegmentWriter(ix, _lk=False, compound=False)
    builder = SegmentBuilder(writer, index_term_functions())
    for values in documents:
        builder.add_document(values)
    segment = builder.finish()
    writer._commit_toc([segment])
    writer._finish()
    return whoosh_adapter.open_index(str(folder))


def test_text_and_stored_fields_read_back(tmp_path: Path) -> None:
    documents = _documents()
    ix = _index(tmp_path / "ix", documents)
    with ix.reader() as reader:
        column = reader.column_reader("text")
        assert [column[d] for d in range(len(documents))] == [v["text"] for v in documents]
        assert list(column) == [v["text"] for v in documents]
        for number, values in enumerate(documents):
            stored = reader.stored_fields(number)
            for name in ("id", "relpath", "path", "title", "meta", "date"):
                assert stored.get(name) == values[name], name
    ix.close()
    # the text is smaller than deflated alone at the level Whoosh's column used
    sizes = sum(len(zlib.compress(v["text"], 1)) for v in documents)
    col = sum(p.stat().st_size for p in (tmp_path / "ix").glob("*.text.col"))
    assert col < sizes


def test_an_index_reads_with_its_own_text_dictionary(tmp_path: Path, monkeypatch) -> None:
    """The dictionary lives in the index's schema: a new dictionary file (another release)
    changes nothing for an index already written."""
    documents = _documents()[:5]
    _index(tmp_path / "ix", documents).close()
    schema_module.text_dictionary.cache_clear()
    monkeypatch.setattr(schema_module, "TEXT_DICTIONARY", tmp_path / "other.zdict")
    (tmp_path / "other.zdict").write_text("另一个词典" * 100, encoding="utf-8")
    try:
        ix = whoosh_adapter.open_index(str(tmp_path / "ix"))
        with ix.reader() as reader:
            column = reader.column_reader("text")
            assert [column[d] for d in range(5)] == [v["text"] for v in documents]
        ix.close()
    finally:
        schema_module.text_dictionary.cache_clear()


def test_text_dictionary_is_what_the_script_makes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_text_dictionary", ROOT / "scripts" / "make_text_dictionary.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.dictionary()
    assert TEXT_DICTIONARY.read_bytes() == made
    assert 30000 < len(made) <= 32768


def test_stored_fields_of_either_format_decode() -> None:
    fields = {"id": "x", "date": dt.datetime(2024, 5, 1, 8, 0), "meta": {"tags": ["a"]}}
    ours = whoosh_pickles.encode_stored(fields)
    assert ours[0] == 2 and whoosh_pickles.decode_stored(ours) == fields
    # format 1 (schema 7 and before): a protocol-4 pickle against dictionary 1
    deflate = zlib.compressobj(6, zlib.DEFLATED, -11, 4, zlib.Z_DEFAULT_STRATEGY,
                               whoosh_pickles.STORED_DICTIONARY_1)
    older = b"\x01" + deflate.compress(pickle.dumps(fields, 4)) + deflate.flush()
    assert whoosh_pickles.decode_stored(older) == fields
    # what Whoosh's PickleColumn(CompressedBytesColumn()) wrote before (schema 5)
    assert whoosh_pickles.decode_stored(zlib.compress(pickle.dumps(fields, 2), 3)) == fields
    assert whoosh_pickles.decode_stored(zlib.compress(b"", 3)) is None
    assert whoosh_pickles.decode_stored(b"") is None
    with pytest.raises(ValueError, match="unknown format"):
        whoosh_pickles.decode_stored(b"\x03" + ours[1:])
    # the dictionary is frozen: values written with it must keep decoding
    template = {"author": "", "date": dt.datetime(2024, 1, 1), "id": "", "meta": {
        "categories": [], "tags": [], "updated": None, "date": "2024-01-01T00:00:00+08:00",
        "images": {}, "extra": {}, "size": 0, "mtime_ns": 0, "digest": "", "warnings": []},
        "path": "", "relpath": "", "source": "", "title": ""}
    assert pickle.dumps(template, 4) == whoosh_pickles.STORED_DICTIONARY_1
    assert whoosh_pickles.stored_json(template) == whoosh_pickles.STORED_DICTIONARY_2


def test_stored_fields_of_real_articles_read_back_exactly() -> None:
    """Every real article's stored fields come back equal, with the same types all the
    way down (a tuple read back as a list, an int as a float, a date as text would not),
    and without a pickle: the JSON format runs no unpickler."""
    def typed(value):
        if isinstance(value, dict):
            return {k: typed(v) for k, v in value.items()}, list(value)
        if isinstance(value, list):
            return [typed(v) for v in value]
        return type(value), value

    stored = ("id", "relpath", "path", "source", "title", "author", "date", "meta")
    documents = _documents()
    if (SHARED / "corpus" / "blogs").is_dir():
        documents += _documents(SHARED / "corpus" / "blogs")
    assert any(v["meta"]["extra"] for v in documents)  # front matter beyond the known keys
    for values in documents:
        fields = {name: values[name] for name in stored if values[name] is not None}
        data = whoosh_pickles.encode_stored(fields)
        text = zlib.decompressobj(-15, whoosh_pickles.STORED_DICTIONARY_2).decompress(data[1:])
        assert isinstance(json.loads(text), list)  # JSON text, not a pickle
        assert typed(whoosh_pickles.decode_stored(data)) == typed(fields)


def test_stored_fields_refuse_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="'when'.*date"):
        whoosh_pickles.encode_stored({"when": dt.date(2024, 1, 1)})


def test_stored_fields_refuse_code_in_the_dictionary_format() -> None:
    """Stored fields still load through the allow-list unpickler."""
    class Boom:
        def __reduce__(self):
            import os
            return (os.system, ("true",))

    deflate = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                               whoosh_pickles.STORED_DICTIONARY_1)
    value = b"\x01" + deflate.compress(pickle.dumps({"x": Boom()}, 4)) + deflate.flush()
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        whoosh_pickles.decode_stored(value)
