"""How faithfully searcher reads real blog posts: each post against an independent reading.

Why: the posts in ``../shared/corpus/blogs`` are Markdown written for Hexo, Hugo, Jekyll and
VuePress.  For every post this script reads its source the way its generator does, with
other code than searcher's (PyYAML / tomllib / json for the front matter, markdown-it-py's
token stream walked here for the body), and checks what searcher's ``load_document`` keeps:

* titles, dates, categories and tags that differ from the generator's;
* lines of code (12 characters or more) missing from the text;
* headings, table cells, link texts, image alt texts and footnotes missing;
* posts whose text shows Markdown or template syntax the source has outside code;
* posts that lose their ending;
* ``](http`` in a 新闻联播 article of ``make_corpus.py`` (every snippet is cut from the body).

It prints one table (and the read time per article).  Run it on the code of another commit
with that tree first on ``PYTHONPATH``::

    python bench/blogs.py                                  # ../shared/corpus/blogs
    python bench/blogs.py --xwlb /tmp/corpus               # also a make_corpus.py folder
    python bench/blogs.py --show 5                         # and 5 examples per measure
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import json
import re
import sys
import time
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from markdown_it import MarkdownIt

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BLOGS = ROOT.parent / "shared" / "corpus" / "blogs"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DATED = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")
TEMPLATE = re.compile(r"\{%|%\}|\{\{[<%]|[>%]\}\}|\{:|^[ \t]*:::|\$\$|<!--", re.M)
# Syntax a reader never sees: (name, pattern, also literal in text tokens?)
SYNTAX = [
    ("**", re.compile(r"\*\*"), True),
    ("](", re.compile(r"\]\("), True),
    ("```", re.compile(r"```"), True),
    ("~~", re.compile(r"~~"), True),
    ("# heading", re.compile(r"^#{1,6}[ \t]", re.M), True),
    ("{% %}", re.compile(r"\{%.*?%\}"), False),
    ("{{< >}}", re.compile(r"\{\{[<%]"), False),
    ("{:ial}", re.compile(r"\{:[^}\n]*\}"), False),
    (":::", re.compile(r"^[ \t]*:::", re.M), False),
    ("$$", re.compile(r"\$\$"), False),
    ("<!--", re.compile(r"<!--"), False),
]


def squeeze(text: str) -> str:
    return "".join(text.split()).replace("$", "")


# --- the generator's reading ----------------------------------------------------------------

def front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter or None when unreadable, body), as Hugo splits the three styles."""
    stripped = text.lstrip()
    for fence, load in (("---", lambda b: yaml.safe_load(b)), ("+++", tomllib.loads)):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            rest = stripped.split("\n", 1)[1]
            match = re.search(rf"^{re.escape(fence)}[ \t]*\r?$", rest, re.M)
            if not match:
                return {}, text
            try:
                meta = load(rest[: match.start()])
            except Exception:
                meta = None
            return (meta if isinstance(meta, dict) or meta is None else {}), rest[match.end():]
    if stripped.startswith("{"):
        try:
            meta, end = json.JSONDecoder().raw_decode(stripped)
            if isinstance(meta, dict):
                return meta, stripped[end:]
        except ValueError:
            pass
    return {}, text


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_plain(value: str) -> str:
    parser = _Text()
    parser.feed(value)
    parser.close()
    return " ".join("".join(parser.parts).split())


def to_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = yaml.safe_load(f"d: {text}")["d"]  # YAML's own timestamp rules
            except yaml.YAMLError:
                return None
            if isinstance(value, str):
                try:
                    value = email.utils.parsedate_to_datetime(text)
                except (TypeError, ValueError):
                    return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    return None


