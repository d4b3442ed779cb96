"""Relevance benchmark: searcher vs the jieba+Whoosh recipe on query sets built from the corpus.

Why: "better search" has to be a number a reader can reproduce.  Every query
set is generated from the articles themselves with a fixed seed, so the
ground truth is known without human judgements:

(a) known-item, whole headline words: 2–3 jieba words of one title → MRR@10
(b) known-item, headline fragments: a 3–6 char title substring cutting words → MRR@10
(c) exact phrases: quoted 2–8 char body substrings; truth = every document whose
    folded, whitespace-free title or body contains it → recall, precision
(d) the (a) queries in traditional script (OpenCC s2t) → MRR@10, ratio to (a)
(e) pinyin of 2–3 char headline words (no tones, no spaces) → P@10
(f) Latin/digit tokens (5G, G20, years, numbers with units) → P@10; truth: the token as
    a substring not glued to more letters/digits (so M2 is not in PM2.5, 7% not in 17%)
(g) pasted body text: unquoted 6–10 char runs of a body that occur (folded, whitespace-free)
    in exactly one article → first-rank rate (hit@1) and MRR@10
(h) questions from headline words: 1–3 headline words wrapped in question phrasing
    (``…是什么``, ``…怎么样``, ``如何…``, ``…吗`` …) → MRR@10 of that article
(i) questions from a body sentence: 3–4 content words of one sentence, in order, wrapped
    the same way → MRR@10 of that article

(j) the (i) kind, plus a headline word of another article that the source lacks (so that
    few articles, often none, hold every word: the relaxed path) → MRR@10

(k) homophone typos ("did you mean"): a headline word with one character replaced by a
    homophone that the input method offers (same toneless reading, one of the corpus's
    five most frequent characters with it), kept only when no article holds the typo;
    alone and with another word of the headline → share of typos for which
    ``did_you_mean`` is exactly the intended query; the same words typed correctly (alone
    and in the same pairs) are the control → share given any correction (≤ 3 %); and the
    warm cost of the check on the control queries (``backend.did_you_mean``, ≤ 1 ms).

(h), (i) and (j) are also answered by plain OR-BM25 over the same jieba words (Whoosh's BM25F,
k1=1.2 b=0.75, over searcher's own index: the same terms and postings, title postings
weighted ×3 as indexed), the baseline our relaxed ranking must beat, in the same run.

"ceiling" is what a perfect engine could get: for (a)(b)(d) the *tie ceiling*
(documents whose titles contain every query part ranked first, in random order;
many news headlines repeat, e.g. 国内联播快讯), for (e)(f) min(10, relevant)/10.

    python bench/relevance.py --corpus /tmp/corpus_full --out bench/out/relevance.json
    python bench/relevance.py --limit 5000
    python bench/relevance.py --corpus /tmp/corpus20k --keep /tmp/rel --skip-recipe --sets ghi

The same sets against an index built beforehand from the same corpus: a folder, or an
OpenSearch location (``http(s)://host:port/NAME``; credentials from the environment):

    python bench/relevance.py --corpus /tmp/corpus20k --skip-recipe \
        --index http://127.0.0.1:9200/articles
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
from benchlib import Doc  # noqa: E402

SEED = 20240601
TOP = 10
PAGE = 1000
_MIXED = re.compile(
    r"(?<![a-z0-9.])(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{2,8}(?![a-z0-9]|\.[0-9])")
_YEAR = re.compile(r"(?<![0-9.])(?:19|20)[0-9]{2}(?=年)")
_UNIT = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+)?(?:亿|万|%|吨|公里|千瓦|人次)")
_PHRASE_CHARS = re.compile(r"^[\u3400-\u9fffa-z0-9]+$")
_HAN_CHAR = re.compile(r"[\u3400-\u9fff]")
_SENTENCE_END = re.compile(r"[。！？；!?;\n]")
#: How people wrap the words of a question (sets h and i): prefixes and suffixes.
QUESTION_FORMS = ("{}是什么", "{}怎么样", "如何{}", "{}吗", "为什么{}", "{}有哪些",
                  "{}是否可以", "什么是{}", "{}怎么办", "{}可以吗", "怎样{}", "{}有什么影响")

Search = Callable[[str, int | None], list[str]]


# -- engines ----------------------------------------------------------------------------
def searcher_engine(index_dir: Path | str, stats: Counter | None = None
                    ) -> tuple[Search, Callable[[], None]]:
    """searcher's public search(), returning document ids (all pages when limit is None).

    *index_dir* may name a cluster (``http(s)://host:port/NAME``): SearchEngine then
    picks the OpenSearch back end, with the same arguments and results.  *stats* counts
    the queries answered by the relaxed ("any word") path.
    """
    from searcher import SearchEngine
    from searcher.errors import QueryError

    engine: Any = SearchEngine(index_dir)

    def search(query: str, limit: int | None = TOP) -> list[str]:
        try:
            if limit is not None:
                res = engine.search(query, limit=limit)
                if stats is not None:
                    stats[query] = int(res.relaxed)
                return [h.id for h in res.hits]
            ids: list[str] = []
            page = 1
            while True:
                res = engine.search(query, limit=PAGE, page=page)
                ids.extend(h.id for h in res.hits)
                if len(res.hits) < PAGE:  # not res.total, which can undercount
                    return ids
                page += 1
        except QueryError:
            return []

    return search, engine.close


def recipe_engine(index_dir: Path, corpus: Path) -> tuple[Search, Callable[[], None]]:
    """The recipe's MultifieldParser search, its relpath ids mapped to searcher's ids."""
    import recipe

    from searcher.ingest.documents import document_id
    from searcher.ingest.sources import new_label

    engine = recipe.RecipeSearcher(index_dir)
    label = new_label(corpus, ())  # what searcher's index calls the lone source folder

    def search(query: str, limit: int | None = TOP) -> list[str]:
        try:
            return [document_id(r, label) for r in engine.search(query, limit)]
        except Exception:  # noqa: BLE001 - a parser error is an empty answer
            return []

    return search, engine.close


def or_bm25_engine(index_dir: Path) -> tuple[Search, Callable[[], None]]:
    """Plain OR-BM25 over the query's jieba words (the baseline for sets h and i).

    Whoosh's own BM25F (k1=1.2, b=0.75) over searcher's index: the words are what
    searcher indexes for the query text (``query_terms``, stop words dropped), any of them
    in title or body; no verbatim, title or proximity evidence.
    """
    from whoosh import query as wq
    from whoosh import scoring

    from searcher import SearchEngine
    from searcher.analysis.tokens import STOP_WORDS, query_terms
    from searcher.local.inspection import internals

    engine = SearchEngine(index_dir)
    _marker, _gen, ix = internals(engine).index()  # the bench reads the same segments
    whoosh_searcher = ix.searcher(weighting=scoring.BM25F())

    def search(query: str, limit: int | None = TOP) -> list[str]:
        terms = [t for t in dict.fromkeys(query_terms(query)) if t not in STOP_WORDS]
        if not terms:
            return []
        q = wq.Or([wq.Term(f, t) for t in terms for f in ("title", "body")])
        hits = whoosh_searcher.search(q, limit=limit or TOP)
        return [h["id"] for h in hits]

    def close() -> None:
        whoosh_searcher.close()
        engine.close()

    return search, close


# -- query sets -------------------------------------------------------------------------
@dataclass
class KnownItem:
    query: str
    target: str
    parts: list[str]
    ceiling: float = 0.0


@dataclass
class Judged:
    query: str
    relevant: set[str] = field(default_factory=set)


@dataclass
class Typo:
    query: str
    meant: str  # the intended query (the control's own query: never corrected)
    control: bool


def typo_set(docs: list[Doc], rng: random.Random, n: int) -> list[Typo]:
    """(k): *n* homophone typos of headline words (half alone, half with another word of
    the headline) that no article holds, and the same queries typed correctly."""
    from searcher.analysis.lexicon import char_readings

    readings = char_readings()
    sample = rng.sample(docs, min(len(docs), 3000))
    freq = Counter(ch for d in sample for ch in d.sq_title + d.sq_body[:2000]
                   if _HAN_CHAR.match(ch))
    by_reading: dict[str, list[str]] = {}
    for ch, _count in freq.most_common():
        if _count < 5:
            break
        for reading in readings.get(ch, ())[:1]:  # the character's main reading
            by_reading.setdefault(reading, []).append(ch)
    text = "\x00".join(d.sq_title + "\x00" + d.sq_body for d in docs)
    out: list[Typo] = []
    typos = 0
    for d in rng.sample(docs, len(docs)):
        if typos >= n:
            break
        words = [w for w in benchlib.headline_words(d.title) if 2 <= len(w) <= 4]
        if not words:
            continue
        word = rng.choice(words)
        at = rng.randrange(len(word))
        main = readings.get(word[at], ())[:1]
        choices = [c for c in by_reading.get(main[0], [])[:6] if c != word[at]][:5] \
            if main else []
        if not choices:
            continue
        typo = word[:at] + rng.choice(choices) + word[at + 1:]
        if typo in text:
            continue
        other = [w for w in words if w != word and w not in typo and typo not in w]
        if typos % 2 and other:
            second = rng.choice(other)
            out += [Typo(f"{typo} {second}", f"{word} {second}", False),
                    Typo(f"{word} {second}", f"{word} {second}", True)]
        else:
            out += [Typo(typo, word, False), Typo(word, word, True)]
        typos += 1
    return out


def typo_quality(index: Path | str, items: list[Typo]) -> dict:
    """(k): offered corrections, false corrections, and the warm cost of the check."""
    from searcher import SearchEngine
    from searcher.arguments import prepare_search

    engine = SearchEngine(index)
    right = wrong = 0
    missed: list[dict] = []
    costs: list[float] = []
    try:
        for item in items:
            offered = engine.search(item.query).did_you_mean
            if item.control:
                wrong += offered is not None
                request = prepare_search(engine.settings.timezone, item.query)
                timings = []
                for _ in range(3):  # warm: the search above looked the same strings up
                    t = time.perf_counter()
                    engine.backend.did_you_mean(request)
                    timings.append(time.perf_counter() - t)
                costs.append(min(timings))
            elif offered == item.meant:
                right += 1
            else:
                missed.append({"q": item.query, "meant": item.meant, "offered": offered})
    finally:
        engine.close()
    typos = sum(1 for i in items if not i.control)
    controls = len(items) - typos
    costs.sort()
    return {"offered": right / max(typos, 1), "false": wrong / max(controls, 1),
            "typos": typos, "controls": controls,
            "cost_ms_median": 1000 * costs[len(costs) // 2] if costs else 0.0,
            "cost_ms_p95": 1000 * costs[int(len(costs) * 0.95)] if costs else 0.0,
            "missed": missed}


def tie_ceiling(parts: list[str], docs: list[Doc]) -> float:
    """Expected reciprocal rank when all docs whose titles hold every part come first, shuffled."""
    from searcher.analysis.normalize import squeeze

    needles = [squeeze(p) for p in parts]
    n = sum(1 for d in docs if all(x in d.sq_title for x in needles))
    n = max(n, 1)
    return sum(1 / r for r in range(1, min(n, TOP) + 1)) / n


def known_words(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(a): 2–3 whole jieba words of a headline, in title order."""
    out: list[KnownItem] = []
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        words = benchlib.headline_words(d.title)
        if len(words) < 2:
            continue
        k = min(len(words), rng.choice((2, 3)))
        picked = [words[i] for i in sorted(rng.sample(range(len(words)), k))]
        out.append(KnownItem(" ".join(picked), d.id, picked, tie_ceiling(picked, docs)))
    return out


def known_fragments(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(b): a 3–6 char headline substring that starts or ends inside a word."""
    out: list[KnownItem] = []
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        frag = benchlib.boundary_fragment(d.title, rng, 3, 6)
        if frag:
            out.append(KnownItem(frag, d.id, [frag], tie_ceiling([frag], docs)))
    return out


def phrases(docs: list[Doc], rng: random.Random, n: int) -> list[Judged]:
    """(c): 2–8 char substrings (Han, letters, digits) of bodies, judged by exact containment."""
    out: list[Judged] = []
    seen: set[str] = set()
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        body = d.sq_body
        for _ in range(20):
            size = rng.randint(2, 8)
            if len(body) <= size:
                break
            i = rng.randrange(0, len(body) - size)
            text = body[i : i + size]
            if _PHRASE_CHARS.match(text) and text not in seen:
                seen.add(text)
                out.append(Judged(text, containing(text, docs)))
                break
    return out


def pasted(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(g): unquoted 6–10 char runs of a body (Han, letters, digits) found in no other article."""
    out: list[KnownItem] = []
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        body = d.sq_body
        for _ in range(10):
            size = rng.randint(6, 10)
            if len(body) <= size:
                break
            i = rng.randrange(0, len(body) - size)
            text = body[i : i + size]
            if (_PHRASE_CHARS.match(text) and len(_HAN_CHAR.findall(text)) >= 4
                    and only_in(text, d, docs)):
                out.append(KnownItem(text, d.id, [text], 1.0))
                break
    return out


def only_in(needle: str, owner: Doc, docs: list[Doc]) -> bool:
    """Whether *owner* is the one document whose title or body contains *needle*."""
    return all(d is owner or (needle not in d.sq_body and needle not in d.sq_title)
               for d in docs)


def question(words: list[str], rng: random.Random) -> str:
    return rng.choice(QUESTION_FORMS).format("".join(words))


def headline_questions(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(h): 1–3 whole headline words, in title order, in question phrasing."""
    out: list[KnownItem] = []
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        words = benchlib.headline_words(d.title)
        if not words:
            continue
        k = min(len(words), rng.choice((1, 2, 2, 3)))
        picked = [words[i] for i in sorted(rng.sample(range(len(words)), k))]
        out.append(KnownItem(question(picked, rng), d.id, picked, tie_ceiling(picked, docs)))
    return out


def sentence_questions(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(i): 3–4 content words of one body sentence, in order, in question phrasing.

    Ceiling: every article holding all the words (title or body) first, in random order.
    """
    out: list[KnownItem] = []
    for d in rng.sample(docs, len(docs)):
        if len(out) >= n:
            break
        sentences = [s for s in _SENTENCE_END.split(d.body) if 12 <= len(s.strip()) <= 80]
        if not sentences:
            continue
        words = benchlib.headline_words(rng.choice(sentences))
        if len(words) < 3:
            continue
        k = min(len(words), rng.choice((3, 4)))
        picked = [words[i] for i in sorted(rng.sample(range(len(words)), k))]
        out.append(KnownItem(question(picked, rng), d.id, picked, body_ceiling(picked, docs)))
    return out


def distracted_questions(docs: list[Doc], rng: random.Random, n: int) -> list[KnownItem]:
    """(j): like (i), plus one headline word of another article that this one lacks (people
    ask with words the answer does not use), so that few or no articles hold every word."""
    out: list[KnownItem] = []
    for item in sentence_questions(docs, rng, n):
        owner = next(d for d in docs if d.id == item.target)
        for _ in range(20):
            words = benchlib.headline_words(rng.choice(docs).title)
            lacking = [w for w in words if w not in owner.sq_title and w not in owner.sq_body]
            if lacking:
                break
        else:
            continue
        parts = list(item.parts)
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(lacking))
        out.append(KnownItem(question(parts, rng), item.target, parts, item.ceiling))
    return out


def body_ceiling(parts: list[str], docs: list[Doc]) -> float:
    """Expected reciprocal rank when all docs holding every part come first, shuffled."""
    n = max(sum(1 for d in docs if all(p in d.sq_title or p in d.sq_body for p in parts)), 1)
    return sum(1 / r for r in range(1, min(n, TOP) + 1)) / n


def containing(needle: str, docs: list[Doc]) -> set[str]:
    return {d.id for d in docs if needle in d.sq_title or needle in d.sq_body}


def containing_token(token: str, folded: list[tuple[str, str]]) -> set[str]:
    """Ids of (id, folded text) pairs holding *token* not glued to more letters/digits."""
    rx = re.compile(r"(?<![a-z0-9.])" + re.escape(token) + r"(?![a-z0-9]|\.[0-9])")
    return {doc_id for doc_id, text in folded if rx.search(text)}


def pinyin_set(docs: list[Doc], rng: random.Random, n: int) -> list[tuple[Judged, str]]:
    """(e): (pinyin query judged by the Chinese word, the word) for 2–3 char headline words."""
    from pypinyin import lazy_pinyin

    words = sorted({w for d in docs for w in benchlib.headline_words(d.title) if len(w) <= 3})
    out = []
    for word in rng.sample(words, min(n, len(words))):
        query = "".join(lazy_pinyin(word))
        if query.isascii() and query.isalpha():
            out.append((Judged(query, containing(word, docs)), word))
    return out


def latin_set(docs: list[Doc], rng: random.Random, n: int) -> list[tuple[Judged, str]]:
    """(f): letter+digit tokens, years and numbers with units that occur in 3+ documents."""
    from searcher.analysis.normalize import fold

    counts: dict[str, Counter[str]] = {"mixed": Counter(), "year": Counter(), "unit": Counter()}
    folded = [(d.id, fold(d.title + "\n" + d.body)) for d in docs]
    for _id, text in folded:
        for kind, rx in (("mixed", _MIXED), ("year", _YEAR), ("unit", _UNIT)):
            counts[kind].update(set(rx.findall(text)))
    quota = {"mixed": n * 2 // 5, "year": n // 5, "unit": n - n * 2 // 5 - n // 5}
    out = []
    for kind, counter in counts.items():
        pool = sorted(t for t, c in counter.items() if c >= 3)
        for token in rng.sample(pool, min(quota[kind], len(pool))):
            query = token.upper() if kind == "mixed" else token
            out.append((Judged(query, containing_token(token, folded)), kind))
    return out


# -- measures ---------------------------------------------------------------------------
def mrr(search: Search, items: list[KnownItem], query: Callable[[KnownItem], str]) -> dict:
    ranks = []
    for item in items:
        ids = search(query(item), TOP)
        ranks.append(ids.index(item.target) + 1 if item.target in ids else 0)
    rr = [1 / r if r else 0.0 for r in ranks]
    return {"mrr": statistics.fmean(rr) if rr else 0.0,
            "hit@1": sum(r == 1 for r in ranks) / max(len(ranks), 1),
            "hit@10": sum(r > 0 for r in ranks) / max(len(ranks), 1), "ranks": ranks}


def precision_at_10(search: Search, items: list[Judged]) -> dict:
    scores = []
    for item in items:
        ids = search(item.query, TOP)
        scores.append(sum(i in item.relevant for i in ids) / TOP)
    return {"p@10": statistics.fmean(scores) if scores else 0.0, "scores": scores}


def set_quality(search: Search, items: list[Judged]) -> dict:
    recalls, precisions, exact, empty = [], [], 0, 0
    per_query = []
    for item in items:
        got = set(search(f'"{item.query}"', None))
        hit = len(got & item.relevant)
        recall = hit / len(item.relevant) if item.relevant else 1.0
        recalls.append(recall)
        if got:
            precisions.append(hit / len(got))
        else:
            empty += 1
        exact += got == item.relevant
        per_query.append({"q": item.query, "truth": len(item.relevant), "got": len(got),
                          "correct": hit})
    return {"recall": statistics.fmean(recalls) if recalls else 0.0,
            "precision": statistics.fmean(precisions) if precisions else 0.0,
            "exact_sets": exact / max(len(items), 1), "empty": empty, "queries": per_query}


def ceiling_p10(items: list[Judged]) -> float:
    return statistics.fmean(min(TOP, len(i.relevant)) / TOP for i in items) if items else 0.0


# -- main -------------------------------------------------------------------------------
def build_indexes(corpus: Path, work: Path, jobs: int, skip_recipe: bool,
                  skip_searcher: bool = False) -> dict[str, float]:
    """Build (or reuse, when already in *work*) the searcher and recipe indexes."""
    from whoosh import index as whoosh_index

    from searcher import SearchEngine

    took: dict[str, float] = {}
    s_dir, r_dir = work / "searcher", work / "recipe"
    if not skip_searcher and not (s_dir / "CURRENT").exists():
        print("building the searcher index ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        SearchEngine(s_dir).index([corpus], full=True, jobs=jobs or None)
        took["searcher_build_s"] = time.perf_counter() - t
    if not skip_recipe and not (r_dir.exists() and whoosh_index.exists_in(str(r_dir))):
        import recipe

        print("building the recipe index ...", file=sys.stderr, flush=True)
        shutil.rmtree(r_dir, ignore_errors=True)
        t = time.perf_counter()
        recipe.build(corpus, r_dir)
        took["recipe_build_s"] = time.perf_counter() - t
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="article folder (default: generate one)")
    ap.add_argument("--limit", type=int, default=5000,
                    help="real articles to generate when no --corpus (default 5000)")
    ap.add_argument("--jobs", type=int, default=0, help="searcher build processes (0: nproc)")
    ap.add_argument("--per-set", type=int, default=300,
                    help="queries in sets a, b, d, g, h and i")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--sets", default=ALL_SETS,
                    help=f"which sets to run (letters, default {ALL_SETS})")
    ap.add_argument("--skip-recipe", action="store_true", help="evaluate searcher only")
    ap.add_argument("--keep", type=Path,
                    help="build indexes into this folder and reuse them on the next run")
    ap.add_argument("--out", help="write all numbers (and per-query results) as JSON here")
    ap.add_argument("--index",
                    help="evaluate this index of --corpus (a folder, or an OpenSearch location "
                         "http(s)://host:port/NAME) instead of building one")
    ap.add_argument("--skip-bm25", action="store_true",
                    help="no OR-BM25 baseline on the question sets (ablations)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a ranking constant of searcher.core.rules (ablations, as "
                         "in bench/stard.py)")
    args = ap.parse_args()
    if args.set:
        from stard import set_constants

        print("changed: " + " ".join(set_constants(args.set)))
    if args.index and args.corpus is None:
        ap.error("--index needs --corpus (the corpus the index was built from)")
    chosen = [k for k in ALL_SETS if k in args.sets]
    if not chosen:
        ap.error(f"--sets: give letters from {ALL_SETS}")

    info = benchlib.machine()
    print(f"machine: nproc={info['nproc']} python={info['python']} cpu={info['cpu']}")
    generated = args.corpus is None
    corpus = (benchlib.make_corpus(args.limit) if generated else args.corpus).absolute()
    if args.index:
        from searcher.opensearch.client import public_url

        print(f"index: {public_url(args.index)} (built beforehand from the corpus)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-relevance-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": info, "corpus": str(corpus), "seed": args.seed}
    sets: dict[str, list] = {}
    try:
        t = time.perf_counter()
        docs = benchlib.load_docs(corpus)
        print(f"corpus: {corpus} ({len(docs)} documents, loaded in "
              f"{time.perf_counter() - t:.0f} s)", flush=True)
        sets = make_sets(docs, args.seed, args.per_set, chosen)
        print("query sets: " + " ".join(f"{k}={len(sets[k])}" for k in chosen), flush=True)
        result["build"] = build_indexes(corpus, work, args.jobs, args.skip_recipe,
                                        skip_searcher=bool(args.index))

        cluster = bool(args.index) and args.index.startswith(("http:", "https:"))
        local_dir = Path(args.index) if args.index and not cluster else work / "searcher"
        relaxed: Counter[str] = Counter()
        engines = {"opensearch" if cluster else "searcher":
                   searcher_engine(args.index or local_dir, relaxed)}
        if not args.skip_recipe:
            engines["recipe"] = recipe_engine(work / "recipe", corpus)
        if any(k in QUESTION_SETS for k in chosen) and not args.skip_bm25:
            if (local_dir / "CURRENT").exists():  # the baseline reads a local index's postings
                engines["OR-BM25"] = or_bm25_engine(local_dir)
            else:
                print("OR-BM25 baseline skipped: it needs a local index (--keep DIR with "
                      "DIR/searcher, or --index FOLDER)", file=sys.stderr)
        scores: dict[str, dict[str, Any]] = {}
        if "k" in chosen:  # the index's own did_you_mean, not a list of ids
            print("evaluating did-you-mean (k) ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            result["typos"] = typo_quality(args.index or local_dir, sets["k"])
            result["typos"]["seconds"] = time.perf_counter() - t
        for name, (search, close) in engines.items():
            print(f"evaluating {name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            runs = evaluations(search, sets, chosen)
            if name == "OR-BM25":  # the baseline answers the question sets only
                runs = {k: v for k, v in runs.items() if k in QUESTION_SETS}
            scores[name] = {}
            for key, run in runs.items():
                t_set = time.perf_counter()
                scores[name][key] = run()
                scores[name][key]["seconds"] = time.perf_counter() - t_set
                if name in ("searcher", "opensearch") and key in sets and key not in "cef":
                    asked = sets["d"] if key == "d" else [i.query for i in sets[key]]
                    scores[name][key]["relaxed"] = sum(relaxed[q] for q in asked) / max(
                        len(asked), 1)
            scores[name]["seconds"] = time.perf_counter() - t
            close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if generated:
            shutil.rmtree(corpus, ignore_errors=True)

    ceil = {k: statistics.fmean(i.ceiling for i in sets[k]) if sets[k] else 0.0
            for k in "abghij" if k in sets}
    if "d" in sets:
        ceil["d"] = ceil["a"]
    for k in "ef":
        if k in sets:
            ceil[k] = ceiling_p10([j for j, _ in sets[k]])
    print_table(scores, sets, chosen, ceil)
    if "typos" in result:
        print_typos(result["typos"])
    result["ceiling"] = ceil
    result["scores"] = scores
    result["sets"] = {k: describe(k, sets[k]) for k in chosen}
    benchlib.dump(args.out, result)


ALL_SETS = "abcdefghijk"
#: Sets answered by the OR-BM25 baseline too.
QUESTION_SETS = "hij"
_NAMES = {"a": "headline words", "b": "headline fragments", "d": "traditional script",
          "g": "pasted body text", "h": "questions, headline words",
          "i": "questions, body sentence", "j": "questions, a word it lacks"}


def make_sets(docs: list[Doc], seed: int, n: int, chosen: list[str]) -> dict[str, list]:
    """The query sets; a–f come from one generator (as always), g, h, i each from their own."""
    sets: dict[str, list] = {}
    if any(k in "abcdef" for k in chosen):
        rng = random.Random(seed)
        sets["a"] = known_words(docs, rng, n)
        sets["b"] = known_fragments(docs, rng, n)
        sets["c"] = phrases(docs, rng, n * 2 // 3)
        sets["e"] = pinyin_set(docs, rng, n // 3)
        sets["f"] = latin_set(docs, rng, n // 3)
        from opencc import OpenCC

        s2t = OpenCC("s2t")
        sets["d"] = [s2t.convert(item.query) for item in sets["a"]]
    makers = {"g": pasted, "h": headline_questions, "i": sentence_questions,
              "j": distracted_questions, "k": typo_set}
    for offset, (key, make) in enumerate(makers.items(), start=1):
        if key in chosen:
            sets[key] = make(docs, random.Random(seed + offset), n)
    return sets


def evaluations(search: Search, sets: dict[str, list], chosen: list[str]
                ) -> dict[str, Callable[[], dict]]:
    """What to measure on each chosen set."""
    runs: dict[str, Callable[[], dict]] = {}
    for key in chosen:
        items = sets[key]
        if key == "k":  # measured on the index itself (typo_quality)
            continue
        if key in "abghij":
            runs[key] = lambda s=items: mrr(search, s, lambda i: i.query)
        elif key == "c":
            runs[key] = lambda s=items: set_quality(search, s)
        elif key == "d":
            trad = dict(zip(map(id, sets["a"]), items, strict=True))
            runs[key] = lambda t=trad: mrr(search, sets["a"], lambda i: t[id(i)])
        else:
            runs[key] = lambda s=items: precision_at_10(search, [j for j, _ in s])
    return runs


def print_table(scores: dict[str, dict[str, Any]], sets: dict[str, list], chosen: list[str],
                ceil: dict[str, float]) -> None:
    names = list(scores)

    def cell(name: str, key: str, metric: str) -> str:
        if key not in scores[name]:
            return "-"
        value = scores[name][key][metric]
        if key == "d" and "a" in scores[name]:
            base = scores[name]["a"][metric]
            return f"{value:.3f} ({value / base:.0%} of a)" if base else f"{value:.3f}"
        return f"{value:.3f}"

    rows = [("set", "measure", *names, "ceiling")]
    for key in chosen:
        if key == "k":  # print_typos
            continue
        size = len(sets[key])
        if key in "abdghij":
            rows.append((f"({key}) {_NAMES[key]} ({size})", "MRR@10",
                         *[cell(x, key, "mrr") for x in names], f"{ceil[key]:.3f}"))
            rows.append(("", "hit@1", *[cell(x, key, "hit@1") for x in names], ""))
            if key != "d":
                rows.append(("", "hit@10", *[cell(x, key, "hit@10") for x in names], ""))
            rows.append(("", "relaxed share", *[
                f"{scores[x][key]['relaxed']:.2f}" if "relaxed" in scores[x].get(key, {})
                else "-" for x in names], ""))
        elif key == "c":
            rows.append((f"(c) exact phrases ({size})", "recall",
                         *[cell(x, "c", "recall") for x in names], "1.000"))
            rows.append(("", "precision", *[cell(x, "c", "precision") for x in names],
                         "1.000"))
            rows.append(("", "exact result set", *[cell(x, "c", "exact_sets") for x in names],
                         "1.000"))
        else:
            label = "pinyin" if key == "e" else "Latin/digit"
            rows.append((f"({key}) {label} ({size})", "P@10",
                         *[cell(x, key, "p@10") for x in names], f"{ceil[key]:.3f}"))
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = enumerate(zip(r, widths, strict=True))
        print("  ".join(_pad(c, w, right=i > 1) for i, (c, w) in cells))
    print("ceiling: (a)(b)(d)(h) tie ceiling; (i)(j) the same over title or body (the source's "
          "own words); (g) one article holds the run; (c) exact by definition; (e)(f) "
          "min(10, relevant)/10")
    for name in names:
        per_set = ", ".join(f"{k} {scores[name][k]['seconds']:.0f}" for k in chosen
                            if k in scores[name])
        empty = f"(c) {scores[name]['c']['empty']} phrase queries returned nothing; " \
            if "c" in scores[name] else ""
        print(f"{name}: {empty}evaluation took {scores[name]['seconds']:.0f} s "
              f"(per set, s: {per_set})")


def print_typos(found: dict[str, Any]) -> None:
    """The (k) rows: did-you-mean on homophone typos, and on the same words typed right."""
    print(f"(k) did you mean: intended query offered for {found['offered']:.1%} of "
          f"{found['typos']} typos (target >= 90%); a correction offered for "
          f"{found['false']:.1%} of {found['controls']} correct queries (target <= 3%); warm "
          f"cost of the check on those: median {found['cost_ms_median']:.2f} ms, p95 "
          f"{found['cost_ms_p95']:.2f} ms (target <= 1 ms)")


def describe(key: str, items: list) -> list:
    """The queries of one set, for the JSON output."""
    if key == "k":
        return [i.__dict__ for i in items]
    if key in "abghij":
        return [i.__dict__ for i in items]
    if key == "c":
        return [{"q": j.query, "truth": len(j.relevant)} for j in items]
    if key == "d":
        return list(items)
    kind = "word" if key == "e" else "kind"
    return [{"q": j.query, kind: w, "truth": len(j.relevant)} for j, w in items]


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1
               for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


if __name__ == "__main__":
    main()
