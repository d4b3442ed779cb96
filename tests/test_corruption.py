"""Damage to the index is detected: a clear IndexCorruptError naming the file, or the right
answer (derived data rebuilt), never a silent wrong answer or "a bug in searcher".

Every file kind of a generation built from real articles (../shared/corpus/rsshub) gets
flipped bytes, is truncated or deleted; searches, ``check(deep=True)`` and ``index
--full`` are then held to that rule.  See searcher/local/integrity.py.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, needs_shared

from searcher import IndexCorruptError, SearchEngine
from searcher.local.storage import IndexDir

CORPUS = SHARED / "corpus" / "rsshub"
#: Plain words, quoted phrases (the substring index and the per-document arrays) and
#: pinyin (the pinyin table), all with hits in the corpus.
QUERIES = ["开发", "数据", "应用", '"持续集成"', '"容器调度"', '"开源平台"', "kubernetes",
           "shuju"]

pytestmark = needs_shared


def build(index: Path, *, full: bool = False):
    with SearchEngine(index) as engine:
        return engine.index([CORPUS], full=full, jobs=1, batch_size=30)


def answers(index: Path) -> dict[str, object]:
    """Each query's hit ids and total, or the path an IndexCorruptError names."""
    out: dict[str, object] = {}
    with SearchEngine(index) as engine:
        for query in QUERIES:
            try:
                results = engine.search(query, limit=30)
                out[query] = ([h.id for h in results.hits], results.total)
            except IndexCorruptError as exc:
                out[query] = ("corrupt", Path(exc.path).name)
        try:
            out["suggest"] = [s.text for s in engine.suggest("数据", 10)]
        except IndexCorruptError as exc:
            out["suggest"] = ("corrupt", Path(exc.path).name)
    return out


def deep_damage(index: Path) -> list[str]:
    with SearchEngine(index) as engine:
        try:
            engine.check([CORPUS], deep=True)
        except IndexCorruptError as exc:
            return [Path(p).name for p in exc.files]
    return []


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    index = tmp_path_factory.mktemp("clean") / "index"
    report = build(index)
    assert not report.failed
    want = answers(index)
    assert all(isinstance(v, list) or v[0] != "corrupt" for v in want.values()), want
    assert want["shuju"][1] > 0 and want['"持续集成"'][1] > 0
    return index, want


@pytest.fixture
def copy(clean, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    shutil.copytree(clean[0], index)
    return index


def generation(index: Path) -> Path:
    return IndexDir(index).current().path


def one_file(index: Path, kind: str) -> Path:
    """The first file of a kind: a segment file's suffix (``pst``), else its name."""
    gen = generation(index)
    names = sorted(p.name for p in gen.iterdir())
    for name in names:
        if name.startswith("MAIN_") and name.partition(".")[2] == kind or name == kind or (
                kind == "toc" and name.endswith(".toc")):
            return gen / name
    raise AssertionError(f"no {kind} file in {names}")


def damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    else:  # 64 random bytes in the middle, as the fault probe did
        data = bytearray(path.read_bytes())
        rng = random.Random(path.name)
        start = max(0, len(data) // 2 - 32)
        for k in range(start, min(len(data), start + 64)):
            data[k] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))


def assert_held(index: Path, want: dict, damaged: str) -> None:
    """Right answers or an error naming *damaged*; check --deep names it; --full repairs."""
    got = answers(index)
    for query, value in want.items():
        assert got[query] in (value, ("corrupt", damaged)), (query, got[query], value)
    assert damaged in deep_damage(index)
    report = build(index, full=True)
    assert report.full and not report.failed
    assert answers(index) == want
    assert deep_damage(index) == []