def taxonomy(meta: dict[str, Any], singular: str, plural: str, jekyll: bool) -> list[str]:
    def flat(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [item for v in value for item in flat(v)]
        return [html_plain(str(value))]

    if jekyll:  # Jekyll: the singular key as one value, else the plural one split at blanks
        if meta.get(singular) is not None:
            return flat(meta[singular])
        value = meta.get(plural)
        return flat(value.split() if isinstance(value, str) else value)
    value = meta.get(plural)
    return flat(value if value is not None else meta.get(singular))


def inline_text(token: Any) -> str:
    return "".join(c.content for c in (token.children or [])
                   if c.type in ("text", "code_inline", "softbreak", "math_inline")
                   or c.type == "image")


class Reading:
    """What a reader of the generated page sees, from markdown-it-py's tokens."""

    def __init__(self, body: str, md: MarkdownIt) -> None:
        self.code_lines: list[str] = []
        self.code_text: list[str] = []  # every code content, for the syntax measure
        self.literal: list[str] = []  # text tokens (what Markdown leaves literal)
        self.items: list[str] = []  # headings, cells, link texts, alt texts, footnotes
        self.units: list[str] = []  # the text in reading order (for the ending)
        self.first_heading: str | None = None
        tokens = md.parse(body)
        if len(tokens) > 1 and tokens[0].type == "heading_open":
            self.first_heading = " ".join(inline_text(tokens[1]).split())
        self._walk(tokens)

    def _walk(self, tokens: list[Any]) -> None:
        context: list[str] = []
        for token in tokens:
            if token.type.endswith("_open") and token.nesting == 1:
                context.append(token.type[:-5])
            elif token.type.endswith("_close") and context:
                context.pop()
            if token.type in ("fence", "code_block"):
                self.code_text.append(token.content)
                for line in token.content.splitlines():
                    if len(line.strip()) >= 12:
                        self.code_lines.append(line.strip())
                    if line.strip():
                        self.units.append(line)
            elif token.type == "inline":
                text = inline_text(token)
                if context and context[-1] in ("heading", "th", "td") or "footnote" in context:
                    self.items.append(text)
                self._inline(token.children or [])
                self.units.extend(c.content for c in token.children or []
                                  if c.type in ("text", "code_inline"))
            elif token.type == "html_block":  # CommonMark shows Markdown in it literally
                self.literal.append(token.content)

    def _inline(self, children: list[Any]) -> None:
        link: list[str] | None = None
        for child in children:
            if child.type == "code_inline":
                self.code_text.append(child.content)
            elif child.type == "text":
                self.literal.append(child.content)
            if child.type == "image":  # its alt text, as the renderer writes it
                self.items.append("".join(c.content for c in child.children or []
                                          if c.type in ("text", "code_inline")))
            if child.type == "link_open":
                link = []
            elif child.type == "link_close" and link is not None:
                self.items.append("".join(link))
                link = None
            elif link is not None and child.type in ("text", "code_inline"):
                link.append(child.content)


def parser() -> MarkdownIt:
    from mdit_py_plugins.footnote import footnote_plugin

    return MarkdownIt("commonmark", {"html": True}).enable(
        ["table", "strikethrough"]).use(footnote_plugin)


# --- the comparison ---------------------------------------------------------------------------

def generators(blogs: Path) -> dict[str, str]:
    out = {}
    sources = blogs / "SOURCES.tsv"
    for line in sources.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        out[parts[0]] = parts[5]
    return out


def measure(blogs: Path, show: int) -> tuple[dict[str, Any], dict[str, list[str]]]:
    from searcher.errors import DocumentError
    from searcher.ingest.documents import load_document

    md = parser()
    kinds = generators(blogs)
    c: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)

    def bad(measure: str, path: Path, detail: str) -> None:
        if len(examples[measure]) < show:
            examples[measure].append(f"{path.relative_to(blogs)}: {detail}")

    read_time = 0.0
    for folder in sorted(p for p in blogs.iterdir() if p.is_dir()):
        jekyll = "Jekyll" in kinds.get(folder.name, "")
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".md", ".markdown") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8-sig")
            meta, body = front_matter(text)
            parts = path.relative_to(folder).parts
            if meta and (meta.get("draft") is True or meta.get("published") is False
                         or "_drafts" in parts):
                c["drafts (not published)"] += 1
                continue
            started = time.perf_counter()
            try:
                doc = load_document(path, folder, label=folder.name)
            except DocumentError as exc:
                c["failed"] += 1
                bad("failed", path, str(exc))
                continue
            finally:
                read_time += time.perf_counter() - started
            c["posts"] += 1
            reading = Reading(body, md)
            got = squeeze(doc.body)
            # -- front matter
            if meta is not None:
                title = meta.get("title")
                if isinstance(title, str) and title.strip():
                    expected = html_plain(title)
                elif path.stem in ("index", "_index") and len(path.relative_to(folder).parts) > 1:
                    expected = path.parent.name
                else:
                    expected = reading.first_heading or path.stem
                c["titles checked"] += 1
                if " ".join(doc.title.split()) != " ".join(str(expected).split()):
                    c["wrong titles"] += 1
                    bad("wrong titles", path, f"{doc.title!r} != {expected!r}")
                value = meta.get("date")
                dated = DATED.match(path.name)
                if value is None and jekyll and dated:
                    value = dt.date(*map(int, dated.groups()))
                when = to_datetime(value)
                if when is not None:
                    c["dates checked"] += 1
                    if doc.date is None or doc.date != when:
                        c["wrong dates"] += 1
                        bad("wrong dates", path, f"{doc.date} != {when}")
                for key, single, plural, have in (("tags", "tag", "tags", doc.tags),
                                                  ("categories", "category", "categories",
                                                   doc.categories)):
                    want = [v for v in taxonomy(meta, single, plural, jekyll) if v]
                    c["taxonomies checked"] += 1
                    if sorted(dict.fromkeys(want)) != sorted(have):
                        c["wrong tags/categories"] += 1
                        bad("wrong tags/categories", path, f"{key} {have} != {want}")
            # -- text
            for line in reading.code_lines:
                if TEMPLATE.search(line):
                    continue
                c["code lines"] += 1
                if squeeze(line) not in got:
                    c["code lines missing"] += 1
                    bad("code lines missing", path, line[:80])
            for item in reading.items:
                if not squeeze(item) or TEMPLATE.search(item):
                    continue
                c["items"] += 1
                if squeeze(item) not in got:
                    c["items missing"] += 1
                    bad("items missing", path, item[:80])
            code = "\n".join(line.strip() for text in reading.code_text
                             for line in text.splitlines()).replace("\xa0", " ")
            literal = "\n".join(reading.literal).replace("\xa0", " ")
            shown = []
            for name, pattern, in_text in SYNTAX:
                allowed = len(pattern.findall(code)) + (len(pattern.findall(literal))
                                                        if in_text else 0)
                if len(pattern.findall(doc.body)) > allowed:
                    shown.append(name)
            if shown:
                c["posts showing syntax"] += 1
                bad("posts showing syntax", path, " ".join(shown))
            units = [u for u in reading.units if len(squeeze(u)) >= 6 and not TEMPLATE.search(u)]
            if units:
                c["endings checked"] += 1
                if squeeze(units[-1]) not in got:
                    c["posts losing their ending"] += 1
                    bad("posts losing their ending", path, units[-1][:80])
    c["read ms per post"] = round(read_time / max(1, c["posts"] + c["failed"]) * 1000, 2)
    return dict(c), examples


