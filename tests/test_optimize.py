"""``optimize``: every segment merged into one new generation, published atomically.

Real 新闻联播 transcripts, indexed in small batches and then changed (so the
old segments carry deleted documents); the merged index must answer every
query with the same documents, keep every sidecar (the bigram index included)
and the suggestion phrases, and a failure midway must leave the index as it
was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared
from typer.testing import CliRunner

from searcher import SearchEngine
from searcher.cli import app
from searcher.errors import IndexNotFoundError
from searcher.local import optimizing, substrings

pytestmark = needs_shared
XWLB = SHARED / "corpus" / "xwlb" / "news"
QUERIES = ["国务院", "经济 发展", '"高质量发展"', "习近平 -会议", "改革 OR 开放", "xinwen",
           '"中共中央"', "科技创新", "title:新闻联播"]


def answers(engine: SearchEngine) -> dict[str, tuple[int, set[str]]]:
    out = {}
    for q in QUERIES:
        res = engine.search(q, limit=1000)
        out[q] = (res.total, {h.id for h in res.hits})
    res = engine.search("发展", limit=1000, facets=["year", "month"], since="2024-01-01")
    out["facets"] = (res.total, {f"{k}:{v}:{n}" for k, pairs in res.facets.items()
                                 for v, n in pairs})
    return out


@pytest.fixture()
def changed_index(tmp_path: Path) -> tuple[Path, Path]:
    """Several segments, then a run that updates and deletes files (deleted documents)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    files = sorted(XWLB.glob("*.md"))[:60]
    for path in files:
        shutil.copy(path, docs / path.name)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1, batch_size=20)
    for path in files[:5]:
        (docs / path.name).unlink()
    for path in files[5:10]:
        target = docs / path.name
        target.write_text(target.read_text(encoding="utf-8") + "\n\n补充报道：聊城市场监管局。\n",
                          encoding="utf-8")
    report = engine.index([docs], jobs=1, batch_size=20)
    assert report.deleted == 5 and report.updated == 5
    engine.close()
    return tmp_path / "ix", docs


def test_optimize_merges_into_one_equivalent_segment(changed_index) -> None:
    ix, docs = changed_index
    engine = SearchEngine(ix)
    before = answers(engine)
    stats = engine.stats()
    assert stats.segments >= 3
    phrases = {s.text for s in engine.suggest("高质", limit=100) if s.kind == "phrase"}
    generation = stats.generation

    report = engine.optimize()
    assert report.merged and report.previous == generation != report.generation
    assert report.segments_before == stats.segments and report.segments_after == 1
    assert report.documents == stats.documents == 55 and report.dropped >= 5

    after = SearchEngine(ix)
    assert after.stats().segments == 1 and after.stats().generation == report.generation
    assert answers(after) == before
    assert answers(engine) == before  # the engine opened before sees the new generation
    assert {s.text for s in after.suggest("高质", limit=100) if s.kind == "phrase"} >= phrases
    gen = ix / report.generation
    for name in ("text", "manifest", "data", "suggest", substrings.BIGRAMS_SIDECAR):
        assert list(gen.glob(f"MAIN_*.{name}.*.npy")), name
    for name in optimizing.GENERATION_FILES:
        assert (gen / name).is_file()
    assert (ix / "CURRENT").read_text().strip() == report.generation

    again = after.index([docs])  # the manifest sidecar of the merged segment is right
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert after.optimize().merged is False  # one segment, nothing deleted: nothing to do
    engine.close()
    after.close()


def test_failure_midway_leaves_the_index_as_it_was(changed_index, monkeypatch) -> None:
    ix, _ = changed_index
    engine = SearchEngine(ix)
    before = answers(engine)
    current = (ix / "CURRENT").read_text()
    generations = sorted(p.name for p in ix.glob("gen-*"))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(optimizing, "write_sidecars", broken)
    with pytest.raises(OSError):
        engine.optimize()
    assert (ix / "CURRENT").read_text() == current
    assert sorted(p.name for p in ix.glob("gen-*")) == generations  # the partial one is gone
    assert answers(SearchEngine(ix)) == before
    monkeypatch.undo()
    assert engine.optimize().segments_after == 1
    assert answers(engine) == before
    engine.close()


def test_cli_optimize(changed_index, tmp_path: Path) -> None:
    ix, _ = changed_index
    result = CliRunner().invoke(app, ["--index-dir", str(ix), "optimize", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["segments_after"] == 1 and report["documents"] == 55
    text = CliRunner().invoke(app, ["--index-dir", str(ix), "optimize"])
    assert text.exit_code == 0 and "already optimized: 55 documents" in text.output
    missing = CliRunner().invoke(app, ["--index-dir", str(tmp_path / "none"), "optimize"])
    assert missing.exit_code == 2 and "searcher index" in missing.output


def test_no_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError):
        SearchEngine(tmp_path / "nothing").optimize()
