"""The analysis fingerprint: every component that changes an index's contents is recorded, and
changing any of them makes searches warn and ``searcher index`` rebuild, naming what changed.

Each test really changes one component (the version source the fingerprint reads, a setting,
the stop-word data), re-indexes a copy of a real sample_docs index without ``--full``, and
checks that a new generation was built and that its terms, dates and pinyin are right.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import whoosh
from conftest import ROOT, SAMPLE_DOCS, SEED_RELPATH

from searcher import SearchEngine
from searcher.config import Settings
from searcher.core import fingerprint as schema
from searcher.local.inspection import internals
from searcher.local.whoosh_adapter import open_index

#: An article of sample_docs dated "2021-09-25 20:00:00", without a zone.
NAIVE_DATED = "tech/iphone-13-hands-on.md"
#: One dated "Tue, 12 Apr 2022 10:15:00 +0800".
ZONED = "tech/5g-smart-city.md"


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory):
    """Frozen query dictionaries of faked fingerprints go to a private cache, not ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEARCHER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """sample_docs indexed once with default settings: (docs folder, index folder)."""
    root = tmp_path_factory.mktemp("fp")
    docs = root / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    engine = SearchEngine(root / "ix")
    report = engine.index([docs])
    assert not report.failed and report.documents >= 10
    engine.close()
    return docs, root / "ix"


@pytest.fixture
def index(base, tmp_path) -> Path:
    """A private copy of the base index (its sources are the module's sample_docs copy)."""
    target = tmp_path / "ix"
    shutil.copytree(base[1], target)
    return target


def terms(index_dir: Path) -> set[tuple[str, bytes]]:
    """Every (field, term bytes) of the current generation, through Whoosh's public reader."""
    generation = internals(SearchEngine(index_dir)).root.current()
    with open_index(str(generation.path)).reader() as reader:
        return set(reader.all_terms())


def rebuild(index_dir: Path, caplog, **settings) -> tuple[str, str]:
    """Search (must warn), then index without --full (must rebuild): the two messages."""
    before = internals(SearchEngine(index_dir)).root.current().name
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="searcher"):
        engine = SearchEngine(index_dir, **settings)
        assert engine.search("认证认可").total >= 1
        warning = caplog.text
        caplog.clear()
        report = engine.index()
        message = caplog.text
        engine.close()
    assert "searcher index --full" in warning
    assert report.full and report.generation != before
    assert not report.failed
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="searcher"):  # now it matches: no warning
        again = SearchEngine(index_dir, **settings)
        assert again.search("认证认可").hits[0].path.endswith(SEED_RELPATH)
        assert again.index().full is False
        again.close()
    assert "different analysis settings" not in caplog.text
    assert "analysis changed" not in caplog.text
    return warning, message


def faked_version(monkeypatch, package: str, fake: str) -> None:
    """Make the fingerprint see *fake* as *package*'s installed version."""
    real = schema.package_version

    monkeypatch.setattr(schema, "package_version",
                        lambda name: fake if name == package else real(name))


# -- one test per component -------------------------------------------------------------


def test_unchanged_settings_do_not_rebuild(index, caplog):
    with caplog.at_level(logging.WARNING, logger="searcher"):
        engine = SearchEngine(index)
        engine.search("认证认可")
        report = engine.index()
    assert not report.full and report.unchanged == report.documents
    assert caplog.text == ""


def test_time_zone_change_rebuilds_with_dates_in_the_new_zone(base, index, caplog):
    docs = base[0]
    engine = SearchEngine(index)
    assert engine.get(str(docs / NAIVE_DATED)).date == dt.datetime(
        2021, 9, 25, 12, 0, tzinfo=dt.timezone.utc)  # 20:00 in Asia/Shanghai
    warning, message = rebuild(index, caplog, timezone="UTC")
    assert "time zone Asia/Shanghai → UTC" in warning
    assert "analysis changed (time zone Asia/Shanghai → UTC): rebuilding" in message
    engine = SearchEngine(index, timezone="UTC")
    assert engine.get(str(docs / NAIVE_DATED)).date == dt.datetime(
        2021, 9, 25, 20, 0, tzinfo=dt.timezone.utc)
    assert engine.get(str(docs / ZONED)).date == dt.datetime(
        2022, 4, 12, 2, 15, tzinfo=dt.timezone.utc)  # its own zone wins, as before
    # The stored date and the date filter agree: 20:00 UTC is after 15:00 UTC.
    hits = engine.search("iPhone", since="2021-09-25T15:00:00+00:00").hits
    assert [Path(h.path).relative_to(docs).as_posix() for h in hits] == [NAIVE_DATED]
    assert engine.stats().fingerprint["timezone"] == "UTC"


