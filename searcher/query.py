"""The query language: parse a query string into a small syntax tree.

Grammar (case-sensitive keywords, like most engines)::

    query   := or ( "OR" | "|" ) or ...
    or      := unary unary ...              (all required: implicit AND; "AND" allowed)
    unary   := ("-" | "NOT") unary | atom
    atom    := "(" query ")" | [field ":"] ( '"' phrase '"' | word )
    field   := title | body | author | category | tag

Phrases are quoted the way a Chinese keyboard types them too: ``"…"``, ``“…”``,
``「…」``, ``『…』``, ``‘…’`` and full-width ``＂…＂``; the full-width forms of the
operators (``（ ）``, ``－``, ``｜``, ``：``) are the operators.

Words are segmented later (:mod:`searcher.local.search`); this module only knows
structure.  A slip that still leaves a readable query (an unclosed quote or
parenthesis, a stray ``)``, a dangling ``OR``/``NOT``, an empty ``title:``) is read
the obvious way and reported as a :class:`~searcher.results.Notice`
(:func:`parse_query_notices`); what cannot be read at all (nothing to search
for, only exclusions, too long, too deep) raises
:class:`~searcher.errors.QueryError` with the position of the problem — never
another exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import QueryError
from .results import Notice

#: A folded word that may be pinyin: Latin letters only.
_LATIN_LETTERS = re.compile(r"^[a-z]+$")

FIELDS = {
    "title": "title",
    "body": "body",
    "author": "author",
    "category": "category",
    "categories": "category",
    "cat": "category",
    "tag": "tag",
    "tags": "tag",
}
MAX_QUERY_CHARS = 1000
MAX_DEPTH = 32


@dataclass(frozen=True)
class Word:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Word | Phrase | And | Or | Not

#: Each opening quote mark and the mark that closes it.
QUOTES = {'"': '"', "\u201c": "\u201d", "\u300c": "\u300d", "\u300e": "\u300f",
          "\u2018": "\u2019"}
#: Full-width forms of the syntax's characters, read as theirs (one for one, so positions
#: stay offsets in the caller's text; NFKC folds them the same way inside words).
_FULL_WIDTH = str.maketrans({"\uff02": '"', "\uff08": "(", "\uff09": ")", "\uff0d": "-",
                             "\uff5c": "|", "\uff1a": ":"})
_OPENERS = "".join(QUOTES)
_TOKEN = re.compile(
    rf'(?P<ws>\s+)|(?P<minus>-(?=[({_OPENERS}]))|(?P<lp>\()|(?P<rp>\))'
    rf'|(?P<quote>[{_OPENERS}])|(?P<bar>\|)|(?P<word>[^\s()|{_OPENERS}]+)'
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str, notices: list[Notice]) -> list[_Tok]:
    """Tokens of *text*; a quote without its closing mark is left out (its words are
    searched as words) and reported in *notices*."""
    tokens = []
    at = 0
    while (match := _TOKEN.search(text, at)) is not None:
        kind, at = match.lastgroup, match.end()
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "ws":
            continue
        if kind == "quote":
            opener = match.group()
            end = text.find(QUOTES[opener], match.end())
            if end < 0:
                notices.append(Notice(
                    "unclosed_quote",
                    f"unclosed quote {opener} at character {match.start() + 1}: searched the "
                    f"words after it as words, not as a phrase (add a closing "
                    f"{QUOTES[opener]} to search the phrase)",
                    {"mark": opener, "closing": QUOTES[opener], "position": match.start() + 1}))
                continue
            tokens.append(_Tok("quote", text[match.start() : end + 1], match.start()))
            at = end + 1
            continue
        tokens.append(_Tok(kind, match.group(), match.start()))
    return tokens


def parse_query(text: str) -> Node:
    """Parse *text* into a syntax tree, or raise QueryError (slips are read the obvious
    way: :func:`parse_query_notices` says how)."""
    return parse_query_notices(text)[0]


def parse_query_notices(text: str) -> tuple[Node, list[Notice]]:
    """Parse *text* into a syntax tree, with a notice for each slip read past (an unclosed
    quote or parenthesis, a stray ``)``, a dangling operator); raise QueryError for what
    cannot be read as a search at all."""
    if not isinstance(text, str):
        raise QueryError("the query must be a string")
    text = _CONTROL.sub(" ", text)  # one for one, so positions are offsets in the caller's text
    if not text.strip():
        raise QueryError("empty query: give at least one word")
    if len(text.strip()) > MAX_QUERY_CHARS:
        raise QueryError(f"query is too long ({len(text.strip())} characters, "
                         f"at most {MAX_QUERY_CHARS})")
    notices: list[Notice] = []
    parser = _Parser(_tokenize(text.translate(_FULL_WIDTH), notices), notices)
    node = parser.parse_or(0)
    while parser.i < len(parser.tokens):  # only a stray ")" stops parse_or early
        tok = parser.tokens[parser.i]
        parser.slip("unmatched_paren", tok, f"')' at character {tok.pos + 1} closes nothing: "
                    "left out")
        parser.i += 1
        more = parser.parse_or(0)
        if more is not None:
            node = more if node is None else And((node, more))
    if node is None:
        raise QueryError("the query has no words to search for")
    if not has_positive(node):
        raise QueryError("the query only excludes words; add at least one word to search for")
    return node, notices


def has_positive(node: Node) -> bool:
    """Whether *node* can match anything on its own (pure negations cannot)."""
    if isinstance(node, (Word, Phrase)):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_positive(i) for i in node.items)
    return all(has_positive(i) for i in node.items)


class _Parser:
    def __init__(self, tokens: list[_Tok], notices: list[Notice]) -> None:
        self.tokens = tokens
        self.notices = notices
        self.i = 0

    def slip(self, code: str, tok: _Tok, message: str) -> None:
        """Record a slip read past (see :class:`~searcher.results.Notice` for *code*)."""
        self.notices.append(Notice(code, message, {"text": tok.text, "position": tok.pos + 1}))

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse_or(self, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply")
        items = []
        first = self.parse_and(depth)
        if first is not None:
            items.append(first)
        while (tok := self.peek()) is not None and (
            tok.kind == "bar" or (tok.kind == "word" and tok.text == "OR")
        ):
            self.i += 1
            item = self.parse_and(depth)
            if item is None or not items:
                self.slip("dangling_operator", tok, f"{tok.text} at character {tok.pos + 1} "
                          "needs a word on both sides: left out")
            if item is not None:
                items.append(item)
        if not items:
            return None
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, depth: int) -> Node | None:
        items = []
        while (tok := self.peek()) is not None:
            if tok.kind == "rp" or tok.kind == "bar" or (tok.kind == "word" and tok.text == "OR"):
                break
            if tok.kind == "word" and tok.text == "AND":
                self.i += 1
                continue
            item = self.parse_unary(depth)
            if item is not None:
                items.append(item)
        if not items:
            return None
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, depth: int) -> Node | None:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "minus" or (tok.kind == "word" and tok.text == "NOT"):
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("rp", "bar") or (
                    nxt.kind == "word" and nxt.text in ("OR", "AND")):
                self.slip("dangling_operator", tok, f"{tok.text} at character {tok.pos + 1} "
                          "needs a word after it: left out")
                return None
            inner = self.parse_unary(depth + 1)
            return Not(inner) if inner is not None else None
        if tok.kind == "word" and tok.text.startswith("-") and len(tok.text) > 1:
            self.tokens[self.i] = _Tok("word", tok.text[1:], tok.pos + 1)
            inner = self.parse_unary(depth + 1)
            return Not(inner) if inner is not None else None
        return self.parse_atom(depth)

    def parse_atom(self, depth: int) -> Node | None:
        tok = self.peek()
        assert tok is not None
        self.i += 1
        if tok.kind == "lp":
            inner = self.parse_or(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != "rp":
                self.slip("unclosed_paren", tok, f"unclosed '(' at character {tok.pos + 1}: "
                          "read as closed at the end of the query")
                return inner
            self.i += 1
            return inner
        if tok.kind == "rp":  # pragma: no cover - parse_and stops at ")"
            raise QueryError(f"unexpected ')' at character {tok.pos + 1}", tok.pos)
        if tok.kind == "quote":
            return _phrase(tok.text[1:-1], None)
        # word, possibly field:value or field:"phrase"
        name, sep, rest = tok.text.partition(":")
        if sep and name.lower() in FIELDS:
            field = FIELDS[name.lower()]
            if rest:
                return Word(rest, field)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "quote" and nxt.pos == tok.pos + len(tok.text):
                self.i += 1
                return _phrase(nxt.text[1:-1], field)
            self.slip("empty_field", tok, f"{name}: at character {tok.pos + 1} has no value "
                      "after the colon: left out")
            return None
        return Word(tok.text)


def _phrase(text: str, field: str | None) -> Node | None:
    text = " ".join(text.split())
    return Phrase(text, field) if text else None


def positive_literals(node: Node) -> list[tuple[str, bool]]:
    """``(text, is_phrase)`` of every non-negated word and phrase (used for highlights)."""
    out: list[tuple[str, bool]] = []
    if isinstance(node, Word):
        if node.field in (None, "title", "body"):
            out.append((node.text, False))
    elif isinstance(node, Phrase):
        if node.field in (None, "title", "body"):
            out.append((node.text, True))
    elif isinstance(node, (And, Or)):
        for item in node.items:
            out.extend(positive_literals(item))
    return out


def pinyin_runs(nodes: Sequence[Node], spells: Callable[[str], bool]) -> list[list[Node]]:
    """*nodes* in groups: a run of two or more plain Latin words whose folded letters,
    joined, *spells* a pinyin word (``liao cheng``), else one node a group.

    Both back ends group a conjunction this way; each decides what "spells" means
    (the local index asks its pinyin table, a cluster a length rule).
    """
    from .analysis.normalize import fold

    def latin(node: Node) -> bool:
        return isinstance(node, Word) and node.field is None and bool(
            _LATIN_LETTERS.match(fold(node.text)))

    groups: list[list[Node]] = []
    i = 0
    while i < len(nodes):
        end = i
        while end < len(nodes) and latin(nodes[end]):
            end += 1
        run = [n for n in nodes[i:end] if isinstance(n, Word)]  # latin() checked each one
        if end - i >= 2 and spells("".join(fold(n.text) for n in run)):
            groups.append(list(nodes[i:end]))
            i = end
        else:
            groups.append([nodes[i]])
            i += 1
    return groups
