"""Ground truth for tests, read from the raw article files without searcher's code.

Tests that check what the index holds (the squeezed text behind phrase search, the
sidecar arrays) must not compare the index with the very functions that wrote it: a
bug in those would be on both sides.  Here the same facts are derived with other
tools: PyYAML for front matter; for HTML a regular expression that drops the tags of
plain markup, else BeautifulSoup with Python's own ``html.parser`` (the indexer uses
lxml or its own reader); markdown-it-py for Markdown (every Markdown body, HTML in it
included, as CommonMark generators render it); ``unicodedata`` + OpenCC
directly for folding.  It agrees with the indexer on every file of sample_docs and of
``make_corpus.py --limit 2000`` (not on the messiest feed articles, which tests do not
use it for).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

SHANGHAI = ZoneInfo("Asia/Shanghai")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: faster
_TAG = re.compile(r"<[^>]*>")
_NOT_SIMPLE = re.compile(r"<(?:img|script|style|head|!)|<[^>]*$", re.I)
_FRONT = re.compile(r"\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.S)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """NFKC, lower case, traditional → simplified (the folding README promises)."""
    return _t2s().convert(unicodedata.normalize("NFKC", text).lower())


def squeezed(text: str) -> str:
    """Folded text without any whitespace: what a quoted phrase is matched against."""
    return "".join(fold(text).split())


def split_front_matter(text: str) -> tuple[dict | None, str]:
    """(front matter as PyYAML reads it, body); ({}, text) without front matter and
    (None, body) when it is not valid YAML."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.load(match.group(1), Loader=_LOADER)
    except yaml.YAMLError:
        return None, text[match.end():]
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def html_text(markup: str) -> str:
    """The text a reader sees: script and style dropped, images by their alternative
    text, entities decoded."""
    if not _NOT_SIMPLE.search(markup):  # only text and plain tags: drop the tags
        return html.unescape(_TAG.sub(" ", markup))
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "head"]):
        tag.decompose()
    for image in soup("img"):  # an image counts with its alternative text
        image.replace_with(f" {image.get('alt') or ''} ")
    return soup.get_text(" ")


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    md.add_render_rule("footnote_anchor", lambda *_: "")  # the "↩︎" link back
    return md


def markdown_text(markdown: str) -> str:
    """What a CommonMark generator shows of a Markdown body (HTML in it read as HTML)."""
    return html_text(_markdown().render(markdown))


def leading_heading(markdown: str) -> str | None:
    """The text of the heading that opens a Markdown body (None if it opens otherwise)."""
    tokens = _markdown().parse(markdown)
    if len(tokens) > 1 and tokens[0].type == "heading_open":
        return "".join(child.content for child in tokens[1].children or []
                       if child.type in ("text", "code_inline"))
    return None


def raw_title_body(path: Path) -> tuple[str, str]:
    """An article's title and body text, read from its file (UTF-8 articles only)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix in (".html", ".htm"):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(text, "html.parser")
        heading = soup.find(["h1", "h2", "h3"]) or soup.find("title")
        return heading.get_text(" ").strip(), html_text(text)
    meta, body = split_front_matter(text)
    content = markdown_text(body)
    title = meta.get("title") if meta else None
    if title is None and meta is None:  # invalid YAML: the title line, quotes trimmed
        line = re.search(r"^title:[ \t]*(.*)$", text, re.M)
        title = line.group(1).strip().strip("'\"") if line else None
    if title is None:
        title = leading_heading(body) or path.stem
    return " ".join(str(title).split()), content


def raw_date(path: Path, tz: dt.tzinfo = SHANGHAI) -> dt.datetime | None:
    """The ``date:`` of the front matter as an aware datetime (naive ones in *tz*)."""
    meta, _ = split_front_matter(path.read_text(encoding="utf-8-sig"))
    value = (meta or {}).get("date")
    if isinstance(value, str):
        try:
            value = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value
