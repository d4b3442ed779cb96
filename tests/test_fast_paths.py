"""The short cuts of reading a file give exactly what the general readers give.

Each short cut (plain front matter without the YAML loader, a plain paragraph without
the Markdown parser, plain markup without escaping stray brackets, a flat front matter
without walking it, this process's memory from a file kept open) is compared with the
general path on every real article we have and on generated input, and must decline
what it cannot mirror.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared
from hypothesis import given, settings
from hypothesis import strategies as st

from searcher.ingest import html_text, markdown_html, textify
from searcher.ingest import metadata as fm
from searcher.ingest.decoding import decode


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 新闻联播 articles as make_corpus.py writes them (HTML bodies in Markdown files)."""
    import subprocess
    import sys

    if not (SHARED / "tools" / "make_corpus.py").is_file():
        pytest.skip("../shared/tools/make_corpus.py is not present beside the repo")
    out = tmp_path_factory.mktemp("news") / "corpus"
    subprocess.run([sys.executable, str(SHARED / "tools" / "make_corpus.py"), str(out),
                    "--limit", "300"], check=True, capture_output=True)
    return out


def _loaded(block: str) -> object:
    """What the YAML loader makes of *block* (the type of the error when it refuses it)."""
    try:
        return fm.yaml_load(block)
    except Exception as exc:  # noqa: BLE001 - any refusal must also be the short cut's
        return type(exc)


def _texts(*folders: Path) -> list[str]:
    return [decode(p.read_bytes())[0] for folder in folders for p in sorted(folder.rglob("*"))
            if p.suffix in (".md", ".markdown", ".html", ".htm") and p.is_file()]


def _yaml_blocks(texts: list[str]) -> list[str]:
    blocks = []
    for text in texts:
        block, _body, style = fm.split_any(text)
        if style == "yaml" and block is not None:
            blocks.append(block)
    return blocks


def _assert_simple_yaml_agrees(blocks: list[str]) -> int:
    taken = 0
    for block in blocks:
        simple = fm.simple_yaml(block)
        if simple is not None:
            taken += 1
            assert simple == _loaded(block), block
            assert [type(v) for v in simple.values()] == [type(v) for v in _loaded(block).values()]
    return taken


# --- front matter --------------------------------------------------------------------------------

@needs_shared
def test_simple_front_matter_is_read_as_the_yaml_loader_reads_it_on_real_articles(news) -> None:
    blocks = _yaml_blocks(_texts(SHARED / "corpus", SAMPLE_DOCS))
    taken = _assert_simple_yaml_agrees(blocks)
    assert len(blocks) > 1500 and taken > 500
    news_blocks = _yaml_blocks(_texts(news))
    assert _assert_simple_yaml_agrees(news_blocks) == len(news_blocks) == 300


def test_hexo_front_matter_takes_the_short_cut() -> None:
    block = ("title: '国内联播快讯'\ncategories: \n - 新闻联播\n - 国内\nauthor: 央视网\n"
             "comments: false\ndate: Fri, 31 Mar 2023 19:00:00 GMT\nupdated:\ntags:\n- a b\n"
             "- \"引号\"\n- ~\n- yes\n")
    assert fm.simple_yaml(block) == _loaded(block) == {
        "title": "国内联播快讯", "categories": ["新闻联播", "国内"], "author": "央视网",
        "comments": False, "date": "Fri, 31 Mar 2023 19:00:00 GMT", "updated": None,
        "tags": ["a b", "引号", None, True]}


@pytest.mark.parametrize("block", [
    "title: 12_00\n", "n: 0.5\n", "t: 1:30\n",  # numbers
    "title: 'it''s'\n", 'title: "a\\nb"\n', "title: 'a' # note\n", "# comment\ntitle: a\n",
    "title: a\n\ntags: b\n", "title: a\n  b\n",  # blank and continued lines
    "a:\n  b: c\n", "tags: [a, b]\n", "tags: {a: b}\n", "a: &x y\nb: *x\n", "a: !!str 1\n",
    "title: a: b\n", "title: a:\n", "title: a #b\n", "title:\ta\n", "title: a\u2028b\n",
    "tags:\n - a\n  - b\n", "title: a\n- b\n", "- a\n", "yes: a\n", "null: a\n", "a: |\n  x\n",
    "title: <<\n", "a: =\n", "title: \ufeffa\n", "title: a\x85b\n", "title: a\r\n", "",
])
def test_the_short_cut_declines_what_it_cannot_mirror(block: str) -> None:
    assert fm.simple_yaml(block) is None


