"""Analysis: folded text → index terms with consecutive positions.

:func:`raw_terms` (and :func:`index_terms`, :func:`query_terms` over it) folds the text
(:mod:`searcher.analysis.normalize`), then splits it into runs: Han runs are segmented by
jieba's precise mode (HMM on,
so names are kept whole), Latin/digit runs become whole tokens (``a320``,
``covid-19``, ``c++``, ``3.6.3``), kana runs become character bigrams and
Hangul runs stay whole.  Each main token takes the next position, so phrase
queries line up.  In index mode, words of three or more characters also emit
the dictionary words inside them (``监管局`` → ``监管``) *at the same position*,
which keeps recall for sub-words without breaking phrases; Latin tokens joined by
``-``, ``_``, ``'``, ``&`` or ``.`` emit their parts the same way (``covid-19`` →
``covid``, ``19``; ``application.yml`` → ``application``, ``yml``): see
:func:`latin_parts`.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import math
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .normalize import fold
from .segmenter import precise_cut

log = logging.getLogger(__name__)

_RUNS = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+)"
    r"|(?P<latin>[a-z0-9\u00c0-\u024f]+(?:[.\-_'+#&][a-z0-9\u00c0-\u024f]+)*[+#]*)"
    r"|(?P<kana>[\u3040-\u30ff\u31f0-\u31ff]+)"
    r"|(?P<hangul>[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]+)"
)
_SPLIT_PARTS = re.compile(r"[-_'&.]|(?<=[a-z0-9\u00c0-\u024f])[+#](?=[a-z0-9\u00c0-\u024f])")
_SPLIT_PIECES = re.compile(r"[-_'&]|(?<=[a-z0-9\u00c0-\u024f])[+#](?=[a-z0-9\u00c0-\u024f])")
#: A part of a dotted token that is only digits (``3`` of ``3.6.3``, ``6`` of ``python3.6``):
#: not a word of its own, or every version number would match its digits.
_DIGITS = re.compile(r"^[0-9]+$")


def _load_stop_words() -> frozenset[str]:
    import stopwordsiso

    words = {fold(w) for w in stopwordsiso.stopwords("zh")}
    # Numerals are content in news ("三星堆" is one token anyway, but "三" alone is a query).
    words -= {w for w in words if any(ch.isnumeric() for ch in w)}
    return frozenset(w for w in words if w.strip())


#: Chinese stop words (stopwords-iso, 794 entries) used for ranking; positions are kept.
STOP_WORDS: frozenset[str] = _load_stop_words()
#: Words that phrase a question (``…是什么``, ``是否…``, ``…有哪些``) and are not stop words:
#: indexed like any word, but a query does not require them and they weigh little there
#: (query side only, so changing the list needs no re-index).
QUESTION_WORDS: frozenset[str] = frozenset(
    "什么 是什么 什么是 什么样 为什么 为啥 有没有 是不是 能不能 会不会 可不可以 要不要 是否 "
    "可否 有何 有哪些 请问 一下 咋办 怎么回事 如何是好 多久 干嘛 到底 究竟 难道 应该 需要 "
    "可以 吗 呢 怎么 怎么样 怎样 怎么办 如何 哪些 哪里 哪个 哪儿 多少 能否 谁 为何 何时".split())

_jieba_lock = threading.Lock()
_jieba_ready = False
_userdict_loaded: str | None = None


def _import_jieba():
    """``import jieba``, without the 0.2 s import of ``pkg_resources`` it does not need.

    jieba uses ``pkg_resources`` only to open its own bundled files and falls
    back to ``open()`` when it is missing; importing it scans every installed
    distribution.  Hiding it for the duration of jieba's import takes the
    fallback (unless something already imported it, which then costs nothing).
    """
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        import jieba

        return jieba
    sys.modules["pkg_resources"] = None  # import raises ImportError
    try:
        import jieba
    finally:
        del sys.modules["pkg_resources"]
    return jieba


def jieba_module():
    """Import jieba quietly and load its dictionary once per process."""
    global _jieba_ready
    if _jieba_ready:
        return sys.modules["jieba"]
    jieba = _import_jieba()
    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            initialize_tokenizer(jieba.dt)
            _jieba_ready = True
    return jieba


def initialize_tokenizer(tokenizer: Any) -> None:
    """``tokenizer.initialize()``, reading jieba's own dictionary cache in one call when it can.

    jieba unmarshals its cache from a file object, which takes 1.1 s here;
    unmarshalling the file's bytes gives the same dictionary in 0.3 s.  Only
    the default dictionary with jieba's default cache file takes this path;
    anything unusual (or a missing/corrupt cache) goes through jieba itself.

    jieba keeps its cache in the shared temporary folder, where another user's
    ``jieba.cache`` cannot be replaced: jieba then logs a "Dump cache file
    failed" traceback on every run.  So a tokenizer without a cache folder of its
    own writes its cache to this user's cache folder (another user's readable
    cache in the temporary folder is still read).
    """
    if tokenizer.cache_file or tokenizer.dictionary is not None:
        tokenizer.initialize()
        return
    if not tokenizer.tmp_dir:
        tokenizer.tmp_dir = str(_jieba_cache_dir())
    if not tokenizer.initialized:
        for folder in dict.fromkeys((tokenizer.tmp_dir, tempfile.gettempdir())):
            try:
                freq, total = marshal.loads((Path(folder) / "jieba.cache").read_bytes())
            except (OSError, EOFError, ValueError, TypeError):
                continue
            if isinstance(freq, dict) and isinstance(total, int) and freq:
                with tokenizer.lock:
                    tokenizer.FREQ, tokenizer.total = freq, total
                    tokenizer.initialized = True
                break
    tokenizer.initialize()  # returns at once when already initialised


def _jieba_cache_dir() -> Path:
    """This user's folder for jieba's dictionary cache (see :func:`initialize_tokenizer`)."""
    from .segmenter import cache_dir

    folder = cache_dir() / "jieba"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return Path(tempfile.gettempdir())
    return folder


def load_userdict(path: str | Path | None) -> None:
    """Make jieba in this process use exactly this user dictionary (or none).

    jieba's dictionary is process-global, so switching to another dictionary
    (or back to none) starts again from a fresh copy of the main dictionary:
    words of one index's user dictionary never leak into another's.  The same
    file edited since it was loaded counts as another dictionary (its content
    hash is part of the key), so a long-lived process never keeps stale words.
    """
    global _userdict_loaded
    resolved = str(Path(path).resolve()) if path else None
    key = f"{resolved}#{file_digest(resolved)}" if resolved else None
    if _userdict_loaded == key:
        return
    jieba = jieba_module()
    with _jieba_lock:
        if _userdict_loaded is not None:
            fresh = jieba.Tokenizer()
            initialize_tokenizer(fresh)
            jieba.dt = fresh
        if resolved is not None:
            jieba.dt.load_userdict(resolved)
        _userdict_loaded = key
        _run_cache.clear()


def file_digest(path: str | Path | None) -> str:
    """Short content hash of a dictionary or synonyms file (empty string for none)."""
    if not path:
        return ""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


_run_cache: dict[str, list[str]] = {}
RUN_CACHE_SIZE = 200_000


def segment_han(run: str) -> list[str]:
    """jieba precise-mode words of a run of Han characters.

    Runs are clauses between punctuation; about a fifth of them repeat across
    news articles (and far more in recombined text), so results are memoised
    per process (cleared when full, and whenever the dictionary changes).
    The words come from :func:`searcher.analysis.segmenter.precise_cut` over jieba's
    own dictionary: jieba's algorithm, 1.6× faster than jieba's code.
    """
    cached = _run_cache.get(run)
    if cached is not None:
        return cached
    tokenizer = jieba_module().dt
    words = precise_cut(run, tokenizer.FREQ, math.log(tokenizer.total), _hmm_cut)
    if len(_run_cache) >= RUN_CACHE_SIZE:
        _run_cache.clear()
    _run_cache[run] = words
    return words


def _hmm_cut(buf: str) -> list[str]:
    """jieba's HMM cut of characters outside its dictionary (mostly names, which repeat)."""
    cached = _run_cache.get(_HMM_KEY + buf)
    if cached is None:
        from jieba import finalseg

        cached = _run_cache[_HMM_KEY + buf] = list(finalseg.cut(buf))
    return cached


