"""Turn article bodies (HTML soup or Markdown) into plain text.

Block elements become line breaks so that words from neighbouring paragraphs
never run together, while inline markup (``<b>认证</b>认可``) is dropped without
inserting anything, so phrases survive.  Script and style are removed, entities
decoded, and image ``alt`` text kept because feeds often caption with it.
"""

from __future__ import annotations

import html
import re
import warnings

from bs4 import (
    BeautifulSoup,
    Comment,
    Declaration,
    Doctype,
    MarkupResemblesLocatorWarning,
    NavigableString,
    ProcessingInstruction,
)

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section "
    "summary table tbody td tfoot th thead title tr ul".split()
)
DROP_TAGS = frozenset(("script", "style", "noscript", "template", "head", "iframe", "svg",
                       "object"))
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)

_HTML_HINT = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>|&[#a-zA-Z0-9]+;")
_BLANKS = re.compile(r"[ \t\u00a0\u3000]+")
_MANY_NEWLINES = re.compile(r"\n\s*\n+")


def looks_like_html(body: str) -> bool:
    """True when *body* contains tags or entities and should go through the HTML parser."""
    return _HTML_HINT.search(body) is not None


def html_to_text(markup: str) -> str:
    """Return the readable text of an HTML fragment or page (one pass over the tree)."""
    soup = BeautifulSoup(markup, "lxml")
    out: list[str] = []
    stack: list[object] = [iter(soup.contents)]
    while stack:
        item = next(stack[-1], None)  # type: ignore[call-overload]
        if item is None:
            stack.pop()
            continue
        if isinstance(item, NavigableString):
            if not isinstance(item, _SKIPPED_STRINGS):
                out.append(str(item))
        elif isinstance(item, str):  # the line break that closes a block element
            out.append(item)
        else:
            name = item.name
            if name in DROP_TAGS:
                continue
            if name == "img":
                alt = (item.get("alt") or item.get("title") or "").strip()
                if alt:
                    out.append(f" {alt} ")
                continue
            if name in BLOCK_TAGS:
                out.append("\n")
                stack.append(iter(("\n",)))
            stack.append(iter(item.contents))
    return tidy("".join(out))


def first_html_heading(markup: str) -> str | None:
    """The text of the first ``<h1>``–``<h3>`` (or ``<title>``), if any."""
    soup = BeautifulSoup(markup, "lxml")
    tag = soup.find(["h1", "h2", "h3", "title"])
    if tag is None:
        return None
    text = tidy(tag.get_text(" "))
    return text or None


_MD_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^```[^\n]*\n|^~~~[^\n]*\n|^```\s*$|^~~~\s*$", re.M), ""),  # code fences
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r" \1 "),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> label
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$", re.M), ""),  # link definitions
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*(.*?)[ \t]*#*[ \t]*$", re.M), r"\1"),  # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # blockquotes
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M), ""),  # list markers
    (re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.M), ""),  # rules
    (re.compile(r"^\s*\|?(?:\s*:?-{2,}:?\s*\|)+\s*:?-*:?\s*$", re.M), ""),  # table rules
    (re.compile(r"\|"), " "),  # table cells
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # strong
    (re.compile(r"(?<![A-Za-z0-9*_])([*_])(?!\s)(.+?)(?<!\s)\1(?![A-Za-z0-9*_])"),
     r"\2"),  # emphasis (CJK neighbours allowed: 这是*强调*文字)
    (re.compile(r"~~(.+?)~~"), r"\1"),  # strikethrough
    (re.compile(r"`([^`]*)`"), lambda m: html.escape(m.group(1), quote=False)),  # code
]
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def markdown_to_text(markdown: str) -> str:
    """Strip Markdown syntax, keeping the words a reader sees."""
    text = markdown
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    if looks_like_html(text):
        return html_to_text(text)
    return tidy(html.unescape(text))


def first_markdown_heading(markdown: str) -> str | None:
    """The first ATX heading (``# Title``) of a Markdown body, stripped of markup."""
    match = _MD_HEADING.search(markdown)
    if not match:
        return None
    heading = markdown_to_text(match.group(1))
    return heading or None


def body_to_text(body: str) -> str:
    """Plain text of a body that may be HTML, Markdown, or Markdown with inline HTML."""
    if not body.strip():
        return ""
    if _looks_like_markdown(body):
        return markdown_to_text(body)
    if looks_like_html(body):
        return html_to_text(body)
    return tidy(html.unescape(body))


def first_heading(body: str) -> str | None:
    """The first heading of a body in either syntax."""
    return first_markdown_heading(body) or (
        first_html_heading(body) if looks_like_html(body) else None
    )


_MD_SIGNS = re.compile(r"^\s{0,3}(?:#{1,6}\s|[-*+]\s|\d+\.\s|>\s|```)|\]\(|\*\*", re.M)


def _looks_like_markdown(body: str) -> bool:
    """Markdown signs outside of any tag, and no block-level HTML, mean a Markdown body."""
    if re.search(r"<(?:p|div|br|table|ul|ol|li|h[1-6]|section|article)\b", body, re.I):
        return False
    return _MD_SIGNS.search(body) is not None


def tidy(text: str) -> str:
    """Collapse runs of blanks, trim lines and squeeze blank lines to one."""
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
