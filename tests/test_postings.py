"""SegmentBuilder writes the segment Whoosh's own add_document writes.

The builder bypasses Whoosh's posting pool for speed; these tests build the
same real articles both ways.  Whoosh's own writer writes searcher's compact
posting blocks too (``whoosh_codec._write_block``), so every segment file
must be identical byte for byte, and any difference in terms, postings,
weights, lengths or stored fields fails; and Whoosh's reader must read back
exactly the terms, term statistics and postings of a segment Whoosh writes
with its own block encoding.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from searcher.ingest.documents import load_document
from searcher.local import whoosh_codec
from searcher.local.building import document_fields
from searcher.local.postings import SegmentBuilder
from searcher.local.schema import build_schema, index_term_functions


def _documents(folder: Path, limit: int | None = None) -> list[dict]:
    paths = sorted(p for p in folder.rglob("*.md") if p.is_file())[:limit]
    out = []
    for path in paths:
        try:
            doc = load_document(str(path), str(folder), tz="Asia/Shanghai")
        except Exception:  # noqa: BLE001 - the bad sample files are tested elsewhere
            continue
        out.append(document_fields(doc))
    assert out
    return out


def _build(folder: Path, documents: list[dict], *, fast: bool):
    """One segment of *documents* in a new index at *folder*: (writer, segment).

    *fast* writes it with SegmentBuilder, otherwise with Whoosh's own add_document.
    """
    folder.mkdir(parents=True)
    ix = FileStorage(str(folder)).create_index(build_schema())
    writer = SegmentWriter(ix, _lk=False, compound=False)
    if fast:
        builder = SegmentBuilder(writer, index_term_functions())
        for values in documents:
            builder.add_document(values)
        return writer, builder.finish()
    for values in documents:
        writer.add_document(**values)
    return writer, writer._finalize_segment()


def _segment_files(folder: Path, documents: list[dict], *, fast: bool) -> dict[str, bytes]:
    writer, segment = _build(folder, documents, fast=fast)
    writer._tempstorage.destroy()
    prefix = segment.make_filename("")
    return {p.name.removeprefix(prefix): p.read_bytes()
            for p in folder.iterdir() if p.name.startswith(prefix)}


def _assert_same_segment(tmp_path: Path, documents: list[dict]) -> None:
    reference = _segment_files(tmp_path / "whoosh", documents, fast=False)
    ours = _segment_files(tmp_path / "builder", documents, fast=True)
    assert sorted(ours) == sorted(reference)
    for name in reference:
        assert ours[name] == reference[name], f"segment file {name} differs"


def _postings(folder: Path) -> dict:
    """Every term's statistics and postings, as Whoosh's reader returns them."""
    from whoosh import index

    out = {}
    with index.open_dir(str(folder)).reader() as reader:
        for fieldname, term in reader.all_terms():
            info = reader.term_info(fieldname, term)
            matcher = reader.postings(fieldname, term)
            items = []
            while matcher.is_active():
                items.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            out[fieldname, term] = (info.weight(), info.doc_frequency(), info.min_length(),
                                    info.max_length(), info.max_weight(), info.min_id(),
                                    info.max_id(), items)
    return out


def _commit(folder: Path, documents: list[dict], *, fast: bool) -> None:
    writer, segment = _build(folder, documents, fast=fast)
    writer._commit_toc([segment])
    writer._finish()


def _check(tmp_path: Path, documents: list[dict], monkeypatch: pytest.MonkeyPatch,
           smaller: bool = True) -> None:
    with monkeypatch.context() as patch:  # Whoosh's own blocks: pickled floats, protocol 2
        patch.setattr(whoosh_codec.W3PostingsWriter, "_write_block",
                      whoosh_codec.WHOOSH_WRITE_BLOCK)
        _commit(tmp_path / "whoosh", documents, fast=False)
    _commit(tmp_path / "builder", documents, fast=True)
    reference = _postings(tmp_path / "whoosh")
    assert len(reference) > 100
    assert _postings(tmp_path / "builder") == reference
    _assert_same_segment(tmp_path / "bytes", documents)
    if not smaller:
        return
    # on real articles, Whoosh's encoding of the same terms and postings takes more bytes
    whoosh_bytes, our_bytes = (sum(p.stat().st_size for p in (tmp_path / d).iterdir()
                                   if p.suffix in (".pst", ".trm"))
                               for d in ("whoosh", "builder"))
    assert whoosh_bytes > our_bytes


def test_sample_docs_segment_is_identical_to_whoosh(tmp_path: Path, monkeypatch) -> None:
    _check(tmp_path, _documents(SAMPLE_DOCS), monkeypatch)


@needs_shared
def test_real_feed_segment_is_identical_to_whoosh(tmp_path: Path, monkeypatch) -> None:
    _check(tmp_path, _documents(SHARED / "corpus" / "rsshub"), monkeypatch)


def test_long_posting_lists_span_several_blocks(tmp_path: Path, monkeypatch) -> None:
    """300 documents share terms, so postings cross the codec's 128-posting blocks."""
    base = _documents(SAMPLE_DOCS)
    documents = [dict(base[i % len(base)], id=f"doc-{i}") for i in range(300)]
    # (blocks of a few postings, which Whoosh compresses and searcher does not, abound)
    _check(tmp_path, documents, monkeypatch, smaller=False)


def test_term_functions_match_the_analyzers() -> None:
    schema = build_schema()
    text = "聊城市市场监管局举办“世界认可日”活动 COVID-19 c++ 3.6.3 東京タワー 한국어 的了"
    for name, terms in index_term_functions().items():
        field = schema[name]
        expected = Counter({t.decode(): f for t, f, _w, _v in field.index(text)})
        assert Counter(terms(text)) == expected, name


def test_rejects_formats_it_cannot_rebuild(tmp_path: Path) -> None:
    from whoosh import fields

    ix = FileStorage(str(tmp_path)).create_index(fields.Schema(body=fields.TEXT(phrase=True)))
    writer = SegmentWriter(ix, _lk=False)
    with pytest.raises(TypeError, match="body"):
        SegmentBuilder(writer, {})
    writer.cancel()
    (tmp_path / "b").mkdir()
    inexact = FileStorage(str(tmp_path / "b")).create_index(
        fields.Schema(title=fields.TEXT(phrase=False, field_boost=1.1)))
    writer = SegmentWriter(inexact, _lk=False)
    with pytest.raises(TypeError, match="title.*single precision"):
        SegmentBuilder(writer, {})
    writer.cancel()