_KEYS = st.sampled_from(["title", "tags", "yes", "on", "null", "true", "a_b", "A-1", "_k",
                         "Date", "1a", "key ", " key", "k:v"])
_VALUES = st.sampled_from([
    "x", "中文 标题", "true", "True", "yes", "no", "on", "OFF", "~", "null", "", " ",
    "2023-01-02", "2023-01-02 10:00:00", "Fri, 31 Mar 2023 19:00:00 GMT", "12", "1_0", "0.5",
    ".5", "1e3", "0x1f", "1:30", "a:b", "a: b", "a:", "a #c", "a#c", "'q'", "'it''s'", '"d"',
    '"e\\n"', "'a' x", "-x", "- x", "?x", ":x", ",x", "x,y", "[a]", "{a}", "&a", "*a", "!t",
    "|", ">", "%x", "@x", "`x", "\\x", "a  b", "a ", ".inf", "...", "=", "<<", "\u3000x",
    "x\u3000", "x\x85", "x\u2028y", "\ufeffx", "C#", "'", '"', "''", "- - a", "a\tb", "0",
    "-1", "+1", "Y", "n", "2002-12-14t21:59:43.10-05:00",
])
_LINE = st.one_of(
    st.tuples(_KEYS, st.sampled_from([": ", ":  ", ":"]), _VALUES).map("".join),
    st.tuples(st.sampled_from(["", " ", "  "]), st.sampled_from(["- ", "-  ", "-"]),
              _VALUES).map("".join),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=6), st.sampled_from(["", "\n", "\n\n"]))
def test_the_short_cut_agrees_with_the_yaml_loader_on_generated_blocks(
        lines: list[str], end: str) -> None:
    _assert_simple_yaml_agrees(["\n".join(lines) + end])


def test_flat_front_matter_is_still_bounded() -> None:
    long = "长" * (fm.MAX_VALUE_CHARS + 1)
    warnings: list[str] = []
    assert fm.bounded({"tags": ["a", long]}, warnings)["tags"][1] == long[:fm.MAX_VALUE_CHARS]
    assert warnings and "tags" in warnings[0]
    with pytest.raises(fm.FrontMatterError):
        fm.bounded({"tags": ["a"] * fm.MAX_VALUES}, [])  # the list and its items: one over
    flat = {"title": "a", "tags": ["b", None, True], "n": 3}
    assert fm.bounded(flat, []) == flat


# --- Markdown between HTML blocks ----------------------------------------------------------------

def _chunks(bodies: list[str]) -> list[str]:
    """The Markdown chunks of bodies that open with HTML, as
    :func:`~searcher.ingest.markdown_html.render_html_body` cuts them."""
    return [text for body in bodies if markdown_html.opens_with_html(body)
            for text, _block in markdown_html.html_body_chunks(body) if text.strip()]


def _assert_plain_paragraphs_agree(chunks: list[str]) -> int:
    taken = 0
    for chunk in chunks:
        plain = markdown_html.plain_paragraph(chunk)
        if plain is not None:
            taken += 1
            assert plain == markdown_html.parser_html(chunk, indented_code=False), chunk
    return taken


@pytest.mark.slow
@needs_shared
def test_plain_paragraphs_are_rendered_as_the_parser_renders_them_on_real_articles(news) -> None:
    bodies = [fm.parse(text).body for text in _texts(news, SHARED / "corpus", SAMPLE_DOCS)]
    assert _assert_plain_paragraphs_agree(_chunks(bodies)) >= 100
    # and every line of every real body, as a chunk of its own
    lines = [line for body in bodies for line in body.splitlines() if line.strip()]
    assert _assert_plain_paragraphs_agree(lines) > 10_000


