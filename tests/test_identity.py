"""Document identity: two source folders may hold the same relative path.

Every Hugo/Hexo page bundle has an ``index.md``, and sites index ``content/`` and
``drafts/`` side by side.  Ids come from the source folder's label (its name, made
distinct when two folders share one) and the relative path, so both documents are
indexed, found and kept, in one run and across runs; a moved or renamed source folder
keeps its ids, and nothing is duplicated or lost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_DOCS, SEED_RELPATH, article, write
from test_opensearch import opensearch_url  # noqa: F401 - the fixture (cluster variant)
from typer.testing import CliRunner

from searcher import SearchEngine, SearcherError
from searcher.cli import app
from searcher.core.fingerprint import SCHEMA_VERSION
from searcher.local.inspection import internals
from searcher.local.storage import INFO

TEA = "misc/afternoon-tea-history.md"
FLOOD = "news/yangtze-flood-season.md"


def bundle(folder: Path, name: str, sample: str) -> Path:
    """A page bundle ``name/index.md`` holding a real sample article."""
    target = folder / name / "index.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SAMPLE_DOCS / sample, target)
    return target


def all_docs(engine: SearchEngine) -> dict[str, str]:
    """id -> path of every document in the index."""
    reader = internals(engine).searcher().reader()
    docs = [(stored["id"], stored["path"]) for _, stored in reader.iter_docs()]
    assert len(docs) == len({i for i, _ in docs}) == len({p for _, p in docs})
    return dict(docs)


def hit_paths(engine: SearchEngine, query: str) -> list[str]:
    return sorted(h.path for h in engine.search(query, limit=50).hits)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """content/ and drafts/ side by side, each with a ``post/index.md`` bundle."""
    content, drafts = tmp_path / "site" / "content", tmp_path / "site" / "drafts"
    bundle(content, "post", SEED_RELPATH)
    bundle(content, "other", TEA)
    bundle(drafts, "post", FLOOD)
    return content, drafts


def test_same_relative_path_in_two_folders_in_one_run(tmp_path, site):
    content, drafts = site
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([content, drafts], jobs=1)
    assert report.ok and (report.added, report.documents) == (3, 3)
    assert hit_paths(engine, "聊城") == [str(content / "post" / "index.md")]
    assert hit_paths(engine, "长江 汛期") == [str(drafts / "post" / "index.md")]
    docs = all_docs(engine)

    again = engine.index([content, drafts], jobs=1)
    assert (again.unchanged, again.added, again.updated, again.deleted) == (3, 0, 0, 0)
    assert all_docs(engine) == docs
    assert engine.check().ok


def test_same_relative_path_across_runs_replaces_nothing(tmp_path, site):
    content, drafts = site
    engine = SearchEngine(tmp_path / "ix")
    assert engine.index([content], jobs=1).added == 2
    second = engine.index([drafts], jobs=1)  # used to report "1 updated" and lose content's post
    assert (second.added, second.updated, second.deleted, second.documents) == (1, 0, 0, 3)
    third = engine.index([content], jobs=1)
    assert (third.unchanged, third.added, third.updated, third.deleted) == (2, 0, 0, 0)
    assert hit_paths(engine, "聊城") == [str(content / "post" / "index.md")]
    assert hit_paths(engine, "长江 汛期") == [str(drafts / "post" / "index.md")]
    assert engine.check([content]).ok and engine.check([drafts]).ok


def test_show_and_get_take_either_id_or_path(tmp_path, site, monkeypatch):
    content, drafts = site
    engine = SearchEngine(tmp_path / "ix")
    engine.index([content, drafts], jobs=1)
    by_path = {path: doc_id for doc_id, path in all_docs(engine).items()}
    a, b = str(content / "post" / "index.md"), str(drafts / "post" / "index.md")
    assert engine.get(a).id == by_path[a] != by_path[b] == engine.get(b).id
    assert engine.get(by_path[b]).path == b and "長江" in engine.get(by_path[b]).text
    assert engine.get(by_path[a]).relpath == engine.get(by_path[b]).relpath == "post/index.md"
    monkeypatch.chdir(content.parent)
    assert engine.get("drafts/post/index.md").id == by_path[b]
    assert engine.get("content/../drafts/post/index.md").id == by_path[b]
    os.symlink(drafts / "post" / "index.md", tmp_path / "shortcut.md")
    assert engine.get(str(tmp_path / "shortcut.md")).id == by_path[b]  # links resolved
    with pytest.raises(SearcherError, match="no document with id or path 'post/index.md'"):
        engine.get("post/index.md")  # a relative path of both: names neither

    runner = CliRunner()
    ix = str(tmp_path / "ix")
    shown = runner.invoke(app, ["--index-dir", ix, "show", by_path[a]])
    assert shown.exit_code == 0 and f"path:       {a}" in shown.output and "聊城" in shown.output
    shown = runner.invoke(app, ["--index-dir", ix, "show", "drafts/post/index.md", "--json"])
    assert json.loads(shown.output)["id"] == by_path[b]


def test_folders_with_the_same_name_are_told_apart(tmp_path):
    one, two = tmp_path / "blog1" / "content", tmp_path / "blog2" / "content"
    bundle(one, "post", SEED_RELPATH)
    bundle(two, "post", FLOOD)
    engine = SearchEngine(tmp_path / "ix")
    assert engine.index([one], jobs=1).added == 1
    assert engine.index([two], jobs=1).added == 1
    assert engine.index([one, two], jobs=1).unchanged == 2
    labels = json.loads((internals(engine).root.current().path / INFO).read_text())["labels"]
    assert labels == {str(one): "content", str(two): "blog2/content"}
    assert len(all_docs(engine)) == 2 and engine.check([one, two]).ok


def test_ids_are_the_same_on_another_machine(tmp_path):
    """The label is the folder's name, not its absolute path."""
    here, there = tmp_path / "srv" / "articles", tmp_path / "home" / "me" / "copy" / "articles"
    shutil.copytree(SAMPLE_DOCS, here)
    shutil.copytree(SAMPLE_DOCS, there)
    first, second = SearchEngine(tmp_path / "ix1"), SearchEngine(tmp_path / "ix2")
    first.index([here], jobs=1)
    second.index([there], jobs=1)
    ids_here = {Path(p).relative_to(here): i for i, p in all_docs(first).items()}
    ids_there = {Path(p).relative_to(there): i for i, p in all_docs(second).items()}
    assert ids_here == ids_there and len(ids_here) == 14


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_moved_source_folder_keeps_its_ids(tmp_path, full):
    old = tmp_path / "old" / "articles"
    shutil.copytree(SAMPLE_DOCS, old)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([old], jobs=1)
    before = {Path(p).relative_to(old): i for i, p in all_docs(engine).items()}
    new = tmp_path / "new" / "place" / "articles"
    new.parent.mkdir(parents=True)
    shutil.move(str(old), str(new))
    report = engine.index([new], jobs=1, full=full)
    expected = (0, 14, 0, 0) if full else (14, 0, 0, 0)  # a rebuild adds everything anew
    assert (report.moved, report.added, report.updated, report.deleted) == expected
    assert engine.index([new], jobs=1, full=True).added == 14  # and rebuilds keep the ids
    after = {Path(p).relative_to(new): i for i, p in all_docs(engine).items()}
    assert after == before
    assert hit_paths(engine, "聊城 认可日") == [str(new / SEED_RELPATH)]
    assert engine.check([new]).ok


