"""Articles built to be worst cases for the work done per hit (snippets, highlights,
facets, similar): one word repeated 10^5 times, one 10 MB line, 20 MB of one character.

Every search under a time limit answers or stops with TimeLimitExceeded soon after it (a
quadratic snippet took 20-37 s for 2x10^4 repeats and never ended for 20 MB), through the
library, the CLI (exit 124) and the web server, whose ``/healthz`` keeps answering within a
second while such a search runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import ROOT, SAMPLE_DOCS, start_serve

from searcher import SearchEngine, TimeLimitExceeded

pytestmark = pytest.mark.slow

#: Seconds of the limit the searches get, and how late an answer may come past it (a loaded
#: CI machine; the point is seconds, never minutes).
LIMIT, SLACK = 2.0, 4.0

QUERIES = ["长江", "长", '"长长长"', "认证认可", "长江 OR 聊城", "世界认可日 长江"]


def _article(title: str, body: str) -> str:
    return f"---\ntitle: {title}\nauthor: 测试\ndate: 2021-06-16 10:00:00\n---\n\n{body}\n"


@pytest.fixture(scope="module")
def worst(tmp_path_factory):
    """The worst-case articles beside the sample documents, indexed once: (engine, folder)."""
    import shutil

    base = tmp_path_factory.mktemp("worst")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    # One line of real text: the sample articles' bodies without their line breaks, repeated.
    from searcher.ingest.documents import load_document

    line = "".join(load_document(p, SAMPLE_DOCS).body.replace("\n", "")
                   for p in sorted(SAMPLE_DOCS.rglob("*.md")))
    line = (line * (10_000_000 // len(line.encode()) + 1))
    line = line.encode()[:10_000_000].decode("utf-8", "ignore")
    (docs / "worst").mkdir()
    (docs / "worst" / "repeat.md").write_text(_article("重复", "长江，" * 100_000), "utf-8")
    (docs / "worst" / "line.md").write_text(_article("一行", line), "utf-8")
    (docs / "worst" / "single.md").write_text(_article("单字", "长" * (20_000_000 // 3)),
                                              "utf-8")
    engine = SearchEngine(base / "ix", max_bytes="64 MiB")
    report = engine.index([docs], jobs=2)
    assert not report.failed, report.failed
    yield engine, docs
    engine.close()


def _timed(call, *args, **kwargs):
    started = time.monotonic()
    try:
        return call(*args, **kwargs), time.monotonic() - started
    except TimeLimitExceeded as exc:
        return exc, time.monotonic() - started


def test_every_search_answers_within_its_limit(worst):
    engine, _ = worst
    for query in QUERIES:
        for facets in (None, ["author", "year", "month"]):
            result, took = _timed(engine.search, query, timeout=LIMIT, facets=facets)
            assert took < LIMIT + SLACK, (query, took)
            if isinstance(result, TimeLimitExceeded):
                assert result.seconds == LIMIT
                continue
            assert result.total >= 1
            for hit in result.hits:
                assert len(hit.snippet) <= 122
                for start, end in hit.highlights:
                    assert 0 <= start < end <= len(hit.snippet)
    # given time (a loaded machine takes several seconds), they answer
    for query in ("长江", "认证认可", "长江 OR 聊城"):
        assert engine.search(query, timeout=120).total >= 1


def test_the_snippet_of_a_word_repeated_100000_times(worst):
    """Was 36.7 s for 20,000 repeats (the issue), ~20 s here; over 10 minutes for 100,000
    (bench/worst_case.py prints how long now)."""
    engine, _ = worst
    results = engine.search("长江", timeout=120)
    hit = next(h for h in results.hits if h.title == "重复")
    assert hit.snippet.startswith("长江，长江，") and hit.highlights[:2] == [(0, 2), (3, 5)]


def test_similar_stops_at_its_limit_too(worst):
    engine, _ = worst
    for title in ("重复", "一行", "单字"):
        doc_id = next(h.id for h in engine.search(title).hits if h.title == title)
        result, took = _timed(engine.similar, doc_id, timeout=LIMIT)
        assert took < LIMIT + SLACK, (title, took)
        assert isinstance(result, TimeLimitExceeded) or result.total >= 0


def test_a_limit_of_zero_seconds_is_no_limit_and_bad_ones_are_refused(worst):
    from searcher import QueryError

    engine, _ = worst
    assert engine.search("认证认可", timeout=0).total >= 1
    for bad in (-1, float("nan"), "2", True):
        with pytest.raises(QueryError, match="timeout"):
            engine.search("认证认可", timeout=bad)


def test_the_cli_stops_with_exit_124_and_says_why(worst):
    engine, _ = worst
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(engine.settings.index_dir),
         "search", '"长长长"', "--timeout", "0.5"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 124, proc.stderr
    assert proc.stderr.startswith("error: the search took longer than its 0.5 s time limit")
    assert "--timeout" in proc.stderr and proc.stdout == ""
    assert took < 0.5 + SLACK + 5  # the interpreter's start and imports are in it too


def test_healthz_answers_within_a_second_while_a_worst_case_search_runs(worst, tmp_path):
    """The real `searcher serve` (one worker): searches over the worst articles run while
    /healthz is asked every 0.2 s; each answer comes within a second (the issue: 43.5 s)."""
    engine, _ = worst
    proc, port = start_serve(engine.settings.index_dir, tmp_path, "--time-budget", str(LIMIT))
    base = f"http://127.0.0.1:{port}"
    statuses: list[tuple[str, int, float]] = []

    def search(query: str) -> None:
        started = time.monotonic()
        url = f"{base}/api/search?q={urllib.request.quote(query)}"
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        statuses.append((query, status, time.monotonic() - started))

    try:
        waits = []
        for query in ('"长长长"', "长", "长江"):
            thread = threading.Thread(target=search, args=(query,))
            thread.start()
            time.sleep(0.05)
            while thread.is_alive():
                started = time.monotonic()
                with urllib.request.urlopen(f"{base}/healthz", timeout=30) as response:
                    assert response.status == 200
                waits.append(time.monotonic() - started)
                time.sleep(0.2)
            thread.join()
        assert waits and max(waits) < 1.0, waits
        for query, status, took in statuses:
            assert status in (200, 503), (query, status)
            assert took < LIMIT + SLACK, (query, took)
    finally:
        proc.terminate()
        proc.wait(30)
