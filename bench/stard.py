"""Real questions: searcher vs plain Okapi BM25 on STARD (legal questions judged by experts).

Why: our own question sets (``bench/relevance.py`` h, i, j) are built from headlines and
body sentences, so they share many words with their answer.  Real questions are long,
colloquial and share few words with the statute that answers them; this prints how
searcher ranks them next to the plain BM25 that STARD reports, computed here in the
same run so that the two columns are comparable.

Each article of ``corpus_approx.jsonl`` is written as a Hexo-style file (``title`` =
``name``, body = ``content``), the folder is indexed with searcher, and every question of
``queries.train.tsv`` is run as typed through the library (``SearchEngine.search``,
limit 100).  Scores: nDCG@10, MRR@10, Recall@10 and Recall@100 against
``qrels.train.tsv`` and the ``lawsonly`` qrels.

The BM25 reference is the one the dataset's README describes: jieba's accurate-mode
words of the body only, STARD's stop-word list (``cn_stopwords.txt``), OR of the
question's words, k1 = 0.9, b = 0.4 (README: nDCG@10 0.413, R@100 0.710).

    python bench/stard.py --keep /tmp/stard
    python bench/stard.py --keep /tmp/stard --opensearch        # the cluster back end
    python bench/stard.py --keep /tmp/stard --set COORD_POWER=0  # an ablation
    python bench/stard.py --keep /tmp/stard --half A --skip-bm25  # where a rule is chosen

``--set NAME=VALUE`` changes a constant of :mod:`searcher.core.rules` (both back ends
read it there) for the run, which is how the ablation table of the
ranking was made.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DATA = HERE.parent.parent / "shared" / "corpus" / "stard-train"
K = 10
DEPTH = 100
OPENSEARCH_NAME = "stard-bench"
#: Weight of the character-bigram BM25 in the second reference row (0.5-3 all reach
#: 0.442-0.443 nDCG@10 on both halves; 1 is the unweighted sum).
BIGRAM_WEIGHT = 1.0


# -- data ----------------------------------------------------------------------
def load_corpus(data: Path) -> list[dict[str, Any]]:
    with open(data / "corpus_approx.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_queries(data: Path) -> dict[str, str]:
    out = {}
    for line in (data / "queries.train.tsv").read_text(encoding="utf-8").splitlines():
        qid, _, text = line.partition("\t")
        if text:
            out[qid] = text
    return out


def load_qrels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and int(parts[3]) > 0:
            out[parts[0]].add(parts[2])
    return dict(out)


def write_articles(articles: list[dict[str, Any]], folder: Path) -> None:
    """One Hexo-style Markdown file per article, named by its id (the qrels' docid)."""
    folder.mkdir(parents=True, exist_ok=True)
    for art in articles:
        front = "---\ntitle: " + json.dumps(art["name"], ensure_ascii=False) + "\n---\n\n"
        (folder / f"{art['id']}.md").write_text(front + art["content"] + "\n", encoding="utf-8")


# -- metrics ---------------------------------------------------------------------
def score_run(run: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """Mean nDCG@10 (binary gains), MRR@10, Recall@10 and Recall@100 over *qrels*' questions
    (a question without an answer list counts zero)."""
    sums: Counter[str] = Counter({"ndcg@10": 0, "mrr@10": 0, "r@10": 0, "r@100": 0})
    for qid, relevant in qrels.items():
        ranked = run.get(qid, [])
        dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:K]) if d in relevant)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
        sums["ndcg@10"] += dcg / ideal
        first = next((i for i, d in enumerate(ranked[:K]) if d in relevant), None)
        sums["mrr@10"] += 0 if first is None else 1 / (first + 1)
        sums["r@10"] += len(relevant & set(ranked[:K])) / len(relevant)
        sums["r@100"] += len(relevant & set(ranked[:DEPTH])) / len(relevant)
    return {k: v / max(len(qrels), 1) for k, v in sums.items()}


