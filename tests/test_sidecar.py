"""Per-segment sidecar arrays: written by the indexer, equal to what the raw files and
Whoosh's own reader say (never to the functions that wrote them)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
from conftest import article, write
from rawtext import raw_date, raw_title_body, squeezed

from searcher import SearchEngine
from searcher.core.rules import TEXT_FIELDS
from searcher.ingest.documents import content_digest
from searcher.local import manifest, segments, substrings
from searcher.local.inspection import internals
from searcher.local.sidecar import load_arrays

#: Every form of date the front matter may hold (naive ones are Asia/Shanghai) and none.
DATES = ["2021-06-16 10:00:00", "2021-06-16T10:00:00+08:00", "Wed, 16 Jun 2021 02:23:51 GMT",
         None, "2019-07-01", "'2020-02-29 23:59:59'"]


def raw_article(i: int) -> str:
    """Articles whose squeezed text needs every folding step: traditional script, full-width
    forms, upper case, blanks of every kind, entities, several paragraphs."""
    title = [f"第{i}篇 聊城市場", f"認證認可 ＡＢＣ{i}", f"COVID-19  Ｎｅｗｓ\u3000{i}"][i % 3]
    body = (f"<div>\n<p>正文{i}：認證認可檢驗檢測，增長{i}%。</p>\n"
            f"<p>ＡＢＣ １２３ and MiXeD Case\ttext &amp; 龍井茶 {'長江' * (i % 4)}</p>"
            + "<p>第三段。</p>" * (i % 5) + "\n</div>")
    lines = ["---", f"title: '{title}'", "categories:", " - 测试", "author: 测试"]
    if DATES[i % len(DATES)] is not None:
        lines.append(f"date: {DATES[i % len(DATES)]}")
    return "\n".join([*lines, "---", "", body, ""])


def build(tmp_path):
    src = tmp_path / "src"
    for i in range(30):
        write(src, f"d{i}.md", raw_article(i))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src], jobs=1)
    return engine


def posting_lengths(reader, field: str) -> np.ndarray:
    """Each document's number of terms in *field*, summed from its postings (a posting's
    weight is the term's count times the field boost: schema.Counts)."""
    lengths = np.zeros(reader.doc_count_all(), dtype=np.int64)
    boost = reader.schema[field].format.field_boost
    for term in list(reader.lexicon(field)):
        postings = reader.postings(field, term)
        while postings.is_active():
            lengths[postings.id()] += round(postings.weight() / boost)
            postings.next()
    return lengths


def check_segment(reader, src: Path) -> list[Path]:
    """The sidecars of one segment against the raw files in *src* and Whoosh's reader;
    returns the segment's files."""
    from whoosh.util.numeric import byte_to_length, length_to_byte
    from whoosh.util.times import datetime_to_long

    count = reader.doc_count_all()
    stored = [reader.stored_fields(d) for d in range(count)]
    files = [Path(s["path"]) for s in stored]  # each is checked against its content below
    assert all(path.parent == src.absolute() for path in files)

    text = load_arrays(reader, substrings.SIDECAR, substrings.SIDECAR_KEYS)
    assert text is not None
    starts, lengths = text["starts"], text["lengths"]
    bigrams = load_arrays(reader, substrings.BIGRAMS_SIDECAR, substrings.BIGRAMS_KEYS)
    assert bigrams is not None  # the only copy of the squeezed text: check what it holds
    codes = substrings.unpack_codes(substrings.BigramIndex(**bigrams),
                                    int(lengths.sum()) + count, text["astral_at"],
                                    text["astral_codes"])
    for d, path in enumerate(files):
        title, body = map(squeezed, raw_title_body(path))
        held = "".join(map(chr, codes[starts[d]: starts[d] + lengths[d]].tolist()))
        assert held == title + "\x1e" + body, path.name
        assert text["title_ends"][d] - starts[d] == len(title)
        assert codes[starts[d] + lengths[d]] == 0  # documents are NUL-separated
    assert len(codes) == int(lengths.sum()) + count
    histogram = np.bincount(np.minimum(np.asarray(codes, dtype=np.int64), 0xFFFF),
                            minlength=0x10000)
    assert np.array_equal(text["histogram"], histogram)

    data = load_arrays(reader, segments.SIDECAR, (*TEXT_FIELDS, "dates"))
    assert data is not None
    for field in TEXT_FIELDS:
        counted = posting_lengths(reader, field)
        assert counted.min() > 0
        quantised = [byte_to_length(length_to_byte(int(n))) for n in counted]
        assert data[field].tolist() == quantised, field
        assert data[field].tolist() == [reader.doc_field_length(d, field) for d in range(count)]
    for d, path in enumerate(files):
        date = raw_date(path)
        expected = segments.NO_DATE if date is None else datetime_to_long(
            date.astimezone(dt.timezone.utc).replace(tzinfo=None))
        assert int(data["dates"][d]) == expected, path.name

    records = manifest.sidecar_records(reader)
    assert records is not None
    for d, (path, record) in enumerate(zip(files, records, strict=True)):
        facts = os.stat(path)
        assert record == (stored[d]["id"], str(path), str(src.absolute()), content_digest(
            path.read_bytes()), facts.st_size, facts.st_mtime_ns), path.name
    return files