#: Prefix for HMM results in the run cache (never starts a Han run).
_HMM_KEY = "\x00"


def sub_words(word: str) -> list[str]:
    """Dictionary words of two and three characters inside a longer word (jieba's search mode)."""
    freq = jieba_module().dt.FREQ
    found: list[str] = []
    n = len(word)
    for size in (2, 3):
        if n <= size:
            break
        for i in range(n - size + 1):
            gram = word[i : i + size]
            if freq.get(gram):
                found.append(gram)
    return found


@dataclass(frozen=True, slots=True)
class Term:
    """One analysed term: its text, position, span in the folded text, and whether it is
    an extra (sub-word or part) sharing the position of the token before it."""

    text: str
    pos: int
    start: int
    end: int
    extra: bool = False


def iter_terms(folded: str, *, extras: bool = True,
               cut: Callable[[str], list[str]] | None = None) -> Iterator[Term]:
    """Terms of already-folded text; *extras* adds sub-words and Latin parts (index mode).

    *cut* segments Han runs (default: jieba); queries pass the frozen-dictionary
    segmenter, which gives the same words without loading jieba.
    """
    for text, pos, start, end, extra in raw_terms(folded, extras, cut or segment_han):
        yield Term(text, pos, start, end, extra)


def raw_terms(folded: str, extras: bool,
               cut: Callable[[str], list[str]]) -> Iterator[tuple[str, int, int, int, bool]]:
    """iter_terms as plain tuples: the indexing hot path (hundreds of thousands per build)."""
    pos = 0
    for match in _RUNS.finditer(folded):
        kind = match.lastgroup
        run = match.group()
        start = match.start()
        if kind == "han":
            offset = start
            for word in cut(run):
                end = offset + len(word)
                yield word, pos, offset, end, False
                if extras and len(word) > 2:
                    for sub in sub_words(word):
                        yield sub, pos, offset, end, True
                pos += 1
                offset = end
        elif kind == "latin":
            word = run.strip("'")
            yield word, pos, start, start + len(run), False
            if extras and _SPLIT_PARTS.search(word):
                for part in latin_parts(word):
                    yield part, pos, start, start + len(run), True
            pos += 1
        elif kind == "kana":
            if len(run) == 1:
                yield run, pos, start, start + 1, False
                pos += 1
            for i in range(len(run) - 1):
                yield run[i : i + 2], pos, start + i, start + i + 2, False
                pos += 1
        else:  # hangul
            yield run, pos, start, start + len(run), False
            pos += 1


