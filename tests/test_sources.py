"""Finding article files under source folders: recursion, filters, symlinks."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from searcher.errors import SourceNotFoundError
from searcher.ingest.documents import document_id, load_document
from searcher.ingest.sources import Scan, check_sources, scan

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = REPO / "sample_docs"

needs_symlinks = pytest.mark.skipif(
    not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks"
)


def touch(path: Path, text: str = "# 标题\n\n正文\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def relpaths(result: Scan) -> list[str]:
    return [f.relpath for f in result.files]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for rel in [
        "top.md",
        "a/one.markdown",
        "a/b/two.html",
        "a/b/c/three.htm",
        "a/b/c/UPPER.MD",
        "z/last.md",
        # ignored: other extensions, hidden files and hidden folders
        "notes.txt",
        "a/data.json",
        "a/b/picture.png",
        "README",
        "a/page.md.bak",
        ".hidden.md",
        ".git/HEAD.md",
        "a/.drafts/secret.md",
        "a/.cache/deep/er.html",
    ]:
        touch(root / rel)
    return root


def test_recursive_discovery_of_article_extensions(tree: Path) -> None:
    result = scan([tree])
    assert result.problems == []
    assert relpaths(result) == [
        "a/b/c/UPPER.MD",
        "a/b/c/three.htm",
        "a/b/two.html",
        "a/one.markdown",
        "top.md",
        "z/last.md",
    ]


def test_scan_records_path_source_size_and_mtime(tree: Path) -> None:
    result = scan([tree])
    by_rel = {f.relpath: f for f in result.files}
    entry = by_rel["a/b/two.html"]
    assert entry.path == str(tree / "a" / "b" / "two.html")
    assert entry.source == str(tree)
    stat = (tree / "a/b/two.html").stat()
    assert entry.size == stat.st_size > 0
    assert entry.mtime_ns == stat.st_mtime_ns
    assert entry.id == document_id("a/b/two.html")


def test_scan_ids_match_loaded_document_ids(tree: Path) -> None:
    for entry in scan([tree]).files:
        assert load_document(entry.path, entry.source).id == entry.id
        labelled = replace(entry, label="docs")
        assert load_document(entry.path, entry.source, label="docs").id == labelled.id != entry.id


def test_files_are_sorted_by_path_across_sources(tmp_path: Path) -> None:
    first, second = tmp_path / "b-src", tmp_path / "a-src"
    touch(first / "x.md")
    touch(second / "y.md")
    touch(second / "sub" / "x.md")
    result = scan([first, second])
    assert [f.path for f in result.files] == sorted(f.path for f in result.files)
    assert {(Path(f.source).name, f.relpath) for f in result.files} == {
        ("b-src", "x.md"),
        ("a-src", "y.md"),
        ("a-src", "sub/x.md"),
    }


def test_empty_folder_gives_nothing(tmp_path: Path) -> None:
    result = scan([tmp_path])
    assert result.files == [] and result.problems == []


def test_sample_docs_are_all_found() -> None:
    result = scan([SAMPLE_DOCS])
    assert result.problems == []
    found = relpaths(result)
    assert "seed/liaocheng-world-accreditation-day.md" in found
    assert "misc/tea-garden-visit.html" in found
    assert len(found) == 14
    assert all(Path(rel).suffix in (".md", ".html") for rel in found)


# --- symlinks ------------------------------------------------------------------------------------


@needs_symlinks
def test_symlink_loop_is_reported_and_walk_terminates(tree: Path) -> None:
    os.symlink("..", tree / "a" / "loop")  # a/loop -> docs/
    result = scan([tree])
    # Every real file exactly once, nothing found through the loop.
    assert (
        relpaths(result)
        == relpaths(scan([tree]))
        == [
            "a/b/c/UPPER.MD",
            "a/b/c/three.htm",
            "a/b/two.html",
            "a/one.markdown",
            "top.md",
            "z/last.md",
        ]
    )
    assert len(result.problems) == 1
    path, reason = result.problems[0]
    assert path == str(tree / "a" / "loop")
    assert "symlink loop" in reason


@needs_symlinks
def test_self_referencing_folder_link(tmp_path: Path) -> None:
    touch(tmp_path / "doc.md")
    os.symlink(".", tmp_path / "again")
    result = scan([tmp_path])
    assert relpaths(result) == ["doc.md"]
    assert [(p, "symlink loop" in r) for p, r in result.problems] == [
        (str(tmp_path / "again"), True)
    ]


@needs_symlinks
def test_symlink_loop_to_the_parent_of_the_source_terminates(tmp_path: Path) -> None:
    source = tmp_path / "src"
    touch(source / "doc.md")
    os.symlink("..", source / "loop")  # src/loop -> tmp_path, which contains src again
    # Outside the source folder: not followed unless asked for.
    result = scan([source])
    assert relpaths(result) == ["doc.md"] and result.problems == []
    assert [(p, "outside the source folder" in r) for p, r in result.skipped] == [
        (str(source / "loop"), True)
    ]
    result = scan([source], follow_links=True)
    assert "doc.md" in relpaths(result)
    assert any("symlink loop" in reason for _, reason in result.problems)
    assert len(result.files) == len({f.path for f in result.files})


@needs_symlinks
def test_broken_symlink_is_reported(tree: Path) -> None:
    os.symlink("does-not-exist.md", tree / "a" / "dangling.md")
    result = scan([tree])
    assert "a/dangling.md" not in relpaths(result)
    assert result.problems == [(str(tree / "a" / "dangling.md"), "broken symlink")]


@needs_symlinks
def test_broken_symlink_with_other_extension_is_ignored(tree: Path) -> None:
    os.symlink("nowhere", tree / "dangling.txt")
    assert scan([tree]).problems == []


@needs_symlinks
def test_file_symlink_loop_is_reported(tmp_path: Path) -> None:
    os.symlink("self.md", tmp_path / "self.md")
    result = scan([tmp_path])
    assert result.files == []
    assert result.problems == [(str(tmp_path / "self.md"), "symlink loop")]


@needs_symlinks
def test_symlinked_outside_folder_is_followed_only_when_asked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    touch(outside / "linked.md")
    source = tmp_path / "src"
    touch(source / "own.md")
    os.symlink(outside, source / "shortcut")
    result = scan([source])
    assert relpaths(result) == ["own.md"]
    assert result.skipped == [(str(source / "shortcut"),
                               f"link to folder {outside} outside the source folder; "
                               "not followed (follow_links to index it)")]
    result = scan([source], follow_links=True)
    assert relpaths(result) == ["own.md", "shortcut/linked.md"]
    assert result.problems == [] and result.skipped == []


# --- check_sources -------------------------------------------------------------------------------


def test_check_sources_returns_absolute_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert check_sources(["docs"]) == [tmp_path / "docs"]


@needs_symlinks
def test_check_sources_keeps_a_folder_given_twice_once(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    os.symlink("docs", tmp_path / "alias")
    assert check_sources([tmp_path / "docs", tmp_path / "alias", tmp_path / "docs/"]) == [
        tmp_path / "docs"]


def test_check_sources_rejects_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        check_sources([tmp_path / "missing"])


def test_check_sources_rejects_a_file(tmp_path: Path) -> None:
    article = touch(tmp_path / "a.md")
    with pytest.raises(SourceNotFoundError, match="not a folder"):
        check_sources([article])


def test_check_sources_rejects_empty_list() -> None:
    with pytest.raises(SourceNotFoundError, match="no source folder"):
        check_sources([])


UNDECODABLE = b"\xe6\x96\xb0\xff\xfe"  # 新 and two bytes that are not UTF-8 (a GBK or Latin-1 name)


def _cli(ix: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "searcher", "--index-dir", str(ix), *args],
                          cwd=REPO, capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.skipif(os.name == "nt" or sys.platform == "darwin",
                    reason="needs a file system that takes any bytes as a name")
def test_a_file_name_that_is_not_utf8_is_indexed_and_checked(tmp_path: Path) -> None:
    import json

    src = tmp_path / "src"
    src.mkdir()
    real = sorted((REPO.parent / "shared" / "corpus" / "xwlb" / "news").glob("*.md"))[:2]
    texts = [p.read_bytes() for p in real] if real else [
        "# 长江\n\n长江防汛工作扎实推进。\n".encode(), "# 黄河\n\n黄河\n".encode()]
    odd = os.fsencode(src) + b"/" + UNDECODABLE + b".md"
    with open(odd, "wb") as handle:  # a real article under a name that is not UTF-8
        handle.write(texts[0])
    with open(os.fsencode(src) + b"/" + UNDECODABLE + b"-untitled.md", "wb") as handle:
        handle.write("没有标题的文章，正文提到长江。\n".encode())
    (src / "plain.md").write_bytes(texts[1])
    with open(os.fsencode(src) + b"/" + UNDECODABLE + b"-empty.md", "wb"):
        pass  # fails ("empty file"): its path goes into the JSON report
    ix = tmp_path / "ix"

    done = _cli(ix, "index", str(src), "-q")
    assert done.returncode == 1, done.stderr  # 1: the empty file failed, nothing else
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    assert done.stderr.count(b"\n") == 1 and b"empty file" in done.stderr

    report = json.loads(_cli(ix, "index", str(src), "--json").stdout)  # valid UTF-8 JSON
    assert report["unchanged"] == 3 and report["added"] == 0
    assert [os.fsencode(f["path"]) for f in report["failed"]] == [
        os.fsencode(src) + b"/" + UNDECODABLE + b"-empty.md"]  # the exact bytes come back

    check = json.loads(_cli(ix, "check", str(src), "--json").stdout)
    assert [os.fsencode(p) for p in check["missing"]] == [  # only the file that failed
        os.fsencode(src) + b"/" + UNDECODABLE + b"-empty.md"]
    assert check["indexed"] == 3
    hits = json.loads(_cli(ix, "search", "没有标题的文章", "--json").stdout)["hits"]
    assert [os.fsencode(h["path"]) for h in hits] == [
        os.fsencode(src) + b"/" + UNDECODABLE + b"-untitled.md"]
    assert hits[0]["title"] == "新\ufffd\ufffd-untitled"
