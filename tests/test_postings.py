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

import numpy as np
import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from searcher.ingest.documents import load_document
from searcher.local import whoosh_adapter, whoosh_codec
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


def _assert_same_term_postings(pickled: Path, plain: Path) -> None:
    """whoosh_adapter.term_postings reads the plain blocks (numpy, in one piece) as the
    pickled blocks Whoosh wrote (its own reader): the same ids and weights, term by term."""
    from whoosh import index

    read = 0
    with index.open_dir(str(pickled)).reader() as old, \
            index.open_dir(str(plain)).reader() as new:
        for fieldname, term in old.all_terms():
            text = term.decode("utf-8")
            if text.encode("utf-8") != term:
                continue
            (ours,), (theirs,) = new.leaf_readers(), old.leaf_readers()
            ids, weights = whoosh_adapter.term_postings(ours[0], fieldname, text)
            want_ids, want_weights = whoosh_adapter.term_postings(theirs[0], fieldname, text)
            assert list(ids) == list(want_ids), (fieldname, text)
            assert list(weights) == list(want_weights), (fieldname, text)
            read += len(ids) > 1
    assert read > 10


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
    _assert_same_term_postings(tmp_path / "whoosh", tmp_path / "builder")
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


@pytest.mark.parametrize("block_limit", [128, 1000])
def test_long_posting_lists_span_several_blocks(tmp_path: Path, monkeypatch,
                                                block_limit: int) -> None:
    """300 documents share terms, so postings cross blocks of Whoosh's default 128
    postings; with 1,000 (searcher's own limit is larger), they fit in one."""
    from whoosh.codec import whoosh3

    defaults = whoosh3.W3Codec.__init__.__defaults__
    assert defaults[0] == whoosh_codec.BLOCK_LIMIT  # what a new segment is written with
    monkeypatch.setattr(whoosh3.W3Codec.__init__, "__defaults__",
                        (block_limit, *defaults[1:]))
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


@pytest.mark.parametrize("ids, weights, values", [
    ([5, 9, 300], [1.0, 1.0, 1.0], None),  # a gap past one byte: uint16 deltas
    ([0, 70_000, 70_001], [2.0, 2.0, 2.0], None),  # past two bytes; all the same weight
    ([3, 4, 6], [1.0, 7.0, 255.0], b"\x00\x00\x00\x01" * 3),  # byte weights, fixed values
    ([3, 4, 6], [0.5, 1.25, 300.0], [b"a", b"", b"xyz"]),  # float weights, sized values
    ([7], [3.0], None),  # one posting
])
def test_plain_blocks_read_back(ids, weights, values) -> None:
    """Every layout of a plain block reads back exactly, through read_blocks (a whole
    list, several blocks) and through the term-row encoding of inlined postings."""
    from array import array

    from whoosh.codec.whoosh3 import W3TermInfo

    weights = array("f", weights)
    block = whoosh_codec.encode_block(ids, weights, values, max(weights), 3, 1, 9, False)
    last = whoosh_codec.encode_block([i + 100_000 for i in ids], weights, values,
                                      max(weights), 0, 1, 9, True)
    got_ids, got_weights = whoosh_codec.read_blocks(whoosh_codec.PLAIN_MAGIC + block + last)
    assert got_ids.tolist() == ids + [i + 100_000 for i in ids]
    assert got_weights.tolist() == list(weights) * 2
    each = whoosh_codec.value_tuple(values, len(ids)) if values is not None \
        else (b"",) * len(ids)
    info = W3TermInfo()
    info._weight, info._df, info._maxweight = sum(weights), len(ids), max(weights)
    info._minid, info._maxid, info._maxlength = ids[0], ids[-1], 9
    info._inlined = (tuple(ids), tuple(weights), each)
    back = W3TermInfo.from_bytes(info.to_bytes())
    assert back.inlined_postings() == (tuple(ids), tuple(weights), each)
    assert (back.doc_frequency(), back.min_id(), back.max_id()) == (len(ids), ids[0], ids[-1])


def test_blocks_of_every_layout_and_segment_decode_as_one_list() -> None:
    """decode_blocks takes the blocks of several lists (segments, ids shifted by each
    one's first document number) with different layouts side by side — delta widths,
    weight modes, values — and gives what each list gives read on its own, joined."""
    from array import array

    layouts = [([5, 9, 300], [1.0, 1.0, 1.0], None),
               ([0, 70_000, 70_001], [2.0, 2.0, 2.0], None),
               ([3, 4, 6], [1.0, 7.0, 255.0], b"\x00\x00\x00\x01" * 3),
               ([3, 4, 6], [0.5, 1.25, 300.0], [b"a", b"", b"xyz"]),
               ([7], [3.0], None)]
    blocks: list = []
    want_ids: list[int] = []
    want_weights: list[float] = []
    offset = 0
    for ids, weights, values in layouts + layouts[::-1]:
        weights = array("f", weights)
        data = whoosh_codec.PLAIN_MAGIC + whoosh_codec.encode_block(
            ids, weights, values, max(weights), 3, 1, 9, False) + whoosh_codec.encode_block(
            [i + 1_000 for i in ids], weights, values, max(weights), 0, 1, 9, True)
        alone_ids, alone_weights = whoosh_codec.read_blocks(data)
        want_ids += (alone_ids + offset).tolist()
        want_weights += alone_weights.tolist()
        whoosh_codec.gather_blocks(data, offset, blocks)
        offset += 200_000
    got_ids, got_weights = whoosh_codec.decode_blocks(blocks)
    assert got_ids.tolist() == want_ids
    assert got_weights.tolist() == want_weights
    assert got_weights.dtype == np.float32