@pytest.mark.parametrize("chunk", [
    "a  \nb", "1. a", "1) a", "# h", "a\n===", "a\n---", "- a", "+ a", ": a", ":::", "a\tb",
    "\u3000\u3000正文", "正文\u3000", "a\n 2. b", "[a](b)", "**a**", "a_b", "`a`", "~~a~~", "a|b",
    "<b>a</b>", "&amp;", "a\\b", "$x$", "{% x %}", "a!", "x\n\n",
])
def test_plain_paragraph_declines_markup(chunk: str) -> None:
    assert markdown_html.plain_paragraph(chunk) is None


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(list("ab 中\n-+=#:1.)\"'\u3000\t*_[]!&<>|~$\\{}`\x0c\u2028")),
                min_size=1, max_size=14).map("".join))
def test_plain_paragraph_agrees_with_the_parser_on_generated_text(chunk: str) -> None:
    if chunk.strip() and "\n\n" not in chunk:
        _assert_plain_paragraphs_agree([chunk])


# --- HTML: the fast path on unescaped markup -----------------------------------------------------

def _assert_escaping_changes_nothing(markups: list[str]) -> int:
    taken = 0
    for markup in markups:
        if html_text.simple_html_to_text(markup) is not None:
            taken += 1
            assert html_text.escape_stray_brackets(markup) == markup, markup[:200]
    return taken


@pytest.mark.slow
@needs_shared
def test_markup_the_fast_path_takes_has_no_stray_brackets_on_real_articles(news) -> None:
    bodies = [fm.parse(text).body
              for text in _texts(news, SHARED / "corpus" / "rsshub", SHARED / "corpus" / "blogs")]
    rendered = [markdown_html.render_markdown(body) for body in bodies]
    assert _assert_escaping_changes_nothing(bodies + rendered) >= 300


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from([
    "<p>", "</p>", "<div>", "</div>", "<span>", "</span>", "<b>", "</b>", "<Span>", "</Span>",
    "<List>", "</List>", "<P>", "</P>", "<BR>", "<br/>", "<a href='x'>", "</a>", "<Integer>",
    "<strong class=\"k\">", "</strong>", "<iostream>", "文字", "a", " ", "\n", "&lt;", "<",
    "a<b", "<h2>", "</h2>", "<section>", "</section>", "<hr>", "<Object>", "<Br>",
]), min_size=1, max_size=12).map("".join))
def test_markup_the_fast_path_takes_has_no_stray_brackets(markup: str) -> None:
    _assert_escaping_changes_nothing([markup])
    assert html_text.html_to_text(markup) == html_text.soup_to_text(
        html_text.escape_stray_brackets(markup))


def test_a_capitalised_tag_is_text_to_the_fast_path_too() -> None:
    assert html_text.simple_html_to_text("<p>List<Object> a</p>") is None
    assert html_text.html_to_text("<p>a <Span>b</Span></p>") == "a <Span>b</Span>"


# --- memory of this process ----------------------------------------------------------------------

@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_own_resident_memory_follows_this_process_and_a_forked_child() -> None:
    from searcher.core import workers

    before = workers.resident_bytes()
    assert abs(before - workers.resident_bytes(os.getpid())) < 2**20
    block = bytearray(64 * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
    assert workers.resident_bytes() - before > 60 * 2**20
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own figure, not its parent's (through the parent's file)
        del block
        child = [workers.resident_bytes(), workers.resident_bytes(os.getpid())]
        os.write(writer, f"{child[0]} {child[1]}".encode())
        os._exit(0)
    os.close(writer)
    own, listed = map(int, os.read(reader, 100).split())
    os.waitpid(pid, 0)
    os.close(reader)
    assert abs(own - listed) < 2**20


# --- the loss check ------------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_word_characters_are_counted_as_deleting_the_rest_would(text: str) -> None:
    import re

    assert textify.word_characters(text) == len(re.sub(r"[\W_]+", "", text))
