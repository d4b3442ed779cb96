"""The Whoosh schema and the analysis fingerprint that must match it.

Postings are the expensive part of a Whoosh build, so each field's format is
chosen deliberately:

* ``title`` and ``body`` — jieba terms with frequencies but *no positions*:
  exact phrases are answered by substring matching (below), which is exact
  where positional phrase queries over jieba terms are not, so positions
  would only cost postings bytes and build time.  Title boosted.
* ``author``/``category``/``tag`` — whole folded values as single terms
  (exact filters); ``author`` also gets segmented terms for ``author:`` words.
* ``text`` (display text) lives in a compressed *column*: one blob per
  document, no postings at all.  The folded, whitespace-free text for exact
  substring matching is not stored as such: it is derived from title and body
  and kept only inside the segment's bigram index
  (:mod:`searcher.local.substrings`).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any

from ..analysis.normalize import fold_keyword
from ..analysis.tokens import (
    STOP_WORDS,
    ChineseAnalyzer,
    SearcherTokenizer,
    file_digest,
    index_terms,
)
from ..ingest import READER_VERSION
from . import whoosh_adapter
from .whoosh_adapter import Token, Tokenizer, columns, fields

TITLE_BOOST = 3.0
#: Bump when analysis or the schema change in a way that needs a rebuild.
SCHEMA_VERSION = 5
#: Separator for multi-valued keyword fields (never appears in real values).
SEP = "\x1f"
#: Separates title from body in the squeezed text so no match spans both.
FIELD_BREAK = "\x1e"


class WholeValueTokenizer(Tokenizer):
    """Each ``SEP``-separated value, folded, becomes one term (exact-match filters)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        values = value.split(SEP) if tokenize else [value]
        for i, item in enumerate(values):
            text = fold_keyword(item)
            if not text:
                continue
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + i
            yield token


def build_schema() -> fields.Schema:
    """The schema every index is created with."""
    whole = WholeValueTokenizer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        relpath=fields.ID(stored=True),
        path=fields.STORED(),
        source=fields.ID(stored=True),
        title=fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False, stored=True,
                          field_boost=TITLE_BOOST),
        body=fields.TEXT(analyzer=ChineseAnalyzer(), phrase=False),
        author=fields.TEXT(analyzer=SearcherTokenizer(), phrase=False, stored=True),
        author_key=fields.KEYWORD(analyzer=whole),
        category=fields.KEYWORD(analyzer=whole, scorable=False),
        tag=fields.KEYWORD(analyzer=whole, scorable=False),
        date=fields.DATETIME(stored=True, sortable=True),
        meta=fields.STORED(),
        text=fields.COLUMN(columns.CompressedBytesColumn(level=1)),
    )


def index_term_functions() -> dict[str, Callable[[str], list[str]]]:
    """Fast equivalents of the analysed fields' analyzers, for the segment builder.

    They must give exactly the terms of the analyzers in :func:`build_schema`
    (``tests/test_postings.py`` checks it); fields not listed here are
    indexed through Whoosh's ``field.index``.
    """
    stop = partial(index_terms, stoplist=STOP_WORDS)
    return {"title": stop, "body": stop, "author": index_terms}


# -- the analysis fingerprint ------------------------------------------------------------

#: What decides the terms, stored dates or pinyin rows an index holds for the same files,
#: in the order a change is reported.  Each is recorded in the index (``info.json``); a
#: change makes searches warn and ``searcher index`` rebuild in full.
COMPONENTS: dict[str, str] = {
    "schema": "schema version",
    "whoosh": "whoosh-reloaded",  # the segment format searcher writes itself
    "jieba": "jieba",  # its dictionary and HMM decide the words
    "opencc": "OpenCC",  # traditional → simplified folding
    "unicode": "Unicode data",  # NFKC, lower case and character classes of folding
    "stopwords": "stop-word list",  # content hash: stop words are not indexed
    "pypinyin": "pypinyin",  # the pinyin rows written at index time
    "userdict": "user dictionary",  # content hash
    "timezone": "time zone",  # the stored instant of dates written without a zone
    "reader": "article reader",  # how files become text (ingest.documents.READER_VERSION)
    "drafts": "drafts setting",  # whether drafts are indexed
}

#: Settings that change what is indexed, and so are in the fingerprint (see COMPONENTS).
ANALYSIS_SETTINGS = ("timezone", "userdict", "drafts")
#: Settings that leave the index as it is, and why (tests check every setting is in one
#: of the two lists, so a new setting must be classified).
NON_ANALYSIS_SETTINGS: dict[str, str] = {
    "index_dir": "where the index lives",
    "synonyms": "applied at query time",
    "pinyin": "query time only: the pinyin table is written whatever the setting",
    "max_bytes": "decides which files are read, not their terms: files skipped as too large "
                 "are not in the index, so every run tries them again and a raised limit "
                 "indexes them incrementally; a lowered one keeps what was already indexed",
    "follow_links": "decides which files are found, not their terms: the next incremental "
                    "run adds the files newly found and deletes those no longer found",
    "cache_bytes": "memory of search caches",
    "search_timeout": "how long a search may run",
    "public": "what the web server shows of the source paths",
    "parse_seconds": "decides which files are read, not their terms: a file over the bound "
                     "is reported and not indexed, and tried again by every run",
    "parse_memory": "decides which files are read, not their terms (as parse_seconds)",
    "extra": "free-form settings of applications, never read by the indexer",
}

