"""Real questions (STARD: legal questions people asked, answers judged by experts) find
their answers at least as well as plain Okapi BM25, on both back ends.

A sample of the train split in ``../shared/corpus/stard-train`` (every 20th question and
the ones holding a number), indexed with their answers and seeded random other articles
of the same statute corpus as distractors.  The reference is the plain BM25 of
``bench/stard.py`` (jieba words of the body, STARD's stop words, OR), computed on the same
sample; ``bench/stard.py`` measures the whole split.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import pytest
from conftest import SHARED

DATA = SHARED / "corpus" / "stard-train"
BENCH = Path(__file__).resolve().parent.parent / "bench" / "stard.py"
DISTRACTORS = 1500

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/corpus/stard-train missing")


def _bench():
    spec = importlib.util.spec_from_file_location("stard_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stard(tmp_path_factory):
    """(bench module, folder of articles, {qid: question}, {qid: answer ids}, articles)."""
    bench = _bench()
    queries = bench.load_queries(DATA)
    qrels = bench.load_qrels(DATA / "qrels.train.tsv")
    chosen = {q: t for n, (q, t) in enumerate(queries.items())
              if q in qrels and (n % 20 == 0 or re.search(r"\d", t))}
    articles = bench.load_corpus(DATA)
    wanted = {d for q in chosen for d in qrels[q]}
    others = [a for a in articles if str(a["id"]) not in wanted]
    sample = [a for a in articles if str(a["id"]) in wanted]
    sample += random.Random(23).sample(others, DISTRACTORS)
    folder = tmp_path_factory.mktemp("stard") / "articles"
    bench.write_articles(sample, folder)
    return bench, folder, chosen, {q: qrels[q] for q in chosen}, sample


@pytest.fixture(scope="module")
def local_run(stard, tmp_path_factory):
    from searcher import SearchEngine

    _bench, folder, questions, _qrels, _sample = stard
    engine = SearchEngine(tmp_path_factory.mktemp("stard-index") / "index")
    engine.index([folder], full=True)
    yield engine, {q: engine.search(t, limit=100) for q, t in questions.items()}
    engine.close()


def _ids(results) -> list[str]:
    return [Path(h.path).stem for h in results.hits]


@pytest.mark.slow
def test_real_questions_rank_answers_at_least_as_well_as_plain_bm25(stard, local_run):
    bench, _folder, questions, qrels, sample = stard
    _engine, results = local_run
    stop = {w.strip() for w in (DATA / "cn_stopwords.txt").read_text(encoding="utf-8")
            .splitlines() if w.strip()}
    bm25 = bench.PlainBM25(sample, stop)
    reference = bench.score_run({q: bm25.search(t) for q, t in questions.items()}, qrels)
    ours = bench.score_run({q: _ids(r) for q, r in results.items()}, qrels)
    assert len(questions) >= 60
    # Ranked "any word": the rare words of a question count for more than its common ones,
    # a stock phrase of common words (承担侵权责任) is no proof of the answer, and the
    # character bigrams of a long question find the parts of words it shares with the
    # answer.  Recall at least BM25's, the top ten within 5 % of it on this sample of 70
    # questions (0.676 against 0.681; counting words alike, squared, and every run of
    # words as proof gave 0.73 × BM25's); bench/stard.py measures #23's 1.05 × BM25 on
    # the whole split of 1,235 (0.439 against 0.416).
    print(f"nDCG@10 {ours['ndcg@10']:.3f} (BM25 {reference['ndcg@10']:.3f}), "
          f"R@100 {ours['r@100']:.3f} (BM25 {reference['r@100']:.3f})")
    assert ours["r@100"] >= reference["r@100"], (ours, reference)
    assert ours["ndcg@10"] >= 0.95 * reference["ndcg@10"], (ours, reference)


@pytest.mark.slow
def test_a_question_holding_a_number_is_ranked_like_any_question(stard, local_run):
    _bench, _folder, questions, qrels, _sample = stard
    _engine, results = local_run
    numbered = [q for q, t in questions.items() if re.search(r"\d", t)]
    assert len(numbered) >= 5
    for q in numbered:  # the whole question is not required verbatim (nothing holds it)
        assert results[q].total > 0 and results[q].relaxed, questions[q]
    found = [q for q in numbered if qrels[q] & set(_ids(results[q])[:10])]
    assert len(found) * 2 >= len(numbered), [questions[q] for q in numbered if q not in found]


@pytest.mark.slow
def test_both_back_ends_rank_questions_alike(stard, local_run, fresh_cluster):
    """The same questions on the local index and the cluster: the same relaxation decision
    and mostly the same top results (BM25 details differ: the cluster sums per-field
    scores and its index statistics are per shard)."""
    bench, folder, questions, qrels, _sample = stard
    _engine, local = local_run
    cluster = fresh_cluster
    report = cluster.index([folder], full=True)
    assert not report.failed
    overlaps, same_decision = [], 0
    remote_run = {}
    for q, text in questions.items():
        remote = cluster.search(text, limit=10)
        remote_run[q] = _ids(remote)
        same_decision += remote.relaxed == local[q].relaxed
        mine = _ids(local[q])[:10]
        if mine:
            overlaps.append(len(set(mine) & set(remote_run[q])) / len(mine))
    assert same_decision == len(questions)
    assert sum(overlaps) / len(overlaps) >= 0.6, sum(overlaps) / len(overlaps)
    ours = bench.score_run({q: _ids(r) for q, r in local.items()}, qrels)
    theirs = bench.score_run(remote_run, qrels)
    assert theirs["ndcg@10"] >= ours["ndcg@10"] - 0.05, (theirs, ours, overlaps)
    print(f"overlap {sum(overlaps) / len(overlaps):.2f}; nDCG@10 local "
          f"{ours['ndcg@10']:.3f}, cluster {theirs['ndcg@10']:.3f}")


@pytest.fixture(scope="module")
def adjacency_case(tmp_path_factory):
    """Question 514 of the train split with its two answers, the three articles that
    outranked them when adjacent words found verbatim scored outside the share of the
    question a document holds (特殊保护 in 海岛保护法, 农业法, 妇女权益保障法: two common
    words of the question), and seeded random other articles of the corpus."""
    from searcher import SearchEngine

    bench = _bench()
    articles = bench.load_corpus(DATA)
    chosen = {"10523", "6551", "14683", "3690", "8316"}
    sample = [a for a in articles if str(a["id"]) in chosen]
    sample += random.Random(514).sample(
        [a for a in articles if str(a["id"]) not in chosen], 400)
    folder = tmp_path_factory.mktemp("stard-514") / "articles"
    bench.write_articles(sample, folder)
    engine = SearchEngine(tmp_path_factory.mktemp("stard-514-index") / "index")
    engine.index([folder], full=True)
    yield (engine, bench.load_queries(DATA)["514"],
           bench.load_qrels(DATA / "qrels.train.tsv")["514"], folder)
    engine.close()


def test_adjacent_common_words_count_within_the_share_of_the_question(adjacency_case):
    engine, question, answers, _folder = adjacency_case
    assert question == "驰名商标有什么用？能获得什么特殊保护？"
    ranked = _ids(engine.search(question, limit=10))
    # The answers hold the question's rarest word (驰名商标); the others only two common
    # words that happen to stand side by side (特殊保护), which is no proof of the answer.
    assert ranked[0] in answers, ranked
    assert "14683" not in ranked[:ranked.index("10523")], ranked


def test_the_cluster_counts_adjacent_words_within_the_share_too(adjacency_case, fresh_cluster):
    _engine, question, answers, folder = adjacency_case
    cluster = fresh_cluster
    assert not cluster.index([folder], full=True).failed
    ranked = _ids(cluster.search(question, limit=10))
    assert ranked[0] in answers, ranked
    assert "14683" not in ranked[:ranked.index("10523")], ranked


def _question_case(tmp_path_factory, qid: str, keep):
    """(engine, question, its answers, the articles *keep* chose, folder): question *qid*
    of the train split indexed with its answers, every article *keep* picks, and 400
    seeded random other articles of the corpus."""
    from searcher import SearchEngine

    bench = _bench()
    articles = bench.load_corpus(DATA)
    answers = bench.load_qrels(DATA / "qrels.train.tsv")[qid]
    chosen = [a for a in articles if str(a["id"]) in answers or keep(a)]
    taken = {str(a["id"]) for a in chosen}
    sample = chosen + random.Random(int(qid)).sample(
        [a for a in articles if str(a["id"]) not in taken], 400)
    folder = tmp_path_factory.mktemp(f"stard-{qid}") / "articles"
    bench.write_articles(sample, folder)
    engine = SearchEngine(tmp_path_factory.mktemp(f"stard-{qid}-index") / "index")
    engine.index([folder], full=True)
    return engine, bench.load_queries(DATA)[qid], answers, chosen, folder


@pytest.fixture(scope="module")
def partial_words_case(tmp_path_factory):
    """Question 1054 of the train split with its answers, every article that holds 留置
    (lien), and seeded random other articles of the corpus."""
    engine, question, answers, _chosen, folder = _question_case(
        tmp_path_factory, "1054", lambda a: "留置" in a["content"])
    yield engine, question, answers, folder
    engine.close()


#: The answer to question 1054: 民法典第四百四十八条 (…但是企业之间留置的除外).
PARTIAL_WORDS_ANSWER = "13133"


def test_a_question_sharing_only_parts_of_words_finds_its_answer(partial_words_case,
                                                                 monkeypatch):
    """企业间留置权的除外 asks about 企业之间留置的除外: jieba cuts the question into 企业间
    and 留置权, the answer into 企业, 之间 and 留置, so few of their words meet and the 33
    other articles on liens rank above it.  Their character bigrams do meet (企业, 留置,
    的除, 除外): scored beside the words (rules.BIGRAM_WEIGHT), the answer comes first."""
    from searcher.core import rules

    engine, question, answers, _folder = partial_words_case
    assert question == "企业间留置权的除外是什么意思？" and PARTIAL_WORDS_ANSWER in answers
    ranked = _ids(engine.search(question, limit=10))
    assert ranked[0] == PARTIAL_WORDS_ANSWER, ranked
    monkeypatch.setattr(rules, "BIGRAM_WEIGHT", 0.0)  # the words alone miss it
    assert PARTIAL_WORDS_ANSWER not in _ids(engine.search(question, limit=10))


def test_the_cluster_scores_character_bigrams_alike(partial_words_case, fresh_cluster):
    engine, question, _answers, folder = partial_words_case
    cluster = fresh_cluster
    assert not cluster.index([folder], full=True).failed
    ranked = _ids(cluster.search(question, limit=10))
    assert ranked[0] == PARTIAL_WORDS_ANSWER, ranked
    local = _ids(engine.search(question, limit=10))
    assert len(set(ranked) & set(local)) >= 6, (ranked, local)


@pytest.fixture(scope="module")
def shared_title_case(tmp_path_factory):
    """Question 462 of the train split with its two answers (民法典 articles on medical
    harm), every article of the judicial interpretation whose title holds three of its
    words (最高人民法院关于审理医疗损害责任纠纷案件…: 医疗, 损害, 责任, one name over
    all its articles), and seeded random other articles of the corpus."""
    engine, question, answers, chosen, folder = _question_case(
        tmp_path_factory, "462", lambda a: SHARED_TITLE in a["name"])
    shared = {str(a["id"]) for a in chosen if SHARED_TITLE in a["name"]}
    yield engine, question, answers, shared, folder
    engine.close()


SHARED_TITLE = "医疗损害责任纠纷案件"


def test_a_title_shared_by_many_articles_does_not_lift_them_above_the_answer(
        shared_title_case):
    """The interpretation's articles hold 医疗, 损害 and 责任 in a title they all share,
    which names their topic, not the answer to a long question; scored in full, it put
    one of them above the answers (on the whole corpus too).  A title's score now counts
    by the share of the question that title holds (rules.TITLE_SHARE_POWER)."""
    engine, question, answers, shared, _folder = shared_title_case
    assert question.startswith("医生有过错行为") and len(shared) >= 3
    ranked = _ids(engine.search(question, limit=10))
    assert ranked[0] in answers, ranked


def test_the_cluster_scales_a_shared_title_alike(shared_title_case, fresh_cluster):
    engine, question, answers, _shared, folder = shared_title_case
    cluster = fresh_cluster
    assert not cluster.index([folder], full=True).failed
    ranked = _ids(cluster.search(question, limit=10))
    assert ranked[0] in answers, ranked
    assert ranked[0] == _ids(engine.search(question, limit=10))[0], ranked


#: Days of the news transcripts (../shared/corpus/xwlb) whose stories answer or compete
#: for 导致部分地区有什么影响 (bench/relevance.py set i), and seeded random other days.
RUN_DAYS = ["20231218", "20230908", "20230807", "20230105", "20260107", "20250105",
            "20240118", "20250730", "20240112", "20231211", "20240219", "20250406",
            "20230729", "20260811", "20230704", "20250808", "20240103", "20240421",
            "20250806", "20260714"]


@pytest.fixture(scope="module")
def quoted_run_case(tmp_path_factory):
    """Stories of real news transcripts (make_corpus.py over RUN_DAYS and 150 random
    days), indexed: about 2,300 articles."""
    import shutil
    import subprocess
    import sys

    from searcher import SearchEngine

    news = SHARED / "corpus" / "xwlb" / "news"
    tool = SHARED / "tools" / "make_corpus.py"
    if not news.is_dir() or not tool.is_file():
        pytest.skip("../shared/corpus/xwlb or ../shared/tools/make_corpus.py missing")
    base = tmp_path_factory.mktemp("quoted-run")
    days = sorted(p.stem for p in news.glob("*.md"))
    src = base / "src"
    src.mkdir()
    for day in dict.fromkeys([*RUN_DAYS, *random.Random(10).sample(days, 150)]):
        shutil.copy(news / f"{day}.md", src / f"{day}.md")
    subprocess.run([sys.executable, str(tool), str(base / "articles"), "--src", str(src)],
                   check=True, capture_output=True)
    engine = SearchEngine(base / "index")
    assert not engine.index([base / "articles"], full=True).failed
    yield engine, base / "articles"
    engine.close()


QUOTED_RUN = "导致部分地区有什么影响"
QUOTED_SOURCE = "20231218-15"  # 恶劣天气导致多国出现暴雨及洪涝灾害: …导致部分地区…, no 影响


def test_the_word_a_question_asks_for_is_not_needed_in_the_answer(quoted_run_case):
    """有什么影响 asks for an effect: 影响 names what the answer gives, and the answer
    (…导致部分地区…, three words of the question side by side) does not hold it, while
    hundreds of stories hold all four words scattered.  Counted in the share of the
    question a document holds, 影响 scaled the answer away (11th); it weighs nothing
    there now (rules.ASKED_SHARE), though it still scores where it is found."""
    engine, _folder = quoted_run_case
    ranked = _ids(engine.search(QUOTED_RUN, limit=10))
    assert ranked[0] == QUOTED_SOURCE, ranked


def test_the_cluster_weighs_the_word_asked_for_alike(quoted_run_case, fresh_cluster):
    engine, folder = quoted_run_case
    cluster = fresh_cluster
    assert not cluster.index([folder], full=True).failed
    ranked = _ids(cluster.search(QUOTED_RUN, limit=10))
    # The same two first as locally (the answer 11th before); their order differs:
    # the cluster scores the verbatim run by bigrams, a little lower (31.7 / 36.6).
    assert QUOTED_SOURCE in ranked[:2], ranked
    assert set(ranked[:2]) == set(_ids(engine.search(QUOTED_RUN, limit=10))[:2])
