"""Turn article bodies (HTML soup or Markdown) into plain text.

Block elements become line breaks so that words from neighbouring paragraphs
never run together, while inline markup (``<b>认证</b>认可``) is dropped without
inserting anything, so phrases survive.  Script and style are removed, entities
decoded, and image ``alt`` text kept because feeds often caption with it.
"""

from __future__ import annotations

import functools
import html
import re
import warnings
from typing import Any

BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section "
    "summary table tbody td tfoot th thead title tr ul".split()
)
DROP_TAGS = frozenset(("script", "style", "noscript", "template", "head", "iframe", "svg",
                       "object"))

_HTML_HINT = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>|&[#a-zA-Z0-9]+;")
_BLANKS = re.compile(r"[ \t\u00a0\u3000]+")
_MANY_NEWLINES = re.compile(r"\n\s*\n+")


def looks_like_html(body: str) -> bool:
    """True when *body* contains tags or entities and should go through the HTML parser."""
    return _HTML_HINT.search(body) is not None


def html_to_text(markup: str) -> str:
    """Return the readable text of an HTML fragment or page (one pass over the tree).

    Plain, well-nested markup takes :func:`simple_html_to_text`, which gives
    the same text without building a tree; everything else goes through
    BeautifulSoup with lxml.
    """
    text = simple_html_to_text(markup)
    return text if text is not None else soup_to_text(markup)


@functools.cache
def _bs4() -> Any:
    """bs4, imported on first use: a run that meets only plain markup (or nothing to index,
    as on most nights) never pays its 0.2 s import."""
    import bs4

    warnings.filterwarnings("ignore", category=bs4.MarkupResemblesLocatorWarning)
    return bs4


def soup_to_text(markup: str) -> str:
    """:func:`html_to_text` by BeautifulSoup (lxml), which copes with any HTML soup."""
    bs4 = _bs4()
    soup = bs4.BeautifulSoup(markup, "lxml")
    skipped = (bs4.Comment, bs4.Declaration, bs4.Doctype, bs4.ProcessingInstruction)
    out: list[str] = []
    stack: list[object] = [iter(soup.contents)]
    while stack:
        item = next(stack[-1], None)  # type: ignore[call-overload]
        if item is None:
            stack.pop()
            continue
        if isinstance(item, bs4.NavigableString):
            if not isinstance(item, skipped):
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


# Most feed bodies are a few paragraphs of <p>, <br>, <strong> and <span>; building a
# BeautifulSoup tree for them was 13 % of indexing.  They are read with one regular
# expression instead, but only when the markup is so simple that lxml's tree has
# exactly the elements written (every tag closed in order, blocks only inside blocks
# that may hold them, no text outside a block, so nothing is implied or re-nested)
# and the text holds nothing lxml treats specially.  Anything else returns None and
# goes through BeautifulSoup.  Tests compare both on every real article we have and
# on generated markup.
_CONTAINERS = frozenset("div section article aside header footer nav main blockquote "
                        "figure".split())
_LEAF_BLOCKS = frozenset("p h1 h2 h3 h4 h5 h6 figcaption".split())
_INLINE = frozenset("a abbr b big cite code del em font i ins mark q s small span strike "
                    "strong sub sup u".split())
# Only HTML's own blanks separate a tag's name and attributes (Python's \s would also take
# "\u3000" and friends, which lxml reads as part of an unknown tag name).
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9]*)"
    r"((?:[ \t\n\x0c]+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    r"(?:[ \t\n\x0c]*=[ \t\n\x0c]*(?:\"[^\"<>]*\"|'[^'<>]*'))?)*)[ \t\n\x0c]*(/?)>"
)
#: Characters lxml reads differently from the text (lone surrogates are refused up front).
_UNSAFE_TEXT = re.compile(r"[<\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|nbsp);|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)?")


def simple_html_to_text(markup: str) -> str | None:
    """:func:`soup_to_text`'s result for plain, well-nested markup; None for anything else."""
    if _SURROGATES.search(markup):
        return None  # lxml cannot take them, not even inside a tag
    if "\r" in markup:  # line ends as libxml2 reads them
        markup = markup.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TAG.finditer(markup):
        raw = markup[pos : match.start()]
        if raw and not stack and not raw.isspace():
            return None  # lxml would wrap it in an implied <p>
        text = _string(raw)
        if text is None:
            return None
        out.append(text)
        pos = match.end()
        closing, name, _attributes, empty = match.groups()
        name = name.lower()
        if name == "br" and not closing and stack:
            out.append("\n\n")  # a block element: a line break before and after
            continue
        if empty:
            return None
        if closing:
            if not stack or stack.pop() != name:
                return None
            if name not in _INLINE:
                out.append("\n")
        elif name in _INLINE:
            if not stack or (name == "a" and "a" in stack):
                return None
            stack.append(name)
        elif name in _CONTAINERS or name in _LEAF_BLOCKS:
            if stack and stack[-1] not in _CONTAINERS:
                return None  # lxml closes a <p> (or an inline element) before a block
            stack.append(name)
            out.append("\n")
        else:
            return None
    tail = markup[pos:]
    if stack or (tail and not tail.isspace()):
        return None
    return tidy("".join(out))


_ASCII_SPACES = " \n\t\x0c\r"


def _string(raw: str) -> str | None:
    """The string BeautifulSoup keeps for the text *raw* between two tags (None: leave it to
    lxml)."""
    if not raw:
        return raw
    if _UNSAFE_TEXT.search(raw):
        return None
    if "&" in raw:
        for entity in _ENTITY.finditer(raw):
            named, decimal, hexadecimal = entity.groups()
            if named:
                continue
            if not (decimal or hexadecimal):
                return None  # a bare "&" or an entity lxml and html.unescape may read apart
            code = int(decimal) if decimal else int(hexadecimal, 16)
            if not (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFDCF
                    or 0xFDF0 <= code <= 0xFFFD):
                return None
        raw = html.unescape(raw)
    if not raw.strip(_ASCII_SPACES):  # BeautifulSoup keeps such a string as one space or newline
        return "\n" if "\n" in raw else " "
    return raw


def first_html_heading(markup: str) -> str | None:
    """The text of the first ``<h1>``–``<h3>`` (or ``<title>``), if any."""
    soup = _bs4().BeautifulSoup(markup, "lxml")
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
