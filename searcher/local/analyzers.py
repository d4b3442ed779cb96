"""The Whoosh face of :mod:`searcher.analysis.tokens`: its terms as a Whoosh tokenizer.

The pipeline is a Whoosh tokenizer composed with filters, like Whoosh's own
``analysis`` package::

    analyzer = SearcherTokenizer() | StopFilter(stoplist=STOP_WORDS, renumber=False)

The terms themselves (folding, segmenting, sub-words, Latin parts) are
:func:`searcher.analysis.tokens.raw_terms`; this module only hands them to Whoosh.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.normalize import fold
from ..analysis.tokens import STOP_WORDS, raw_terms, segment_han
from .whoosh_adapter import StopFilter, Token, Tokenizer


class SearcherTokenizer(Tokenizer):
    """Whoosh tokenizer: fold, then segment (see module docstring).

    In ``mode="query"`` no extras are produced, so a query word is matched by
    its own segmentation while documents carry both the word and its parts.
    """

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(  # noqa: PLR0913 - Whoosh's tokenizer protocol
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        folded = fold(value)
        if not tokenize:
            token.original = token.text = folded
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for text, pos, start, end, _extra in raw_terms(folded, mode != "query", segment_han):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def ChineseAnalyzer(stoplist: frozenset[str] = STOP_WORDS):  # noqa: N802 - Whoosh naming style
    """The analyzer for title and body: fold, segment, drop stop words but keep positions."""
    return SearcherTokenizer() | StopFilter(stoplist=stoplist, minsize=1, renumber=False)
