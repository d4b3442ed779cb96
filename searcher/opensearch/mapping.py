"""The OpenSearch index: settings, mapping, and one document's JSON source.

Analysis stays in Python, so the cluster ranks exactly the terms the embedded
index ranks: documents are sent pre-analysed and OpenSearch only splits on
whitespace.

* ``title_terms`` / ``body_terms`` — the jieba terms of :func:`searcher.analysis.tokens.
  index_terms` (sub-words included, stop words dropped), joined by spaces, in
  ``text`` fields with the ``whitespace`` analyzer: BM25 per field, as locally.
* ``author_terms`` — the author's terms (``author:`` words); ``author_key``,
  ``category``, ``tag`` — whole folded values as ``keyword`` (filters, facets).
* ``pinyin`` — every toneless spelling of the Chinese words of title and body
  (:func:`searcher.analysis.lexicon.pinyin_rows`), for Latin queries such as ``liaocheng``.
* ``title_sq`` / ``body_sq`` — the folded, whitespace-free text (:func:`searcher.analysis.
  normalize.squeeze`) as ``wildcard`` fields: quoted phrases are exact substring
  queries answered by the cluster (verified against the stored value), so totals
  are exact without fetching candidates; their ``.grams`` sub-fields (character
  bigrams with positions, ``ngram`` tokenizer of analysis-common) narrow the
  candidates with a phrase query first.
* ``text_grams`` — the squeezed title and body (:data:`~searcher.core.rules.FIELD_BREAK`
  between them) as character bigrams, with length norms: each bigram of a question scored
  by BM25 over the whole text (``rules.BIGRAM_WEIGHT``); indexed, not kept in ``_source``.
* ``title``, ``text``, ``author``, ``categories``, ``tags`` and ``meta`` are
  kept in ``_source`` only, for hits, snippets and ``get``.
* ``path``/``source``/``size``/``mtime_ns``/``digest`` — what the nightly sync
  compares with the files on disk (:mod:`searcher.opensearch.sync`).

The document ``_id`` is the document id (the hash of its source folder's label and relative
path), the same as in the local index.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from ..analysis.lexicon import word_pinyins
from ..analysis.normalize import fold, fold_keyword, squeeze
from ..analysis.tokens import STOP_WORDS, index_terms
from ..core.rules import FIELD_BREAK, K1, B
from ..core.rules import TITLE_BOOST as _LOCAL_TITLE_BOOST
from ..ingest.dates import to_utc
from ..ingest.documents import Document

#: Bump when the mapping or the document source change in a way that needs a rebuild.
MAPPING_VERSION = 7
#: Quoted phrases become regular expressions over the wildcard fields; escaping doubles them.
MAX_REGEX_LENGTH = 8192

_WS_TEXT = {"type": "text", "analyzer": "whitespace", "index_options": "freqs"}
#: Title terms are repeated this many times (the local index's title boost).
TITLE_BOOST = int(_LOCAL_TITLE_BOOST)
#: Separates a suggestion key from the text it completes to (``liaocheng\x1f聊城``).
KEY_SEP = "\x1f"
#: Starts the pinyin keys of ``suggest`` (spellings and initials), apart from the words.
PINYIN_MARK = "\x01"
_KEYWORD = {"type": "keyword"}
_STORED_ONLY_TEXT = {"type": "text", "index": False}
#: The squeezed text: a wildcard field (exact substring queries, verified against the value)
#: plus its character bigrams with positions: a phrase of bigrams finds the candidates fast,
#: where the wildcard field's own trigram index cannot help a two-character needle.
_SQUEEZED = {"type": "wildcard", "fields": {"grams": {
    "type": "text", "analyzer": "bigram_marked", "search_analyzer": "bigram", "norms": False,
    "index_options": "positions"}}}
#: Appended to the squeezed text in the bigram field (queries strip control characters).
END_MARK = "\u0003"


def index_body(shards: int = 1, replicas: int = 1, meta: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """Settings and mappings for a new index (``PUT /NAME`` body)."""
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "max_regex_length": MAX_REGEX_LENGTH,
                # BM25 with Lucene's defaults is what searcher.local.evaluator computes too.
                "similarity": {"default": {"type": "BM25", "k1": K1, "b": B}},
                "analysis": {
                    # The indexed text ends with END_MARK, so its last character starts a
                    # bigram too and a one-character needle is a prefix query on bigrams.
                    "char_filter": {"end_mark": {"type": "pattern_replace", "pattern": "$",
                                                 "replacement": END_MARK}},
                    "tokenizer": {"bigram": {"type": "ngram", "min_gram": 2, "max_gram": 2,
                                             "token_chars": []}},
                    "analyzer": {
                        "bigram_marked": {"type": "custom", "tokenizer": "bigram",
                                          "char_filter": ["end_mark"]},
                        "bigram": {"type": "custom", "tokenizer": "bigram"},
                    },
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": dict(meta or {}, mapping_version=MAPPING_VERSION),
            # Derived from title_sq and body_sq: indexed only, not a third copy of the text.
            "_source": {"excludes": ["text_grams"]},
            "properties": {
                "id": _KEYWORD,
                "path": _KEYWORD,
                "relpath": _KEYWORD,
                "source": _KEYWORD,
                "size": {"type": "long"},
                "mtime_ns": {"type": "long"},
                "digest": _KEYWORD,
                "title": _STORED_ONLY_TEXT,
                "text": _STORED_ONLY_TEXT,
                "author": _STORED_ONLY_TEXT,
                "categories": {"type": "keyword", "index": False, "doc_values": False},
                "tags": {"type": "keyword", "index": False, "doc_values": False},
                "title_terms": _WS_TEXT,
                "body_terms": _WS_TEXT,
                "author_terms": _WS_TEXT,
                "author_key": _KEYWORD,
                "category": _KEYWORD,
                "tag": _KEYWORD,
                "pinyin": {"type": "text", "analyzer": "whitespace", "norms": False,
                           "index_options": "freqs"},
                "title_sq": _SQUEEZED,
                "body_sq": _SQUEEZED,
                "text_grams": {"type": "text", "analyzer": "bigram", "index_options": "freqs"},
                "date": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
                "meta": {"type": "object", "enabled": False},
                # Suggestions (searcher.opensearch.suggest): the document's suggestible words,
                # and PINYIN_MARK + spelling/initials + KEY_SEP + word for its Chinese words;
                # its folded title + KEY_SEP + the title as shown.
                "suggest": {"type": "keyword", "index_options": "docs", "ignore_above": 200},
                "title_key": {"type": "keyword", "index_options": "docs", "ignore_above": 1000},
            },
        },
    }


def key(value: str) -> str:
    """The folded form of an author, category or tag (what filters and facets compare)."""
    return fold_keyword(value)


def document_source(doc: Document) -> dict[str, Any]:
    """The JSON source of one document: every field the mapping declares."""
    title_terms = index_terms(doc.title, STOP_WORDS)
    body_terms = index_terms(doc.body, STOP_WORDS)
    title_sq, body_sq = squeeze(doc.title), squeeze(doc.body)
    # Every occurrence (title ones TITLE_BOOST times), so that pinyin matches rank by how
    # often the words occur, as the local index ranks the words a spelling stands for.
    spellings = [py for word in [*title_terms * TITLE_BOOST, *body_terms]
                 if _HAN_WORD.match(word) for py in sorted(_spellings(word))]
    return {
        "id": doc.id,
        "path": doc.path,
        "relpath": doc.relpath,
        "source": doc.source,
        "size": doc.size,
        "mtime_ns": doc.mtime_ns,
        "digest": doc.digest,
        "title": doc.title,
        "text": doc.body,
        "author": doc.author,
        "categories": doc.categories,
        "tags": doc.tags,
        # Three times: the local index's title boost multiplies title term frequencies by 3
        # (its field lengths stay unboosted, and the ratio to the average is unchanged here).
        "title_terms": " ".join(title_terms * TITLE_BOOST),
        "body_terms": " ".join(body_terms),
        "author_terms": " ".join(index_terms(doc.author)),
        "author_key": key(doc.author) or None,
        "category": [k for k in (key(c) for c in doc.categories) if k],
        "tag": [k for k in (key(t) for t in doc.tags) if k],
        "pinyin": " ".join(spellings),
        "title_sq": title_sq,
        "body_sq": body_sq,
        "text_grams": title_sq + FIELD_BREAK + body_sq,
        "date": _utc_iso(doc.date),
        "suggest": suggest_keys(title_terms, body_terms),
        "title_key": title_key(doc.title),
        "meta": {
            "date": doc.date.isoformat() if doc.date else None,
            "updated": doc.updated.isoformat() if doc.updated else None,
            "images": doc.images,
            "extra": doc.extra,
            "warnings": doc.warnings,
        },
    }


def suggest_keys(title_terms: list[str], body_terms: list[str]) -> list[str]:
    """The ``suggest`` values of one document: what the local suggestion table holds for it
    (:mod:`searcher.local.suggest`): its suggestible words, and the pinyin spellings and
    initials of its Chinese words of up to eight characters."""
    from ..core.suggestions import MAX_PINYIN_CHARS, suggestible

    words = sorted({t for t in (*title_terms, *body_terms) if suggestible(t)})
    keys = list(words)
    for word in words:
        if _HAN_WORD.match(word) and len(word) <= MAX_PINYIN_CHARS:
            keys.extend(f"{PINYIN_MARK}{k}{KEY_SEP}{word}" for k in sorted(_pinyin_keys(word)))
    return keys


@lru_cache(maxsize=200_000)
def _pinyin_keys(word: str) -> frozenset[str]:
    from ..core.suggestions import pinyin_keys

    return frozenset(pinyin_keys(word))


def title_key(title: str) -> str | None:
    """The ``title_key`` value: the folded, whitespace-free title (what a prefix is compared
    with) and the title as the local suggestions show it."""
    from ..core.suggestions import MAX_TITLE_CHARS

    shown = " ".join(title.split())[:MAX_TITLE_CHARS]
    folded = squeeze(fold(shown))
    return f"{folded}{KEY_SEP}{shown}" if folded else None


#: The words the pinyin table holds (searcher.analysis.lexicon): Chinese, two characters or more.
_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")


@lru_cache(maxsize=200_000)
def _spellings(word: str) -> frozenset[str]:
    """Toneless spellings of one word, memoised: articles repeat most of their words."""
    return frozenset(word_pinyins(word))


def _utc_iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    try:
        return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, ValueError):
        return None
