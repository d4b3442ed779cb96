"""Search that never misses: phrases, verbatim matches, traditional script, pinyin,
Latin tokens, user dictionaries and synonyms — on sample_docs and the real corpus."""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path

import pytest
from conftest import article, write
from rawtext import raw_title_body, squeezed

from searcher import SearchEngine
from searcher.local.inspection import internals


def texts(engine: SearchEngine, folder: Path) -> dict[str, tuple[str, str]]:
    """path → (squeezed title, squeezed body) of every article under *folder*: the ground
    truth, read from the raw files by tests/rawtext.py (PyYAML, BeautifulSoup or a tag
    regex, markdown-it, unicodedata + OpenCC), never from the index or searcher's folding."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".md", ".html"):
            title, body = raw_title_body(path)
            out[os.path.realpath(path)] = (squeezed(title), squeezed(body))
    assert engine.stats().documents == len(out)  # every file is indexed, nothing else
    return out


def containing(truth: dict[str, tuple[str, str]], needle: str) -> set[str]:
    needle = squeezed(needle)
    return {i for i, (t, b) in truth.items() if needle in t or needle in b}


def all_ids(engine: SearchEngine, query: str) -> set[str]:
    results = engine.search(query, limit=1000)
    ids = {os.path.realpath(h.path) for h in results.hits}
    assert results.total == len(ids) or len(ids) == 1000
    return ids


def assert_same(engine: SearchEngine, query: str, expected: set[str]) -> None:
    results = engine.search(query, limit=1000)
    assert results.total == len(expected), query
    assert {os.path.realpath(h.path) for h in results.hits} <= expected, query


def random_substrings(truth, rng: random.Random, count: int) -> list[str]:
    bodies = [b for _, b in truth.values() if len(b) > 20]
    picks = []
    while len(picks) < count:
        body = rng.choice(bodies)
        size = rng.randint(1, 8)
        start = rng.randrange(0, len(body) - size)
        piece = body[start : start + size]
        if re.search(r"[\u4e00-\u9fff]", piece) and '"' not in piece:
            picks.append(piece)
    return picks


# -- exact phrases and verbatim matches ------------------------------------------------


def test_quoted_phrases_equal_a_substring_scan(sample_index):
    engine, docs = sample_index
    truth = texts(engine, docs)
    for needle in random_substrings(truth, random.Random(7), 150) + ["城市场", "认证认可检验"]:
        assert all_ids(engine, f'"{needle}"') == containing(truth, needle), needle


def test_unquoted_queries_keep_every_verbatim_match(sample_index):
    engine, docs = sample_index
    truth = texts(engine, docs)
    for needle in random_substrings(truth, random.Random(11), 150):
        if not re.fullmatch(r"[\u4e00-\u9fff]+", needle):
            continue
        assert containing(truth, needle) <= all_ids(engine, needle), needle


def test_word_matches_rank_above_ngram_only_matches(tmp_path):
    src = tmp_path / "src"
    write(src, "word.md", article("城市建设", "城市建设稳步推进，城市面貌焕然一新。"))
    write(src, "ngram.md", article("聊城市场", "聊城市场监管局开展检查。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    hits = engine.search("城市").hits
    assert [h.title for h in hits] == ["城市建设", "聊城市场"]
    assert [h.title for h in engine.search("城市场").hits] == ["聊城市场"]


@pytest.mark.slow
def test_phrase_recall_and_precision_on_real_corpus(corpus_2k):
    engine, corpus, _ = corpus_2k
    truth = texts(engine, corpus)
    for needle in random_substrings(truth, random.Random(3), 60):
        assert_same(engine, f'"{needle}"', containing(truth, needle))


# -- traditional script -----------------------------------------------------------------


def test_traditional_query_ranks_like_simplified(sample_index):
    engine, _ = sample_index
    for simplified, traditional in [("认证认可", "認證認可"), ("长江", "長江"),
                                    ("监管局", "監管局"), ('"城市场"', '"城市場"')]:
        a, b = engine.search(simplified), engine.search(traditional)
        assert a.total >= 1
        assert [h.id for h in a.hits] == [h.id for h in b.hits]
        assert [round(h.score, 6) for h in a.hits] == [round(h.score, 6) for h in b.hits]


@pytest.mark.slow
def test_traditional_query_on_real_corpus(corpus_2k):
    import opencc

    engine, _, _ = corpus_2k
    to_trad = opencc.OpenCC("s2t")
    reader = internals(engine).searcher().reader()
    titles = [stored["title"] for _, stored in reader.iter_docs()][:200:20]
    for title in titles:
        query = title[:8]
        a, b = engine.search(query), engine.search(to_trad.convert(query))
        assert [h.id for h in a.hits] == [h.id for h in b.hits], query


# -- pinyin -------------------------------------------------------------------------------


@pytest.fixture
def pinyin_engine(tmp_path):
    src = tmp_path / "src"
    write(src, "liaocheng.md", article("聊城新闻", "聊城市召开会议。"))
    write(src, "latin.md", article("Liaocheng travel notes", "We visited Liaocheng last year."))
    write(src, "river.md", article("长江", "长江流域防汛。"))
    write(src, "classic.md", article("经典", "经典作品。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    return engine, tmp_path


def titles(results) -> list[str]:
    return [h.title for h in results.hits]


def test_pinyin_matches_whole_words_below_literal(pinyin_engine):
    engine, _ = pinyin_engine
    assert titles(engine.search("liaocheng")) == ["Liaocheng travel notes", "聊城新闻"]
    assert "聊城新闻" in titles(engine.search("liao cheng"))
    assert titles(engine.search("changjiang")) == ["长江"]
    assert titles(engine.search("Chang Jiang")) == ["长江"]


def test_pinyin_is_precise(pinyin_engine):
    engine, _ = pinyin_engine
    for near_miss in ["liaoc", "lc", "liao", "changjian", "jingdia", "liaochen"]:
        assert "聊城新闻" not in titles(engine.search(near_miss)), near_miss
        assert "长江" not in titles(engine.search(near_miss)), near_miss
    # toneless syllables are exact: jingdian spells 经典 (and 景点), nothing else
    assert titles(engine.search("jingdian")) == ["经典"]


def test_pinyin_can_be_switched_off(pinyin_engine):
    _, base = pinyin_engine
    engine = SearchEngine(base / "ix", pinyin=False)
    assert titles(engine.search("liaocheng")) == ["Liaocheng travel notes"]
    assert engine.search("changjiang").total == 0


def test_pinyin_learns_the_words_of_new_documents(pinyin_engine):
    engine, base = pinyin_engine
    assert titles(engine.search("shanghai")) == []
    write(base / "src", "new.md", article("上海", "上海举办进博会。"))
    report = engine.index([base / "src"])
    assert report.added == 1 and report.unchanged == 4
    assert titles(engine.search("shanghai")) == ["上海"]
    assert "聊城新闻" in titles(engine.search("liaocheng"))  # older rows kept


def test_a_missing_pinyin_table_is_rebuilt_from_the_index(pinyin_engine):
    from searcher.analysis.lexicon import PINYIN_FILE

    engine, base = pinyin_engine
    table = internals(engine).root.current().path / PINYIN_FILE
    table.unlink()
    report = engine.index([base / "src"])
    assert report.added == 0 and table.exists()
    assert "聊城新闻" in titles(SearchEngine(base / "ix").search("liaocheng"))


# -- Latin letters, digits and symbols ------------------------------------------------------


@pytest.mark.parametrize(("query", "title_part"), [
    ("A320", "A320"), ("a320", "A320"), ("COVID-19", "A320"), ("covid", "A320"),
    ("5G", "5G"), ("C++", "C++"), ("iPhone 13", "iPhone 13"), ("IPHONE", "iPhone 13"),
    ("3.6.3", "3.6.3"), ("３.６.３", "3.6.3"),
])
def test_latin_tokens(sample_index, query, title_part):
    engine, _ = sample_index
    hits = engine.search(query).hits
    assert hits and title_part in hits[0].title


def test_version_numbers_do_not_match_their_digits(tmp_path):
    src = tmp_path / "src"
    write(src, "v.md", article("升级到 3.6.3", "版本 3.6.3 修复了问题。"))
    write(src, "digits.md", article("数字", "有 3 个苹果和 6 个梨，还有 36.3 度。"))
    write(src, "wide.md", article("型号", "型号ＡＢＣ１２３已经上市，C# 与 c++ 都支持。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    assert titles(engine.search("3.6.3")) == ["升级到 3.6.3"]
    assert titles(engine.search("abc123")) == ["型号"]
    assert titles(engine.search("ＡＢＣ１２３")) == ["型号"]
    assert titles(engine.search("c#")) == ["型号"]
    assert titles(engine.search("C++")) == ["型号"]


# -- user dictionary, fingerprint and synonyms --------------------------------------------


def test_user_dictionary_changes_segmentation_and_fingerprint(tmp_path, caplog):
    src = tmp_path / "src"
    write(src, "a.md", article("新词", "今天讨论蓝鲸云盘的发布，蓝鲸云盘很好用。"))
    write(src, "b.md", article("别的", "蓝色的鲸鱼在云端，盘子很多。"))
    plain = SearchEngine(tmp_path / "ix")
    plain.index([src])
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("蓝鲸云盘 100 n\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="searcher"):
        SearchEngine(tmp_path / "ix", userdict=userdict).search("蓝鲸云盘")
    assert "searcher index --full" in caplog.text
    report = SearchEngine(tmp_path / "ix", userdict=userdict).index([src])
    assert report.full  # a changed fingerprint rebuilds
    engine = SearchEngine(tmp_path / "ix", userdict=userdict)
    assert engine.stats().fingerprint["userdict"]
    assert titles(engine.search("蓝鲸云盘")) == ["新词"]


def test_user_dictionary_from_config_file_and_environment(tmp_path, monkeypatch):
    from searcher import load_settings

    (tmp_path / "words.txt").write_text("蓝鲸云盘\n", encoding="utf-8")
    (tmp_path / "syn.txt").write_text("新冠,新型冠状病毒\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("蓝鲸网盘\n", encoding="utf-8")  # settings are checked
    (tmp_path / "searcher.toml").write_text(
        '[searcher]\nuserdict = "words.txt"\nsynonyms = "syn.txt"\n', encoding="utf-8")
    settings = load_settings(tmp_path / "searcher.toml")
    assert settings.userdict == tmp_path / "words.txt"
    assert settings.synonyms == tmp_path / "syn.txt"
    monkeypatch.setenv("SEARCHER_USERDICT", str(tmp_path / "other.txt"))
    assert load_settings(tmp_path / "searcher.toml").userdict == tmp_path / "other.txt"


def test_synonyms_expand_queries(sample_index, tmp_path):
    engine, docs = sample_index
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("# groups\n新冠,新型冠状病毒,COVID-19\n", encoding="utf-8")
    assert engine.search("新冠").total == 0 or "A320" not in engine.search("新冠").hits[0].title
    with_synonyms = SearchEngine(engine.settings.index_dir, synonyms=synonyms)
    hits = with_synonyms.search("新冠").hits
    assert hits and "A320" in hits[0].title
    assert any(hits[0].snippet[s:e].upper() == "COVID-19" for s, e in hits[0].highlights)


def test_quantities_need_the_exact_number(tmp_path):
    src = tmp_path / "src"
    write(src, "pct.md", article("增长", "同比增长30%，达到4万人。"))
    write(src, "day.md", article("日期", "3月30日，有14万人参加，占比 2.1%。"))
    write(src, "spaced.md", article("间隔", "增幅为 30 % 左右。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([src])
    assert sorted(titles(engine.search("30%"))) == ["增长", "间隔"]
    assert titles(engine.search("4万")) == ["增长"]  # not 14万
    assert titles(engine.search("14万")) == ["日期"]
    assert titles(engine.search("2.1%")) == ["日期"]
    assert titles(engine.search("30")) != []
    assert set(titles(engine.search('"4万"'))) == {"增长", "日期"}  # a phrase is a substring