#: Every kind of file of a generation (the first segment's, for segment files).
KINDS = ["pst", "trm", "_stored.col", "text.col", "date.col",
         "_body_len.col", "sums", "toc", "toc.sums", "text.starts.npy",
         "text.title_ends.npy", "text.lengths.npy", "text.histogram.npy",
         "text.astral_at.npy", "text.astral_codes.npy",
         "bigrams.stream.npy", "bigrams.keys.npy", "bigrams.offsets.npy", "data.body.npy",
         "data.title.npy", "data.dates.npy", "manifest.ztext.npy", "manifest.numbers.npy",
         "suggest.zwords.npy", "suggest.counts.npy", "suggest.ztitles.npy",
         "suggest.zphrases.npy", "suggest.phrase_counts.npy", "pinyin.sqlite",
         "querydict.sqlite", "sqlite.sums"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_file_kind(clean, copy: Path, kind: str, how: str) -> None:
    target = one_file(copy, kind)
    damage(target, how)
    assert_held(copy, clean[1], target.name)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "how"), [
    ("text.starts.npy", "flip"), ("data.body.npy", "flip"), ("pst", "truncate"),
    ("_stored.col", "truncate"), ("text.col", "truncate"), ("pst", "delete"),
    ("trm", "truncate"), ("manifest.ztext.npy", "flip"), ("toc", "flip"),
])
def test_damage_found_by_issue(clean, copy: Path, kind: str, how: str) -> None:
    """The damage the fault probe reported: silent wrong answers (starts, data.body), exit 3
    on every search (.pst, _stored.col, text.col), and ``index --full`` failing."""
    target = one_file(copy, kind)
    damage(target, how)
    assert_held(copy, clean[1], target.name)


