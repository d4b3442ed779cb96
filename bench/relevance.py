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

"ceiling" is what a perfect engine could get: for (a)(b)(d) the *tie ceiling*
(documents whose titles contain every query part ranked first, in random order;
many news headlines repeat, e.g. 国内联播快讯), for (e)(f) min(10, relevant)/10.

    python bench/relevance.py --corpus /tmp/corpus_full --out bench/out/relevance.json
    python bench/relevance.py --limit 5000

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

Search = Callable[[str, int | None], list[str]]


# -- engines ----------------------------------------------------------------------------
def searcher_engine(index_dir: Path | str) -> tuple[Search, Callable[[], None]]:
    """searcher's public search(), returning document ids (all pages when limit is None).

    *index_dir* may name a cluster (``http(s)://host:port/NAME``): SearchEngine then
    picks the OpenSearch back end, with the same arguments and results.
    """
    from searcher import SearchEngine
    from searcher.errors import QueryError

    engine: Any = SearchEngine(index_dir)

    def search(query: str, limit: int | None = TOP) -> list[str]:
        try:
            if limit is not None:
                return [h.id for h in engine.search(query, limit=limit).hits]
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
    ap.add_argument("--per-set", type=int, default=300, help="queries in sets a, b and d")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--skip-recipe", action="store_true", help="evaluate searcher only")
    ap.add_argument("--keep", type=Path,
                    help="build indexes into this folder and reuse them on the next run")
    ap.add_argument("--out", help="write all numbers (and per-query results) as JSON here")
    ap.add_argument("--index",
                    help="evaluate this index of --corpus (a folder, or an OpenSearch location "
                         "http(s)://host:port/NAME) instead of building one")
    args = ap.parse_args()
    if args.index and args.corpus is None:
        ap.error("--index needs --corpus (the corpus the index was built from)")

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
    try:
        t = time.perf_counter()
        docs = benchlib.load_docs(corpus)
        print(f"corpus: {corpus} ({len(docs)} documents, loaded in "
              f"{time.perf_counter() - t:.0f} s)", flush=True)
        rng = random.Random(args.seed)
        n = args.per_set
        sets_a = known_words(docs, rng, n)
        sets_b = known_fragments(docs, rng, n)
        sets_c = phrases(docs, rng, n * 2 // 3)
        sets_e = pinyin_set(docs, rng, n // 3)
        sets_f = latin_set(docs, rng, n // 3)
        from opencc import OpenCC

        s2t = OpenCC("s2t")
        trad = {id(item): s2t.convert(item.query) for item in sets_a}
        print(f"query sets: a={len(sets_a)} b={len(sets_b)} c={len(sets_c)} d={len(sets_a)} "
              f"e={len(sets_e)} f={len(sets_f)}", flush=True)
        result["build"] = build_indexes(corpus, work, args.jobs, args.skip_recipe,
                                        skip_searcher=bool(args.index))

        label = "opensearch" if args.index and args.index.startswith(("http:", "https:")) \
            else "searcher"
        engines = {label: searcher_engine(args.index or work / "searcher")}
        if not args.skip_recipe:
            engines["recipe"] = recipe_engine(work / "recipe", corpus)
        scores: dict[str, dict[str, Any]] = {}
        for name, (search, close) in engines.items():
            print(f"evaluating {name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            runs: dict[str, Callable[[], dict]] = {
                "a": lambda s=search: mrr(s, sets_a, lambda i: i.query),
                "b": lambda s=search: mrr(s, sets_b, lambda i: i.query),
                "c": lambda s=search: set_quality(s, sets_c),
                "d": lambda s=search: mrr(s, sets_a, lambda i: trad[id(i)]),
                "e": lambda s=search: precision_at_10(s, [j for j, _ in sets_e]),
                "f": lambda s=search: precision_at_10(s, [j for j, _ in sets_f]),
            }
            scores[name] = {}
            for key, run in runs.items():
                t_set = time.perf_counter()
                scores[name][key] = run()
                scores[name][key]["seconds"] = time.perf_counter() - t_set
            scores[name]["seconds"] = time.perf_counter() - t
            close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if generated:
            shutil.rmtree(corpus, ignore_errors=True)

    ceil = {
        "a": statistics.fmean(i.ceiling for i in sets_a) if sets_a else 0.0,
        "b": statistics.fmean(i.ceiling for i in sets_b) if sets_b else 0.0,
        "e": ceiling_p10([j for j, _ in sets_e]),
        "f": ceiling_p10([j for j, _ in sets_f]),
    }
    names = list(scores)

    def cell(name: str, key: str, metric: str) -> str:
        value = scores[name][key][metric]
        if key == "d":
            base = scores[name]["a"]["mrr"]
            return f"{value:.3f} ({value / base:.0%} of a)" if base else f"{value:.3f}"
        return f"{value:.3f}"

    rows = [("set", "measure", *names, "ceiling")]
    rows.append((f"(a) headline words ({len(sets_a)})", "MRR@10",
                 *[cell(x, "a", "mrr") for x in names], f"{ceil['a']:.3f}"))
    rows.append(("", "hit@1", *[cell(x, "a", "hit@1") for x in names], ""))
    rows.append(("", "hit@10", *[cell(x, "a", "hit@10") for x in names], ""))
    rows.append((f"(b) headline fragments ({len(sets_b)})", "MRR@10",
                 *[cell(x, "b", "mrr") for x in names], f"{ceil['b']:.3f}"))
    rows.append((f"(c) exact phrases ({len(sets_c)})", "recall",
                 *[cell(x, "c", "recall") for x in names], "1.000"))
    rows.append(("", "precision", *[cell(x, "c", "precision") for x in names], "1.000"))
    rows.append(("", "exact result set", *[cell(x, "c", "exact_sets") for x in names], "1.000"))
    rows.append((f"(d) traditional script ({len(sets_a)})", "MRR@10",
                 *[cell(x, "d", "mrr") for x in names], f"{ceil['a']:.3f}"))
    rows.append((f"(e) pinyin ({len(sets_e)})", "P@10",
                 *[cell(x, "e", "p@10") for x in names], f"{ceil['e']:.3f}"))
    rows.append((f"(f) Latin/digit ({len(sets_f)})", "P@10",
                 *[cell(x, "f", "p@10") for x in names], f"{ceil['f']:.3f}"))
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = enumerate(zip(r, widths, strict=True))
        print("  ".join(_pad(c, w, right=i > 1) for i, (c, w) in cells))
    print("ceiling: (a)(b)(d) tie ceiling; (c) exact by definition; (e)(f) min(10, relevant)/10")
    for name in names:
        c = scores[name]["c"]
        per_set = ", ".join(f"{k} {scores[name][k]['seconds']:.0f}" for k in "abcdef")
        print(f"{name}: (c) {c['empty']} phrase queries returned nothing; evaluation took "
              f"{scores[name]['seconds']:.0f} s (per set, s: {per_set})")

    result["ceiling"] = ceil
    result["scores"] = scores
    result["sets"] = {
        "a": [i.__dict__ for i in sets_a], "b": [i.__dict__ for i in sets_b],
        "c": [{"q": j.query, "truth": len(j.relevant)} for j in sets_c],
        "d": [trad[id(i)] for i in sets_a],
        "e": [{"q": j.query, "word": w, "truth": len(j.relevant)} for j, w in sets_e],
        "f": [{"q": j.query, "kind": k, "truth": len(j.relevant)} for j, k in sets_f],
    }
    benchlib.dump(args.out, result)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1
               for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


if __name__ == "__main__":
    main()
