"""Ranking for the queries people type: pasted body text, questions, matched-word counts.

All on real articles (make_corpus.py --limit 2000, indexed once per session).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from searcher.analysis.normalize import squeeze
from searcher.analysis.tokens import QUESTION_WORDS, STOP_WORDS, index_terms, query_terms

HAN_RUN = re.compile(r"^[\u3400-\u9fff]+$")


@pytest.fixture(scope="module")
def articles(corpus_2k):
    """(engine, [(id, title, squeezed title, squeezed body)]) of the 2,000 real articles."""
    from searcher.ingest.documents import load_document
    from searcher.ingest.sources import new_label

    engine, corpus, _report = corpus_2k
    label = new_label(corpus, ())
    docs = []
    for path in sorted(Path(corpus).rglob("*")):
        if path.suffix.lower() in (".md", ".html", ".htm", ".markdown") and path.is_file():
            d = load_document(str(path), str(corpus), label=label)
            docs.append((d.id, d.title, squeeze(d.title), squeeze(d.body)))
    assert len(docs) > 1500
    return engine, docs


def unique_runs(docs, rng: random.Random, n: int, size: int) -> list[tuple[str, str]]:
    """(run, id): Han-only body runs of *size* characters found in exactly one article."""
    out = []
    for doc_id, _title, _sq_title, sq_body in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        if len(sq_body) <= size:
            continue
        i = rng.randrange(0, len(sq_body) - size)
        run = sq_body[i : i + size]
        if HAN_RUN.match(run) and sum(run in t or run in b for _, _, t, b in docs) == 1:
            out.append((run, doc_id))
    return out


def test_pasted_body_text_ranks_its_source_first(articles):
    engine, docs = articles
    runs = unique_runs(docs, random.Random(11), 40, 8)
    assert len(runs) == 40
    firsts = [engine.search(run, limit=10).hits[0].id == doc_id for run, doc_id in runs]
    # The source holds the 8 characters verbatim, no other article does: near proof.
    assert sum(firsts) >= 39, [r for r, ok in zip(runs, firsts, strict=True) if not ok]


def test_short_verbatim_match_says_little(articles):
    """A 2-character word is not weighted like an 8-character run: for a 2-character query
    the ranking is plain word evidence, so many articles share the top scores."""
    engine, _docs = articles
    short = engine.search("会议", limit=10)
    assert short.total > 100
    long_run = engine.search("加快建设海洋强国", limit=10)
    assert long_run.hits and long_run.hits[0].score > 2 * short.hits[0].score


def headline_pairs(docs, rng: random.Random, n: int) -> list[tuple[list[str], str]]:
    """(2 headline words, id) where only that article's title holds both words."""
    import jieba

    out = []
    for doc_id, title, _t, _b in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        words = [w for w in dict.fromkeys(jieba.lcut(title))
                 if len(w) >= 2 and HAN_RUN.match(w) and w not in STOP_WORDS
                 and w not in QUESTION_WORDS]
        if len(words) < 2:
            continue
        pair = rng.sample(words, 2)
        if sum(all(w in t for w in pair) for _, _, t, _b in docs) == 1:
            out.append((pair, doc_id))
    return out


@pytest.mark.parametrize("form", ["{}是什么", "如何{}", "{}吗", "{}有哪些", "为什么{}？"])
def test_question_finds_its_article(articles, form):
    engine, docs = articles
    pairs = headline_pairs(docs, random.Random(5), 20)
    assert len(pairs) == 20
    found = 0
    for pair, doc_id in pairs:
        res = engine.search(form.format("".join(pair)), limit=10)
        found += doc_id in [h.id for h in res.hits[:3]]
    assert found >= 18


def test_question_still_answered_when_a_word_is_missing(articles):
    """A question holding a word its article never uses still finds the article (the
    "any word" ranking), and the results say that some hits lack a word."""
    engine, docs = articles
    pairs = headline_pairs(docs, random.Random(8), 20)
    found = 0
    for pair, doc_id in pairs:
        res = engine.search(f"{''.join(pair)}有没有量子纠缠", limit=10)
        assert res.relaxed
        found += bool(res.hits) and res.hits[0].id == doc_id
    assert found >= 17


def test_question_words_do_not_dominate(articles):
    """什么, 是否, 可以 … add little: every top hit holds the content word, and the order is
    the one of the content word alone whenever every hit holds it."""
    engine, docs = articles
    for word in ("海洋", "疫苗", "高铁", "粮食"):
        plain = engine.search(word, limit=10)
        for form in ("{}是什么", "什么是{}", "{}是否可以", "{}有哪些"):
            res = engine.search(form.format(word), limit=10)
            assert res.hits
            for hit in res.hits:
                text = next(t + b for i, _, t, b in docs if i == hit.id)
                assert word in text, (form, word, hit.title)
            # Function words only reorder documents with near-equal scores.
            assert len({h.id for h in res.hits} & {h.id for h in plain.hits}) >= 6


def expected_matched(engine, hit, words: list[str], needles: list[str]) -> int:
    """Query words the stored article holds, from the analyzer's own terms of it."""
    doc = engine.get(hit.id)
    terms = set(index_terms(doc.title)) | set(index_terms(doc.text))
    text = squeeze(doc.title) + squeeze(doc.text)
    whole = any(n in text for n in needles)
    return sum(w in terms or whole for w in words)


def test_matched_counts_on_real_articles(articles):
    engine, docs = articles
    rng = random.Random(3)
    seen: list[int] = []
    for pair, _doc_id in headline_pairs(docs, rng, 6):
        query = f"{''.join(pair)}为什么影响粮食"
        words = [t for t in dict.fromkeys(query_terms(query)) if t not in STOP_WORDS]
        res = engine.search(query, limit=10, page=3)  # below the best, counts vary more
        assert res.hits
        for hit in res.hits:
            assert hit.query_words == len(words), (query, words)
            assert hit.matched == expected_matched(engine, hit, words, [squeeze(query)])
            assert 1 <= hit.matched <= hit.query_words
            seen.append(hit.matched)
    assert len(seen) > 50 and len(set(seen)) > 1  # a real spread, not all equal


def test_matched_counts_with_phrases_and_exclusions(articles):
    engine, _docs = articles
    res = engine.search('"国务院" 总理 -会议', limit=10)
    assert res.hits
    for hit in res.hits:
        assert (hit.matched, hit.query_words) == (2, 2)
    data = res.as_dict()
    assert data["hits"][0]["matched"] == 2 and data["hits"][0]["query_words"] == 2


def test_matched_counts_in_cli_json(corpus_2k):
    from typer.testing import CliRunner

    from searcher.cli import app

    engine, _corpus, _report = corpus_2k
    out = CliRunner().invoke(app, ["--index-dir", str(engine.settings.index_dir), "search",
                                   "海洋强国建设是什么", "--json", "--limit", "5"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)["hits"]
    assert hits and all(h["query_words"] == 4 and 1 <= h["matched"] <= 4 for h in hits)
