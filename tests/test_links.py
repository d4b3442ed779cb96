"""Links that lead out of a source folder are not followed unless asked for.

Anyone who can add a file to the articles could otherwise publish any file the
indexer can read (``src/passwd.md -> /etc/passwd`` was indexed and ``searcher show``
printed it).  Links inside the source folder keep working, each file indexed once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SEED_RELPATH, article, write
from typer.testing import CliRunner

from searcher import SearchEngine, SearcherError
from searcher.cli import app
from searcher.ingest.sources import scan
from searcher.local.inspection import internals

pytestmark = pytest.mark.skipif(os.name == "nt", reason="needs POSIX symlinks")

PASSWD = Path("/etc/passwd")


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of sample_docs as the source, and a folder beside it with a private article."""
    src = tmp_path / "site"
    shutil.copytree(SAMPLE_DOCS, src)
    private = tmp_path / "private"
    write(private, "salary.md", article("工资单", "机密的工资数字一览表"))
    write(private, "deep/plan.md", article("内部计划", "机密的明年计划"))
    return src, private


def paths(engine: SearchEngine, query: str) -> list[str]:
    return sorted(h.path for h in engine.search(query, limit=50).hits)


def test_outside_file_and_folder_links_are_skipped_and_reported(tmp_path, site):
    src, private = site
    os.symlink(private / "salary.md", src / "salary.md")
    os.symlink(private / "deep", src / "plans")
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([src], jobs=1)
    assert report.ok and report.added == 14  # sample_docs only
    assert sorted(report.skipped) == [
        (str(src / "plans"), f"link to folder {private / 'deep'} outside the source folder; "
                             "not followed (follow_links to index it)"),
        (str(src / "salary.md"), f"link to file {private / 'salary.md'} outside the source "
                                 "folder; not followed (follow_links to index it)"),
    ]
    assert engine.search("机密").total == 0
    with pytest.raises(SearcherError, match="no document"):
        engine.get(str(src / "salary.md"))
    check = engine.check()
    assert check.ok and [p for p, _ in check.skipped] == sorted(p for p, _ in report.skipped)


def test_outside_links_are_followed_when_asked(tmp_path, site):
    src, private = site
    os.symlink(private / "salary.md", src / "salary.md")
    os.symlink(private / "deep", src / "plans")
    engine = SearchEngine(tmp_path / "ix", follow_links=True)  # the setting
    report = engine.index([src], jobs=1)
    assert report.skipped == [] and report.added == 16
    assert paths(engine, "机密") == [str(src / "plans" / "plan.md"), str(src / "salary.md")]
    assert engine.check().ok

    # The argument overrides the setting; what the links led to leaves the index.
    again = SearchEngine(tmp_path / "ix").index([src], follow_links=False)
    assert again.deleted == 2 and len(again.skipped) == 2
    assert engine.search("机密").total == 0


@pytest.mark.skipif(not PASSWD.is_file(), reason="needs /etc/passwd")
def test_link_to_etc_passwd_cannot_be_shown(tmp_path, site):
    src, _ = site
    os.symlink(PASSWD, src / "passwd.md")
    runner = CliRunner()
    ix = str(tmp_path / "ix")
    result = runner.invoke(app, ["--index-dir", ix, "index", str(src), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (f"skipped: {src / 'passwd.md'}: link to file {PASSWD.resolve()} outside the source "
            "folder; not followed (follow_links to index it)") in result.output
    assert "0 failed, 1 skipped" in result.output
    shown = runner.invoke(app, ["--index-dir", ix, "show", str(src / "passwd.md")])
    assert shown.exit_code == 2 and "root:" not in shown.output

    data = json.loads(runner.invoke(app, ["--index-dir", ix, "index", str(src), "--json"]).output)
    assert [s["path"] for s in data["skipped"]] == [str(src / "passwd.md")]

    followed = runner.invoke(app, ["--index-dir", ix, "index", str(src), "--follow-links"])
    assert followed.exit_code == 0 and "1 added" in followed.output
    shown = runner.invoke(app, ["--index-dir", ix, "show", str(src / "passwd.md")])
    assert shown.exit_code == 0 and "root:" in shown.output
    check = runner.invoke(app, ["--index-dir", ix, "check", "--follow-links"])
    assert check.exit_code == 0, check.output
    check = runner.invoke(app, ["--index-dir", ix, "check"])  # as a default run would see it
    assert check.exit_code == 1 and f"extra: {src / 'passwd.md'}" in check.output
    assert f"skipped: {src / 'passwd.md'}: link to file" in check.output


def test_links_inside_the_tree_are_followed_once(tmp_path, site):
    src, _ = site
    os.symlink("seed", src / "alias-folder")  # same folder again: indexed once, at its own path
    os.symlink(SEED_RELPATH, src / "alias.md")  # same file again
    hidden = src / ".drafts"
    write(hidden, "draft.md", article("草稿", "只能经由链接找到的草稿"))
    os.symlink(".drafts", src / "published")  # a hidden folder's files, reached by a link
    os.symlink(src / "misc", src / "seed" / "up")  # absolute link, still inside
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([src], jobs=1)
    assert report.ok and report.skipped == []
    assert report.added == 15
    assert paths(engine, "草稿") == [str(src / "published" / "draft.md")]
    assert paths(engine, "聊城 认可日") == [str(src / SEED_RELPATH)]
    reader = internals(engine).searcher().reader()
    stored = [fields["path"] for _, fields in reader.iter_docs()]
    assert len(stored) == len(set(stored)) == 15
    assert not [p for p in stored if "alias" in p or "/up/" in p]


def test_loops_through_links_end_and_are_reported(tmp_path):
    src = tmp_path / "src"
    write(src, "a/doc.md", article("文章", "正文"))
    os.symlink("..", src / "a" / "up")  # back to the source folder
    os.symlink("..", src / "out")  # out of it: skipped, or with following a loop
    result = scan([src])
    assert [f.relpath for f in result.files] == ["a/doc.md"]
    assert [(p, "symlink loop" in r) for p, r in result.problems] == [(str(src / "a" / "up"), True)]
    assert [p for p, _ in result.skipped] == [str(src / "out")]
    followed = scan([src], follow_links=True)
    assert [f.relpath for f in followed.files] == ["a/doc.md"]
    assert any("symlink loop" in r for _, r in followed.problems) and not followed.skipped


def test_file_turned_into_an_outside_link_after_the_scan_is_not_read(tmp_path, site,
                                                                       monkeypatch):
    src, private = site
    import searcher.local.indexing as indexing

    real_scan = indexing.scan

    def scan_then_swap(paths, **kwargs):
        found = real_scan(paths, **kwargs)
        target = src / SEED_RELPATH
        target.unlink()
        os.symlink(private / "salary.md", target)
        return found

    monkeypatch.setattr(indexing, "scan", scan_then_swap)
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([src], jobs=1)
    assert report.failed == [(str(src / SEED_RELPATH),
                              "became a link out of the source folder; not followed")]
    assert engine.search("机密").total == 0
