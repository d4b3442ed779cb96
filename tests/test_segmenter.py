"""Our precise-mode cut (indexing) and the frozen-dictionary query segmenter must cut
exactly like jieba's own code."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SHARED, article, needs_shared, write

from searcher import SearchEngine
from searcher.analysis.normalize import fold
from searcher.analysis.segmenter import (
    FILE_NAME,
    QuerySegmenter,
    dictionary_fingerprint,
    install_dictionary,
)
from searcher.analysis.tokens import load_userdict, segment_han
from searcher.config import Settings
from searcher.core.fingerprint import analysis_fingerprint, dictionary_key
from searcher.ingest.documents import load_document
from searcher.local.inspection import internals

HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def key(userdict: Path | None = None) -> str:
    """The key the index gives the frozen dictionary of a jieba with *userdict* loaded."""
    return dictionary_key(analysis_fingerprint(Settings(userdict=userdict)))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Frozen dictionaries go to a fresh folder per test, never to the real ~/.cache
    (a dictionary left there by an earlier run would hide a missing rebuild)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SEARCHER_CACHE_DIR", str(cache))
    yield cache
    load_userdict(None)  # jieba is process-global: leave it without a user dictionary


def frozen(cache: Path) -> list[Path]:
    return sorted(cache.glob("querydict-*.sqlite"))


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory) -> QuerySegmenter:
    base = tmp_path_factory.mktemp("dict")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEARCHER_CACHE_DIR", str(base / "cache"))
        load_userdict(None)
        path = base / FILE_NAME
        install_dictionary(path, key(), lambda: segment_han("初始化"))
        assert len(frozen(base / "cache")) == 1  # frozen here, not copied from elsewhere
    return QuerySegmenter(path)


def jieba_cut(run: str) -> list[str]:
    """jieba's own precise mode (HMM on) on a Han run: the reference."""
    import jieba

    segment_han("初始化")  # jieba loaded and set up the way indexing sets it up
    return list(jieba.dt._Tokenizer__cut_DAG(run))


def han_runs(folders) -> list[str]:
    runs: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.md")):
            doc = load_document(path, folder)
            runs.extend(HAN_RUN.findall(fold(doc.title + "\n" + doc.body)))
    return runs


def test_identical_to_jieba_on_sample_docs(segmenter):
    runs = han_runs([SAMPLE_DOCS])
    assert len(runs) > 100
    for run in runs:
        expected = jieba_cut(run)
        assert segment_han(run) == expected, run
        assert segmenter.cut(run) == expected, run


@needs_shared
def test_identical_to_jieba_on_the_real_feed():
    runs = han_runs([SHARED / "corpus" / "rsshub"])
    assert len(runs) > 1000
    for run in runs:
        assert segment_han(run) == jieba_cut(run), run


def test_identical_to_jieba_on_query_sized_pieces(segmenter):
    folders = [SAMPLE_DOCS] + ([SHARED / "corpus" / "rsshub"]
                               if (SHARED / "corpus" / "rsshub").is_dir() else [])
    text = "".join(han_runs(folders))
    rng = random.Random(5)
    for _ in range(3000):
        size = rng.randint(1, 12)
        start = rng.randrange(0, len(text) - size)
        piece = text[start : start + size]
        assert segmenter.cut(piece) == jieba_cut(piece), piece


def test_unknown_names_go_through_the_hmm(segmenter):
    for name in ["记者侯梦茹通讯员李兆敏", "袁荣谦带领认证认可科", "茌平区东昌府区"]:
        assert segmenter.cut(name) == segment_han(name) == jieba_cut(name)


