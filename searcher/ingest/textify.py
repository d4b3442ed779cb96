"""Turn article bodies (HTML soup or Markdown) into plain text.

Markdown files are read as their site generators read them: the template layer
(Liquid tags, Hugo shortcodes, Kramdown attribute lists) is removed, then a
CommonMark parser renders the body, HTML in it included, and the HTML is read
like any other.  Code keeps every character; link and image addresses are not
text.

Block elements become line breaks so that words from neighbouring paragraphs
never run together, while inline markup (``<b>认证</b>认可``) is dropped without
inserting anything, so phrases survive.  Script and style are removed, entities
decoded, and image ``alt`` text kept because feeds often caption with it.  A ``<``
that does not open an HTML element is text, so that ``List<Integer>`` or an
unclosed ``<script>`` never swallows the rest of a body; :func:`loss_warning`
reports a text much shorter than its source.
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


# --- Markdown ------------------------------------------------------------------------------------
#
# Markdown bodies are read the way the site generators read them: their template layer first
# (Liquid/Nunjucks tags, Hugo shortcodes, Kramdown attribute lists), then a CommonMark parser
# (markdown-it-py, with GFM tables and strikethrough, footnotes, ``:::`` containers and TeX
# math), whose HTML goes through the HTML reader above.  Code keeps every character.


def _render_container(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """A ``::: tip 标题`` container: its title (the words after the kind) as a paragraph."""
    token = tokens[idx]
    if token.nesting != 1:
        return "</div>\n"
    parts = token.info.strip().split(None, 1)
    title = html.escape(parts[1], quote=False) if len(parts) > 1 else ""
    return f"<div>\n<p>{title}</p>\n" if title else "<div>\n"


def _label(label: str) -> str:
    return "-".join(label.split())


@functools.cache
def _markdown(indented_code: bool = True) -> Any:
    """The CommonMark parser, built on first use (a run of HTML files never imports it).

    Without *indented_code*, four leading spaces do not make a code block: see
    :func:`read_markdown`.
    """
    from markdown_it import MarkdownIt
    from mdit_py_plugins.container import container_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.dollarmath.index import math_block_dollar
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    # "$5 and $10" is money, not math: no digit right outside a dollar sign.
    md.use(dollarmath_plugin, allow_digits=False, double_inline=True)
    # MathJax finds "$$" anywhere, so a display formula may follow a line of text directly.
    block_rule = math_block_dollar(True, _label, True)

    def math_block(state: Any, start: int, end: int, silent: bool) -> bool:
        if not silent:
            return bool(block_rule(state, start, end, False))
        line, count = state.line, len(state.tokens)  # the rule ignores "silent": undo it
        found = block_rule(state, start, end, False)
        del state.tokens[count:]
        state.line = line
        return bool(found)

    md.block.ruler.at("math_block", math_block,
                      {"alt": ["paragraph", "reference", "blockquote", "list", "footnote_def"]})
    md.use(container_plugin, "container", validate=lambda params, *_: True,
           render=_render_container)
    md.add_render_rule("footnote_anchor", lambda *_: "")  # the "↩︎" back to the reference
    md.add_render_rule("html_block", _render_html_block)
    # Addresses are never text: skip percent-encoding them (a fifth of the parse time).
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]  # this parser's own
    if not indented_code:
        md.disable("code")
    return md


# A Markdown link or image: [text](url "title"), ![alt](url).
_MD_LINK = re.compile(
    r"!?\[([^\]\n]*)\]\((?:<[^<>\n]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'))?[ \t]*\)"
)
_RAW_TEXT_ELEMENTS = re.compile(r"<(?:pre|code|script|style|textarea)\b", re.I)


def _render_html_block(self: Any, tokens: Any, idx: int, *_: Any) -> str:
    """An HTML block, with any Markdown link in it written as its text.

    CommonMark passes a block that starts with a tag (``<div>`` up to a blank line)
    through as is, so ``<div>\n[查看原文](https://…)\n</div>`` would show the link's
    syntax and address; the author meant a link, and its text is what is read.
    """
    content = tokens[idx].content
    if "](" in content and not _RAW_TEXT_ELEMENTS.search(content):
        content = _MD_LINK.sub(r"\1", content)
    return content


#: A body that opens with an HTML element (feeds, 新闻联播): its indentation is layout.
_HTML_FIRST = re.compile(r"\A\s*<(?:!--|[a-zA-Z][a-zA-Z0-9-]*[\s/>])")


# An opening code fence, also inside list items and block quotes (its content is code, which
# the template layer leaves alone, as Hexo does).
_FENCE = re.compile(r"^[ \t]*(?:>[ \t]*)*(`{3,}|~{3,})(.*)$")
_LIQUID = r"\{%-?[ \t]*"
_TEMPLATE = re.compile(
    # an inline code span (one line): verbatim, but for {% raw %} markers
    r"(?P<code>(?P<ticks>`+)[^\n]*?(?<!`)(?P=ticks)(?!`))"
    # {% raw %}...{% endraw %}: the content, verbatim
    rf"|{_LIQUID}raw[ \t]*-?%\}}(?P<raw>.*?){_LIQUID}endraw[ \t]*-?%\}}"
    # {% codeblock %}...{% endcodeblock %} and the like: a code block
    rf"|{_LIQUID}(?P<block>codeblock|code|highlight)\b[^\n]*?%\}}(?P<content>.*?)"
    rf"{_LIQUID}end(?P=block)[ \t]*-?%\}}"
    r"|\{%[^\n]*?%\}"  # any other tag (the content of block tags stays)
    r"|\{#.*?#\}"  # a Nunjucks comment
    r"|(?P<shortcode>\{\{[<%].*?[>%]\}\})"  # a Hugo shortcode (its inner text stays)
    r"|\{:[^\n}]*\}",  # a Kramdown attribute list ({:toc}, {: .class})
    re.S,
)
_RAW_MARKER = re.compile(rf"{_LIQUID}(?:end)?raw[ \t]*-?%\}}")
_SHORTCODE_TEXT = re.compile(r"\b(?:title|caption|alt)[ \t]*=[ \t]*\"([^\"]*)\"")


def _template_match(match: re.Match[str]) -> str:
    if match.group("code") is not None:
        return _RAW_MARKER.sub("", match.group("code"))
    if match.group("raw") is not None:
        return match.group("raw")
    content = match.group("content")
    if content is not None:
        ticks = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", content)), default=0))
        return f"\n{ticks}\n{content.strip(chr(10))}\n{ticks}\n"
    shortcode = match.group("shortcode")
    if shortcode is not None:
        return " ".join(_SHORTCODE_TEXT.findall(shortcode))
    return ""


def strip_template_syntax(markdown: str) -> str:
    """*markdown* without its generators' template syntax, outside fenced code.

    Drops Liquid/Nunjucks tags (keeping what ``{% raw %}`` and block tags hold, and turning
    ``{% codeblock %}``/``{% highlight %}`` into fenced code), Hugo shortcode delimiters
    (keeping their inner text and a ``title``/``caption``/``alt``) and Kramdown attribute
    lists such as ``{:toc}``.
    """
    if "{" not in markdown:
        return markdown
    out: list[str] = []
    chunk: list[str] = []
    fence = ""
    for line in markdown.splitlines(keepends=True):
        if fence:
            out.append(line)
            stripped = line.strip().lstrip(">").strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            out.append(_TEMPLATE.sub(_template_match, "".join(chunk)))
            chunk = []
            fence = opening.group(1)
            out.append(line)
            continue
        chunk.append(line)
    out.append(_TEMPLATE.sub(_template_match, "".join(chunk)))
    return "".join(out)


def render_markdown(markdown: str) -> str:
    """The HTML a generator makes of a Markdown body (after its template layer).

    A body that opens with an HTML element is HTML written by a program or pasted from a
    page, with Markdown at most around it: its indented lines are markup laid out, not
    code blocks, so indentation does not make code there.
    """
    if _HTML_FIRST.match(markdown) is None:
        return _markdown().render(strip_template_syntax(markdown))
    rendered = _render_html_body(markdown)
    if rendered is not None:
        return rendered
    return _markdown(indented_code=False).render(strip_template_syntax(markdown))


# Most bodies that open with HTML (feeds, 新闻联播) are HTML blocks with a line or two of
# Markdown between them.  CommonMark ends such a block (``<div>``, ``<p>``, ...: its
# "type 6") at a blank line and passes it through as it is, so when nothing can span a
# blank line (code fences, <pre>/<script>/<style>/<textarea>, comments, processing
# instructions, link or footnote definitions, math, template tags), each blank-line
# separated chunk is read alone: HTML blocks as they are, the rest by the parser.
# The result is the parser's; tests compare both on every real article.
_BLOCK_ELEMENTS = frozenset(
    "address article aside base basefont blockquote body caption center col colgroup dd "
    "details dialog dir div dl dt fieldset figcaption figure footer form frame frameset h1 "
    "h2 h3 h4 h5 h6 head header hr html iframe legend li link main menu menuitem nav "
    "noframes ol optgroup option p param search section summary table tbody td tfoot th "
    "thead title tr track ul".split()
)
_BLOCK_START = re.compile(r"^ {0,3}</?([A-Za-z][A-Za-z0-9]*)(?:[ \t/>]|$)", re.M)
# (Two scans: every branch of the first starts with a literal character, which lets the
# scan skip ahead; the second looks only at line starts, and only when a fence or a
# container marker is there at all.)
_SPANS_BLANK_LINES = re.compile(
    r"<(?:pre|script|style|textarea)(?:[\s/>]|$)|<[!?]|\]:|\{[%{#:]|\$\$", re.I | re.M
)
_FENCE_OR_CONTAINER = re.compile(r"^[ \t]*(?:(?:>[ \t]*)*(?:```|~~~)|:::)", re.M)


def _spans_blank_lines(markdown: str) -> bool:
    """Whether *markdown* holds anything that can span a blank line (see above)."""
    if _SPANS_BLANK_LINES.search(markdown) is not None:
        return True
    if "```" in markdown or "~~~" in markdown or ":::" in markdown:
        return _FENCE_OR_CONTAINER.search(markdown) is not None
    return False


_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A paragraph that is one plain link, "[查看原文](https://…)" (nothing in the text or the
# address that the parser would read otherwise), as feeds end their articles.
_LINK_ONLY = re.compile(r"\n?[ ]{0,3}\[([^\[\]\\`*_<>&!~$\n]*)\]\([^()\s<>\\]*\)[ \t]*\n?")


def _render_html_body(markdown: str) -> str | None:
    """The parser's HTML of a body that opens with HTML, chunk by chunk (None: read it
    whole)."""
    if "\r" in markdown or "\0" in markdown or _spans_blank_lines(markdown):
        return None
    md = _markdown(indented_code=False)
    out = []
    for chunk in _BLANK_LINE.split(markdown):
        html_from = 0
        for start in _BLOCK_START.finditer(chunk):  # such a block interrupts a paragraph
            if start.group(1).lower() in _BLOCK_ELEMENTS:
                html_from = start.start()
                break
        else:
            html_from = len(chunk)
        text, block = chunk[:html_from], chunk[html_from:]
        if (link := _LINK_ONLY.fullmatch(text)) is not None:
            out.append(f"<p>{link.group(1)}</p>\n")  # what the parser makes of it, sans href
        elif text.strip():
            plain = _plain_paragraph(text)
            out.append(md.render(text) if plain is None else plain)
            out.append("\n")
        if block:
            out.append(_MD_LINK.sub(r"\1", block) if "](" in block else block)
            out.append("\n")
    return "".join(out)


# A paragraph of plain text ("(更新时间戳: 1664109102894)") or a lone thematic break
# ("---"), as feeds put them between HTML blocks: no character that the parser reads as
# markup anywhere, none that starts a block at a line's start, no hard line break.
# The parser's whole pipeline is a tenth of a millisecond per call; this is its result.
_PLAIN_CHAR = r"[^\\`*_~\[\]<>&!$|{}\s]"  # not markup, not a blank
_PLAIN_LINE = (r"(?![ ]*(?:[#+=:-]|[0-9]+[.)]))"  # no block starts here
               rf"[ ]*{_PLAIN_CHAR}(?:[^\\`*_~\[\]<>&!$|{{}}\t\n]*{_PLAIN_CHAR})?")
_PLAIN_LINES = re.compile(rf"(?:{_PLAIN_LINE}\n)*{_PLAIN_LINE}[ ]*\n?")
_THEMATIC_BREAK = re.compile(r"[ ]{0,3}([-*_])(?:[ ]*\1){2,}[ ]*\n?")


def _plain_paragraph(text: str) -> str | None:
    """The parser's HTML of *text* (one blank-line separated chunk, not empty) when it is
    plain text or a thematic break, else None."""
    text = text.lstrip("\n")
    if _THEMATIC_BREAK.fullmatch(text):
        return "<hr />\n"
    if not _PLAIN_LINES.fullmatch(text):
        return None
    lines = "\n".join(line.strip(" ") for line in text.rstrip("\n").split("\n"))
    return "<p>" + lines.replace('"', "&quot;") + "</p>\n"


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


def first_markdown_heading(markdown: str) -> str | None:
    """The first heading of a Markdown body, wherever it is, as plain text."""
    md = _markdown()
    env: dict[str, Any] = {}
    tokens = md.parse(strip_template_syntax(markdown), env)
    for index, token in enumerate(tokens[:-1]):
        if token.type == "heading_open":
            text = html_to_text(md.renderer.render(tokens[index + 1 : index + 2], md.options, env))
            if text:
                return text
    return None


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
    expected = _word_characters(_NOT_READ.sub(" ", source))
    return max(0, expected - _word_characters(text)), expected


def _word_characters(text: str) -> int:
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


def tidy(text: str) -> str:
    """Collapse runs of blanks, trim lines and squeeze blank lines to one."""
    # (blanks collapsed in one pass: no line break is a blank, so lines stay as they are)
    lines = [line.strip() for line in _BLANKS.sub(" ", text).splitlines()]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
