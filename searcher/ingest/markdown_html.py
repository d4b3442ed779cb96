"""Markdown bodies → the HTML their site generators make of them.

Markdown files are read as their generators read them: the template layer (Liquid and
Nunjucks tags, Hugo shortcodes, Kramdown attribute lists) is removed, then a CommonMark
parser (markdown-it-py, with GFM tables and strikethrough, footnotes, ``:::`` containers
and TeX math) renders the body, HTML in it included.  Code keeps every character; link and
image addresses are not text.  :mod:`searcher.ingest.html_text` reads the HTML.

Bodies that open with HTML take a short cut (:func:`render_html_body`, and
:func:`plain_paragraph` for the text between their blocks) whose result is the parser's;
:func:`parser_html` is the general path it is checked against.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from typing import Any

from .html_text import html_to_text


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
    :func:`render_markdown`.
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
    if not opens_with_html(markdown):
        return _markdown().render(strip_template_syntax(markdown))
    rendered = render_html_body(markdown)
    if rendered is not None:
        return rendered
    return _markdown(indented_code=False).render(strip_template_syntax(markdown))


def opens_with_html(markdown: str) -> bool:
    """Whether *markdown* opens with an HTML element (feeds, 新闻联播): then its indentation
    is layout, not code, and :func:`render_html_body` may read it chunk by chunk."""
    return _HTML_FIRST.match(markdown) is not None


def parser_html(markdown: str, *, indented_code: bool = True) -> str:
    """The CommonMark parser's HTML of *markdown* as it is (no template layer removed): the
    general path that :func:`render_html_body` and :func:`plain_paragraph` short-cut, and
    that tests compare them with."""
    return _markdown(indented_code).render(markdown)


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


def html_body_chunks(markdown: str) -> Iterator[tuple[str, str]]:
    """``(Markdown text, HTML block)`` of each blank-line separated chunk of *markdown*, as
    :func:`render_html_body` reads them: the text before the first line that opens (or
    closes) a block element, and the rest from that line on (either may be empty)."""
    for chunk in _BLANK_LINE.split(markdown):
        html_from = len(chunk)
        for start in _BLOCK_START.finditer(chunk):  # such a block interrupts a paragraph
            if start.group(1).lower() in _BLOCK_ELEMENTS:
                html_from = start.start()
                break
        yield chunk[:html_from], chunk[html_from:]


def render_html_body(markdown: str) -> str | None:
    """:func:`parser_html` (``indented_code=False``) of a body that opens with HTML (see
    :func:`opens_with_html`), read chunk by chunk without parsing its HTML blocks; None when
    something in it may span a blank line, and the body must be read whole."""
    if "\r" in markdown or "\0" in markdown or _spans_blank_lines(markdown):
        return None
    md = _markdown(indented_code=False)
    out = []
    for text, block in html_body_chunks(markdown):
        if (link := _LINK_ONLY.fullmatch(text)) is not None:
            out.append(f"<p>{link.group(1)}</p>\n")  # what the parser makes of it, sans href
        elif text.strip():
            plain = plain_paragraph(text)
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


def plain_paragraph(text: str) -> str | None:
    """:func:`parser_html` (``indented_code=False``) of *text* (one blank-line separated
    chunk, not empty) when it is plain text or a thematic break, else None."""
    text = text.lstrip("\n")
    if _THEMATIC_BREAK.fullmatch(text):
        return "<hr />\n"
    if not _PLAIN_LINES.fullmatch(text):
        return None
    lines = "\n".join(line.strip(" ") for line in text.rstrip("\n").split("\n"))
    return "<p>" + lines.replace('"', "&quot;") + "</p>\n"


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

