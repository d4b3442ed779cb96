"""Files → documents: everything searcher knows about one article.

This is the only place that reads article files.  It combines decoding,
front matter, date parsing and HTML/Markdown stripping into a
:class:`Document`, recording non-fatal problems as warnings and raising
:class:`DocumentError` only when the file cannot be indexed at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from . import metadata as fm
from . import textify
from .dates import DateParseError, parse_date
from .decoding import decode

#: File name endings that are loaded as articles.
EXTENSIONS = (".md", ".markdown", ".html", ".htm")
#: Files larger than this are reported instead of indexed (a body this big is
#: almost always a data dump or a mistake, and would dominate memory).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

IMAGE_KEYS = ("headimg", "thumbnail", "cover", "image", "banner", "img", "top_img", "photo")
_KNOWN = {"title", "categories", "category", "tags", "tag", "author", "date", "updated"}
#: A Jekyll post's file name: ``2016-09-22-the-open-web.md`` (the date when none is given).
_DATED_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")


@dataclass
class Document:
    """One article, ready to be analysed and indexed."""

    id: str
    path: str
    relpath: str
    source: str
    title: str
    body: str
    author: str = ""
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    date: dt.datetime | None = None
    updated: dt.datetime | None = None
    images: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    mtime_ns: int = 0
    digest: str = ""
    warnings: list[str] = field(default_factory=list)
    #: Why the generator would not publish it (``draft: true``, ``published: false``, a
    #: ``_drafts/`` folder), or "" for a published article.  Indexing skips drafts unless
    #: the ``drafts`` setting is on.
    draft: str = ""

    def left_out(self, drafts: bool) -> str:
        """Why indexing leaves this document out ("" to index it): a draft, unless the
        ``drafts`` setting (*drafts*) includes drafts.  Both back ends report it as skipped."""
        if self.draft and not drafts:
            return f"{self.draft}; not indexed (--drafts indexes it)"
        return ""


def document_id(relpath: str, label: str = "") -> str:
    """A stable id from the source folder's *label* and the path relative to it.

    The label (see :func:`searcher.ingest.sources.new_label`) tells apart
    source folders holding the same relative path (every Hugo page bundle has an
    ``index.md``), so both documents are kept.  It is the folder's name, not
    its absolute path, so ids survive moving the folder and are the same on
    every machine; without a label the id depends on the relative path alone.
    """
    key = f"{label}\0{relpath}" if label else relpath
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def content_digest(data: bytes) -> str:
    """Hash used to tell a really changed file from one that was merely touched."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def load_document(
    path: str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    tz: dt.tzinfo | str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    label: str = "",
) -> Document:
    """Read one article file into a :class:`Document`.

    *label* names the source folder in the id (:func:`document_id`); the
    indexer always gives it.

    Raises :class:`DocumentError` (with a reason a person can act on) when the
    file cannot be read, is binary, empty, too large, or cannot be decoded.
    """
    path = Path(path)
    source = Path(source)
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            raise DocumentError(
                f"file is {stat.st_size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit "
                "(raise max_bytes in searcher.toml to index it)"
            )
        data = path.read_bytes()
    except DocumentError:
        raise
    except FileNotFoundError:
        raise DocumentError("file disappeared before it could be read") from None
    except PermissionError:
        raise DocumentError("permission denied") from None
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    text, _encoding = decode(data)
    if not text.strip():
        raise DocumentError("empty file")
    try:
        relpath = path.relative_to(source).as_posix()
    except ValueError:  # not inside the source folder
        relpath = path.name
    is_html = path.suffix.lower() in (".html", ".htm")
    # A name that is not UTF-8 (lone surrogates in Python) is shown with U+FFFD as a title.
    name = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    shown = relpath.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    doc = parse_article(text, name=name, tz=tz, is_html=is_html, relpath=shown)
    doc.id = document_id(relpath, label)
    doc.path = str(path.absolute())
    doc.relpath = relpath
    doc.source = str(source.absolute())
    doc.size = stat.st_size
    doc.mtime_ns = stat.st_mtime_ns
    doc.digest = content_digest(data)
    return doc