def test_user_dictionary_change_rebuilds_with_its_words(index, tmp_path, caplog):
    assert ("body", "世界认可日".encode()) not in terms(index)
    userdict = tmp_path / "words.txt"
    userdict.write_text("世界认可日 1000 n\n", encoding="utf-8")
    warning, message = rebuild(index, caplog, userdict=userdict)
    digest = schema.file_digest(userdict)
    assert f"user dictionary none → {digest}" in warning
    assert f"analysis changed (user dictionary none → {digest}): rebuilding" in message
    assert ("body", "世界认可日".encode()) in terms(index)


def test_stop_word_list_change_rebuilds_with_the_new_list(index):
    """A different stop list (stopwordsiso without 通过), in a real ``searcher`` process."""
    assert ("body", "通过".encode()) not in terms(index)
    script = ("import sys, stopwordsiso\n"
              "real = stopwordsiso.stopwords\n"
              "stopwordsiso.stopwords = lambda langs: set(real(langs)) - {'通过'}\n"
              "from searcher.cli import main\n"
              "sys.argv = ['searcher', '--index-dir', sys.argv[1], *sys.argv[2:]]\n"
              "main()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script, str(index), *args], env=env,
                              capture_output=True, text=True, timeout=300, cwd=ROOT)

    searched = cli("search", "认证认可")
    assert searched.returncode == 0, searched.stderr
    assert "stop-word list" in searched.stderr and "searcher index --full" in searched.stderr
    indexed = cli("index")
    assert indexed.returncode == 0, indexed.stderr
    new_digest = schema.stop_words_digest(schema.STOP_WORDS - {"通过"})
    assert (f"analysis changed (stop-word list {schema.stop_words_digest()} → {new_digest}): "
            "rebuilding") in indexed.stderr
    assert indexed.stdout.startswith("rebuilt ")
    assert ("body", "通过".encode()) in terms(index)
    assert SearchEngine(index).stats().fingerprint["stopwords"] == new_digest


@pytest.mark.parametrize("package, label", [
    ("jieba", "jieba"), ("opencc", "OpenCC"), ("pypinyin", "pypinyin")])
def test_package_version_change_rebuilds(index, caplog, monkeypatch, package, label):
    real = schema.package_version(package)
    before = terms(index)
    faked_version(monkeypatch, package, real + ".post9")
    warning, message = rebuild(index, caplog)
    change = f"{label} {real} → {real}.post9"
    assert change in warning
    assert f"analysis changed ({change}): rebuilding" in message
    assert terms(index) == before  # the same real packages did the rebuild: same terms
    engine = SearchEngine(index)
    assert engine.stats().fingerprint[package] == real + ".post9"
    assert engine.search("liaocheng").hits[0].path.endswith(SEED_RELPATH)  # pinyin rows rebuilt


def test_whoosh_version_change_rebuilds(index, caplog, monkeypatch):
    before = terms(index)
    monkeypatch.setattr(whoosh, "__version__", (2, 7, 5, 1))  # what the adapter reads
    warning, message = rebuild(index, caplog)
    assert "whoosh-reloaded 2.7.5 → 2.7.5.1" in warning
    assert "analysis changed (whoosh-reloaded 2.7.5 → 2.7.5.1): rebuilding" in message
    assert terms(index) == before


def test_unicode_data_change_rebuilds(index, caplog, monkeypatch):
    real = unicodedata.unidata_version
    before = terms(index)
    monkeypatch.setattr(unicodedata, "unidata_version", "99.0.0")
    warning, message = rebuild(index, caplog)
    assert f"Unicode data {real} → 99.0.0" in warning
    assert f"analysis changed (Unicode data {real} → 99.0.0): rebuilding" in message
    assert terms(index) == before


