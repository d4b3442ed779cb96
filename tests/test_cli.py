"""The command line, through typer's CliRunner (and one real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SEED_RELPATH, article, write
from typer.testing import CliRunner

from searcher.cli import app


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """sample_docs indexed through the CLI once for this module."""
    import shutil

    from conftest import SAMPLE_DOCS

    base = tmp_path_factory.mktemp("cli")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    index_dir = base / "ix"
    result = CliRunner().invoke(app, ["--index-dir", str(index_dir), "index", str(docs)])
    assert result.exit_code == 0, result.output
    assert "added" in result.output
    return index_dir, docs


def run(index_dir, *args):
    return CliRunner().invoke(app, ["--index-dir", str(index_dir), *args])


def test_search_prints_rank_title_date_path_snippet(indexed):
    index_dir, docs = indexed
    result = run(index_dir, "search", "认证认可")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "results" in lines[0]
    assert lines[1].strip().startswith("1. 聊城市市场监管局")
    assert "2021-06-16" in lines[2] and str(docs / SEED_RELPATH) in lines[2]
    assert "认证认可" in lines[3]


def test_search_json(indexed):
    index_dir, docs = indexed
    result = run(index_dir, "search", "聊城", "--json", "--limit", "3")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["query"] == "聊城" and data["page"] == 1 and data["total"] >= 1
    hit = data["hits"][0]
    assert hit["path"] == str(docs / SEED_RELPATH)
    assert hit["date"] == "2021-06-16T02:23:51+00:00"
    assert hit["highlights"]
    for start, end in hit["highlights"]:
        assert hit["snippet"][start:end] in ("聊城", "聊城市")


def test_search_options(indexed):
    index_dir, _ = indexed
    data = json.loads(run(index_dir, "search", "认证认可", "--json", "--author", "趣头条",
                          "--category", "新媒体", "--since", "2021-01-01",
                          "--until", "2021-12-31", "--sort", "date").output)
    assert data["total"] == 1 and data["sort"] == "date"
    empty = run(index_dir, "search", "认证认可", "--author", "没有这个人")
    assert empty.exit_code == 0
    assert "No results" in empty.output or "partial" in empty.output


def test_show_stats_check(indexed):
    index_dir, docs = indexed
    hit = json.loads(run(index_dir, "search", "聊城", "--json").output)["hits"][0]
    shown = run(index_dir, "show", hit["id"])
    assert shown.exit_code == 0 and hit["title"] in shown.output and "认证认可" in shown.output
    as_json = json.loads(run(index_dir, "show", hit["id"], "--json").output)
    assert as_json["id"] == hit["id"]
    stats = json.loads(run(index_dir, "stats", "--json").output)
    assert stats["documents"] >= 10
    assert run(index_dir, "stats").exit_code == 0
    check = run(index_dir, "check")
    assert check.exit_code == 0 and "up to date" in check.output


@pytest.mark.parametrize(("args", "message"), [
    (["search", '"unclosed'], "unclosed quote"),
    (["search", "--", "-only"], "only excludes"),
    (["search", "聊城", "--since", "someday"], "bad date"),
    (["show", "no-such-id"], "no document"),
])
def test_errors_are_one_line_with_exit_2(indexed, args, message):
    index_dir, _ = indexed
    result = run(index_dir, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_index_and_folder(tmp_path):
    result = run(tmp_path / "none", "search", "聊城")
    assert result.exit_code == 2 and "searcher index" in result.output
    result = run(tmp_path / "ix", "index", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_index_exit_codes_json_and_quiet(tmp_path):
    src = tmp_path / "src"
    write(src, "good.md", article("好", "正常的文章"))
    ix = tmp_path / "ix"
    ok = run(ix, "index", str(src), "--json")
    assert ok.exit_code == 0
    report = json.loads(ok.output)
    assert report["added"] == 1 and report["failed"] == [] and report["duration"] >= 0
    assert report["index_bytes"] > 0
    (src / "broken.md").write_bytes(b"\x00\x01binary")
    bad = run(ix, "index", str(src), "--quiet")
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [f"failed: {src / 'broken.md'}: "
                                               "binary file (contains NUL bytes), not text"]
    data = json.loads(run(ix, "index", "--json").output)  # remembered sources
    assert data["failed"][0]["path"].endswith("broken.md")
    (src / "broken.md").unlink()
    write(src, "new.md", article("新", "新文章"))
    check = run(ix, "check", "--json")
    assert check.exit_code == 1
    assert json.loads(check.output)["missing"] == [str(src / "new.md")]


def test_locked_index_exit_code(tmp_path):
    from searcher.local.locking import writer_lock

    src = tmp_path / "src"
    write(src, "a.md", article("标题", "正文"))
    with writer_lock(tmp_path / "ix"):
        result = run(tmp_path / "ix", "index", str(src))
    assert result.exit_code == 2 and "another process" in result.output


def test_python_dash_m_is_quiet(indexed):
    """No jieba chatter or warnings on a normal search; --verbose shows logging."""
    index_dir, _ = indexed
    proc = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "search", "聊城"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "聊城市市场监管局" in proc.stdout