def parse_article(
    text: str, *, name: str = "", tz: dt.tzinfo | str | None = None, is_html: bool = False,
    relpath: str = "",
) -> Document:
    """Parse decoded article text (front matter + body) into a Document without id or path.

    *relpath* (the path inside its source folder) tells a Jekyll post (under ``_posts/``
    or ``_drafts/``) and names the folder of a page bundle (``slug/index.md``).
    Raises :class:`DocumentError` for front matter that cannot be read within bounds.
    """
    try:
        head = fm.parse(text)
    except fm.FrontMatterError as exc:
        raise DocumentError(str(exc)) from None
    meta = head.metadata
    warnings = list(head.warnings)
    folders = relpath.split("/")[:-1]
    jekyll = "_posts" in folders or "_drafts" in folders
    if is_html:
        body_text, rendered = textify.html_to_text(head.body), ""
    else:
        body_text, rendered = textify.read_markdown(head.body)
    lost = textify.loss_warning(head.body, body_text)
    if lost:
        warnings.append(lost)

    value = meta.get("title")
    # (what was written is read only for a title the parser turned into a number or date)
    title = _title(value, None if value is None or isinstance(value, str)
                   else head.raw.get("title"))
    if not title:
        bundle = folders[-1] if name in ("index", "_index") and folders else ""
        if bundle:
            heading = None
        elif is_html:  # an HTML page: its first heading, wherever it is
            heading = (textify.first_html_heading(head.body)
                       if textify.looks_like_html(head.body) else None)
        else:  # Markdown: only a heading that opens the body
            heading = textify.leading_heading(rendered, body_text)
        title = bundle or heading or name.strip() or "(untitled)"
        if head.present and "title" in meta:
            warnings.append(f"title is empty; using {title!r}")

    if meta.get("date") in (None, "") and (dated := _DATED_NAME.match(name)):
        meta = {**meta, "date": "-".join(dated.groups())}
    date = _date(meta, "date", tz, warnings)
    updated = _date(meta, "updated", tz, warnings)
    return Document(
        id="",
        path="",
        relpath="",
        source="",
        title=title,
        body=body_text,
        author=_text(meta.get("author")),
        categories=_taxonomy(meta, "category", "categories", jekyll),
        tags=_taxonomy(meta, "tag", "tags", jekyll),
        date=date,
        updated=updated,
        images={k: _text(meta[k]) for k in IMAGE_KEYS if _text(meta.get(k))},
        extra={k: _jsonable(v) for k, v in meta.items() if k not in _KNOWN and k not in IMAGE_KEYS},
        warnings=warnings,
        draft=_draft(meta, folders),
    )


def _draft(meta: dict[str, Any], folders: list[str]) -> str:
    """Why a generator would not publish the article ("" when it would)."""
    if meta.get("draft") is True:
        return "a draft (draft: true)"
    if meta.get("published") is False:
        return "not published (published: false)"
    if "_drafts" in folders:
        return "a draft (in _drafts/)"
    return ""


def draft_reason(path: str | os.PathLike[str], relpath: str) -> str:
    """Why the article at *path* (*relpath* inside its source folder) is a draft, or ""
    (also for a file that cannot be read: loading it reports that)."""
    folders = relpath.split("/")[:-1]
    try:
        text, _encoding = decode(Path(path).read_bytes())
        meta = fm.parse(text).metadata
    except (OSError, DocumentError, fm.FrontMatterError):
        meta = {}
    return _draft(meta, folders)


def _taxonomy(meta: dict[str, Any], singular: str, plural: str, jekyll: bool) -> list[str]:
    """Categories or tags under either key (VuePress writes ``category``/``tag``).

    Jekyll reads the singular key first, as one value, and splits a string under the
    plural key at blanks (``tags: 读书 生活``); other generators take the plural key first.
    """
    if jekyll:
        value = meta.get(singular)
        if value is not None:
            return _list([value] if isinstance(value, str) else value)
        value = meta.get(plural)
        return _list(value.split() if isinstance(value, str) else value)
    value = meta.get(plural)
    return _list(value if value is not None else meta.get(singular))


def _title(value: Any, raw: str | None) -> str:
    if isinstance(value, str):
        return _plain(value)
    if value is None:
        return ""
    # YAML turned the title into a number, bool or date (``title: 12_00``): keep what was written.
    raw_text = fm.unquote(raw or "")
    return _plain(raw_text) if raw_text else str(value)


def _plain(value: str) -> str:
    """A front matter string as plain text on one line: HTML (``<a href=…>name</a>``) and
    entities removed, blanks collapsed."""
    if "<" in value or "&" in value:
        value = textify.html_to_text(value)
    return " ".join(value.split())


def _date(meta: dict[str, Any], key: str, tz: Any, warnings: list[str]) -> dt.datetime | None:
    value = meta.get(key)
    if value in (None, ""):
        return None
    try:
        return parse_date(value, tz)
    except DateParseError:
        warnings.append(f"{key} {str(value)!r} is not a date I can read; indexed without {key}")
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value if v is not None)
    if isinstance(value, dict):  # {name: …, url: …}: the name
        named = value.get("name", value.get("title"))
        return _text(named) if named is not None else ""
    return _plain(str(value))


def _list(value: Any) -> list[str]:
    """Categories and tags come as a string, a list, or nested lists (Hexo hierarchies)."""
    if value is None:
        return []
    items: list[str] = []
    if isinstance(value, str):  # "a, b" is a list; inside a YAML list, commas are text
        items = [_text(part) for part in value.replace("，", ",").split(",")]
    stack = [] if isinstance(value, str) else [value]
    while stack:
        current = stack.pop(0)
        if isinstance(current, (list, tuple)):
            stack[0:0] = list(current)
        elif current is not None:
            items.append(_text(current))
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