def test_renamed_source_folder_with_edits_loses_and_duplicates_nothing(tmp_path):
    old = tmp_path / "blog"
    shutil.copytree(SAMPLE_DOCS, old)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([old], jobs=1)
    before = {Path(p).relative_to(old).as_posix(): i for i, p in all_docs(engine).items()}
    new = tmp_path / "posts"
    old.rename(new)
    (new / FLOOD).unlink()  # deleted while it moved
    write(new, TEA, article("下午茶的历史", "改写过的下午茶文章"))  # edited while it moved
    write(new, "news/fresh.md", article("新文章", "搬家之后写的新文章"))
    report = engine.index([new], jobs=1)
    assert (report.moved, report.updated, report.added, report.deleted) == (12, 1, 1, 1)
    after = {Path(p).relative_to(new).as_posix(): i for i, p in all_docs(engine).items()}
    assert len(after) == 14
    assert {k: v for k, v in after.items() if k in before} == {
        k: v for k, v in before.items() if k != FLOOD}  # every kept article kept its id
    assert engine.search("改写过").total == 1 and engine.search("长江 汛期").total == 0
    assert engine.check([new]).ok
    assert engine.index([new], jobs=1).unchanged == 14


def test_a_vanished_folder_does_not_lend_its_name_to_unrelated_files(tmp_path):
    """An unmounted disk is not a move: its documents stay, the new folder gets its own ids."""
    disk = tmp_path / "mnt" / "articles"
    shutil.copytree(SAMPLE_DOCS / "news", disk)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([disk], jobs=1)
    unmounted = tmp_path / "elsewhere"
    disk.rename(unmounted)
    other = tmp_path / "other" / "articles"
    shutil.copytree(SAMPLE_DOCS / "tech", other)
    report = engine.index([other], jobs=1)
    assert (report.added, report.deleted, report.moved, report.documents) == (5, 0, 0, 9)
    unmounted.rename(disk)
    back = engine.index([disk], jobs=1)
    assert (back.unchanged, back.added, back.deleted) == (4, 0, 0)
    assert len(all_docs(engine)) == 9


