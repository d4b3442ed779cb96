"""The ranking rules both back ends execute: weights, query words, questions, verbatim runs.

Each rule is defined here once.  The local back end (:mod:`searcher.local.evaluator`)
executes it with numpy over the index's segments, the cluster back end
(:mod:`searcher.opensearch.dsl`) translates it into OpenSearch's query DSL; both read the
weights as ``rules.NAME`` when they run, so an ablation (``bench/stard.py --set``) changes
one place.

Scoring is BM25 per field (title terms weigh ``TITLE_BOOST``), summed over fields and
terms, plus:

* "contains the query word verbatim", BM25 over the string's own document frequency
  (rarity) times a weight that grows with its length when it spans several jieba words
  (:func:`verbatim_weight`);
* proximity: runs of adjacent content words of a query word, found verbatim
  (:func:`content_runs`);
* a bonus for titles that hold every plain query word (``TITLE_ALL_BOOST``);
* question words (``QUESTION_WORDS``) weigh ``QUESTION_WEIGHT`` and are never required;
  "any word" ranking (relaxed queries, questions) multiplies by the share of the words a
  document holds, each word weighing its :func:`idf` (``COORD_POWER``), except the word
  an asking word asks for (影响 of 有什么影响: :func:`asked_words`, ``ASKED_SHARE``);
  there a word's title score is scaled by the share of the words its title holds
  (``TITLE_SHARE_POWER``);
* in "any word" ranking of a long question, the BM25 of its character bigrams
  (``BIGRAM_WEIGHT``): the parts of words it shares with an answer cut otherwise;
* pinyin readings and synonyms as alternatives (pinyin below literal matches).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection

from ..analysis.normalize import fold, squeeze
from ..analysis.tokens import QUESTION_WORDS, STOP_WORDS, iter_terms, latin_parts
from ..query import Node, Word

K1 = 1.2
B = 0.75
#: Weight of "contains the query word verbatim" next to the word match itself: a document
#: that has the words *and* the exact string beats one with only scattered words, and a
#: rare exact string found only across word boundaries (a headline fragment) still ranks.
VERBATIM_SCALE = 1.0
#: A verbatim match of a query word that spans several jieba words is stronger evidence
#: the longer it is: its weight is VERBATIM_SCALE × (characters / 2) ** VERBATIM_POWER
#: (2 characters: 1, as for one word; 8: 8), on top of its rarity (the idf of the string).
VERBATIM_POWER = 1.5
#: Longest run counted for that weight (a pasted sentence is proof enough at this length).
VERBATIM_MAX_CHARS = 16
#: Shortest run of query words searched verbatim as proximity evidence (content_runs).  A
#: lone character (心 of a pasted 心的党中央…, cut from 中心) is in half the articles, so
#: its verbatim match says next to nothing, and it is the dearest string to find: every
#: bigram group it starts, merged.
RUN_MIN_CHARS = 2
#: Bonus (times the title scores) when the title holds every plain word of the query.
TITLE_ALL_BOOST = 3.0
#: Quantities need their numbers whole (4万 is not in 14万), except in a pasted run with
#: this many Han characters, which also matches (at LOOSE_NUMBER_WEIGHT) where cut.
LOOSE_NUMBER_HAN = 4
LOOSE_NUMBER_WEIGHT = 0.5
PINYIN_BOOST = 0.3
#: Weight of question words (什么, 是否, 有哪些 …: ``QUESTION_WORDS``) next to the other
#: words of a query; they are not required when the query has other words.  They say
#: nothing about the answer: at 0.1 an article holding 什么 was ranked up among the
#: answers to a real question (bench/stard.py: 0 is +0.001 nDCG@10 and +0.006 R@100 on
#: both halves of the questions, bench/relevance.py h, i unchanged, j +0.001).
QUESTION_WEIGHT = 0.0
#: "Any word" ranking (relaxed queries, questions): scores times (share of the query's
#: words a document holds) ** COORD_POWER, each word weighing its idf, so documents holding
#: more of the question come first, and its rare words count for more than its common ones.
#: (Counting words alike ranked articles holding many common words of a long question
#: above the answer holding its rare ones: bench/stard.py.)  An integer (the cluster
#: applies the share that many times).
COORD_POWER = 2
#: Question words that ask for a thing (什么, 哪些 …): the word right after one names what
#: the answer gives (有什么影响, 符合什么要求, 享有哪些权利).  The answer often holds it
#: (权利, 条件), so it is scored like any word, but an article lacking it still answers
#: the question: in that share it weighs ASKED_SHARE of its idf (:func:`asked_words`).
ASKING_WORDS = frozenset("什么 哪些 哪个 哪种 何种 什么样 有何".split())
ASKED_SHARE = 0.0
#: "Any word" ranking: a word's title score times (share of the query's words the title
#: holds, each weighing its idf as in COORD_POWER; only words some title holds count) **
#: TITLE_SHARE_POWER.  A title holding most of a question says what the document is
#: about; one holding a single word of a long question only names a topic, and where many
#: documents share a title (a law's name over its hundreds of articles, bench/stard.py)
#: it lifted all of them above the article that answers.  An integer (the cluster applies
#: the share that many times).
TITLE_SHARE_POWER = 1
#: "Any word" ranking of a long Chinese query word (a question of BIGRAM_MIN_WORDS content
#: words or more): each distinct character bigram of its Han runs (:func:`han_bigrams`)
#: scores its BM25 over the document's whole text (title and body alike, normalised by
#: the text's length); their sum, times the share of the bigrams the document holds (each
#: weighing its idf, BIGRAM_COORD times, like the words' share) and BIGRAM_WEIGHT, adds to
#: the documents the words matched, after the words' share scaled them.  A colloquial
#: question and the article that answers it often share only parts of words (企业间留置权 /
#: 企业之间留置), which jieba cuts apart so that their words do not meet; their bigrams do,
#: and such an answer holds few of the question's words, so the bigrams count outside the
#: words' share (inside it they kept a third of the gain).  STARD (bench/stard.py, nDCG@10):
#: plain word BM25 0.416, words + bigrams 0.443; the engine 0.418 → 0.439.  A query of
#: fewer words names its topic, and its words are what the answer holds: there bigrams only
#: reshuffled articles sharing a headline (bench/relevance.py h: 0.450 → 0.445 at any
#: number of words).  Without the bigrams' own share, an article holding one rare pair of
#: a word the answer lacks (量子 of 量子纠缠) was lifted above it.  docs/relevance.md has
#: the variants tried.
BIGRAM_WEIGHT = 0.75
BIGRAM_MIN_WORDS = 4
#: An integer (the cluster applies the share that many times).
BIGRAM_COORD = 1
#: Occurrences of a phrase in the title count this many times (like the title boost).
TITLE_WEIGHT = 3.0
TEXT_FIELDS = ("title", "body")
#: Title terms count this many times (the local index's field boost; the cluster indexes
#: title terms this many times).
TITLE_BOOST = 3.0

#: Separates title from body in the squeezed text (both back ends store title + FIELD_BREAK +
#: body without whitespace), so no exact match spans both.
FIELD_BREAK = "\x1e"

#: Han characters (what makes a query word Chinese: verbatim matching, proximity).
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
#: A run of them (what :func:`han_bigrams` takes its pairs from).
HAN_RUN = re.compile(HAN.pattern + "+")
#: A Latin word that may be pinyin.
LATIN_WORD = re.compile(r"^[a-z]+$")


def idf(total: int, count: int) -> float:
    """BM25's idf of something *count* of *total* documents hold (both back ends' weights
    of words and strings)."""
    return math.log(1 + (max(total, 1) - count + 0.5) / (count + 0.5))


def han_bigrams(needle: str) -> list[str]:
    """The distinct character bigrams of each run of Han characters of *needle* (squeezed
    and folded), in order: what :data:`BIGRAM_WEIGHT` scores (both back ends)."""
    grams: dict[str, None] = {}
    for run in HAN_RUN.findall(needle):
        for start in range(len(run) - 1):
            grams[run[start:start + 2]] = None
    return list(grams)


def bigrams_count(needle: str, required: list[str]) -> bool:
    """Whether "any word" ranking scores the character bigrams of a query word (*needle*
    squeezed, *required* its content words): a Chinese word of BIGRAM_MIN_WORDS content
    words or more."""
    return bool(BIGRAM_WEIGHT) and len(required) >= BIGRAM_MIN_WORDS \
        and bool(HAN.search(needle))


def asked_words(terms: list[str]) -> set[str]:
    """The words of *terms* (one plain word's jieba words, in order) that an asking word
    right before them asks for (影响 of 有什么影响; not 是 of 什么是, a stop word)."""
    return {term for before, term in zip(terms, terms[1:], strict=False)
            if before in ASKING_WORDS and term not in STOP_WORDS}


def positions_of(words: Collection[str], among: list[str]) -> list[int]:
    """The positions in *among* (a query word's required words) of those in *words*: how
    both back ends name the words a run covers, or the words asked for."""
    return [i for i, term in enumerate(among) if term in words]


def is_quantity(needle: str, terms: list[str]) -> bool:
    """Whether a query word (*needle*, squeezed; *terms*, its words) is a quantity (30%,
    4万, G20峰会): digits whose parts mean nothing apart, so its exact string is required."""
    return any(ch.isdigit() for ch in needle) and (
        len(terms) > 1 or len("".join(terms)) < len(needle))


def content_runs(text: str, cut: Callable[[str], list[str]] | None = None
                 ) -> list[tuple[str, list[str]]]:
    """Runs of adjacent content words of a query word (stop and question words split
    them), as (squeezed text, its words), when they are not the whole word and have at
    least RUN_MIN_CHARS characters."""
    folded = fold(text)
    runs: list[tuple[int, int, list[str]]] = []
    last_end = -1
    for term in iter_terms(folded, extras=False, cut=cut):
        if term.text in STOP_WORDS or term.text in QUESTION_WORDS:
            last_end = -1
            continue
        if runs and term.start == last_end:
            start, _end, words = runs[-1]
            runs[-1] = (start, term.end, [*words, term.text])
        else:
            runs.append((term.start, term.end, [term.text]))
        last_end = term.end
    whole = squeeze(text)
    out = [(squeeze(folded[start:end]), words) for start, end, words in runs]
    return [(run, words) for run, words in out
            if run != whole and len(run) >= RUN_MIN_CHARS and HAN.search(run)]


def question_only(group: list[Node], terms: Callable[[str], list[str]]) -> bool:
    """Whether a conjunction item (a pinyin run of words) is only question words
    (``是什么``, ``吗``); *terms* gives a word's query terms."""
    if len(group) != 1 or not isinstance(group[0], Word) or group[0].field is not None:
        return False
    kept = [t for t in terms(group[0].text) if t not in STOP_WORDS]
    return bool(kept) and all(t in QUESTION_WORDS for t in kept)


def word_units(text: str, terms: list[str], quantity: bool = True) -> tuple[list[str], bool]:
    """The query words one plain word counts as (``matched`` / ``query_words``): its
    distinct jieba words *terms* without stop words, or, with True, the word as one (a
    single term, or with *quantity* a word holding a number, whose parts mean nothing
    apart) under that one name.  "Any word" ranking passes ``quantity=False``: there the
    exact string is not required, and each word counts."""
    kept = [t for t in dict.fromkeys(terms) if t not in STOP_WORDS]
    needle = squeeze(text)
    if len(kept) <= 1 or (quantity and any(ch.isdigit() for ch in needle)):
        return [kept[0] if len(kept) == 1 else needle], True
    return kept, False


def identifier_parts(needle: str, terms: list[str]) -> list[str] | None:
    """For a dotted, slashed or joined name queried whole (``client.WithUnaryOptions``,
    ``java/util/List``, ``docker-compose``; *needle* squeezed, *terms* its query terms):
    the words a document must hold for it to stand there as a phrase (each term's
    :func:`~searcher.analysis.tokens.latin_parts`, else the term), which with the exact
    string make the match.  None for anything else (Chinese, one plain token)."""
    if HAN.search(needle) or not terms:
        return None
    pieces = [[p for p in latin_parts(t) if p.isalnum()] for t in terms]
    if len(terms) < 2 and not pieces[0]:
        return None
    return list(dict.fromkeys(p for t, found in zip(terms, pieces, strict=True)
                              for p in (found or [t])))


def number_edges(needle: str) -> bool:
    """Whether *needle* starts or ends with a digit (then it must not touch a longer number)."""
    return needle[:1].isdigit() or needle[-1:].isdigit()


def cut_fragment(text: str, terms: list[str]) -> bool:
    """Whether a plain word is a fragment cut out of words (推动生 → 推动, 生): Chinese,
    several terms, one of them a lone character, which most titles hold."""
    kept = [t for t in terms if t not in STOP_WORDS]
    return (len(kept) > 1 and bool(HAN.search(squeeze(text)))
            and any(len(t) == 1 and HAN.match(t) for t in kept))


def verbatim_weight(needle: str, terms: list[str]) -> float:
    """How much a verbatim match of *needle* counts: grows with its length when it
    spans several words (one word's verbatim match is just that word)."""
    if len(terms) < 2:
        return VERBATIM_SCALE
    size = min(len(needle), VERBATIM_MAX_CHARS)
    return VERBATIM_SCALE * max(size / 2, 1.0) ** VERBATIM_POWER