def latin_parts(word: str) -> list[str]:
    """The parts a Latin/digit token is also indexed under (at its position): the pieces
    between ``-``, ``_``, ``'``, ``&``, ``.`` and an inner ``+`` or ``#``
    (``statistics.getaverage`` → ``statistics``, ``getaverage``; ``step1.png`` → ``step1``,
    ``png``; ``covid-19`` → ``covid``, ``19``),
    so an identifier is found by its own name wherever it stands between non-alphanumeric
    characters (``3.6.3`` of ``3.6.3-jdk-8`` too).  Digit-only pieces between dots are left
    out (``3.6.3`` gives none), so a number does not match every version holding its digits."""
    parts: list[str] = []
    for piece in _SPLIT_PIECES.split(word):
        if piece and piece != word:
            parts.append(piece)  # 3.6.3 of maven:3.6.3-jdk-8, 19 of covid-19
        if "." in piece:
            parts.extend(p for p in piece.split(".") if p and not _DIGITS.match(p))
    return list(dict.fromkeys(parts))


def index_terms(value: str, stoplist: frozenset[str] = frozenset()) -> list[str]:
    """The term texts the analyzer yields for *value* in index mode, without ``Token`` objects.

    ``ChineseAnalyzer`` is ``SearcherTokenizer | StopFilter(minsize=1)``; the
    tokenizer never yields an empty term, so dropping *stoplist* is the whole
    filter.  Building a segment calls this for every title and body
    (:mod:`searcher.local.postings`); tests compare it with the Whoosh analyzer.
    """
    return [item[0] for item in raw_terms(fold(value), True, segment_han)
            if item[0] not in stoplist]


def query_terms(text: str, cut: Callable[[str], list[str]] | None = None) -> list[str]:
    """The main (non-extra) terms of a query word, folded: what must be found."""
    return [t.text for t in iter_terms(fold(text), extras=False, cut=cut)]


class QueryTerms:
    """:func:`query_terms` with one *cut*, each text segmented once: one query asks for the
    same word's terms several times (its match, its query-word count, the title bonus),
    in either back end.  Returns a new list each time (callers may change it)."""

    def __init__(self, cut: Callable[[str], list[str]] | None = None) -> None:
        self.cut = cut
        self._segmented: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        terms = self._segmented.get(text)
        if terms is None:
            terms = self._segmented[text] = query_terms(text, self.cut)
        return list(terms)
