"""Suggestions as you type, on real documents (sample_docs, the make_corpus sample)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, needs_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypinyin import Style

from searcher import SearchEngine, Suggestion
from searcher.analysis.normalize import fold, squeeze
from searcher.local.inspection import internals


def texts(suggestions: list[Suggestion]) -> list[str]:
    return [s.text for s in suggestions]


@pytest.mark.parametrize(("prefix", "expected"), [
    ("认证", "认证认可"),  # a two-word phrase of the text
    ("認證", "认证认可"),  # traditional input
    ("聊", "聊城"),
    ("liaoc", "聊城"),  # pinyin prefix
    ("liaocheng", "聊城"),
    ("lc", "聊城"),  # initials
    ("LiaoC", "聊城"),
    ("iph", "iphone"),
])
def test_completions(sample_index, prefix, expected):
    engine, _ = sample_index
    assert expected in texts(engine.suggest(prefix))


def test_titles_are_suggested_as_written(sample_index):
    engine, _ = sample_index
    found = [s for s in engine.suggest("iphone 13", limit=10) if s.kind == "title"]
    assert [s.text for s in found] == ["iPhone 13 上手体验：续航提升明显，5G 信号更稳"]
    assert found[0].count == 1
    assert found[0].as_dict() == {"text": found[0].text, "count": 1, "kind": "title"}


def test_ranked_by_count_and_limited(sample_index):
    engine, _ = sample_index
    result = engine.suggest("l", limit=5)
    assert len(result) == 5
    counts = [s.count for s in result]
    assert counts == sorted(counts, reverse=True)
    assert len(engine.suggest("l", limit=500)) > 5
    assert engine.suggest("l", limit=0) == []


@pytest.mark.parametrize("bad", ["", "   ", "\ud800", "a\udfffb", "\x00", "\u200b", "(((",
                                 "x" * 10_000, None, 42])
def test_unusable_input_gives_nothing(sample_index, bad):
    engine, _ = sample_index
    assert engine.suggest(bad) == []  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(), max_size=12))
def test_never_raises_on_any_text(sample_index, prefix):
    engine, _ = sample_index
    result = engine.suggest(prefix, limit=5)
    assert isinstance(result, list) and len(result) <= 5


def _pinyin_keys(text: str) -> tuple[set[str], set[str]]:
    """Independent spellings: pypinyin's readings of each character (heteronyms)."""
    from itertools import product

    from pypinyin import pinyin

    readings = [pinyin(ch, style=Style.NORMAL, heteronym=True)[0] for ch in text]
    spelled = {"".join(c).replace("ü", "v") for c in product(*readings)}
    spelled |= {"".join(c) for c in product(*readings)}
    initials = {"".join(r[0] for r in c) for c in product(*readings)}
    return spelled, initials


@needs_shared
@pytest.mark.parametrize("prefix", ["经济", "中国", "国务", "习近", "发展", "会见", "新冠"])
def test_chinese_prefixes_on_news(corpus_2k, prefix):
    engine, _, _ = corpus_2k
    result = engine.suggest(prefix, limit=10)
    assert result, prefix
    counts = [s.count for s in result]
    assert counts == sorted(counts, reverse=True)
    for s in result:
        assert squeeze(fold(s.text)).startswith(prefix), s
        if s.kind == "title" and '"' not in s.text:
            titles = [h.title for h in engine.search(f'title:"{s.text}"', limit=1000).hits]
            assert s.count == sum(" ".join(t.split()) == s.text for t in titles)
        elif s.kind != "title":  # a word or phrase: every document holding it matches it as a query
            assert 1 <= s.count <= engine.search(f'"{s.text}"').total, s


@needs_shared
@pytest.mark.parametrize("prefix", ["jingj", "zhongg", "xijinp", "gwy", "zg", "jj"])
def test_pinyin_prefixes_on_news(corpus_2k, prefix):
    engine, _, _ = corpus_2k
    result = engine.suggest(prefix, limit=10)
    assert result, prefix
    for s in result:
        if s.kind == "title" or s.text.isascii():
            assert squeeze(fold(s.text)).startswith(prefix)
            continue
        spelled, initials = _pinyin_keys(s.text)
        assert any(k.startswith(prefix) for k in spelled | initials), (prefix, s)
    assert [s.count for s in result] == sorted((s.count for s in result), reverse=True)


@needs_shared
def test_known_completions_on_news(corpus_2k):
    engine, _, _ = corpus_2k
    assert "习近平" in texts(engine.suggest("xjp"))
    assert "习近平" in texts(engine.suggest("xijin"))
    assert "国务院" in texts(engine.suggest("國務"))