def test_rename_across_folders(tmp_path, site):
    content, drafts = site
    engine = SearchEngine(tmp_path / "ix")
    engine.index([content, drafts], jobs=1)
    shutil.move(str(content / "other"), str(drafts / "tea"))  # published draft moved back
    report = engine.index([content, drafts], jobs=1)
    assert (report.moved, report.added, report.deleted, report.unchanged) == (1, 0, 0, 2)
    assert hit_paths(engine, "afternoon tea") == [str(drafts / "tea" / "index.md")]
    assert len(all_docs(engine)) == 3


def test_rename_out_of_a_vanished_folder_leaves_no_duplicate(tmp_path, site):
    content, drafts = site
    engine = SearchEngine(tmp_path / "ix")
    engine.index([content, drafts], jobs=1)
    shutil.move(str(drafts / "post" / "index.md"), str(content / "flood.md"))
    shutil.rmtree(drafts)
    report = engine.index([content], jobs=1)
    assert (report.moved, report.added, report.deleted) == (1, 0, 0)
    assert hit_paths(engine, "长江 汛期") == [str(content / "flood.md")]


def test_existing_index_is_rebuilt_with_a_reason(tmp_path, site):
    """An index written before ids had labels (schema 2) is rebuilt by the next run."""
    content, drafts = site
    ix = tmp_path / "ix"
    assert CliRunner().invoke(app, ["--index-dir", str(ix), "index", str(content)]).exit_code == 0
    gen = internals(SearchEngine(ix)).root.current()
    info = json.loads((gen.path / INFO).read_text())
    info["fingerprint"]["schema"] = 2  # what searcher wrote before this change
    del info["labels"]
    (gen.path / INFO).write_text(json.dumps(info))
    result = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(ix), "index", str(content),
         str(drafts)], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        f"warning: analysis changed (schema version 2 → {SCHEMA_VERSION}: document ids now "
        "include the source folder, so files with the same relative path in two source "
        "folders are both kept; Latin tokens joined by dots are also indexed by their parts"
    ), result.stderr
    assert "the folded text for exact phrases is kept once" in result.stderr  # version 5
    assert result.stdout.startswith(f"rebuilt {ix}: 3 added, 0 updated, 0 deleted")
    engine = SearchEngine(ix)
    assert engine.stats().generation != gen.name and len(all_docs(engine)) == 3


def test_source_behind_a_link_repointed_at_each_deploy(tmp_path):
    """``current -> releases/N``: the folder as given is the source, whatever it points to."""
    releases = tmp_path / "releases"
    shutil.copytree(SAMPLE_DOCS, releases / "1" / "content")
    os.symlink(releases / "1", tmp_path / "current")
    source = tmp_path / "current" / "content"
    engine = SearchEngine(tmp_path / "ix")
    engine.index([source], jobs=1)
    before = all_docs(engine)
    shutil.copytree(releases / "1", releases / "2", symlinks=True)  # the next deploy
    (releases / "2" / "content" / FLOOD).unlink()
    os.unlink(tmp_path / "current")
    os.symlink(releases / "2", tmp_path / "current")
    report = engine.index([source], jobs=1)
    assert (report.unchanged, report.deleted, report.added, report.moved) == (13, 1, 0, 0)
    assert all_docs(engine) == {i: p for i, p in before.items() if not p.endswith(FLOOD)}


@pytest.mark.parametrize("back_end", ["local", "cluster"])
def test_a_path_reached_from_nested_sources_names_its_documents(tmp_path, site, back_end,
                                                                request):
    """One file under two nested source folders is two documents; its path names both, so
    ``get`` by path raises AmbiguousDocumentError carrying their ids (either id works)."""
    from searcher.errors import AmbiguousDocumentError

    content, _ = site
    location: str | Path = tmp_path / "ix"
    if back_end == "cluster":
        url = request.getfixturevalue("opensearch_url")
        location = f"{url.rstrip('/')}/test-ambiguous-{os.getpid()}"
    engine = SearchEngine(location)
    try:
        engine.index([content.parent, content], jobs=1)
        path = str(content / "post" / "index.md")
        with pytest.raises(AmbiguousDocumentError) as caught:
            engine.get(path)
        ids = caught.value.ids
        assert len(ids) == 2 and ids == sorted(ids) and caught.value.doc_id == path
        assert isinstance(caught.value, SearcherError) and all(i in str(caught.value) for i in ids)
        assert {engine.get(doc_id).path for doc_id in ids} == {path}
    finally:
        if back_end == "cluster":
            engine.backend.client.indices.delete(  # type: ignore[attr-defined]
                index=f"test-ambiguous-{os.getpid()}-*", ignore=[404], expand_wildcards="all")
        engine.close()
