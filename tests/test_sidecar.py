"""Per-segment sidecar arrays: written by the indexer, equivalent to recomputing them."""

from __future__ import annotations

import numpy as np
from conftest import article, write

from searcher import SearchEngine
from searcher.local import manifest, scoring, substrings
from searcher.local.sidecar import load_arrays


def build(tmp_path):
    src = tmp_path / "src"
    for i in range(30):
        body = f"正文{i}：认证认可检验检测，增长{i}%。"
        write(src, f"d{i}.md", article(f"第{i}篇 聊城市场", body))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src], jobs=1)
    return engine


def test_every_segment_has_sidecars_equal_to_recomputed_arrays(tmp_path):
    engine = build(tmp_path)
    searcher = engine._searcher()
    for leaf, _ in searcher.leaf_searchers():
        reader = leaf.reader()
        text = load_arrays(reader, substrings.SIDECAR, substrings.SIDECAR_KEYS)
        data = load_arrays(reader, scoring.SIDECAR, (*scoring.TEXT_FIELDS, "dates"))
        assert text is not None and data is not None
        column = reader.column_reader("squeezed")
        assert sorted(text) == sorted(substrings.SIDECAR_KEYS)
        recomputed = substrings.text_arrays(
            [bytes(column[d]).decode() for d in range(reader.doc_count_all())])
        for key, value in recomputed.items():
            assert np.array_equal(text[key], value), key
        for key, value in scoring.data_arrays(reader).items():
            assert np.array_equal(data[key], value), key
        assert sorted(data) == sorted(scoring.data_arrays(reader))
        assert manifest._sidecar_records(reader) == manifest.stored_records(reader)


def test_search_without_sidecars_gives_the_same_results(tmp_path):
    engine = build(tmp_path)
    queries = ['"城市场"', "认证认可", "增长7%", "聊城"]
    before = {q: [(h.id, round(h.score, 6)) for h in engine.search(q, limit=50).hits]
              for q in queries}
    sidecars = list((tmp_path / "ix").glob("gen-*/*.npy"))
    assert sidecars
    for path in sidecars:
        path.unlink()
    fresh = SearchEngine(tmp_path / "ix")  # caches belong to an engine: this one starts empty
    after = {q: [(h.id, round(h.score, 6)) for h in fresh.search(q, limit=50).hits]
             for q in queries}
    assert before == after
    assert all(before[q] for q in queries)


def test_segments_merged_by_nightly_runs_get_sidecars_too(tmp_path):
    engine = build(tmp_path)
    src = tmp_path / "src"
    for i in range(12):  # one small segment per run until Whoosh merges them
        write(src, f"new{i}.md", article(f"新增{i} 聊城", f"第{i}次增量。"))
        engine.index([src], jobs=1)
    searcher = engine._searcher()
    leaves = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
    assert len(leaves) < 13  # some were merged
    for reader in leaves:
        assert load_arrays(reader, substrings.SIDECAR, substrings.SIDECAR_KEYS) is not None
        assert load_arrays(reader, scoring.SIDECAR, (*scoring.TEXT_FIELDS, "dates")) is not None
        assert load_arrays(reader, manifest.SIDECAR, manifest.SIDECAR_KEYS) is not None
    assert engine.search("聊城").total == 42


def _stored_manifest(ix) -> dict:
    """The manifest as it was read before it had a sidecar: from every live stored document."""
    with ix.reader() as reader:
        return {stored["id"]: {"path": stored["path"], "source": stored["source"],
                               "size": stored["meta"]["size"],
                               "mtime_ns": stored["meta"]["mtime_ns"],
                               "digest": stored["meta"]["digest"]}
                for _docnum, stored in reader.iter_docs()}


def test_manifest_sidecar_equals_the_stored_fields_and_is_optional(tmp_path):
    from whoosh import index

    engine = build(tmp_path)
    src = tmp_path / "src"
    (src / "d3.md").unlink()
    write(src, "d4.md", article("改过的第4篇", "内容变了。"))
    write(src, "odd name 文件\u00e9.md", article("新的一篇", "怪文件名。"))
    engine.index([src], jobs=1)  # a deletion, an update and an addition: two segments
    ix = index.open_dir(str(engine.root.current().path))
    expected = _stored_manifest(ix)
    assert len(expected) == 30 and "d3.md" not in {m["path"].rsplit("/", 1)[-1]
                                                   for m in expected.values()}
    assert manifest.read_manifest(ix) == expected
    for path in (tmp_path / "ix").glob("gen-*/*.manifest.*.npy"):
        path.unlink()  # an index written before the sidecar existed
    assert manifest.read_manifest(ix) == expected
    ix.close()
    write(src, "d5.md", article("再改第5篇", "又变了。"))
    report = engine.index([src], jobs=1)
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 1, 0, 29)
