"""The API's answers as pydantic models: what ``/openapi.json`` declares for every status.

The routes write their JSON directly (orjson, see :class:`searcher.web.rendering.JSON`); these
models only describe it, and ``tests/test_schemathesis.py`` checks the server's answers
against them.  Fields absent under ``searcher serve --public`` (source paths) are
optional.  Descriptions are Markdown (``/docs`` renders them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .params import SortName


class ErrorBody(BaseModel):
    """Every error but 422: a stable code and a message in the request's language."""

    error: str = Field(description="Stable machine-readable code, e.g. `bad query`, "
                       "`not found`, `page out of range`, `index unavailable`.")
    detail: str = Field(description="What went wrong, in the language of `Accept-Language` "
                        "(English unless it prefers Chinese).")
    position: int | None = Field(None, description="`bad query`: 0-based offset in `q` of "
                                 "the problem (`null` when it is not at one place).")
    pages: int | None = Field(None, description="`page out of range`: the pages there are.")
    parameter: str | None = Field(None, description="`bad encoding`: the parameter whose "
                                  "percent-encoding is not UTF-8.")


class Problem(BaseModel):
    parameter: str = Field(description="The parameter, e.g. `limit`.")
    message: str = Field(description="What is wrong with it (request's language).")


class ValidationBody(BaseModel):
    """A parameter outside its declared type or range."""

    error: Literal["invalid parameter"]
    detail: str = Field(description="Every problem in one line.")
    problems: list[Problem]


class HitBody(BaseModel):
    rank: int = Field(description="1 for the best hit of the first page.")
    id: str = Field(description="Document id: `/api/documents/{id}`.")
    path: str | None = Field(None, description="Source file (absent with `--public`).")
    title: str
    author: str
    categories: list[str]
    tags: list[str]
    date: dt.datetime | None
    score: float
    snippet: str = Field(description="Plain text around the best match.")
    highlights: list[list[int]] = Field(description="`[start, end)` spans of `snippet` "
                                        "that matched.")
    title_highlights: list[list[int]]
    near_duplicate: bool = Field(description="Similar documents only: another copy of "
                                 "the same story.")
    matched: int | None = Field(description="How many of the query's words it holds.")
    query_words: int | None


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    query: str
    total: int = Field(description="Matching documents, all pages.")
    page: int
    pages: int
    limit: int
    sort: SortName
    relaxed: bool = Field(description="No document had every word: partial matches.")
    pinyin: dict[str, list[str]] = Field(
        default_factory=dict, description="Latin words of the query read as pinyin → the "
        "indexed words they matched, most common first (`{\"liaocheng\": [\"聊城\", "
        "\"疗程\"]}`).")
    elapsed_ms: float
    hits: list[HitBody]
    facets: dict[str, list[list[str | int]]] = Field(
        description="Requested facet → `[value, count]` pairs over all matches.")


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    path: str | None = Field(None, description="Source file (absent with `--public`).")
    relpath: str | None = Field(None, description="Path under its source folder (absent "
                                "with `--public`).")
    title: str
    author: str
    categories: list[str]
    tags: list[str]
    date: dt.datetime | None
    updated: str | None
    images: dict[str, str]
    extra: dict[str, Any]
    warnings: list[str]
    text: str


class SuggestionBody(BaseModel):
    text: str = Field(description="The completion.")
    count: int = Field(description="Documents holding it.")
    kind: Literal["word", "phrase", "title"]
    query: str = Field(description="What to put in the search box: the completion with "
                       "the words and spaces already typed kept, and no query syntax.")


class SuggestBody(BaseModel):
    query: str
    suggestions: list[SuggestionBody]


class StatsBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    documents: int
    index_bytes: int | None = None
    last_update: str | None = Field(None, description="ISO 8601 time of the last change.")
    fields: list[str] = Field(default_factory=list)
    sources: list[str] | None = Field(None, description="Source folders (absent with "
                                      "`--public`).")


class HealthBody(BaseModel):
    status: Literal["ok"]
    documents: int


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares besides its 200."""
    described = {
        400: "Bad query syntax, a filter the index cannot use, or a parameter whose "
             "percent-encoding is not UTF-8.",
        404: "No such document, or a page past the last.",
        422: "A parameter outside its declared type or range.",
        500: "A bug: logged, answered without internals.",
        503: "The index cannot be opened, or the request ran past its time budget "
             "(`Retry-After` says when to try again).",
    }
    return {status: {"model": ValidationBody if status == 422 else ErrorBody,
                     "description": described[status]} for status in statuses}