_versions: dict[str, str] = {}


def package_version(name: str) -> str:
    """Installed version of distribution *name*, from package metadata (once per process).

    Importing jieba or pypinyin to ask costs 0.2 s; the metadata costs ~1 ms.
    """
    found = _versions.get(name)
    if found is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(name)
        except PackageNotFoundError:  # pragma: no cover - vendored copies
            found = "unknown"
        _versions[name] = found
    return found


_stop_digest: tuple[frozenset[str], str] | None = None


def stop_words_digest(words: frozenset[str] | None = None) -> str:
    """Short content hash of the stop-word list (default: the one the analyzers use).

    Remembered for the last list (0.6 ms to compute; engines ask on every reopen).
    """
    global _stop_digest
    words = STOP_WORDS if words is None else words
    if _stop_digest is not None and _stop_digest[0] is words:
        return _stop_digest[1]
    text = "\n".join(sorted(words))
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    _stop_digest = (words, digest)
    return digest


def analysis_fingerprint(settings: Any) -> dict[str, Any]:
    """What determines the contents of an index built with *settings* (see COMPONENTS).

    A mismatch with the fingerprint an index records means ``searcher index --full``
    (which ``searcher index`` does by itself).
    """
    return {
        "schema": SCHEMA_VERSION,
        "whoosh": whoosh_adapter.installed_version(),
        "jieba": package_version("jieba"),
        "opencc": package_version("opencc"),
        "unicode": unicodedata.unidata_version,
        "stopwords": stop_words_digest(),
        "pypinyin": package_version("pypinyin"),
        "userdict": file_digest(settings.userdict),
        "timezone": str(settings.timezone),
        "reader": READER_VERSION,
        "drafts": bool(settings.drafts),
    }


def fingerprint_text(fp: dict[str, Any]) -> str:
    return json.dumps(fp, sort_keys=True, ensure_ascii=False)


def dictionary_key(fp: dict[str, Any]) -> str:
    """The part of fingerprint *fp* that decides the frozen query dictionary (jieba's words).

    Frozen dictionaries are cached per machine under this key (8 MB each), so
    it leaves out what does not change them (time zone, stop words, ...).
    """
    return fingerprint_text({key: fp.get(key) for key in ("jieba", "userdict")})


#: What each schema version changed, for the message that says why an index is rebuilt.
FORMAT_CHANGES = {
    3: "document ids now include the source folder, so files with the same relative path "
       "in two source folders are both kept",
    4: "Latin tokens joined by dots are also indexed by their parts (application.yml → yml), "
       "so identifiers are found by their own names",
    5: "the folded text for exact phrases is kept once, inside a compact bigram index "
       "(no second column, no code-point array): the index is a third smaller",
}


def describe_change(built: Any, current: dict[str, Any]) -> str:
    """Which components differ between the fingerprint an index records and *current*.

    For messages: ``time zone Asia/Shanghai → UTC``.  An index that records an
    older kind of fingerprint (before a component was tracked) or none is said so.
    """
    if not isinstance(built, dict):
        return "the index records no analysis fingerprint"
    changes = []
    old_schema, new_schema = built.get("schema"), current.get("schema")
    if old_schema != new_schema:
        whys = ([FORMAT_CHANGES[v] for v in range(old_schema + 1, new_schema + 1)
                 if v in FORMAT_CHANGES]
                if isinstance(old_schema, int) and isinstance(new_schema, int) else [])
        changes.append(f"schema version {old_schema} → {new_schema}"
                       + (f": {'; '.join(whys)}" if whys else ""))
    untracked = [label for key, label in COMPONENTS.items() if key not in built]
    if untracked:
        return "; ".join(changes + ["the index records an older fingerprint, without "
                                    + ", ".join(untracked)])
    changes += [f"{label} {_shown(key, built[key])} → {_shown(key, current.get(key))}"
                for key, label in COMPONENTS.items()
                if key != "schema" and built[key] != current.get(key)]
    extra = sorted(set(built) - set(COMPONENTS))
    if extra:
        changes.append(f"fingerprint entries {', '.join(extra)} no longer used")
    return "; ".join(changes) or "no difference"


def _shown(key: str, value: Any) -> str:
    if key == "userdict" and not value:
        return "none"
    return str(value)
