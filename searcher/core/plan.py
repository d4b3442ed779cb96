"""The query plan above both back ends: is the query a question, may it be relaxed.

A question (``…是什么``, ``如何…``, ``…吗``, a question mark) is ranked "any word" from the
start, documents holding more of its words first; any other query is relaxed to "any
word" only when no document holds every word.  Both back ends follow these rules.
"""

from __future__ import annotations

from collections.abc import Callable

from ..analysis.tokens import QUESTION_WORDS, query_terms
from ..query import And, Node, Not, Word

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