def xwlb(folder: Path, show: int) -> tuple[int, int, float, list[str]]:
    from searcher.ingest.documents import load_document

    files = sorted(p for p in folder.rglob("*.md") if p.is_file())
    found, examples, started = 0, [], time.perf_counter()
    for path in files:
        doc = load_document(path, folder)
        if "](http" in doc.body:
            found += 1
            if len(examples) < show:
                examples.append(str(path))
    elapsed = time.perf_counter() - started
    return found, len(files), elapsed / max(1, len(files)) * 1000, examples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blogs", type=Path, default=BLOGS)
    ap.add_argument("--xwlb", type=Path, help="a make_corpus.py output folder")
    ap.add_argument("--show", type=int, default=0, help="examples to print per measure")
    args = ap.parse_args()
    import searcher

    print(f"searcher from {Path(searcher.__file__).parent}")
    c, examples = measure(args.blogs, args.show)
    pct = lambda a, b: f"{c.get(a, 0)} of {c.get(b, 0)} ({c.get(a, 0) / max(1, c.get(b, 0)):.1%})"  # noqa: E731
    drafts = c.get("drafts (not published)", 0)
    rows = [
        ("posts read (drafts skipped)", f"{c.get('posts', 0)} ({drafts} drafts)"),
        ("failed", str(c.get("failed", 0))),
        ("wrong titles", pct("wrong titles", "titles checked")),
        ("wrong dates", pct("wrong dates", "dates checked")),
        ("wrong tags/categories", pct("wrong tags/categories", "taxonomies checked")),
        ("code lines (>= 12 chars) missing", pct("code lines missing", "code lines")),
        ("headings/cells/link+alt texts/footnotes missing", pct("items missing", "items")),
        ("posts showing Markdown/template syntax", pct("posts showing syntax", "posts")),
        ("posts losing their ending", pct("posts losing their ending", "endings checked")),
        ("read time per post (ms)", str(c.get("read ms per post"))),
    ]
    if args.xwlb:
        found, total, ms, xw_examples = xwlb(args.xwlb, args.show)
        rows.append(("新闻联播 articles with ](http in the text", f"{found} of {total}"))
        rows.append(("read time per 新闻联播 article (ms)", f"{ms:.2f}"))
        if xw_examples:
            examples["](http"] = xw_examples
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for name, lines in examples.items():
        print(f"\n{name}:")
        for line in lines:
            print("   ", line)


if __name__ == "__main__":
    main()
