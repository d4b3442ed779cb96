"""An article cannot drive the reader's terminal: the CLI prints the control characters of
titles, authors, snippets and paths (ESC ``[2J`` clears the screen, OSC ``]0;…`` BEL sets
the window title) as visible escapes, and ``--json`` stays valid JSON holding them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from searcher.cli import app

CLEAR, TITLE = "\x1b[2J", "\x1b]0;owned\x07"
#: What the CLI shows for them.
SHOWN_CLEAR, SHOWN_TITLE = "\\x1b[2J", "\\x1b]0;owned\\x07"
#: Control characters but newline (C0, DEL, C1).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A real article whose title, author, body and file name hold terminal commands
    (YAML's double-quoted ``\\e`` and ``\\a`` are ESC and BEL), beside sample_docs."""
    base = tmp_path_factory.mktemp("escapes")
    docs = base / "docs"
    docs.mkdir()
    name = f"esc{CLEAR}name.md"
    (docs / name).write_text(
        '---\ntitle: "长江\\e[2J新闻\\e]0;owned\\a标题"\nauthor: "作者\\e[31m红"\n'
        "tags: [\"标签\\e[5m\"]\ndate: 2021-06-16 10:00:00\n---\n\n"
        f"长江的水{CLEAR}很长{TITLE}。长江流域水系。\n\n第二行。\n", encoding="utf-8")
    index_dir = base / "ix"
    result = CliRunner().invoke(app, ["--index-dir", str(index_dir), "index", str(docs)])
    assert result.exit_code == 0, result.output
    return index_dir, docs / name


def run(index_dir, *args):
    return CliRunner().invoke(app, ["--index-dir", str(index_dir), *args])


def test_search_shows_control_characters_as_escapes(hostile):
    index_dir, path = hostile
    result = run(index_dir, "search", "长江", "--facets", "author,tag")
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output), repr(result.output)
    assert f"长江{SHOWN_CLEAR}新闻{SHOWN_TITLE}标题" in result.output  # the title
    assert "作者\\x1b[31m红" in result.output  # the author (hit line and facet)
    assert f"esc{SHOWN_CLEAR}name.md" in result.output  # the path
    assert f"长江的水{SHOWN_CLEAR}很长{SHOWN_TITLE}。长江流域水系。" in result.output
    assert "标签\\x1b[5m" in result.output


def test_highlights_stay_on_their_words_on_a_terminal(hostile):
    """Escapes lengthen the text: the highlight styles still cover exactly the matches."""
    index_dir, _ = hostile
    proc = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "search", "长江"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "FORCE_COLOR": "1", "TERM": "xterm",
             "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    styled = re.findall(r"\x1b\[([0-9;]+)m([^\x1b]*)\x1b\[0m", proc.stdout)
    marked = [text for style, text in styled if style in ("1;31", "31;1", "1;7", "7;1")]
    assert marked and set(marked) == {"长江"}, styled
    plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)  # rich's own styles
    assert not CONTROL.search(plain), repr(plain)
    assert SHOWN_CLEAR in plain and SHOWN_TITLE in plain


def test_show_and_suggest_escape_too_and_keep_the_texts_lines(hostile):
    index_dir, path = hostile
    shown = run(index_dir, "show", str(path))
    assert shown.exit_code == 0, shown.output
    assert not CONTROL.search(shown.output), repr(shown.output)
    assert f"title:      长江{SHOWN_CLEAR}新闻{SHOWN_TITLE}标题" in shown.output
    assert f"长江的水{SHOWN_CLEAR}很长{SHOWN_TITLE}。长江流域水系。\n" in shown.output
    assert "\n第二行。" in shown.output  # the text keeps its lines
    suggested = run(index_dir, "suggest", "长江")
    assert suggested.exit_code == 0 and not CONTROL.search(suggested.output)


def test_json_keeps_the_text_and_stays_valid(hostile):
    index_dir, _ = hostile
    result = run(index_dir, "search", "长江", "--json")
    data = json.loads(result.output)
    hit = data["hits"][0]
    assert hit["title"] == f"长江{CLEAR}新闻{TITLE}标题"
    assert CLEAR in hit["snippet"] and TITLE in hit["snippet"]
    assert not CONTROL.search(result.output.replace("\n", ""))  # escaped as \u001b
