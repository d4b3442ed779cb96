"""Integration on real data from ../shared (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

from conftest import SHARED, needs_shared

from searcher import SearchEngine

pytestmark = needs_shared


def test_rsshub_feed_every_file_indexes_or_is_reported(tmp_path):
    feed = SHARED / "corpus" / "rsshub"
    files = sorted(feed.glob("*.md"))
    assert len(files) >= 70
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([feed])
    reported = {Path(p).name for p, _ in report.failed}
    assert report.added + len(reported) == len(files)
    assert not reported, report.failed
    salvaged = {Path(p).name for p, w in report.warnings if "not valid YAML" in w}
    assert salvaged == {"009.md", "015.md", "021.md", "066.md"}
    titles = {Path(h.path).name: h.title for h in engine.search("すごい").hits}
    assert titles.get("009.md") == "すごい！"
    assert engine.search('title:"12_00"').total >= 1
    assert engine.search("kubernetes").hits[0].path.endswith("001.md")
    assert engine.search("5G").total >= 1


def test_make_corpus_sample(corpus_2k):
    engine, out, report = corpus_2k
    files = sorted(out.rglob("*.md"))
    assert len(files) == 2000
    assert report.added + len(report.failed) == 2000
    assert not report.failed, report.failed[:5]
    assert engine.stats().documents == 2000
    # every headline is findable as an exact phrase, and ranks its own story first
    for path in files[::400]:
        doc_id = engine.get(str(path)).id
        title = engine.get(doc_id).title
        results = engine.search(f'"{title}"', limit=50)
        assert doc_id in [h.id for h in results.hits]
    rerun = engine.index([out], jobs=2)
    assert rerun.unchanged == 2000 and rerun.added == rerun.updated == 0