def test_frozen_dictionaries_are_cached_per_fingerprint(tmp_path, isolated_cache):
    """A user dictionary's words are frozen too; another fingerprint freezes again, and
    an earlier one is copied from the cache, never re-frozen."""
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("蓝鲸云盘 100 n\n", encoding="utf-8")
    plain, with_word = key(), \
        key(userdict)
    assert plain != with_word
    loads: list[str] = []

    def loader(words: Path | None):
        return lambda: (loads.append(str(words)), load_userdict(words))

    target = tmp_path / FILE_NAME
    install_dictionary(target, plain, loader(None))
    assert QuerySegmenter(target).cut("蓝鲸云盘") != ["蓝鲸云盘"]
    install_dictionary(target, with_word, loader(userdict))
    assert dictionary_fingerprint(target) == with_word
    assert QuerySegmenter(target).cut("蓝鲸云盘") == ["蓝鲸云盘"]
    assert loads == ["None", str(userdict)] and len(frozen(isolated_cache)) == 2

    def must_not_freeze():
        raise AssertionError("the frozen dictionary of this fingerprint is cached")

    install_dictionary(target, plain, must_not_freeze)  # jieba still has the user word
    assert dictionary_fingerprint(target) == plain
    assert QuerySegmenter(target).cut("蓝鲸云盘") != ["蓝鲸云盘"]


def test_an_edited_user_dictionary_rebuilds_the_query_dictionary(tmp_path, isolated_cache):
    """Editing the user dictionary in place changes the fingerprint: the next index run
    rebuilds, freezes a new query dictionary, and queries segment the new word whole."""
    src = tmp_path / "src"
    write(src, "cloud.md", article("产品发布", "今天讨论蓝鲸云盘的发布，赤焰数据湖也上线了。"))
    write(src, "other.md", article("别的", "蓝色的鲸鱼，红色的火焰，数据和湖泊。"))
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("蓝鲸云盘 100 n\n", encoding="utf-8")

    def query_cut(text: str) -> list[str]:
        engine = SearchEngine(tmp_path / "ix", userdict=userdict)  # a new process, in effect
        cut = internals(engine).query_context().cut
        assert cut is not None  # the frozen dictionary matches the index's fingerprint
        return cut(text)

    SearchEngine(tmp_path / "ix", userdict=userdict).index([src], jobs=1)
    first = internals(SearchEngine(tmp_path / "ix")).root.current().path / FILE_NAME
    assert query_cut("蓝鲸云盘") == ["蓝鲸云盘"]
    assert query_cut("赤焰数据湖") != ["赤焰数据湖"]

    userdict.write_text("蓝鲸云盘 100 n\n赤焰数据湖 100 n\n", encoding="utf-8")
    report = SearchEngine(tmp_path / "ix", userdict=userdict).index([src], jobs=1)
    assert report.full  # the fingerprint changed with the dictionary's content
    second = internals(SearchEngine(tmp_path / "ix")).root.current().path / FILE_NAME
    assert second != first
    assert dictionary_fingerprint(second) == key(userdict)
    assert query_cut("赤焰数据湖") == ["赤焰数据湖"]
    assert query_cut("蓝鲸云盘") == ["蓝鲸云盘"]
    assert len(frozen(isolated_cache)) == 2
    hits = SearchEngine(tmp_path / "ix", userdict=userdict).search("赤焰数据湖").hits
    assert [h.title for h in hits] == ["产品发布"]


def test_frozen_dictionary_leaves_out_the_prefix_entries(segmenter):
    """The file keeps jieba's words, not the zero-frequency prefix entries jieba adds for
    its word graph (about 30 % of its rows); the segmenter derives them from the words it
    finds, so it still cuts exactly like jieba (the tests above)."""
    import sqlite3

    import jieba

    segment_han("初始化")
    freq = jieba.dt.FREQ
    con = sqlite3.connect(segmenter.path)
    try:
        stored = dict(con.execute("SELECT word, f FROM freq"))
        (pages,) = con.execute("PRAGMA freelist_count").fetchone()
    finally:
        con.close()
    left_out = freq.keys() - stored.keys()
    assert len(left_out) > 0.25 * len(freq)
    assert all(freq[w] == 0 for w in left_out)
    assert all(stored[w] == freq[w] for w in stored)
    assert pages == 0  # written compact
    # a word found brings its prefixes: 阿坝藏族羌族自治州 walks through 阿坝藏, 阿坝藏族 ...
    found = segmenter._lookup("阿坝藏族羌族自治州")
    assert found["阿坝藏"] == 0 and found["阿坝藏族羌族自治州"] > 0
    assert segmenter.cut("阿坝藏族羌族自治州") == jieba_cut("阿坝藏族羌族自治州")
