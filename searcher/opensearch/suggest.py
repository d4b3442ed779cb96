"""Suggestions as you type, from a cluster: the local suggestions' words, pinyin and titles.

Each document carries (:func:`searcher.opensearch.mapping.suggest_keys`):

* ``suggest`` — its suggestible words (the local suggestion table's words), and
  for each Chinese word of up to eight characters ``PINYIN_MARK`` + a toneless
  spelling or the initials + ``KEY_SEP`` + the word (``\\x01liaocheng\\x1f聊城``,
  ``\\x01lc\\x1f聊城``);
* ``title_key`` — its folded, whitespace-free title + ``KEY_SEP`` + the title as shown.

A prefix is answered by one request: ``prefix`` queries on those keyword
fields select the documents, and ``terms`` aggregations restricted to the
values that start with the prefix count documents per value.  Pinyin keys of
the same word are merged (a document holding the word holds all of them).
Candidates are ranked like the local table: most documents first, words before
titles, shorter first, then by text.  The local table's two-word phrases are not
offered here (kind ``phrase`` never appears).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..core.suggestions import MAX_LIMIT, prefix_key, reading_keys
from ..results import Suggestion
from .dsl import regex_literal
from .mapping import KEY_SEP, PINYIN_MARK

#: Candidates fetched per kind, beyond *limit*: merged pinyin keys and ties need a few more.
EXTRA = 20
_LATIN = re.compile(r"^[a-z]+$")


def suggest(search: Callable[[dict[str, Any]], dict[str, Any]], prefix: object,
            limit: int = 10) -> list[Suggestion]:
    """Up to *limit* completions of *prefix* (``[]`` for empty or unusable input), with
    *search* running one search body against the index."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return []
    key = prefix_key(prefix)
    if not key:
        return []
    limit = min(limit, MAX_LIMIT)
    size = limit + EXTRA
    pattern = regex_literal(key) + ".*"
    aggs: dict[str, Any] = {
        "words": _terms("suggest", {"prefix": {"suggest": key}}, pattern, size),
        "titles": _terms("title_key", {"prefix": {"title_key": key}}, pattern, size),
    }
    if _LATIN.match(key):
        mark = PINYIN_MARK + key
        aggs["pinyin"] = _terms("suggest", {"prefix": {"suggest": mark}},
                                regex_literal(mark) + ".*", size * 4)
    body = {"size": 0, "track_total_hits": False, "aggs": aggs}
    found = search(body)["aggregations"]
    counts: dict[tuple[int, str], int] = {}
    for bucket in found["words"]["values"]["buckets"]:
        counts[(0, bucket["key"])] = int(bucket["doc_count"])
    common: set[str] = set()  # words the prefix spells in their common reading
    for bucket in found.get("pinyin", {}).get("values", {}).get("buckets", []):
        spelling, _, word = bucket["key"][len(PINYIN_MARK):].partition(KEY_SEP)
        counts[(0, word)] = max(counts.get((0, word), 0), int(bucket["doc_count"]))
        if word not in common and any(k.startswith(key) for k in reading_keys(word)[0]):
            common.add(word)
    rare = {word for kind, word in counts if kind == 0 and word not in common
            and found.get("pinyin") and not word.startswith(key)}
    for bucket in found["titles"]["values"]["buckets"]:
        shown = bucket["key"].split(KEY_SEP, 1)[-1]
        counts[(2, shown)] = counts.get((2, shown), 0) + int(bucket["doc_count"])
    # a word the prefix spells only in a rare reading (changj: 长期 read changji) comes
    # after the others, as in the local index
    ranked = sorted(counts.items(), key=lambda item: (item[0][1] in rare, -item[1],
                                                      item[0][0], len(item[0][1]),
                                                      item[0][1]))
    return [Suggestion(text, count, "word" if kind == 0 else "title")
            for (kind, text), count in ranked[:limit]]


def _terms(field: str, selection: dict[str, Any], pattern: str, size: int) -> dict[str, Any]:
    """Documents selected by *selection*, counted per value of *field* matching *pattern*."""
    return {"filter": selection, "aggs": {"values": {"terms": {
        "field": field, "include": pattern, "size": size, "shard_size": max(size * 5, 100),
        "order": [{"_count": "desc"}, {"_key": "asc"}]}}}}


class HomophoneLookup:
    """A cluster's answers for :func:`searcher.spelling.did_you_mean`, as the local index
    gives them: verbatim document counts (a phrase of the squeezed text's bigrams, what a
    quoted phrase searches), whether a unit is an indexed word (its term in title or
    body), and the indexed words a spelling spells with their document counts (the
    ``suggest`` field's pinyin keys, which the local pinyin table also holds)."""

    def __init__(self, search: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.search = search

    def counts(self, units: list[str]) -> dict[str, tuple[int, bool]]:
        body = {"size": 0, "track_total_hits": False, "aggs": {"units": self.aggregation(units)}}
        return self.read(self.search(body)["aggregations"]["units"], units)

    @staticmethod
    def aggregation(units: list[str]) -> dict[str, Any]:
        """A ``filters`` aggregation counting *units* (see :meth:`counts`); under a ``global``
        one it can ride along with the search itself."""
        filters: dict[str, Any] = {}
        for number, unit in enumerate(units):
            filters[f"v{number}"] = {"bool": {"should": [
                {"match_phrase": {"title_sq.grams": unit}},
                {"match_phrase": {"body_sq.grams": unit}}], "minimum_should_match": 1}}
            filters[f"t{number}"] = {"bool": {"should": [
                {"term": {"title_terms": unit}}, {"term": {"body_terms": unit}}],
                "minimum_should_match": 1}}
        return {"filters": {"filters": filters}}

    @staticmethod
    def read(found: dict[str, Any], units: list[str]) -> dict[str, tuple[int, bool]]:
        """The counts of :meth:`aggregation`'s answer."""
        buckets = found["buckets"]
        return {unit: (int(buckets[f"v{n}"]["doc_count"]), buckets[f"t{n}"]["doc_count"] > 0)
                for n, unit in enumerate(units)}

    def homophones(self, spellings: list[str]) -> dict[str, int]:
        spellings = [s for s in spellings if _LATIN.match(s)]
        if not spellings:
            return {}
        keys = [PINYIN_MARK + s + KEY_SEP for s in spellings]
        pattern = "(" + "|".join(regex_literal(k) for k in keys) + ").*"
        body = {"size": 0, "track_total_hits": False, "aggs": {"words": _terms(
            "suggest", {"bool": {"should": [{"prefix": {"suggest": k}} for k in keys],
                                 "minimum_should_match": 1}}, pattern, 200)}}
        found: dict[str, int] = {}
        for bucket in self.search(body)["aggregations"]["words"]["values"]["buckets"]:
            word = bucket["key"].split(KEY_SEP, 1)[-1]
            found[word] = max(found.get(word, 0), int(bucket["doc_count"]))
        return found