def test_flipped_starts_gives_right_phrases_and_index_rewrites_it(clean, copy: Path,
                                                                   caplog) -> None:
    target = one_file(copy, "text.starts.npy")
    damage(target, "flip")
    with caplog.at_level(logging.WARNING):
        assert answers(copy) == clean[1]  # computed from the segment's column instead
    assert any(target.name in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        report = build(copy)  # an ordinary run rewrites the derived file
    assert not report.full
    assert any(target.name in r.getMessage() for r in caplog.records)
    assert deep_damage(copy) == []
    assert answers(copy) == clean[1]


def test_primary_damage_refuses_incremental_run_and_full_rebuilds(clean, copy: Path) -> None:
    target = one_file(copy, "pst")
    damage(target, "truncate")
    with pytest.raises(IndexCorruptError) as caught:
        build(copy)
    assert caught.value.path == str(target) and "--full" in str(caught.value)
    build(copy, full=True)
    assert answers(copy) == clean[1]


def test_cli_names_damaged_file_with_exit_4(copy: Path) -> None:
    target = one_file(copy, "pst")
    damage(target, "truncate")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["search", "开发"], ["check", str(CORPUS), "--deep"]):
        done = subprocess.run([sys.executable, "-m", "searcher", "-d", str(copy), *args],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 4, done.stderr
        assert target.name in done.stderr and "a bug" not in done.stderr


def test_deep_check_finds_flip_in_large_file(copy: Path) -> None:
    """A flip in a file too large to checksum on open is found by ``check --deep``."""
    target = one_file(copy, "bigrams.stream.npy")
    damage(target, "flip")
    assert deep_damage(copy) == [target.name]


@pytest.mark.parametrize("how", ["empty", "bad bytes", "delete"])
def test_damaged_current_keeps_intact_generation(clean, copy: Path, how: str) -> None:
    gen = generation(copy)
    pointer = copy / "CURRENT"
    if how == "delete":
        pointer.unlink()
    else:
        pointer.write_bytes(b"" if how == "empty" else b"\xff\xfe gen-\x80\n")
    assert answers(copy) == clean[1]  # the newest complete generation is used
    report = build(copy)
    assert not report.full and report.generation == gen.name  # no rebuild from scratch
    assert gen.is_dir() and pointer.read_text().strip() == gen.name
    assert answers(copy) == clean[1]


@pytest.mark.parametrize("how", ["truncate", "delete"])
def test_pinyin_table_damage(clean, copy: Path, how: str) -> None:
    """Not sqlite3.DatabaseError on every pinyin search, nor a silent empty answer."""
    table = generation(copy) / "pinyin.sqlite"
    damage(table, how)
    got = answers(copy)
    assert got["shuju"] == ("corrupt", "pinyin.sqlite")
    assert got["开发"] == clean[1]["开发"]  # other queries never open it
    assert "pinyin.sqlite" in deep_damage(copy)
    build(copy)  # an ordinary run writes it again
    assert answers(copy) == clean[1]


def test_stale_temp_files_are_removed(copy: Path) -> None:
    """A kill while the suggestion table (or a sidecar) is written leaves a .tmp file: the
    next run removes it, but not one a live process is writing."""
    gen = generation(copy)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = [gen / f"suggest.table.pickle.{dead}.140.tmp",
             gen / f"{one_file(copy, 'bigrams.stream.npy').name}.{dead}.tmp.npy",
             gen / "pinyin.tmp", copy / ".CURRENT.tmp"]
    live = gen / f"suggest.table.pickle.{os.getppid()}.1.tmp"
    for path in [*stale, live]:
        path.write_bytes(b"partial")
    pool = gen / "MAIN.tmp"  # a killed writer's posting pool
    pool.mkdir()
    (pool / "pool.tmp").write_bytes(b"postings")
    build(copy)
    assert [p for p in [*stale, pool] if p.exists()] == []
    assert live.exists()


def test_deep_check_finds_a_changed_word_in_the_pinyin_table(copy: Path) -> None:
    """SQLite's quick_check sees page structure, not a changed character of a stored word:
    the rows' checksum, written in the same transaction as the rows, does."""
    table = generation(copy) / "pinyin.sqlite"
    data = bytearray(table.read_bytes())
    at = data.find("数据".encode())  # a word of the table (its pinyin: shuju)
    assert at > 0
    data[at:at + 3] = "救".encode()  # same length: the page stays well-formed
    table.write_bytes(bytes(data))
    assert deep_damage(copy) == ["pinyin.sqlite"]
    build(copy, full=True)
    assert deep_damage(copy) == []


def test_pinyin_rows_added_by_a_later_run_keep_the_checksum_true(tmp_path: Path) -> None:
    from searcher.analysis.lexicon import add_pinyin_rows, pinyin_content_problem

    table = tmp_path / "pinyin.sqlite"
    add_pinyin_rows(table, {("shuju", "数据"), ("liaocheng", "聊城")})
    add_pinyin_rows(table, {("shuju", "数据"), ("kaifa", "开发")})  # one old, one new row
    assert pinyin_content_problem(table) is None
    import sqlite3

    con = sqlite3.connect(table)
    with con:
        con.execute("UPDATE pinyin SET word = '开放' WHERE word = '开发'")
    con.close()
    assert pinyin_content_problem(table) is not None


def unused_bytes(path: Path) -> int:
    """The offset of 16 bytes inside a b-tree page's unallocated gap (between its cell
    pointers and its cells): bytes SQLite never reads, so quick_check passes over them."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(1, len(data) // page_size):  # page 0 holds the file header
        base = page * page_size
        kind = data[base]
        if kind not in (2, 5, 10, 13):
            continue
        header = 12 if kind in (2, 5) else 8
        cells = int.from_bytes(data[base + 3:base + 5], "big")
        content = int.from_bytes(data[base + 5:base + 7], "big") or 65536
        gap_start, gap_end = base + header + 2 * cells, base + content
        if gap_end - gap_start >= 32:
            return gap_start + 8
    raise AssertionError(f"no page of {path} has 32 unallocated bytes")


@pytest.mark.parametrize("name", ["pinyin.sqlite", "querydict.sqlite"])
def test_deep_check_finds_changed_bytes_sqlite_never_reads(copy: Path, name: str) -> None:
    """quick_check and the rows' checksum pass over a page's unused bytes; the whole-file
    checksum recorded when the run ended does not, and the next run writes the file again."""
    table = generation(copy) / name
    data = bytearray(table.read_bytes())
    at = unused_bytes(table)
    for k in range(at, at + 16):
        data[k] ^= 0x5A
    table.write_bytes(bytes(data))
    assert deep_damage(copy) == [name]
    build(copy)  # incremental: it finds the damage itself and writes the file again
    assert deep_damage(copy) == []
    assert answers(copy)["shuju"][1] > 0