def test_deleted_titles_and_old_indexes(tmp_path: Path):
    """A deleted document's title goes; an index without suggestion data still suggests."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    title = "神舟十二号载人飞船发射成功 三名航天员进入太空"
    assert title in texts(engine.suggest("神舟十二号载人"))
    before = engine.suggest("shenzh")
    assert "神舟" in texts(before)

    files = list((tmp_path / "ix").glob("gen-*/*.suggest.*.npy"))
    assert files
    files += list((tmp_path / "ix").glob("gen-*/suggest.table"))
    # An index from before suggestion data and checksums (a search process saves the data
    # only for a segment without checksums: others are the index run's to rewrite).
    files += list((tmp_path / "ix").glob("gen-*/*sums"))
    for f in files:
        f.unlink()
    fresh = SearchEngine(tmp_path / "ix")
    from searcher.local import suggest as module

    internals(fresh).caches.suggest.clear()
    words = [s for s in fresh.suggest("shenzh") if s.kind != "phrase"]
    assert [s for s in before if s.kind != "phrase"] == words  # same, from the segment itself
    assert list((tmp_path / "ix").glob("gen-*/*.suggest.*.npy"))  # and saved for next time

    saved = list((tmp_path / "ix").glob(f"gen-*/{module.TABLE_FILE}"))
    assert len(saved) == 1  # the merged table, for the next process
    internals(fresh).caches.suggest.clear()
    assert [s for s in fresh.suggest("shenzh") if s.kind != "phrase"] == words  # loaded

    (docs / "news" / "shenzhou-12-launch.md").unlink()
    fresh.index([docs])
    assert title not in texts(fresh.suggest("神舟十二号载人"))  # the saved table is stale
    internals(fresh).caches.suggest.clear()
    assert title not in texts(fresh.suggest("神舟十二号载人"))  # and was replaced
    engine.close()
    fresh.close()


def test_cli_suggest(sample_index):
    from typer.testing import CliRunner

    from searcher.cli import app

    engine, _ = sample_index
    base = ["--index-dir", str(engine.settings.index_dir), "suggest"]
    result = CliRunner().invoke(app, [*base, "lc", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == [s.as_dict() for s in engine.suggest("lc", limit=3)]
    result = CliRunner().invoke(app, [*base, "认证"])
    assert result.exit_code == 0
    assert "认证认可" in result.output
    result = CliRunner().invoke(app, [*base, "   "])
    assert result.exit_code == 0


def test_both_lookup_strategies_agree(sample_index):
    """Walking the entries best first and partially sorting a key range give the same."""
    import bisect

    from searcher.local import suggest as module

    engine, _ = sample_index
    searcher = internals(engine).searcher()
    table = module.suggestion_table(searcher)
    prefixes = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["sh", "zh", "lc", "中", "国",
                                                                   "聊", "认证", "5", "c+"]
    for prefix in prefixes:
        lo = bisect.bisect_left(table.keys, prefix)
        hi = bisect.bisect_left(table.keys, prefix + module.END_KEY)
        for limit in (1, 5, 30):
            assert table.scan(prefix, limit) == table.partition(lo, hi, limit), prefix
            if len(prefix) == 1:  # precomputed; rare readings only fill what is left
                common = [table.texts[i] for i in table.partition(lo, hi, limit)]
                found = [s.text for s in table.lookup(prefix, limit)]
                assert found[:len(common)] == common
                rare = table.best(module.RARE + prefix, limit) if prefix.isalpha() else []
                assert found[len(common):] == [
                    table.texts[i] for i in rare if table.texts[i] not in common
                ][:limit - len(common)]


def test_indexing_prepares_the_table(tmp_path: Path, monkeypatch):
    """An index run that changed something merges and saves the table; searches load it."""
    from searcher.local import suggest as module

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    assert list((tmp_path / "ix").glob(f"gen-*/{module.TABLE_FILE}"))

    def no_merging(readers):
        raise AssertionError("the table should have been loaded, not merged")

    monkeypatch.setattr(module, "build_table", no_merging)
    assert "聊城" in texts(SearchEngine(tmp_path / "ix").suggest("liaoc"))
    engine.close()


def test_a_copied_index_loads_its_saved_table_instead_of_merging_again(tmp_path):
    """The saved suggestion table belongs to its segments, not to the folder's path: a
    copy of the index (a backup restored elsewhere) loads it; nothing is merged or saved."""
    import shutil

    from searcher import SearchEngine
    from searcher.local.suggest import TABLE_FILE

    first = SearchEngine(tmp_path / "ix")
    first.index([SAMPLE_DOCS])
    expected = texts(first.suggest("聊", 10))
    first.close()
    shutil.copytree(tmp_path / "ix", tmp_path / "copy")
    saved = next((tmp_path / "copy").glob(f"gen-*/{TABLE_FILE}"))
    before = saved.stat().st_mtime_ns, saved.read_bytes()
    with SearchEngine(tmp_path / "copy") as copy:
        assert texts(copy.suggest("聊", 10)) == expected
    assert (saved.stat().st_mtime_ns, saved.read_bytes()) == before


def _lookups(table, prefixes: list[str]) -> list[list[Suggestion]]:
    return [table.lookup(p, limit) for p in prefixes for limit in (1, 7, 100)]


def _prefixes(table) -> list[str]:
    """Prefixes of every kind from the table's own keys (words, titles, pinyin, initials)."""
    keys = table.keys if hasattr(table, "keys") else table.base.keys
    picked = [keys[i] for i in range(0, len(keys), max(1, len(keys) // 150))]
    found = {k[:n] for k in picked for n in (1, 2, 3) if k and k[0] != "\x01"}
    return sorted(found) + list("abcdefghijklmnopqrstuvwxyz")


@needs_shared
def test_incremental_runs_update_the_table_exactly_without_rebuilding_its_base(
        tmp_path: Path, monkeypatch):
    """An index run rebuilds only the small table over the saved base (the large segments):
    the base file stays as it was, and every lookup answers exactly as a table merged from
    all segments would, through added, deleted and edited articles, words moving into and
    out of the pinyin-keyed set, and the base being folded again once it is outgrown."""
    import subprocess
    import sys

    from conftest import SHARED

    from searcher.local import suggest as module
    from searcher.local import whoosh_adapter

    monkeypatch.setattr(whoosh_adapter, "LARGE_SEGMENT_DOCS", 60)
    monkeypatch.setattr(module, "LARGE_SEGMENT_DOCS", 60)
    monkeypatch.setattr(module, "MAX_PINYIN_WORDS", 400)
    src = tmp_path / "corpus"
    subprocess.run([sys.executable, str(SHARED / "tools" / "make_corpus.py"), str(src),
                    "--limit", "420"], check=True, capture_output=True)
    files = sorted(src.rglob("*.md"))
    held = tmp_path / "held"
    for path in files[300:]:  # added later
        target = held / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src], jobs=1, batch_size=100)

    def check(expect_tiered: bool = True) -> None:
        searcher = internals(engine).searcher()
        readers = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
        internals(engine).caches.suggest.clear()
        table = module.suggestion_table(searcher)  # as the index run saved it
        assert isinstance(table, module.TieredTable) or not expect_tiered
        whole = module.build_table(readers)
        prefixes = _prefixes(whole)
        assert _lookups(table, prefixes) == _lookups(whole, prefixes)

    base_file = next((tmp_path / "ix").glob(f"gen-*/{module.BASE_FILE}"))
    saved = base_file.read_bytes()
    check(expect_tiered=False)
    for path in files[:12]:  # deleted: their titles leave the base's counts
        path.unlink()
    for path in files[20:26]:  # edited
        path.write_text(path.read_text(encoding="utf-8").replace("新闻联播", "联播快讯"),
                        encoding="utf-8")
    for path in sorted(held.rglob("*.md"))[:40]:  # added: a small segment
        target = src / path.relative_to(held)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    report = engine.index([src], jobs=1, batch_size=100)
    assert (report.added, report.deleted, report.updated) == (40, 12, 6)
    assert base_file.read_bytes() == saved  # not rebuilt
    check(expect_tiered=True)

    for path in sorted(held.rglob("*.md")):  # a large segment: the base is outgrown
        target = src / path.relative_to(held)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    engine.index([src], jobs=1, batch_size=100)
    assert base_file.read_bytes() != saved
    check(expect_tiered=True)
    for name in (module.TABLE_FILE, module.BASE_FILE):  # plain arrays, no pickle
        data = next((tmp_path / "ix").glob(f"gen-*/{name}")).read_bytes()
        meta, arrays = module.decode_arrays(data)
        assert meta["version"] == module.TABLE_VERSION and arrays["counts"].dtype == "int32"
    assert not list((tmp_path / "ix").glob("gen-*/*.pickle"))
    engine.close()


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_saved_table_is_named_and_never_changes_an_answer(tmp_path: Path,
                                                                    monkeypatch, how: str):
    """The saved tables carry a CRC32 footer: ``check --deep`` names a damaged one, and a
    search ignores it (a warning), merges the table again and saves it whole."""
    from searcher import IndexCorruptError
    from searcher.local import suggest as module
    from searcher.local import whoosh_adapter

    monkeypatch.setattr(whoosh_adapter, "LARGE_SEGMENT_DOCS", 1)
    monkeypatch.setattr(module, "LARGE_SEGMENT_DOCS", 1)  # the sample's segment is a base
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([docs])
        want = engine.suggest("liaoc")
    assert "聊城" in texts(want)
    for name in (module.BASE_FILE, module.TABLE_FILE):
        path = next((tmp_path / "ix").glob(f"gen-*/{name}"))
        data = bytearray(path.read_bytes())
        if how == "flip":
            data[len(data) // 2] ^= 0x55
        else:
            del data[len(data) // 2:]
        path.write_bytes(bytes(data))
        assert module.table_problem(path)
        with SearchEngine(tmp_path / "ix") as engine:
            with pytest.raises(IndexCorruptError) as caught:
                engine.check(deep=True)
            assert str(path) in caught.value.files
            assert engine.suggest("liaoc") == want
        assert module.table_problem(path) is None  # saved again, whole
