"""Incremental indexing: new, changed, touched, deleted and renamed files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import SHARED, article, needs_shared, write

from searcher import SearchEngine
from searcher.local.inspection import internals


def all_ids(engine: SearchEngine) -> list[str]:
    searcher = internals(engine).searcher()
    return [stored["id"] for _, stored in searcher.reader().iter_docs()]


def make_source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write(src, "a.md", article("长江汛期", "长江进入主汛期，防汛形势严峻。"))
    write(src, "b.md", article("黄河调水", "黄河小浪底开始调水调沙。"))
    write(src, "sub/c.md", article("珠江口", "珠江口的航运十分繁忙。"))
    return src


def test_first_run_builds_then_nothing_changes(tmp_path):
    src = make_source(tmp_path)
    engine = SearchEngine(tmp_path / "ix")
    first = engine.index([src])
    assert (first.added, first.updated, first.deleted, first.unchanged) == (3, 0, 0, 0)
    assert first.full
    second = engine.index([src])
    assert (second.added, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 3)
    assert not second.full
    assert first.generation == second.generation


def test_add_edit_delete(tmp_path):
    src = make_source(tmp_path)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    write(src, "d.md", article("松花江", "松花江畔的哈尔滨。"))
    path_b = src / "b.md"
    path_b.write_text(article("黄河调水", "黄河调水调沙结束，水位回落。"), encoding="utf-8")
    os.utime(path_b, ns=(time.time_ns(), time.time_ns() + 10**9))
    (src / "sub/c.md").unlink()
    report = engine.index([src])
    assert (report.added, report.updated, report.deleted, report.unchanged) == (1, 1, 1, 1)
    assert engine.search("哈尔滨").total == 1
    assert engine.search("水位回落").total == 1
    assert engine.search("小浪底").total == 0  # the old text of b.md is gone
    assert engine.search("珠江口").total == 0
    ids = all_ids(engine)
    assert len(ids) == len(set(ids)) == 3


def test_touched_file_is_not_reindexed(tmp_path):
    src = make_source(tmp_path)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    future = time.time_ns() + 5 * 10**9
    os.utime(src / "a.md", ns=(future, future))
    report = engine.index([src])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)


def test_rename_moves_without_duplicates(tmp_path):
    src = make_source(tmp_path)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    (src / "a.md").rename(src / "renamed.md")
    report = engine.index([src])
    assert (report.moved, report.deleted, report.added) == (1, 0, 0)
    hits = engine.search("长江").hits
    assert [Path(h.path).name for h in hits] == ["renamed.md"]
    assert len(all_ids(engine)) == 3


def test_rerun_without_sources_uses_remembered_folders(tmp_path):
    src = make_source(tmp_path)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    write(src, "e.md", article("淮河", "淮河流域降雨。"))
    report = engine.index()
    assert report.added == 1 and report.unchanged == 3


def test_other_sources_are_left_alone(tmp_path):
    src = make_source(tmp_path)
    other = tmp_path / "other"
    write(other, "x.md", article("海河", "海河之滨天津。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    engine.index([other])
    assert engine.search("天津").total == 1
    assert engine.search("长江").total == 1


def test_full_rebuild_and_parallel_build_agree(tmp_path):
    src = tmp_path / "src"
    for i in range(240):
        body = f"编号{i}的新闻讲述长江第{i}段。"
        write(src, f"d{i // 50}/n{i}.md", article(f"第{i}号新闻", body))
    serial = SearchEngine(tmp_path / "serial")
    serial.index([src], jobs=1)
    parallel = SearchEngine(tmp_path / "parallel")
    report = parallel.index([src], jobs=2, batch_size=70)
    assert report.added == 240 and not report.failed
    assert parallel.stats().segments >= 2
    for query in ["长江", '"第17段"', "编号 新闻"]:
        a, b = serial.search(query, limit=300), parallel.search(query, limit=300)
        assert a.total == b.total
        assert sorted(h.id for h in a.hits) == sorted(h.id for h in b.hits)
    rebuilt = parallel.index([src], full=True, jobs=2)
    assert rebuilt.full and rebuilt.added == 240 and rebuilt.generation != report.generation
    assert parallel.search("长江").total == 240


def test_parallel_build_reports_progress(tmp_path):
    src = tmp_path / "src"
    for i in range(230):
        write(src, f"n{i}.md", article(f"第{i}号新闻", f"编号{i}的新闻讲述长江。"))
    calls: list[tuple[int, int]] = []
    report = SearchEngine(tmp_path / "ix").index(
        [src], jobs=2, batch_size=60, progress=lambda done, total: calls.append((done, total)))
    assert report.added == 230
    assert calls[-1] == (230, 230)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_build_work_is_split_by_bytes_not_files():
    from searcher.ingest.sources import SourceFile
    from searcher.local.indexing import split_by_size

    files = [SourceFile(f"/s/{i:03d}.md", f"{i:03d}.md", "/s", 100 if i < 50 else 1000, 0)
             for i in range(100)]  # 50 small files, then 50 ten times larger
    chunks = split_by_size(files, 2)
    assert [f for chunk in chunks for f in chunk] == files  # order kept, nothing lost
    sizes = [sum(f.size for f in chunk) for chunk in chunks]
    assert max(sizes) - min(sizes) <= 1000 and len(chunks[0]) > len(chunks[1])
    assert split_by_size(files[:1], 4) == [files[:1]]


@needs_shared
def test_a_segment_holds_at_most_its_share_of_bytes(tmp_path, monkeypatch):
    """Segments are sized by documents and by source bytes: a worker's memory grows with
    its segment, so long articles make smaller segments (here a real blog, whose 355 posts
    fit one segment by count, with the byte cap set to a third of its size)."""
    from searcher.local import indexing

    blog = SHARED / "corpus" / "blogs" / "fightinggg__hexo-blog"
    posts = [p for p in blog.rglob("*.md") if p.is_file()]
    size = sum(p.stat().st_size for p in posts)
    monkeypatch.setattr(indexing, "SEGMENT_BYTES", size // 3)
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([blog], jobs=2)
    assert report.added == len(posts) and not report.failed
    searcher = internals(engine).searcher()
    counts = sorted(leaf.reader().doc_count_all() for leaf, _ in searcher.leaf_searchers())
    # 1.5 segments of bytes per worker: two rounds of two workers, 4 chunks of equal bytes
    assert len(counts) == 4, counts
    assert sum(counts) == len(posts)
    engine.close()


def test_settled_index_is_not_listed_per_search_and_commits_still_show(tmp_path, monkeypatch):
    """A searcher stays current without listing the index folder on every search (0.6 ms at
    200,000 articles) once the folder has settled; a commit by another engine (the nightly
    run) still shows on the next search, and a freshly changed folder is listed again."""
    src = make_source(tmp_path)
    SearchEngine(tmp_path / "ix").index([src])
    reader = SearchEngine(tmp_path / "ix")
    gen = internals(reader).root.current().path
    settled = time.time_ns() - 60 * 10**9
    os.utime(gen, ns=(settled, settled))
    assert reader.search("长江").total == 1  # opens the searcher, remembers the settled time
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(str(path))
                        or real_listdir(path))
    assert reader.search("长江").total == 1
    assert str(gen) not in listed
    write(src, "d.md", article("松花江", "松花江畔的哈尔滨。"))
    report = SearchEngine(tmp_path / "ix").index([src])
    assert report.added == 1 and report.generation == gen.name
    assert reader.search("哈尔滨").total == 1  # the commit changed the folder's time
    listed.clear()
    assert reader.search("哈尔滨").total == 1
    assert str(gen) in listed  # changed within SETTLE_NS: checked the slow way


def test_full_build_writes_the_pinyin_table_once(docs, tmp_path, monkeypatch):
    """The rows the build adds are the whole table of a new index: it is not written again
    from the lexicon (seconds at 20,000 articles), and equals what that would write."""
    import sqlite3

    from searcher.analysis import lexicon
    from searcher.local import indexing

    rewrites = []

    def spy(reader, path, *args):
        rewrites.append(path)
        return lexicon.write_pinyin_table(reader, path, *args)

    monkeypatch.setattr(indexing, "write_pinyin_table", spy)
    engine = SearchEngine(tmp_path / "ix")
    assert engine.index([docs]).added > 0
    assert rewrites == []
    gen = internals(engine).root.current().path
    with internals(engine).searcher() as searcher:
        lexicon.write_pinyin_table(searcher.reader(), tmp_path / "from-lexicon.sqlite")

    def rows(path):
        con = sqlite3.connect(path)
        try:
            return set(con.execute("SELECT py, word FROM pinyin"))
        finally:
            con.close()

    assert rows(gen / lexicon.PINYIN_FILE) == rows(tmp_path / "from-lexicon.sqlite")
    (gen / lexicon.PINYIN_FILE).unlink()  # a lost table, with documents indexed: written again
    engine.index([docs])
    assert rewrites == [gen / lexicon.PINYIN_FILE]