def test_every_segment_has_sidecars_equal_to_the_raw_files(tmp_path):
    engine = build(tmp_path)
    searcher = internals(engine).searcher()
    assert searcher.doc_count() == 30
    files = [f for leaf, _ in searcher.leaf_searchers()
             for f in check_segment(leaf.reader(), tmp_path / "src")]
    assert sorted(files) == sorted((tmp_path / "src").absolute().glob("*.md"))
    hits = engine.search("聊城 OR covid", limit=50).hits
    assert {h.date for h in hits if h.date} >= {
        dt.datetime(2021, 6, 16, 2, tzinfo=dt.timezone.utc),
        dt.datetime(2021, 6, 16, 2, 23, 51, tzinfo=dt.timezone.utc)}


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
    searcher = internals(engine).searcher()
    leaves = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
    assert len(leaves) < 13  # some were merged
    files = [f for reader in leaves for f in check_segment(reader, src)]
    assert sorted(files) == sorted(src.absolute().glob("*.md"))
    assert engine.search("聊城").total == 22


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
    ix = index.open_dir(str(internals(engine).root.current().path))
    expected = _stored_manifest(ix)
    assert len(expected) == 30 and "d3.md" not in {m["path"].rsplit("/", 1)[-1]
                                                   for m in expected.values()}
    assert manifest.read_manifest(ix) == expected
    assert manifest.read_manifest(ix).folders() == {m["source"] for m in expected.values()}
    for path in (tmp_path / "ix").glob("gen-*/*.manifest.*.npy"):
        path.unlink()  # an index written before the sidecar existed
    assert manifest.read_manifest(ix) == expected
    ix.close()
    write(src, "d5.md", article("再改第5篇", "又变了。"))
    report = engine.index([src], jobs=1)
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 1, 0, 29)


def test_manifest_is_a_read_only_mapping_of_what_each_file_was():
    """The packed manifest answers like the dict of dicts it replaced: unknown values are
    None, paths keep any character (a lone surrogate from a badly encoded file name
    included), the last record of an id counts, iteration keeps the records' order."""
    records = [("a1", "/s/文章 1.md", "/s", "d" * 32, 10, 5),
               ("b2", "/t/odd\udcff.md", "/t", "", -1, -1),
               ("c3", "", "", "", 0, 0),
               ("a1", "/s/改名.md", "/s", "e" * 32, 11, 6)]
    got = manifest.Manifest(records)
    expected = {
        "a1": {"path": "/s/改名.md", "source": "/s", "digest": "e" * 32, "size": 11,
               "mtime_ns": 6},
        "b2": {"path": "/t/odd\udcff.md", "source": "/t", "digest": None, "size": None,
               "mtime_ns": None},
        "c3": {"path": None, "source": None, "digest": None, "size": 0, "mtime_ns": 0}}
    assert got == expected and dict(got.items()) == expected
    assert list(got) == ["a1", "b2", "c3"] and len(got) == 3
    assert list(got.values()) == list(expected.values())
    assert "b2" in got and "zz" not in got and got.get("zz") is None
    assert manifest.Manifest() == {}
    # The folders holding a document read from a file, in one pass over the live rows.
    more = manifest.Manifest([*records, ("d4", "", "/u", "", 0, 0),
                              ("e5", "/長い/x.md", "/長い", "", 1, 1), ("a1", "", "/s", "", 0, 0)])
    assert more.folders() == {"/t", "/長い"} and manifest.Manifest().folders() == set()
