"""Article bodies (Markdown, which may hold HTML, or HTML soup) → plain text and headings.

The jobs are split by module: :mod:`searcher.ingest.markdown_html` renders Markdown as its
site generators do (template layer, then CommonMark), :mod:`searcher.ingest.html_text`
reads HTML as text.  This module joins them for a document (its text, the heading that
opens it) and checks that nothing was lost: :func:`loss_warning` reports a text much
shorter than its source.
"""

from __future__ import annotations

import re

from .html_text import first_html_heading, html_to_text, looks_like_html
from .markdown_html import first_markdown_heading, render_markdown

__all__ = [
    "LOSS_CHARS",
    "LOSS_SHARE",
    "body_to_text",
    "first_heading",
    "first_html_heading",
    "first_markdown_heading",
    "html_to_text",
    "leading_heading",
    "looks_like_html",
    "lost_characters",
    "loss_warning",
    "markdown_to_text",
    "read_markdown",
    "render_markdown",
    "word_characters",
]


def read_markdown(markdown: str) -> tuple[str, str]:
    """(plain text, rendered HTML) of a Markdown body."""
    rendered = render_markdown(markdown)
    return html_to_text(rendered), rendered


_HEADING_ELEMENT = re.compile(r"<h([1-6])(?:\s[^>]*)?>(.*?)</h\1\s*>", re.S | re.I)


def leading_heading(rendered: str, text: str) -> str | None:
    """The heading that opens a body (rendered HTML, and its text), or None when the body
    opens with anything else."""
    match = _HEADING_ELEMENT.search(rendered)
    heading = html_to_text(match.group(2)) if match else None
    if heading and (text == heading or text.startswith(heading + "\n")):
        return " ".join(heading.split())
    return None


def markdown_to_text(markdown: str) -> str:
    """The words a reader of the rendered Markdown sees (code verbatim, no URLs)."""
    return read_markdown(markdown)[0]


def body_to_text(body: str) -> str:
    """Plain text of a Markdown body (which may hold HTML, as CommonMark allows)."""
    if not body.strip():
        return ""
    return markdown_to_text(body)


def first_heading(body: str) -> str | None:
    """The first heading of a body in either syntax."""
    return first_markdown_heading(body) or (
        first_html_heading(body) if looks_like_html(body) else None
    )


# --- nothing lost --------------------------------------------------------------------------------
#
# A reader bug shows as text that is much shorter than its source.  The source's readable
# characters are estimated without any parser: word characters outside tags, comments,
# scripts, URLs, entities and template tags.
_NOT_READ = re.compile(
    r"<!--.*?-->|<[sS][cC][rR][iI][pP][tT]\b.*?</[sS][cC][rR][iI][pP][tT]\s*>"
    r"|<[sS][tT][yY][lL][eE]\b.*?</[sS][tT][yY][lL][eE]\s*>"
    r"|<[a-zA-Z/!?][^<>]*>|&#?[a-zA-Z0-9]+;"
    r"|\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:[ \t]+\"[^\"\n]*\")?\)"
    r"|\[[^\]\n]+\]:[ \t]*\S+|https?://[^\s<>()\"'\]]*|ftp://[^\s<>()\"'\]]*"
    r"|\{%.*?%\}|\{\{[<%].*?[>%]\}\}|\{#.*?#\}",
    # (not re.I: it makes the scan twice as slow; and every branch starts with a literal
    # character, so that the scan skips ahead to the next "<", "&", "]", "[", "h", "f" or "{")
    re.S,
)
_WORD = re.compile(r"[^\W_]+")
#: Losing fewer characters than this, or than this share of the body, is not reported.
LOSS_CHARS = 200
LOSS_SHARE = 0.1


def lost_characters(source: str, text: str) -> tuple[int, int]:
    """(word characters of *source* missing from *text*, word characters of *source*)."""
    expected = word_characters(_NOT_READ.sub(" ", source))
    return max(0, expected - word_characters(text)), expected


def word_characters(text: str) -> int:
    """How many letters and digits *text* holds (summing the runs is faster than deleting
    everything else)."""
    return sum(map(len, _WORD.findall(text)))


def loss_warning(source: str, text: str) -> str | None:
    """A warning when *text* lost more than a trivial share of *source*'s characters."""
    lost, expected = lost_characters(source, text)
    if lost >= LOSS_CHARS and lost > LOSS_SHARE * expected:
        return (f"the text is {lost} characters ({lost / expected:.0%}) shorter than the body; "
                "part of it may not have been read (please report this file)")
    return None


