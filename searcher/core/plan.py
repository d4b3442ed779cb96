"""The query plan above both back ends: is the query a question, may it be relaxed.

A question (``…是什么``, ``如何…``, ``…吗``, a question mark) is ranked "any word" from the
start, documents holding more of its words first; any other query is relaxed to "any
word" only when no document holds every word.  :func:`run_search` is that flow, once:
each back end's search hands it one ranking step (numpy over segments, or a request to
the cluster) and builds its page from the ranking it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ..analysis.tokens import QUESTION_WORDS, query_terms
from ..highlight import needles_for
from ..query import And, Node, Not, Word, positive_literals

Cut = Callable[[str], list[str]]


def is_question(node: Node, raw: str, cut: Cut | None = None) -> bool:
    """Whether the query is typed as a question: a question mark, or a plain word holding
    a question word (什么, 如何, 是否, 吗 …: ``QUESTION_WORDS``) among other words."""
    if "?" in raw or "？" in raw:
        return True
    words = [node] if isinstance(node, Word) else (
        [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
    return any(w.field is None and any(t in QUESTION_WORDS for t in query_terms(w.text, cut))
               for w in words)


def can_relax(node: Node, cut: Cut | None = None) -> bool:
    """Whether "any word" ranking can differ from "every word": the query has several
    words (a plain word of several jieba words, or several items outside NOT)."""
    if isinstance(node, Word):
        return node.field is None and len(query_terms(node.text, cut)) > 1
    if isinstance(node, And):
        return sum(1 for i in node.items if not isinstance(i, Not)) > 1 or any(
            can_relax(i, cut) for i in node.items)
    return False


class Ranking(Protocol):
    """What one ranking step of a back end tells the flow."""

    @property
    def total(self) -> int: ...
    @property
    def partial(self) -> bool:
        """Some match lacks one of the query's words (asked for by a question's step)."""
    @property
    def terms(self) -> set[str]:
        """Every term the query looked for (for the highlight needles)."""


RankingT = TypeVar("RankingT", bound=Ranking)
#: One ranking step: ``rank(relaxed, question)``; *relaxed*: "any word" ranking;
#: *question*: a question's step, whose ranking must say whether it is ``partial``.
RankStep = Callable[[bool, bool], RankingT]


@dataclass
class Planned(Generic[RankingT]):
    """The ranking a search ends with, whether it was relaxed, and the needles to highlight."""

    ranking: RankingT
    relaxed: bool
    needles: list[str]


def run_search(node: Node, raw: str, cut: Cut | None,
               rank: Callable[[bool, bool], RankingT]) -> Planned[RankingT]:
    """Rank *node* (typed as *raw*) the way the query plan says, with the back end's *rank*.

    A question is ranked "any word" at once (the answer seldom holds every word), and
    ``relaxed`` says whether some hit lacks a word; any other query that several words
    make is relaxed to "any word" when no document holds them all, and ``relaxed`` says
    whether that found anything.
    """
    if is_question(node, raw, cut) and can_relax(node, cut):
        ranking = rank(True, True)
        relaxed = ranking.partial
    else:
        ranking = rank(False, False)
        relaxed = False
        if ranking.total == 0 and can_relax(node, cut):
            ranking = rank(True, False)
            relaxed = ranking.total > 0
    return Planned(ranking, relaxed, needles_for(positive_literals(node), ranking.terms))
