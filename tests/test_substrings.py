"""Exact substring ("quoted phrase") matching through a real SearchEngine index."""

from __future__ import annotations

from pathlib import Path

import pytest

from searcher import SearchEngine


def article(title: str, body: str, extra: str = "") -> str:
    return f"---\ntitle: {title}\ndate: 2023-05-01 08:00:00\n{extra}---\n{body}\n"


ARTICLES = {
    "liaocheng.md": article("聊城新闻", "今天聊城市场监管局召开会议。"),
    "smart.md": article("智慧应用", "智慧城 市场景应用越来越多。"),  # space inside 城 市场
    "city.md": article("城市建设", "城市发展很快，没有那个词。"),  # only 城市
    "trad.md": article("繁體文章", "這是繁體的認證認可工作。"),
    "simp.md": article("简体文章", "这是简体的认证认可工作。"),
    "title_only.md": article("城市场调研报告", "正文里没有关键字。"),
    "boundary.md": article("标题结尾是城", "市场开头的正文。"),
    "latin.md": article("Latin", "Version ＡＢＣ-123 of the Tool."),
    "z1.md": article("前一篇", "终点城"),
    "z2.md": article("市场报告", "后一篇的正文。"),
}


def write_docs(folder: Path, articles: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")


def names(engine: SearchEngine, query: str) -> set[str]:
    results = engine.search(query, limit=100)
    got = {Path(hit.path).name for hit in results.hits}
    assert results.total == len(got)
    return got


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("substrings")
    write_docs(root / "docs", ARTICLES)
    eng = SearchEngine(root / "ix")
    report = eng.index([root / "docs"], jobs=1)
    assert report.added == len(ARTICLES)
    assert report.failed == []
    yield eng
    eng.close()


def test_substring_across_word_boundaries(engine) -> None:
    # jieba cuts 聊城/市场 and 智慧/城/市场景: no term is 城市场, but the phrase matches
    assert names(engine, '"城市场"') == {"liaocheng.md", "smart.md", "title_only.md"}


def test_plain_word_is_not_the_substring(engine) -> None:
    assert "city.md" in names(engine, '"城市"')
    assert "city.md" not in names(engine, '"城市场"')


def test_whitespace_in_phrase_and_document_is_ignored(engine) -> None:
    expected = {"liaocheng.md", "smart.md", "title_only.md"}
    assert names(engine, '"城 市场"') == expected
    assert names(engine, '"城  市 场"') == expected
    assert names(engine, '"城市场景"') == {"smart.md"}


def test_traditional_query_matches_simplified_doc(engine) -> None:
    assert names(engine, '"認證認可"') == {"trad.md", "simp.md"}
    assert names(engine, '"认证认可"') == {"trad.md", "simp.md"}
    assert names(engine, '"城市場"') == {"liaocheng.md", "smart.md", "title_only.md"}


def test_full_width_and_case_folded(engine) -> None:
    assert names(engine, '"abc-123"') == {"latin.md"}
    assert names(engine, '"ＡＢＣ－１２３ of"') == {"latin.md"}
    assert names(engine, '"the tool"') == {"latin.md"}


def test_title_only_occurrence(engine) -> None:
    assert names(engine, '"调研报告"') == {"title_only.md"}
    assert names(engine, 'title:"城市场"') == {"title_only.md"}


def test_one_character_phrase(engine) -> None:
    assert names(engine, '"聊"') == {"liaocheng.md"}
    assert names(engine, '"景"') == {"smart.md"}


def test_phrase_does_not_span_title_and_body(engine) -> None:
    # boundary.md: title ends with 城, body starts with 市场
    assert "boundary.md" not in names(engine, '"城市场"')
    assert names(engine, '"是城市"') == set()
    assert names(engine, '"是城"') == {"boundary.md"}
    assert names(engine, '"市场开头"') == {"boundary.md"}


def test_phrase_does_not_span_documents(engine) -> None:
    # z1.md's body ends with 终点城, z2.md's title starts with 市场
    assert names(engine, '"终点城"') == {"z1.md"}
    assert names(engine, '"终点城市"') == set()


def test_missing_substring(engine) -> None:
    assert names(engine, '"不存在的短语"') == set()


def test_phrase_hits_are_highlighted(engine) -> None:
    hits = {Path(h.path).name: h for h in engine.search('"城市场"').hits}
    smart = hits["smart.md"]
    assert [smart.snippet[s:e] for s, e in smart.highlights] == ["城 市场"]
    title_only = hits["title_only.md"]
    assert [title_only.title[s:e] for s, e in title_only.title_highlights] == ["城市场"]


# -- re-indexing ---------------------------------------------------------------


def _edit_and_delete(docs: Path) -> None:
    (docs / "smart.md").write_text(
        article("智慧应用（修订）", "修订后只剩城市两个字，没有别的了，再加一些内容。"),
        encoding="utf-8",
    )
    (docs / "liaocheng.md").unlink()


@pytest.fixture
def reindexed(tmp_path):
    docs = tmp_path / "docs"
    write_docs(docs, {k: ARTICLES[k] for k in ("liaocheng.md", "smart.md", "city.md")})
    eng = SearchEngine(tmp_path / "ix")
    eng.index([docs], jobs=1)
    assert names(eng, '"城市场"') == {"liaocheng.md", "smart.md"}  # opens a searcher
    _edit_and_delete(docs)
    report = eng.index([docs], jobs=1)
    assert (report.updated, report.deleted, report.unchanged) == (1, 1, 1)
    yield tmp_path, eng
    eng.close()


def test_reindex_drops_deleted_and_old_versions_for_a_new_engine(reindexed) -> None:
    root, _ = reindexed
    with SearchEngine(root / "ix") as fresh:
        assert names(fresh, '"城市场"') == set()
        assert names(fresh, '"聊城"') == set()
        assert names(fresh, '"修订后"') == {"smart.md"}
        assert names(fresh, '"城市"') == {"smart.md", "city.md"}
        assert fresh.stats().documents == 2


def test_reindex_drops_deleted_and_old_versions_for_the_same_engine(reindexed) -> None:
    _, eng = reindexed
    assert names(eng, '"修订后"') == {"smart.md"}
    assert names(eng, '"城市场"') == set()
    assert names(eng, '"聊城"') == set()
