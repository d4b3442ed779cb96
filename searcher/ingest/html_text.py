"""HTML → plain text that keeps words and phrases intact.

Block elements become line breaks so that words from neighbouring paragraphs
never run together, while inline markup (``<b>认证</b>认可``) is dropped without
inserting anything, so phrases survive.  Script and style are removed, entities
decoded, and image ``alt`` text kept because feeds often caption with it.  A ``<``
that does not open an HTML element is text, so that ``List<Integer>`` or an
unclosed ``<script>`` never swallows the rest of a body.

Three readers give the same text: :func:`simple_html_to_text` (one regular expression,
for plain well-nested markup), :func:`lxml_to_text` (lxml's tree) and
:func:`soup_to_text` (BeautifulSoup, any soup); :func:`html_to_text` takes the first
that accepts the markup.
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
# (Not <object>: a browser shows its content, and ``List<Object>`` in prose opens one.)
DROP_TAGS = frozenset(("script", "style", "noscript", "template", "head", "iframe", "svg"))
#: Element names of HTML (and of SVG and MathML inside it): a ``<`` that opens anything
#: else (``ArrayList<Integer>``, ``#include <iostream>``, ``cout<<ans``, ``i<p``) is text.
HTML_ELEMENTS = frozenset(
    "a abbr acronym address area article aside audio b base basefont bdi bdo big blink "
    "blockquote body br button canvas caption center cite code col colgroup data datalist dd "
    "del details dfn dialog dir div dl dt em embed fieldset figcaption figure font footer form "
    "frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img input ins kbd "
    "label legend li link main map mark marquee menu meta meter nav nobr noscript object ol "
    "optgroup option output p param picture pre progress q rp rt ruby s samp script search "
    "section select slot small source span strike strong style sub summary sup table tbody td "
    "template textarea tfoot th thead time title tr track tt u ul var video wbr "
    "svg g path rect circle ellipse line polyline polygon text tspan defs use symbol "
    "lineargradient radialgradient stop clippath mask pattern image foreignobject "
    "math mi mo mn ms mtext mrow msup msub msubsup mfrac msqrt mroot mtable mtr mtd "
    "semantics annotation".split()
)
_COMMON_ELEMENTS = ["p", "br", "span", "div", "a", "strong", "img", "code", "pre", "li", "em", "b"]
# A capitalised name (``List<Object>``, ``Map<String, Data>``) is a type in prose, not
# markup: HTML is written in lower case (or, in old pages, all capitals).
_STRAY_LT = re.compile(
    r"<(?:(?-i:(?=/?[A-Z][a-z]))|(?!!|\?|/?(?:"
    + "|".join(_COMMON_ELEMENTS + sorted(HTML_ELEMENTS - set(_COMMON_ELEMENTS)))
    + r"|[a-z][a-z0-9]*-[a-z0-9-]*)"
    # and the rest of a whole tag: attributes (any name a browser takes), then ">"
    + r"""(?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*/?>))""",
    re.I,
)

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
    # Markup the fast path takes has no stray "<" (it declines any "<" in text and any
    # capitalised tag name), so escaping them first would change nothing: skip that scan.
    text = simple_html_to_text(markup)
    if text is not None:
        return text
    if "<" in markup:
        markup = escape_stray_brackets(markup)
    text = simple_html_to_text(markup)
    if text is None:
        text = lxml_to_text(markup)
    return text if text is not None else soup_to_text(markup)


def escape_stray_brackets(markup: str) -> str:
    """*markup* with every ``<`` that does not open an HTML element, end tag, comment or
    declaration written as ``&lt;``, so that the parser keeps it as text instead of
    opening an unknown element that swallows words (or, unclosed, the rest of the body)."""
    markup = _STRAY_LT.sub("&lt;", markup)
    if _DROPPED_OPEN.search(markup):
        markup = _escape_unclosed(markup)
    return markup


#: Elements whose content is dropped; opened and never closed they would drop the rest of
#: the body (``置于 <script> 标签中`` in a feed that unescaped its source).
_DROPPED_OPEN = re.compile(r"<(script|style|noscript|template|iframe|svg)(?=[\s/>])", re.I)


def _escape_unclosed(markup: str) -> str:
    """*markup* with each ``<script>`` (and the like) that no end tag closes as text."""
    lower = markup.lower()
    out, done = [], 0
    for opening in _DROPPED_OPEN.finditer(markup):
        if lower.find(f"</{opening.group(1).lower()}", opening.end()) < 0:
            out += [markup[done : opening.start()], "&lt;"]
            done = opening.start() + 1
    out.append(markup[done:])
    return "".join(out)


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


_ASCII_BLANKS = " \n\t\x0c\r"


@functools.cache
def _lxml_parser() -> Any:
    from lxml import etree

    return etree.HTMLParser(recover=True, remove_comments=True, remove_pis=True)


def lxml_to_text(markup: str) -> str | None:
    """:func:`soup_to_text`'s text of markup whose every ``<`` opens an element (as
    :func:`escape_stray_brackets` leaves it), walking lxml's tree directly: five times
    faster on rendered Markdown.  None when lxml refuses the string (lone surrogates)."""
    if _SURROGATES.search(markup):
        return None
    from lxml import etree

    if not markup.strip():
        return ""
    try:
        root = etree.fromstring(markup, _lxml_parser())
    except (ValueError, etree.ParserError):
        return None
    if root is None:
        return None
    out: list[str] = []
    stack: list[tuple[Any, bool, bool]] = [(root, False, False)]  # (element, closing, in <pre>)
    while stack:
        element, closing, keep = stack.pop()
        tag = element.tag
        name = tag.lower() if isinstance(tag, str) else ""
        if closing or not name or name in DROP_TAGS or name == "img":
            if name == "img" and not closing:
                alt = (element.get("alt") or element.get("title") or "").strip()
                if alt:
                    out.append(f" {alt} ")
            elif closing and name in BLOCK_TAGS:
                out.append("\n")
            if element.tail:
                out.append(_kept(element.tail, keep))
            continue
        if name in BLOCK_TAGS:
            out.append("\n")
        inner = keep or name in ("pre", "textarea")
        if element.text:
            out.append(_kept(element.text, inner))
        stack.append((element, True, keep))
        stack.extend((child, False, inner) for child in reversed(element))
    return tidy("".join(out))


def _kept(text: str, verbatim: bool) -> str:
    """A string as BeautifulSoup keeps it: blank ones become one space or newline (outside
    ``<pre>`` and ``<textarea>``)."""
    if verbatim or text.strip(_ASCII_BLANKS):
        return text
    return "\n" if "\n" in text else " "


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
        if name[0] <= "Z" and name[1:2].islower():
            return None  # ``<List>``: a type in prose to escape_stray_brackets, not a tag
        name = name.lower()
        if name == "br" and not closing and stack:
            out.append("\n\n")  # a block element: a line break before and after
            continue
        if name == "hr" and not closing and stack and stack[-1] in _CONTAINERS:
            out.append("\n\n")  # empty, and where it needs no implied end of a <p>
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


def tidy(text: str) -> str:
    """Collapse runs of blanks, trim lines and squeeze blank lines to one."""
    # (blanks collapsed in one pass: no line break is a blank, so lines stay as they are)
    lines = [line.strip() for line in _BLANKS.sub(" ", text).splitlines()]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
