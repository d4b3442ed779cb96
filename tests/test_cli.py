"""The command line, through typer's CliRunner (and one real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    # A filter nobody matches returns nothing: no relaxed "best partial matches" either.
    empty = run(index_dir, "search", "认证认可", "--author", "没有这个人")
    assert empty.exit_code == 0
    assert empty.output.strip() == "No results for '认证认可'."
    data = json.loads(run(index_dir, "search", "认证认可", "--author", "没有这个人",
                          "--json").output)
    assert (data["total"], data["relaxed"], data["hits"]) == (0, False, [])


def test_show_stats_check(indexed):
    index_dir, docs = indexed
    hit = json.loads(run(index_dir, "search", "聊城", "--json").output)["hits"][0]
    shown = run(index_dir, "show", hit["id"])
    assert shown.exit_code == 0 and hit["title"] in shown.output and "认证认可" in shown.output
    as_json = json.loads(run(index_dir, "show", hit["id"], "--json").output)
    assert as_json["id"] == hit["id"]
    stats = json.loads(run(index_dir, "stats", "--json").output)
    assert stats["documents"] >= 10
    from searcher import IndexStats, SearchEngine

    typed = SearchEngine(index_dir).stats()  # the library's answer, typed; JSON the same
    assert isinstance(typed, IndexStats) and typed.as_dict() == stats
    assert f"documents:   {typed.documents} in {typed.segments} segment(s)" in run(
        index_dir, "stats").output
    assert run(index_dir, "stats").exit_code == 0
    check = run(index_dir, "check")
    assert check.exit_code == 0 and "up to date" in check.output


@pytest.mark.parametrize(("args", "message"), [
    (["search", "“ ”"], "no words"),
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


def test_python_dash_m_is_quiet_and_verbose_logs(indexed):
    """No jieba chatter or warnings on a normal search; --verbose (either side) shows logging."""
    index_dir, _ = indexed
    base = [sys.executable, "-m", "searcher"]
    proc = subprocess.run([*base, "--index-dir", str(index_dir), "search", "聊城"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert "聊城市市场监管局" in proc.stdout
    for args in (["--verbose", "search", "聊城", "-d", str(index_dir)],
                 ["search", "聊城", "-d", str(index_dir), "-v"]):
        proc = subprocess.run([*base, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and "聊城市市场监管局" in proc.stdout
        assert proc.stderr.startswith("INFO: settings (")
        assert f'index_dir="{index_dir}"' in proc.stderr and "pinyin=true" in proc.stderr


# -- global options on both sides of the subcommand ------------------------------------------

def test_global_options_work_after_every_subcommand(indexed, tmp_path):
    index_dir, docs = indexed
    ix = str(index_dir)
    hit = json.loads(run(index_dir, "search", "聊城", "--json").output)["hits"][0]
    cases = {
        "index": (["index", "--index-dir", ix, "--json"], 0, '"unchanged": 14'),
        "search": (["search", "聊城", "-d", ix, "--json"], 0, hit["id"]),
        "show": (["show", hit["id"], "--index-dir", ix], 0, hit["title"]),
        "stats": (["stats", "-d", ix, "--json"], 0, '"documents": 14'),
        "check": (["check", "--index-dir", ix], 0, "up to date"),
    }
    for args, code, expected in cases.values():
        after = CliRunner().invoke(app, args)
        assert after.exit_code == code, (args, after.output)
        assert expected in after.stdout
        # The same with the option before the subcommand (the order people used to need).
        position = args.index("-d") if "-d" in args else args.index("--index-dir")
        moved = [args[position], args[position + 1]] + args[:position] + args[position + 2:]
        before = CliRunner().invoke(app, moved)
        assert before.exit_code == code and expected in before.stdout
    # Given on both sides, the one after the subcommand wins.
    both = CliRunner().invoke(app, ["-d", str(tmp_path / "none"), "stats", "-d", ix])
    assert both.exit_code == 0 and ix in both.stdout
    # --config and --verbose after the subcommand too.
    config = tmp_path / "conf.toml"
    config.write_text(f'[searcher]\nindex_dir = "{ix}"\npinyin = false\n', encoding="utf-8")
    assert json.loads(CliRunner().invoke(app, ["search", "liaocheng", "--config", str(config),
                                               "--json"]).stdout)["total"] == 0
    assert json.loads(CliRunner().invoke(app, ["--config", str(config), "search", "liaocheng",
                                               "--json"]).stdout)["total"] == 0
    assert json.loads(run(index_dir, "search", "liaocheng", "--json").stdout)["total"] >= 1
    verbose = CliRunner().invoke(app, ["stats", "--config", str(config), "--verbose"])
    assert verbose.exit_code == 0 and "INFO: settings (" in verbose.stderr


# -- flags only library tests covered --------------------------------------------------------

def test_synonyms_no_pinyin_and_tag_flags(indexed, tmp_path):
    index_dir, _ = indexed
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("扬子江,长江\n", encoding="utf-8")
    assert json.loads(run(index_dir, "search", "扬子江", "--json").stdout)["total"] == 0
    data = json.loads(run(index_dir, "search", "扬子江", "--synonyms", str(synonyms),
                          "--json").stdout)
    assert [h["title"][:10] for h in data["hits"]] == ["長江中下游進入主汛期"]
    missing = run(index_dir, "search", "扬子江", "--synonyms", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2
    assert missing.stderr == (f'error: --synonyms "{tmp_path / "nope.txt"}": '
                              f'{tmp_path / "nope.txt"} does not exist; expected a readable '
                              'UTF-8 text file ("" for none)\n')

    pinyin = json.loads(run(index_dir, "search", "liaocheng", "--json").stdout)
    assert pinyin["total"] >= 1 and "聊城" in pinyin["hits"][0]["title"]
    off = json.loads(run(index_dir, "search", "liaocheng", "--no-pinyin", "--json").stdout)
    assert off["total"] == 0

    everywhere = json.loads(run(index_dir, "search", "城市", "--json").stdout)
    tagged = json.loads(run(index_dir, "search", "城市", "--tag", "5G", "--json").stdout)
    assert everywhere["total"] > tagged["total"] == 1
    assert "5G" in tagged["hits"][0]["tags"]
    assert json.loads(run(index_dir, "search", "城市", "--tag", "没有的标签",
                          "--json").stdout)["total"] == 0


def test_userdict_flag_changes_the_fingerprint_and_rebuilds(tmp_path):
    src = tmp_path / "src"
    write(src, "cloud.md", article("蓝鲸云盘上线", "新的蓝鲸云盘服务今天上线"))
    ix = tmp_path / "ix"
    assert run(ix, "index", str(src)).exit_code == 0
    assert json.loads(run(ix, "stats", "--json").stdout)["fingerprint"]["userdict"] == ""
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("蓝鲸云盘 10 n\n", encoding="utf-8")
    result = run(ix, "index", "--userdict", str(userdict))
    assert result.exit_code == 0 and result.stdout.startswith("rebuilt ")
    stats = json.loads(run(ix, "stats", "--json").stdout)
    assert stats["fingerprint"]["userdict"] and stats["documents"] == 1
    again = run(ix, "index", "--userdict", str(userdict))
    assert again.stdout.startswith("updated ") and "1 unchanged" in again.stdout
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("蓝鲸云盘 10 n\n".encode("gbk"))
    refused = run(ix, "index", "--userdict", str(bad))
    assert refused.exit_code == 2 and "is not UTF-8 text" in refused.stderr


def test_wait_flag_waits_for_the_other_writer(tmp_path):
    import threading
    import time

    from searcher.local.locking import writer_lock

    src = tmp_path / "src"
    write(src, "a.md", article("标题", "正文"))
    ix = tmp_path / "ix"
    held, release = threading.Event(), threading.Event()

    def other_writer():
        with writer_lock(ix):
            held.set()
            release.wait(10)
            time.sleep(1.0)

    thread = threading.Thread(target=other_writer)
    thread.start()
    held.wait(10)
    release.set()
    started = time.monotonic()
    result = run(ix, "index", str(src), "--wait", "30")
    waited = time.monotonic() - started
    thread.join()
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stdout and waited >= 0.8
    with writer_lock(ix):
        locked = run(ix, "index", str(src), "--wait", "0.5")
    assert locked.exit_code == 2 and "another process" in locked.stderr


def test_check_lists_stale_extra_and_missing_with_exit_1(tmp_path, docs):
    ix = tmp_path / "ix"
    assert run(ix, "index", str(docs)).exit_code == 0
    stale = docs / SEED_RELPATH
    stale.write_text(stale.read_text(encoding="utf-8") + "\n新增的一段。\n", encoding="utf-8")
    extra = next(p for p in sorted(docs.rglob("*.md")) if p != stale)
    extra.unlink()
    missing = write(docs, "news/new-article.md", article("新文章", "刚写好的文章"))
    result = run(ix, "check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"missing: {missing}", f"extra: {extra}", f"stale: {stale}"]
    assert lines[3].endswith("1 missing, 1 extra, 1 stale")
    data = json.loads(run(ix, "check", "--json").stdout)
    assert (data["missing"], data["extra"], data["stale"]) == (
        [str(missing)], [str(extra)], [str(stale)])
    assert run(ix, "index").exit_code == 0
    assert run(ix, "check").exit_code == 0


def test_index_verbose_lists_warnings(tmp_path, docs):
    ix = tmp_path / "ix"
    quiet = run(ix, "index", str(docs))
    assert quiet.exit_code == 0 and "1 warnings" in quiet.stdout
    assert "warning:" not in quiet.stderr
    verbose = run(ix, "index", str(docs), "--full", "--verbose")
    assert verbose.exit_code == 0
    warnings = [line for line in verbose.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and str(docs) in warnings[0]


# -- settings and misuse: one line, exit 2, nothing touched ----------------------------------

@pytest.mark.parametrize(("setting", "message"), [
    ('timezone = "Asia/Shangai"',
     'timezone = "Asia/Shangai": unknown time zone (did you mean "Asia/Shanghai"?); expected '
     'an IANA time zone name such as "Asia/Shanghai" or "UTC"'),
    ('pinyin = "false"',
     'pinyin = "false": a string, not a boolean (write it without quotes); expected true or '
     "false (in the environment: 0, 1, true, false, yes or no)"),
    ('max_bytes = "20 parsecs"',
     "max_bytes = \"20 parsecs\": unknown unit 'parsecs'; expected bytes as a whole number or "
     "with a unit (20MB, 512 KiB, 20M), from 64 KiB to 1 GiB"),
    ("pinyn = false",
     'unknown setting "pinyn" (did you mean "pinyin"?); expected one of index_dir, timezone, '
     "userdict, synonyms, pinyin, max_bytes, cache_bytes, follow_links, public, search_timeout, "
     "parse_seconds, parse_memory, drafts"),
])
def test_a_bad_setting_stops_the_run_before_any_file(tmp_path, docs, setting, message):
    config = tmp_path / "searcher.toml"
    config.write_text(f"[searcher]\n{setting}\n", encoding="utf-8")
    ix = tmp_path / "ix"
    result = CliRunner().invoke(app, ["index", str(docs), "-d", str(ix), "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {config}: {message}\n"
    assert result.stdout == "" and not ix.exists()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SEARCHER_PINYIN", "maybe", "not a yes/no value"),
    ("SEARCHER_MAX_BYTES", "20 parsecs", "unknown unit 'parsecs'"),
    ("SEARCHER_TIMEZONE", "Asia/Shangai", 'unknown time zone (did you mean "Asia/Shanghai"?)'),
    ("SEARCHER_FOLLOW_LINKS", "sometimes", "not a yes/no value"),
])
def test_a_bad_variable_stops_the_run(tmp_path, docs, variable, value, message):
    result = CliRunner().invoke(app, ["index", str(docs), "-d", str(tmp_path / "ix")],
                                env={variable: value})
    assert result.exit_code == 2
    assert result.stderr.startswith(f'error: environment variable {variable}="{value}": '
                                    f"{message}; expected ")
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "ix").exists()


def test_index_dir_on_a_regular_file_is_misuse(tmp_path, docs):
    afile = tmp_path / "afile"
    afile.write_text("not an index", encoding="utf-8")
    for args in (["index", str(docs)], ["search", "聊城"], ["stats"]):
        result = run(afile, *args)
        assert result.exit_code == 2
        assert result.stderr == (f'error: --index-dir "{afile}": {afile} is a file, not a '
                                 "folder; expected a folder path (created by the first "
                                 "'searcher index') or an OpenSearch location "
                                 "http(s)://host:port/NAME\n")
    under = run(afile / "ix", "index", str(docs))
    assert under.exit_code == 2
    assert f"{afile / 'ix'} is under {afile}, which is a file, not a folder" in under.stderr
    assert afile.read_text(encoding="utf-8") == "not an index"


# -- the disk and the operating system refuse ------------------------------------------------

@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_unwritable_index_folder_really_refused(docs):
    """/sys refuses new folders even to root (EPERM, or EROFS where it is mounted read-only)."""
    ix = Path("/sys/searcher-test-index")
    result = run(ix, "index", str(docs))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot use the index folder {ix}: ")
    assert result.stderr.rstrip().endswith(
        "; check its owner and permissions, or pass --index-dir")
    assert len(result.stderr.splitlines()) == 1 and not ix.exists()


def _refuse_writes(monkeypatch, folder: Path, error: int, skip: tuple[str, ...] = ()):
    """Make ``open()`` and ``os.open()`` for writing inside *folder* fail with *error*, as the
    kernel would for a folder the user may not write to (EACCES) or a full disk (ENOSPC)."""
    import builtins
    import errno as errno_module
    import os

    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        path = Path(os.fsdecode(file)) if isinstance(file, (str, bytes, os.PathLike)) else None
        if (path is not None and any(c in mode for c in "wax+")
                and folder in path.absolute().parents and path.name not in skip):
            raise OSError(error, os.strerror(error), str(path))
        return real_open(file, mode, *args, **kwargs)

    real_os_open = os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def guarded_os_open(file, flags, *args, **kwargs):
        path = Path(os.fsdecode(file))
        if flags & writing and folder in path.absolute().parents and path.name not in skip:
            raise OSError(error, os.strerror(error), str(path))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    return errno_module


def test_permission_denied_in_the_index_folder(tmp_path, docs, monkeypatch):
    import errno

    ix = tmp_path / "ix"
    ix.mkdir()
    _refuse_writes(monkeypatch, ix, errno.EACCES)
    result = run(ix, "index", str(docs))
    assert result.exit_code == 2
    assert result.stderr == (f"error: cannot use the index folder {ix}: Permission denied "
                             f"({ix / 'write.lock'}); check its owner and permissions, or "
                             "pass --index-dir\n")


def test_full_disk_during_indexing_keeps_the_last_commit(tmp_path, docs, monkeypatch):
    """ENOSPC raised by open() for every new file in the index except the lock file."""
    import errno

    ix = tmp_path / "ix"
    assert run(ix, "index", str(docs)).exit_code == 0
    before = json.loads(run(ix, "search", "聊城", "--json").stdout)
    write(docs, "news/new-article.md", article("聊城新闻", "聊城今天的新闻"))
    with monkeypatch.context() as patch:
        _refuse_writes(patch, ix, errno.ENOSPC, skip=("write.lock",))
        result = run(ix, "index")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot write {ix}/")
    assert result.stderr.endswith(": No space left on device; free some disk space and run the "
                                  "command again (the index keeps its last complete commit)\n")
    assert json.loads(run(ix, "search", "聊城", "--json").stdout) | {"elapsed_ms": 0} == (
        before | {"elapsed_ms": 0})
    assert run(ix, "index").exit_code == 0
    assert json.loads(run(ix, "search", "聊城", "--json").stdout)["total"] == before["total"] + 1


def test_file_size_limit_from_the_kernel(tmp_path, docs):
    """A real refusal by the kernel, as root too: RLIMIT_FSIZE makes writes past 4 KiB fail
    with EFBIG (what a full disk looks like to the writer, with another errno)."""
    ix = tmp_path / "ix"
    assert run(ix, "index", str(docs)).exit_code == 0
    write(docs, "news/new-article.md", article("聊城新闻", "聊城今天的新闻" * 200))
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
              "from searcher.cli import main\n"
              "sys.argv = ['searcher', 'index', '-d', sys.argv[1]]\n"
              "main()\n")
    proc = subprocess.run([sys.executable, "-c", script, str(ix)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot write")
    assert "free some disk space" in proc.stderr and len(proc.stderr.splitlines()) == 1
    check = run(ix, "check")
    assert check.exit_code == 1 and "missing: " in check.stdout   # the last commit, intact
    assert run(ix, "index").exit_code == 0 and run(ix, "check").exit_code == 0


def test_index_folder_removed_while_a_search_runs(tmp_path, docs, monkeypatch):
    import shutil

    from searcher.local.backend import LocalBackend

    ix = tmp_path / "ix"
    assert run(ix, "index", str(docs)).exit_code == 0
    opened = LocalBackend._index

    def open_then_remove(self):
        result = opened(self)
        shutil.rmtree(ix)   # another process deletes the folder mid-search
        return result

    monkeypatch.setattr(LocalBackend, "_index", open_then_remove)
    result = run(ix, "search", "聊城")
    assert result.exit_code == 2
    assert result.stderr == (f"error: the index folder {ix} was removed while the command was "
                             "using it: run 'searcher index SOURCE' to build it again\n")


# -- unexpected errors: exit 3, one line, the traceback kept -----------------------------------

def test_a_bug_exits_3_with_the_traceback_in_a_log(indexed, tmp_path, monkeypatch):
    import searcher.local.backend

    index_dir, _ = indexed
    monkeypatch.setenv("SEARCHER_CACHE_DIR", str(tmp_path / "cache"))

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(searcher.local.backend, "execute", broken)
    result = run(index_dir, "search", "聊城")
    assert result.exit_code == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("internal error: KeyError: 'a bug' (a bug in searcher; traceback in ")
    assert line.endswith("; --verbose prints it)")
    logs = list((tmp_path / "cache" / "errors").glob("searcher-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in line
    assert "Traceback" in logs[0].read_text(encoding="utf-8") and "broken" in logs[0].read_text()
    verbose = run(index_dir, "search", "聊城", "--verbose")
    assert verbose.exit_code == 3
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == (
        "internal error: KeyError: 'a bug' (a bug in searcher; the traceback is above)")


def test_a_bug_exits_3_in_a_real_process(indexed, tmp_path):
    """An OSError nobody planned for (here EIO) is a bug, never exit 0 or 1."""
    index_dir, _ = indexed
    script = ("import errno, sys\n"
              "import searcher.local.backend\n"
              "def broken(*a, **k):\n"
              "    raise OSError(errno.EIO, 'Input/output error')\n"
              "searcher.local.backend.execute = broken\n"
              "from searcher.cli import main\n"
              "sys.argv = ['searcher', 'search', '聊城', '-d', sys.argv[1]]\n"
              "main()\n")
    import os

    env = {**os.environ, "SEARCHER_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script, str(index_dir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("internal error: OSError: [Errno 5] Input/output error")
    (log,) = (tmp_path / "errors").glob("*.log")
    assert str(log) in proc.stderr and "OSError" in log.read_text(encoding="utf-8")


# -- bytes that are not UTF-8 on the command line --------------------------------------------

def test_gbk_query_bytes_are_read_as_gb18030(indexed):
    index_dir, _ = indexed
    base = [sys.executable.encode(), b"-m", b"searcher", b"search", b"-d", bytes(index_dir)]
    proc = subprocess.run([*base, "长江".encode("gbk"), b"--json"], cwd=ROOT,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode() == "note: query was not UTF-8; read it as GB18030: 长江\n"
    data = json.loads(proc.stdout)
    assert data["query"] == "长江" and data["hits"][0]["title"].startswith("長江中下游")
    proc = subprocess.run([*base, "认证认可".encode("gbk"), b"--author", "趣头条".encode("gbk"),
                           b"--json"], cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["total"] == 1
    assert proc.stderr.decode().splitlines() == [
        "note: query was not UTF-8; read it as GB18030: 认证认可",
        "note: --author was not UTF-8; read it as GB18030: 趣头条"]
    proc = subprocess.run([*base, b"\xff\xfe\x80"], cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode() == ("error: query is neither UTF-8 nor GB18030 text (bytes ff fe "
                                    "80): set the terminal to UTF-8 and type it again\n")


def test_undecodable_filters_in_process(indexed):
    index_dir, _ = indexed
    result = run(index_dir, "search", "聊城", "--tag", "\udcff")
    assert result.exit_code == 2
    assert result.stderr == ("error: --tag is neither UTF-8 nor GB18030 text (bytes ff): set the "
                             "terminal to UTF-8 and type it again\n")


def test_sqlite_on_a_full_disk_is_explained(tmp_path):
    """sqlite3 (pinyin table, query dictionary) reports a full database as its own error, not
    an OSError; max_page_count makes sqlite itself hit SQLITE_FULL."""
    import sqlite3

    from searcher.errors import storage_error

    con = sqlite3.connect(tmp_path / "t.sqlite")
    con.execute("PRAGMA max_page_count = 4")
    con.execute("CREATE TABLE t (x TEXT)")
    with pytest.raises(sqlite3.Error) as caught:
        con.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 100)
    con.close()
    assert str(storage_error(caught.value, tmp_path)) == (
        "cannot write: database or disk is full; free some disk space and run the command "
        "again (the index keeps its last complete commit)")
    readonly = sqlite3.connect(f"file:{tmp_path / 't.sqlite'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as caught:
        readonly.execute("INSERT INTO t VALUES ('x')")
    readonly.close()
    assert str(storage_error(caught.value, tmp_path)) == (
        f"cannot use the index folder {tmp_path}: attempt to write a readonly database; check "
        "its owner and permissions, or pass --index-dir")
    assert storage_error(sqlite3.OperationalError("no such table: t"), tmp_path) is None


def test_a_closed_output_pipe_is_not_success(indexed):
    """`searcher index --json | head`: exit 141 like a shell, never 0 or 1 (which would hide
    the outcome of the run)."""
    import os

    index_dir, _ = indexed
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "searcher", "search", "城市", "-d",
                               str(index_dir), "--json"], cwd=ROOT, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""
