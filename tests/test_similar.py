"""Similar articles on real documents: 新闻联播 transcripts and the rsshub feed articles,
with real articles copied and republished under other paths."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import SHARED

from searcher import SearchEngine, SearcherError
from searcher.analysis.normalize import fold, squeeze
from searcher.analysis.tokens import STOP_WORDS, query_terms

XWLB = SHARED / "corpus" / "xwlb" / "news"
RSSHUB = SHARED / "corpus" / "rsshub"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """300 transcripts + the feed articles; one transcript copied verbatim and one feed
    article republished with another title, front matter and footer."""
    if not XWLB.is_dir() or not RSSHUB.is_dir():
        pytest.skip("../shared is not present")
    base = tmp_path_factory.mktemp("similar")
    docs = base / "docs"
    (docs / "xwlb").mkdir(parents=True)
    for path in sorted(XWLB.glob("*.md"))[:300]:
        shutil.copy(path, docs / "xwlb" / path.name)
    shutil.copytree(RSSHUB, docs / "rsshub")
    (docs / "mirror").mkdir()
    shutil.copy(docs / "xwlb" / "20221001.md", docs / "mirror" / "copy-of-20221001.md")
    original = (docs / "rsshub" / "001.md").read_text(encoding="utf-8")
    front, body = original.split("\n---", 2)[1], original.split("\n---", 2)[2]
    front = re.sub(r"(?m)^title:.*$", "title: '转载：今日要闻'", front)
    front = re.sub(r"(?m)^author:.*$", "author: 转载号", front)
    (docs / "mirror" / "republished-001.md").write_text(
        "---" + front + "\n---" + body + "\n\n<p>本文转载自网络，如有侵权请联系删除。</p>\n",
        encoding="utf-8")
    engine = SearchEngine(base / "ix")
    report = engine.index([docs])
    assert not report.failed, report.failed
    yield engine, docs
    engine.close()


def every_hit(engine, doc_id):
    """Every page of 1000 (no time limit: a page of 1000 snippets may pass 10 s under load)."""
    results = engine.similar(doc_id, limit=1000, timeout=0)
    hits = list(results.hits)
    page = 2
    while page <= results.pages:
        hits += engine.similar(doc_id, limit=1000, page=page, timeout=0).hits
        page += 1
    return results, hits


def test_verbatim_copy_ranks_first_and_is_marked(corpus):
    engine, docs = corpus
    source = str(docs / "xwlb" / "20221001.md")
    results = engine.similar(source, limit=10)
    assert results.hits[0].path == str(docs / "mirror" / "copy-of-20221001.md")
    assert results.hits[0].near_duplicate
    assert not any(h.near_duplicate for h in results.hits[1:])
    assert all(h.path != source for h in results.hits)
    assert results.query == engine.get(source).id
    # and the other way round
    back = engine.similar(str(docs / "mirror" / "copy-of-20221001.md"), limit=3)
    assert back.hits[0].path == source and back.hits[0].near_duplicate


def test_republished_story_with_other_title_and_footer(corpus):
    engine, docs = corpus
    results = engine.similar(str(docs / "rsshub" / "001.md"), limit=5)
    assert results.hits[0].path == str(docs / "mirror" / "republished-001.md")
    assert results.hits[0].near_duplicate
    assert [h.near_duplicate for h in results.hits].count(True) == 1


@pytest.mark.parametrize("name", ["xwlb/20221005.md", "rsshub/010.md", "rsshub/030.md",
                                  "rsshub/050.md"])
def test_never_itself_and_ranked(corpus, name):
    engine, docs = corpus
    source = engine.get(str(docs / name))
    results, hits = every_hit(engine, source.id)
    assert source.id not in {h.id for h in hits}
    assert len(hits) == results.total == len({h.id for h in hits})
    plain = [h.score for h in hits if not h.near_duplicate]
    assert plain == sorted(plain, reverse=True)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


@pytest.mark.parametrize("name", ["rsshub/010.md", "rsshub/030.md", "rsshub/050.md",
                                  "xwlb/20221005.md"])
def test_results_share_the_articles_distinctive_words(corpus, name):
    """Each of the top hits holds one of the article's rare words (in at most 10 % of the
    documents), found independently with phrase searches."""
    engine, docs = corpus
    doc = engine.get(str(docs / name))
    total = engine.stats().documents
    words = {t for t in query_terms(doc.title + " " + doc.text[:6000])
             if len(t) >= 2 and t not in STOP_WORDS and not t.isdigit()}
    rare = {w for w in words if 2 <= engine.search(f'"{w}"', limit=1).total <= 0.1 * total}
    assert rare
    hits = engine.similar(doc.id, limit=5).hits
    assert len(hits) == 5
    for hit in hits:
        text = squeeze(fold(hit.title + engine.get(hit.id).text))
        assert any(squeeze(w) in text for w in rare), (hit.title, sorted(rare)[:20])


def test_snippets_highlight_shared_terms(corpus):
    engine, docs = corpus
    hit = engine.similar(str(docs / "xwlb" / "20221005.md"), limit=1).hits[0]
    assert hit.highlights and hit.snippet
    data = hit.as_dict()
    assert data["near_duplicate"] is False and "snippet" in data


def test_unknown_id_is_the_same_error_as_get(corpus):
    engine, _ = corpus
    with pytest.raises(SearcherError) as from_get:
        engine.get("no-such-article")
    with pytest.raises(SearcherError) as from_similar:
        engine.similar("no-such-article")
    assert type(from_similar.value) is type(from_get.value)
    assert str(from_similar.value) == str(from_get.value)


def test_cli_similar(corpus):
    from typer.testing import CliRunner

    from searcher.cli import app

    engine, docs = corpus
    source = str(docs / "xwlb" / "20221001.md")
    base = ["--index-dir", str(engine.settings.index_dir), "similar"]
    result = CliRunner().invoke(app, [*base, source, "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = engine.similar(source, limit=3).as_dict()
    assert [h["id"] for h in data["hits"]] == [h["id"] for h in expected["hits"]]
    assert data["hits"][0]["near_duplicate"] is True
    result = CliRunner().invoke(app, [*base, source, "--limit", "2"])
    assert result.exit_code == 0
    assert "copy-of-20221001.md" in result.output and "near-duplicate" in result.output
    result = CliRunner().invoke(app, [*base, "no-such-article"])
    assert result.exit_code == 2 and "no-such-article" in result.output