# -- the plain BM25 reference -------------------------------------------------------
class PlainBM25:
    """Okapi BM25 (Lucene's idf) over jieba's accurate-mode words of the body, minus
    STARD's stop words; a question is the OR of its words (each occurrence counts).

    With *bigram_weight* > 0 it adds that weight times a second BM25 over the character
    bigrams of the body's Han runs (the question's bigrams, OR): the classic word +
    bigram combination of Chinese retrieval.  A colloquial question and the statute that
    answers it often share parts of words (借钱 / 借款, 离婚协议书 / 离婚协议) that jieba
    cuts apart; this row shows what that evidence is worth on real questions.
    """

    def __init__(self, articles: list[dict[str, Any]], stop_words: set[str],
                 k1: float = 0.9, b: float = 0.4, bigram_weight: float = 0.0) -> None:
        import jieba

        jieba.setLogLevel(60)
        self.cut = jieba.lcut
        self.stop = stop_words
        self.ids = [str(a["id"]) for a in articles]
        self.k1, self.b = k1, b
        self.bigram_weight = bigram_weight
        self.words_index = self._index([self.words(a["content"]) for a in articles])
        self.bigrams_index = self._index([bigrams(a["content"]) for a in articles]) \
            if bigram_weight > 0 else None

    def _index(self, documents: list[list[str]]) -> tuple[dict[str, tuple[np.ndarray,
                                                                          np.ndarray]],
                                                          np.ndarray]:
        """Postings (documents, term frequencies) of each unit, and the length norms."""
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(documents))
        for n, units in enumerate(documents):
            lengths[n] = len(units)
            for unit, tf in Counter(units).items():
                postings[unit].append((n, tf))
        norm = self.k1 * (1 - self.b + self.b * lengths / max(lengths.mean(), 1e-9))
        return ({w: (np.array([p[0] for p in ps]), np.array([p[1] for p in ps], float))
                 for w, ps in postings.items()}, norm)

    def words(self, text: str) -> list[str]:
        return [w for w in self.cut(text) if w.strip() and w not in self.stop]

    def _score(self, units: list[str], index: tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                    np.ndarray]) -> np.ndarray:
        postings, norm = index
        n = len(self.ids)
        score = np.zeros(n)
        for unit in units:
            if unit not in postings:
                continue
            docs, tf = postings[unit]
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            score[docs] += idf * tf * (self.k1 + 1) / (tf + norm[docs])
        return score

    def search(self, question: str, limit: int = DEPTH) -> list[str]:
        score = self._score(self.words(question), self.words_index)
        if self.bigrams_index is not None:
            score += self.bigram_weight * self._score(bigrams(question), self.bigrams_index)
        hits = np.flatnonzero(score > 0)
        top = hits[np.lexsort((hits, -score[hits]))][:limit]
        return [self.ids[i] for i in top]


HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def bigrams(text: str) -> list[str]:
    """The overlapping character pairs of each run of Han characters of *text*."""
    return [run[i : i + 2] for run in HAN_RUN.findall(text) for i in range(len(run) - 1)]


def set_constants(assignments: Iterable[str]) -> list[str]:
    """Apply ``NAME=VALUE`` to the ranking constants (:mod:`searcher.core.rules`, which
    both back ends read when they rank)."""
    from searcher.core import rules

    done = []
    for item in assignments:
        name, _, value = item.partition("=")
        if not name.isupper() or not isinstance(getattr(rules, name, None), (int, float)):
            raise SystemExit(f"--set: no ranking constant {name!r}")
        parsed = json.loads(value)
        setattr(rules, name, parsed)
        done.append(f"{name}={parsed!r}")
    return done


def searcher_run(location: str, queries: dict[str, str], depth: int = DEPTH
                 ) -> tuple[dict[str, list[str]], dict[str, int], float]:
    """Every question through ``SearchEngine.search`` (ids from the file names), the
    questions answered on the relaxed path, and the mean time per question."""
    from searcher import SearchEngine
    from searcher.errors import QueryError

    engine: Any = SearchEngine(location)
    run, relaxed = {}, {}
    started = time.perf_counter()
    try:
        for qid, text in queries.items():
            try:
                # Ranking is measured here, not latency: no time limit on a loaded machine.
                res = engine.search(text, limit=depth, timeout=0)
            except QueryError as exc:
                print(f"question {qid} not read: {exc}", file=sys.stderr)
                run[qid] = []
                continue
            run[qid] = [Path(h.path).stem for h in res.hits]
            relaxed[qid] = int(res.relaxed)
    finally:
        engine.close()
    return run, relaxed, (time.perf_counter() - started) / max(len(queries), 1)


def build(location: str, folder: Path, fresh: bool) -> None:
    from searcher import SearchEngine

    engine: Any = SearchEngine(location)
    try:
        if fresh:
            t = time.perf_counter()
            print(f"indexing {folder} into {location} ...", file=sys.stderr, flush=True)
            engine.index([folder], full=True)
            print(f"  {time.perf_counter() - t:.0f} s", file=sys.stderr)
    finally:
        engine.close()