def test_schema_version_change_rebuilds(index, caplog, monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    warning, message = rebuild(index, caplog)
    change = f"schema version {schema.SCHEMA_VERSION - 1} → {schema.SCHEMA_VERSION}"
    assert change in warning and f"analysis changed ({change}): rebuilding" in message


def test_two_changes_are_both_named(index, caplog, monkeypatch):
    faked_version(monkeypatch, "opencc", "0.1")
    _warning, message = rebuild(index, caplog, timezone="Europe/Paris")
    assert "OpenCC " in message and " → 0.1; time zone Asia/Shanghai → Europe/Paris" in message


# -- migration --------------------------------------------------------------------------


def test_index_with_the_old_fingerprint_format_is_rebuilt(base, index, caplog):
    """Indexes built before whoosh, pypinyin, stop words, Unicode data and the time zone
    were recorded carry the old fingerprint; the first run rebuilds them by itself."""
    generation = internals(SearchEngine(index)).root.current()
    info = generation.info()
    info["fingerprint"] = {"schema": 2, "jieba": schema.package_version("jieba"),
                           "opencc": schema.package_version("opencc"), "userdict": "",
                           "options": {}}
    generation.write_info(info)
    before = terms(index)
    warning, message = rebuild(index, caplog)
    expected = ("the index records an older fingerprint, without whoosh-reloaded, "
                "Unicode data, stop-word list, pypinyin, time zone, article reader, drafts setting")
    assert expected in warning
    assert f"schema version 2 → {schema.SCHEMA_VERSION}: " in message
    assert f"{expected}): rebuilding" in message
    assert terms(index) == before
    engine = SearchEngine(index)
    assert engine.get(str(base[0] / NAIVE_DATED)).date == dt.datetime(
        2021, 9, 25, 12, 0, tzinfo=dt.timezone.utc)
    assert set(engine.stats().fingerprint) == set(schema.COMPONENTS)


def test_describe_change_names_each_component():
    current = schema.analysis_fingerprint(Settings())
    assert schema.describe_change(dict(current), current) == "no difference"
    assert schema.describe_change(None, current) == "the index records no analysis fingerprint"
    for key, label in schema.COMPONENTS.items():
        built = {**current, key: "old"}
        assert schema.describe_change(built, current).startswith(f"{label} old → ")
    extra = {**current, "options": {}}
    assert schema.describe_change(extra, current) == "fingerprint entries options no longer used"


# -- settings that are deliberately not in the fingerprint ------------------------------


def test_every_setting_is_classified():
    names = {f.name for f in dataclasses.fields(Settings)}
    classified = set(schema.ANALYSIS_SETTINGS) | set(schema.NON_ANALYSIS_SETTINGS)
    assert names <= classified, f"classify {names - classified} in searcher/local/schema.py"
    assert not set(schema.ANALYSIS_SETTINGS) & set(schema.NON_ANALYSIS_SETTINGS)
    fp = schema.analysis_fingerprint(Settings())
    for name in schema.ANALYSIS_SETTINGS:
        changed = {"timezone": "UTC", "userdict": SAMPLE_DOCS / SEED_RELPATH, "drafts": True}[name]
        assert schema.analysis_fingerprint(dataclasses.replace(Settings(), **{name: changed})) \
            != fp, name
    for name, value in (("pinyin", False), ("max_bytes", 1_000_000), ("cache_bytes", 1),
                        ("synonyms", SAMPLE_DOCS / SEED_RELPATH),
                        ("index_dir", Path("elsewhere"))):
        assert schema.analysis_fingerprint(dataclasses.replace(Settings(), **{name: value})) \
            == fp, name


def test_pinyin_setting_is_query_time_only(index):
    """Switching pinyin off and on needs no rebuild: the table is always written."""
    off = SearchEngine(index, pinyin=False)
    assert off.search("liaocheng").total == 0
    assert off.index().full is False
    on = SearchEngine(index, pinyin=True)
    assert on.index().full is False
    assert on.search("liaocheng").hits[0].path.endswith(SEED_RELPATH)


def test_max_bytes_takes_effect_incrementally(tmp_path):
    """A raised limit indexes the files it skipped on the next ordinary run, no rebuild."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    seed = (SAMPLE_DOCS / SEED_RELPATH).read_text(encoding="utf-8")
    for n in range(2):  # real articles, their bodies repeated past the smallest allowed limit
        (docs / f"long-{n}.md").write_text(seed + f"\n\n第{n}篇" + seed.split("---", 2)[2] * 20,
                                          encoding="utf-8")
    sizes = sorted(p.stat().st_size for p in docs.rglob("*") if p.is_file())
    limit = 64 * 1024
    assert sizes[-1] > limit > sizes[0]
    small = SearchEngine(tmp_path / "ix", max_bytes=limit)
    first = small.index([docs])
    skipped = [path for path, reason in first.failed if "limit" in reason]
    assert len(skipped) == 2 and first.documents < len(sizes)
    second = SearchEngine(tmp_path / "ix").index()
    assert not second.full and second.added == len(skipped) and not second.failed
    assert second.documents == first.documents + len(skipped)