def table(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> str:
    cols = ("ndcg@10", "mrr@10", "r@10", "r@100")
    lines = [f"{'':34} {'qrels':9} " + " ".join(f"{c:>8}" for c in cols)]
    for name, by_qrels in rows:
        for qname, scores in by_qrels.items():
            lines.append(f"{name:34} {qname:9} " + " ".join(f"{scores[c]:8.3f}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="the stard-train folder")
    ap.add_argument("--keep", type=Path,
                    help="write the articles and the local index here and reuse them")
    ap.add_argument("--opensearch", action="store_true",
                    help=f"search the cluster at $SEARCHER_OPENSEARCH_URL (index "
                         f"{OPENSEARCH_NAME}) instead of the local index")
    ap.add_argument("--reindex", action="store_true", help="rebuild the index even if kept")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a ranking constant of searcher.core.rules (ablations)")
    ap.add_argument("--queries", type=int, default=0, help="only the first N questions")
    ap.add_argument("--half", choices=("A", "B"),
                    help="only half of the questions: A the even positions (where a rule is "
                         "chosen), B the odd ones (held out to confirm it)")
    ap.add_argument("--skip-bm25", action="store_true", help="searcher only")
    ap.add_argument("--out", help="write the numbers and per-question rankings as JSON here")
    args = ap.parse_args(argv)

    import os
    import tempfile

    changed = set_constants(args.set)
    articles = load_corpus(args.data)
    queries = load_queries(args.data)
    if args.queries:
        queries = dict(list(queries.items())[:args.queries])
    if args.half:
        queries = dict(list(queries.items())[0 if args.half == "A" else 1::2])
    qrels = {name: {q: r for q, r in load_qrels(args.data / file).items() if q in queries}
             for name, file in (("all", "qrels.train.tsv"),
                                ("lawsonly", "qrels.train.lawsonly.tsv"))}
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-stard-"))
    folder = work / "articles"
    if not (folder / f"{articles[-1]['id']}.md").exists():
        write_articles(articles, folder)
    if args.opensearch:
        url = os.environ.get("SEARCHER_OPENSEARCH_URL")
        if not url:
            raise SystemExit("--opensearch needs SEARCHER_OPENSEARCH_URL")
        location = url.rstrip("/") + "/" + OPENSEARCH_NAME
        marker = work / "opensearch-built"
        fresh = args.reindex or not marker.exists()
    else:
        location = str(work / "index")
        fresh = args.reindex or not (work / "index" / "CURRENT").exists()
        marker = None
    build(location, folder, fresh)
    if marker is not None:
        marker.write_text(location)

    rows = []
    result: dict[str, Any] = {"questions": len(queries), "changed": changed}
    if not args.skip_bm25:
        t = time.perf_counter()
        stop = {w.strip() for w in (args.data / "cn_stopwords.txt").read_text(
            encoding="utf-8").splitlines() if w.strip()}
        bm25 = PlainBM25(articles, stop)
        run = {qid: bm25.search(text) for qid, text in queries.items()}
        result["bm25"] = {n: score_run(run, q) for n, q in qrels.items()}
        rows.append(("plain BM25 (k1 0.9, b 0.4)", result["bm25"]))
        print(f"plain BM25: {time.perf_counter() - t:.0f} s", file=sys.stderr)
        fused = PlainBM25(articles, stop, bigram_weight=BIGRAM_WEIGHT)
        run = {qid: fused.search(text) for qid, text in queries.items()}
        result["bm25_bigrams"] = {n: score_run(run, q) for n, q in qrels.items()}
        rows.append((f"BM25 + {BIGRAM_WEIGHT:g} x bigram BM25", result["bm25_bigrams"]))
    run, relaxed, per_query = searcher_run(location, queries)
    name = "searcher" + (" (opensearch)" if args.opensearch else "") + (
        " " + " ".join(changed) if changed else "")
    result["searcher"] = {n: score_run(run, q) for n, q in qrels.items()}
    result["searcher_run"] = run
    rows.append((name, result["searcher"]))
    print(f"questions: {len(queries)}; relaxed path: {sum(relaxed.values())}; "
          f"searcher {per_query * 1000:.1f} ms a question")
    print(table(rows))
    if not args.skip_bm25:
        base = result["bm25"]["all"]
        ours = result["searcher"]["all"]
        print(f"targets (all qrels): nDCG@10 {ours['ndcg@10']:.3f} >= 1.05 x BM25 "
              f"{1.05 * base['ndcg@10']:.3f}: {ours['ndcg@10'] >= 1.05 * base['ndcg@10']}; "
              f"R@100 {ours['r@100']:.3f} >= BM25 {base['r@100']:.3f}: "
              f"{ours['r@100'] >= base['r@100']}")
    if args.out:
        import benchlib

        benchlib.dump(args.out, result)


if __name__ == "__main__":
    main()
