"""The HTTP API and the server-rendered pages, through starlette's TestClient, on
sample_docs plus a hostile article (markup in every field) written in tmp."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import ROOT, SAMPLE_DOCS, SEED_RELPATH, article, start_serve, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("httpx")  # a dev dependency; starlette's TestClient needs it
with warnings.catch_warnings():  # newer starlette prefers httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from searcher import SearchEngine, TimeLimitExceeded  # noqa: E402
from searcher.web import WebOptions, create_app  # noqa: E402

HOSTILE_RELPATH = "evil/hostile.md"
#: Every field's text is markup that would run script if it were ever treated as HTML.  The
#: word xssprobe finds it.  Front matter values are plain text (tags removed, entities
#: decoded), so the markup is written escaped: its *text* is the markup.
HOSTILE = """---
title: '&lt;img src=x onerror="window.__pwned=1"&gt;恶意标题 xssprobe'
author: '&lt;b onmouseover="window.__pwned=2"&gt;黑客&lt;/b&gt;'
categories:
  - '&lt;script&gt;window.__pwned=3&lt;/script&gt;'
tags:
  - '"&gt;&lt;svg onload="window.__pwned=4"&gt;'
date: 2021-07-01 08:00:00
---

<div><p>正文提到 &lt;script&gt;window.__pwned=5&lt;/script&gt; 和
&lt;img src=x onerror=window.__pwned=6&gt; 这两段文字 xssprobe 测试。</p></div>
"""


def write_hostile(folder: Path) -> Path:
    return write(folder, HOSTILE_RELPATH, HOSTILE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """sample_docs + the hostile article, indexed once; (client, engine, docs folder)."""
    base = tmp_path_factory.mktemp("web")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    write_hostile(docs)
    engine = SearchEngine(base / "ix")
    report = engine.index([docs])
    assert not report.failed, report.failed
    with TestClient(create_app(engine)) as client:
        yield client, engine, docs
    engine.close()


def seed_id(engine) -> str:
    return engine.search('"世界认可日"').hits[0].id


def assert_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert set(data) >= {"error", "detail"}, data
    assert isinstance(data["detail"], str) and data["detail"]
    if error:
        assert data["error"] == error
    assert "Traceback" not in response.text
    return data


# -- the web stack stays out of the CLI's way --------------------------------------------------

def test_cli_and_a_search_do_not_import_the_web_stack(site, tmp_path):
    _, engine, _ = site
    web = ("fastapi", "starlette", "uvicorn", "jinja2", "searcher.web")
    code = (
        "import sys\n"
        "import searcher.cli as cli\n"
        f"web = {web!r}\n"
        "print(sorted(m for m in web if m in sys.modules))\n"
        "try:\n"
        f"    cli.app(['--index-dir', {str(engine.settings.index_dir)!r}, 'search', '聊城'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in web if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True).stdout.splitlines()
    assert "聊城" in "\n".join(out[1:-1])  # the search really ran
    assert out[0] == "[]" and out[-1] == "[]", out


# -- the JSON and the engine calls behind every endpoint ----------------------------------------

def test_json_reads_back_as_json_dumps_wrote_it(site):
    """The API writes JSON with orjson (faster); it must read back exactly as what
    json.dumps(default=str) wrote before, also for values the two treat differently."""
    import dataclasses
    import datetime as dt

    import numpy as np

    from searcher.web.rendering import JSON

    _, engine, _ = site

    @dataclasses.dataclass
    class Point:
        x: int

    content = {
        "results": engine.search("聊城 OR xssprobe", facets=["author", "year"]).as_dict(),
        "document": engine.get(seed_id(engine)).as_dict(),
        "stats": engine.stats().as_dict(),
        "numpy": [np.float64(1.25), np.int64(7), np.float32(0.5)],
        "dates": [dt.date(2021, 6, 9), dt.datetime(2021, 6, 9, 8, 30, tzinfo=dt.timezone.utc)],
        "dataclass": Point(1), "floats": [1e-7, 1e16, 0.1, -0.0],
        "text": '长江 <script>"\\\n\u2028\x01</script>',
    }
    old = json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str)
    new = JSON(content).body
    assert json.loads(new) == json.loads(old)
    assert [type(v) for v in json.loads(new)["numpy"]] == [float, str, str]
    # what orjson refuses: the json.dumps answer, byte for byte
    for refused in ({1: "integer key"}, {"big": 2**70}):
        assert JSON(refused).body == json.dumps(refused, separators=(",", ":")).encode()


def test_engine_calls_take_turns_and_a_slow_one_lets_the_next_start(site):
    """Calls run one after another (one lane: no GIL tug-of-war between searches); a call
    that holds the lane for LANE_HOLD lets the next start beside it, so a slow query holds
    the others up for that long at most, and the slow one still gets its 503."""
    import asyncio
    import time

    from searcher.web.budget import LANE_HOLD
    from searcher.web.errors import ApiError

    _, engine, _ = site
    state = create_app(engine, time_budget=30).state.searcher
    spans: list[tuple[str, float, float]] = []

    def work(name: str, seconds: float) -> str:
        started = time.monotonic()
        time.sleep(seconds)
        spans.append((name, started, time.monotonic()))
        return name

    async def main() -> list:
        return await asyncio.gather(*(state.run(work, f"quick{i}", 0.05) for i in range(4)))

    assert asyncio.run(main()) == ["quick0", "quick1", "quick2", "quick3"]
    spans.sort(key=lambda span: span[1])
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:], strict=False)), spans  # one at a time

    spans.clear()
    slow = 4 * LANE_HOLD + 1.0
    state = create_app(engine, time_budget=slow - 0.5).state.searcher

    async def with_a_slow_call() -> list:
        calls = [state.run(work, "slow", slow)]
        calls += [state.run(work, f"quick{i}", 0.01) for i in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    answers = asyncio.run(with_a_slow_call())
    assert isinstance(answers[0], ApiError) and answers[0].status == 503
    assert answers[1:] == ["quick0", "quick1", "quick2"]
    state.pool.shutdown(wait=True)  # the slow call goes on in its thread after its 503
    ended = {name: end for name, _, end in spans}
    assert all(ended[f"quick{i}"] < ended["slow"] for i in range(3)), spans


def test_a_search_runs_on_the_event_loop_and_a_slow_one_moves_to_the_pool(site, monkeypatch):
    """A search runs on the event loop thread under a LANE_HOLD time limit (no thread hop);
    one still ranking when the limit passes stops and starts over in a pool thread, with
    the same answer; a budget spent on the loop is a 503 without a pool call."""
    import searcher.web.budget as budget

    _, engine, _ = site
    search = engine.search
    threads: list[str] = []

    def search_and_note_the_thread(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return search(*args, **kwargs)

    monkeypatch.setattr(engine, "search", search_and_note_the_thread)
    expected = search("认证认可", limit=5).as_dict()
    with TestClient(create_app(engine)) as client:
        for url in ("/api/search?q=认证认可&limit=5", "/?q=认证认可"):
            assert client.get(url).status_code == 200
        assert len(threads) == 2 and not any(t.startswith("searcher-web") for t in threads)

        threads.clear()
        monkeypatch.setattr(budget, "LANE_HOLD", 0.0)  # every search is "slow" on the loop
        data = client.get("/api/search", params={"q": "认证认可", "limit": 5}).json()
        assert [t.startswith("searcher-web") for t in threads] == [False, True], threads
    assert {k: v for k, v in data.items() if k != "elapsed_ms"} == \
        {k: v for k, v in expected.items() if k != "elapsed_ms"}

    threads.clear()
    with TestClient(create_app(engine, time_budget=1e-6)) as client:
        assert_error(client.get("/api/search", params={"q": "认证认可"}), 503,
                     "time budget exceeded")
    assert not any(t.startswith("searcher-web") for t in threads), threads


def test_searches_on_the_loop_leave_the_loop_a_turn_between_them(site, monkeypatch):
    """Searches waiting on one event loop run one per round of the loop, so its other work
    (reading sockets, setting up new connections) goes on between two of them."""
    import asyncio

    _, engine, _ = site
    state = create_app(engine).state.searcher
    events: list[str] = []
    search = engine.search

    def search_and_note(*args, **kwargs):
        events.append("search")
        return search(*args, **kwargs)

    monkeypatch.setattr(engine, "search", search_and_note)

    async def main() -> list:
        done = asyncio.Event()

        async def other_work() -> None:
            while not done.is_set():
                events.append("other")
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(other_work())
        await asyncio.sleep(0)
        results = await asyncio.gather(*(state.search("认证认可") for _ in range(4)))
        done.set()
        await ticker
        return results

    results = asyncio.run(main())
    assert all(r.total > 0 for r in results)
    searches = [i for i, event in enumerate(events) if event == "search"]
    assert len(searches) == 4
    assert all(b - a > 1 for a, b in zip(searches, searches[1:], strict=False)), events


PLAIN_SEARCHES = [
    "q=聊城", "q=认证认可&limit=5&page=2", "q=认可&sort=date", "q=认可&sort=oldest&page=1",
    "q=认可&facets=author,year&facet_limit=3", "q=认可&facets=author&facets=tag",
    "q=认可&author=&category=", "q=认可&year=2021&year=2020&month=2021-06",
    "q=认可&unknown=1", "q=认可&since=2021-01-01&until=2021-12-31", "q=%E8%AE%A4%E5%8F%AF",
    "q=xssprobe", "q=(", "q=" + "认" * 500, "q=+",
    "q=认可&limit=100&page=1000", "q=认可&" + "&".join(["author=a"] * 20),
]
NOT_PLAIN = [
    "", "q=", "limit=5", "q=认可&limit=0", "q=认可&limit=101", "q=认可&page=1001",
    "q=认可&limit=ten", "q=认可&limit=010", "q=认可&limit=%205", "q=认可&sort=random",
    "q=a&q=b", "q=认可&limit=5&limit=6", "q=" + "认" * 501, "q=认可&" + "&".join(["tag=a"] * 21),
    "q=认可&author=" + "x" * 201, "q=认可&" + "&".join(["facets=author"] * 11),
    "q=认可&since=" + "2" * 41, "q=认可&facet_limit=101", "q=认可&since=2021-13-45",
    "q=认可&since=", "q=认可&until=2021-6-1",
]


def test_plain_search_requests_answer_as_the_fastapi_route(site, monkeypatch):
    """/api/search answered without FastAPI's routing (searcher/web/guard.py, Guard) gives
    what the route gives: status, headers and body (but the time taken); everything else
    goes through the route."""
    import searcher.web.guard as guard
    from searcher.web.params import plain_search_params

    client, _, _ = site

    def answer(query: str) -> tuple:
        response = client.get("/api/search?" + query)
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        body = response.json()
        body.pop("elapsed_ms", None)
        return response.status_code, headers, body

    def scope_query_string(query: str) -> bytes:  # as a client sends it
        return quote(query, safe="=&+%").encode()

    plain = {q: answer(q) for q in PLAIN_SEARCHES}
    assert all(plain_search_params(scope_query_string(q)) for q in PLAIN_SEARCHES)
    assert {status for status, _, _ in plain.values()} == {200, 400, 404}
    others = {q: answer(q) for q in NOT_PLAIN}
    # the fast path checks with the route's own model: what the route refuses, it leaves
    for query, (status, _, _) in others.items():
        if status == 422:
            assert plain_search_params(scope_query_string(query)) is None, query
    assert {status for status, _, _ in others.values()} >= {422}
    monkeypatch.setattr(guard, "plain_search_params", lambda query_string: None)
    assert {q: answer(q) for q in PLAIN_SEARCHES} == plain
    assert {q: answer(q) for q in NOT_PLAIN} == others


def test_server_processes_switch_threads_less_often(site, monkeypatch):
    """Each worker of `searcher serve` sets the longer switch interval (server.py says why);
    creating an app alone (to mount it elsewhere) leaves the process's own setting."""
    from searcher.web import server

    _, engine, _ = site
    before = sys.getswitchinterval()
    try:
        create_app(engine)
        assert sys.getswitchinterval() == before
        monkeypatch.setenv(server.ENV_CONFIG, server.encode_config(engine.settings, WebOptions()))
        server.app_from_env()
        assert sys.getswitchinterval() == pytest.approx(server.SWITCH_INTERVAL)
        assert before < server.SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(before)


# -- /api/search --------------------------------------------------------------------------------

def test_search_has_the_cli_json_shape(site):
    client, engine, _ = site
    response = client.get("/api/search", params={"q": "聊城", "limit": 3})
    assert response.status_code == 200
    data = response.json()
    cli = subprocess.run(
        [sys.executable, "-m", "searcher", "--index-dir", str(engine.settings.index_dir),
         "search", "聊城", "--limit", "3", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout
    expected = json.loads(cli)
    for shape in (data, expected):
        shape.pop("elapsed_ms")
    assert data == expected
    hit = data["hits"][0]
    assert hit["path"].endswith(SEED_RELPATH)
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]]
    assert all(hit["snippet"][s:e] in ("聊城", "聊城市") for s, e in hit["highlights"])
    assert all(hit["title"][s:e].startswith("聊城") for s, e in hit["title_highlights"])


def test_search_filters_sort_and_pages(site):
    client, engine, _ = site

    def ids(**params):
        data = client.get("/api/search", params=params).json()
        return [h["id"] for h in data["hits"]], data

    everything, data = ids(q="的 OR 是", limit=100)
    assert data["total"] == len(everything) >= 5
    by_author, _ = ids(q="的 OR 是", author="安全客", limit=100)
    assert by_author and set(by_author) < set(everything)
    assert all(engine.get(i).author == "安全客" for i in by_author)
    by_cat, _ = ids(q="的 OR 是", category="安全", limit=100)
    assert by_cat and all("安全" in engine.get(i).categories for i in by_cat)
    by_tag, _ = ids(q="的 OR 是", tag="XSS", limit=100)
    assert by_tag and all("XSS" in engine.get(i).tags for i in by_tag)
    dated, _ = ids(q="的 OR 是", since="2021-06-01", until="2021-06-30", limit=100)
    assert dated and set(dated) < set(everything)
    for doc_id in dated:
        day = engine.get(doc_id).date
        assert day is not None and (day.year, day.month) in ((2021, 6), (2021, 5))
    newest, data = ids(q="的 OR 是", sort="date", limit=100)
    dates = [h["date"] for h in data["hits"] if h["date"]]
    assert dates == sorted(dates, reverse=True) and data["sort"] == "date"
    oldest, _ = ids(q="的 OR 是", sort="oldest", limit=100)
    assert oldest[0] == [i for i in newest if engine.get(i).date][-1]
    page1, data1 = ids(q="的 OR 是", limit=2)
    page2, data2 = ids(q="的 OR 是", limit=2, page=2)
    assert page1 + page2 == everything[:4] and data2["page"] == 2
    assert data1["pages"] == (data1["total"] + 1) // 2


def test_search_relaxed_flag(site):
    client, _, _ = site
    data = client.get("/api/search", params={"q": "聊城 火箭发射场"}).json()
    assert data["relaxed"] is True and data["total"] > 0


def test_query_slips_are_searched_and_reported(site):
    client, _, _ = site
    data = client.get("/api/search", params={"q": "聊城 (认证"}).json()
    words = client.get("/api/search", params={"q": "聊城 认证"}).json()
    assert data["total"] == words["total"] and words["notices"] == []
    assert [n["code"] for n in data["notices"]] == ["unclosed_paren"]
    assert data["notices"][0]["params"] == {"text": "(", "position": 4}
    assert "unclosed '(' at character 4" in data["notice"] and "did_you_mean" in data
    quoted = client.get("/api/search", params={"q": "「世界认可日」"}).json()
    ascii_quoted = client.get("/api/search", params={"q": '"世界认可日"'}).json()
    assert quoted["total"] == ascii_quoted["total"] > 0
    typo = client.get("/api/search", params={"q": "聊成"}).json()
    assert typo["did_you_mean"] == "聊城"


def test_bad_query_is_400_with_the_parsers_message_and_position(site):
    client, _, _ = site
    data = assert_error(client.get("/api/search", params={"q": "“ ”"}), 400, "bad query")
    assert data["detail"] == "the query has no words to search for"
    data = assert_error(client.get("/api/search", params={"q": "-洪水"}), 400)
    assert data["position"] is None
    data = assert_error(client.get("/api/search", params={"q": "聊城", "since": "soon"}), 422)
    assert data["problems"][0]["parameter"] == "since" and "date" in data["detail"]


def test_dates_out_of_range_are_400_not_500(site):
    client, _, _ = site
    for bound in ("0001-01-01", "9999-12-31"):
        key = "since" if bound.startswith("0001") else "until"
        data = assert_error(client.get("/api/search", params={"q": "聊城", key: bound}), 400)
        assert "date" in data["detail"]


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(q=st.one_of(_text, st.sampled_from(['"', "(", ")", "-", "OR", "title:", "聊城 -(",
                                           'author:"', "a | | b", "NOT"])),
       author=st.one_of(st.none(), _text), since=st.one_of(st.none(), _text),
       until=st.one_of(st.none(), st.dates().map(str)), year=st.one_of(st.none(), _text),
       month=st.one_of(st.none(), _text), page=st.integers(-5, 2000),
       sort=st.sampled_from(["relevance", "date", "oldest", "", "x"]))
def test_user_input_never_produces_a_500(site, q, author, since, until, year, month, page,
                                         sort):
    client, _, _ = site
    params = {"q": q, "author": author, "since": since, "until": until, "year": year,
              "month": month, "page": page, "sort": sort}
    params = {k: v for k, v in params.items() if v is not None}
    api = client.get("/api/search", params=params)
    assert api.status_code in (200, 400, 404, 422), (params, api.text)
    if api.status_code != 200:
        assert set(api.json()) >= {"error", "detail"}
    if api.status_code == 404:
        assert api.json()["error"] == "page out of range" and page > 1
    page_ = client.get("/", params=params)  # redirects (empty values, past the last page)
    assert page_.status_code in (200, 400), (params, page_.status_code)
    assert client.get(f"/api/documents/{quote(q, safe='')}").status_code in (404, 405)


@pytest.mark.parametrize("params, parameter", [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "聊城" * 251}, "q"),
    ({"q": "聊城", "limit": 101}, "limit"),
    ({"q": "聊城", "limit": 0}, "limit"),
    ({"q": "聊城", "limit": "ten"}, "limit"),
    ({"q": "聊城", "page": 0}, "page"),
    ({"q": "聊城", "page": 1001}, "page"),
    ({"q": "聊城", "sort": "random"}, "sort"),
    ({"q": "聊城", "author": "x" * 201}, "author"),
])
def test_bad_parameters_are_422_naming_the_parameter(site, params, parameter):
    client, _, _ = site
    data = assert_error(client.get("/api/search", params=params), 422, "invalid parameter")
    assert data["detail"].startswith(parameter + ":"), data
    assert data["problems"][0]["parameter"] == parameter


def test_search_facets_and_multi_value_filters(site):
    client, engine, _ = site
    params = {"q": "的 OR 是", "facets": "author,category", "facet_limit": 3}
    data = client.get("/api/search", params={**params, "facets": ["author,category", "year"]})
    data = data.json()
    assert set(data["facets"]) == {"author", "category", "year"}
    assert all(len(pairs) <= 3 for name, pairs in data["facets"].items() if name != "year")
    expected = engine.search("的 OR 是", facets=["author", "category", "year"], facet_limit=3)
    assert data["facets"] == {k: [list(p) for p in v] for k, v in expected.facets.items()}
    author, count = data["facets"]["author"][0]
    narrowed = client.get("/api/search", params={"q": "的 OR 是", "author": author}).json()
    assert narrowed["total"] == count < data["total"]
    two = client.get("/api/search", params={"q": "的 OR 是", "author": ["安全客", "新华社"],
                                            "limit": 100}).json()
    assert {h["author"] for h in two["hits"]} == {"安全客", "新华社"}
    year = client.get("/api/search", params={"q": "的 OR 是", "year": 2021, "limit": 100})
    assert {h["date"][:4] for h in year.json()["hits"]} == {"2021"}
    month = client.get("/api/search", params={"q": "的 OR 是", "month": "2021-06",
                                              "limit": 100}).json()
    assert month["total"] and {h["date"][:7] for h in month["hits"]} <= {"2021-06"}
    data = assert_error(client.get("/api/search", params={"q": "的", "facets": "colour"}), 422)
    assert data["problems"][0]["parameter"] == "facets"
    assert_error(client.get("/api/search", params={"q": "的", "year": "soon"}), 422)
    assert_error(client.get("/api/search", params={"q": "的", "facet_limit": 101}), 422)
    assert_error(client.get("/api/search", params={"q": "的", "tag": ["a"] * 21}), 422)


# -- /api/documents -------------------------------------------------------------------------

def test_document_by_id(site):
    client, engine, docs = site
    doc_id = seed_id(engine)
    data = client.get(f"/api/documents/{doc_id}").json()
    assert data["id"] == doc_id and data["title"].startswith("聊城市市场监管局")
    assert data["path"] == str(docs / SEED_RELPATH) and data["relpath"] == SEED_RELPATH
    assert data["date"] == "2021-06-16T02:23:51+00:00"
    assert "世界认可日" in data["text"]
    assert data == json.loads(json.dumps(engine.get(doc_id).as_dict(), default=str))


@pytest.mark.parametrize("doc_id", [
    "0000000000000000", "nope", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%2F..%2Fetc%2Fpasswd",
    "%2Fetc%2Fpasswd", "..", "C:%5Cwindows", "a%00b", "x" * 300,
])
def test_unknown_or_path_like_ids_are_404(site, doc_id):
    client, _, _ = site
    assert_error(client.get(f"/api/documents/{doc_id}"), 404, "not found")


def test_source_paths_are_not_ids(site):
    """The engine's get() also finds a document by its source path; the web does not."""
    client, engine, docs = site
    source = docs / SEED_RELPATH
    assert engine.get(str(source)).id == seed_id(engine)
    for form in (str(source), SEED_RELPATH, source.name):
        encoded = form.replace("/", "%2F")
        assert_error(client.get(f"/api/documents/{encoded}"), 404)
        assert client.get(f"/doc/{encoded}").status_code == 404
    assert_error(client.get(f"/api/documents{source}"), 404)


# -- suggest, similar, stats, healthz ---------------------------------------------------------

def test_suggest(site):
    client, engine, _ = site
    data = client.get("/api/suggest", params={"q": "聊"}).json()
    assert data["query"] == "聊"
    texts = [item["text"] for item in data["suggestions"]]
    assert texts[0] == "聊城" and all(t.startswith("聊") for t in texts)
    assert data["suggestions"] == [{**s.as_dict(), "query": s.text}
                                   for s in engine.suggest("聊")]
    assert all(item["count"] >= 1 for item in data["suggestions"])
    pinyin = client.get("/api/suggest", params={"q": "liaoc", "limit": 1}).json()
    assert [item["text"] for item in pinyin["suggestions"]] == ["聊城"]
    assert client.get("/api/suggest", params={"q": ""}).json()["suggestions"] == []
    assert client.get("/api/suggest", params={"q": "<script>"}).json()["suggestions"] == []
    assert_error(client.get("/api/suggest", params={"q": "x" * 101}), 422)
    assert_error(client.get("/api/suggest", params={"q": "聊", "limit": 51}), 422)
    assert_error(client.get("/api/suggest"), 422)


def test_similar_with_a_near_duplicate(docs, tmp_path):
    copy = write(docs, "copies/liaocheng-again.md", (docs / SEED_RELPATH).read_text("utf-8"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    seed = engine.get(str(docs / SEED_RELPATH)).id
    with TestClient(create_app(engine)) as client:
        data = client.get(f"/api/similar/{seed}", params={"limit": 5}).json()
        expected = engine.similar(seed, limit=5)
        assert [h["id"] for h in data["hits"]] == [h.id for h in expected.hits]
        assert data["total"] == expected.total and data["query"] == seed
        assert seed not in [h["id"] for h in data["hits"]]
        first = data["hits"][0]
        assert first["path"] == str(copy) and first["near_duplicate"] is True
        assert not any(h["near_duplicate"] for h in data["hits"][1:])
        page = client.get(f"/doc/{seed}").text
        assert "相似文章" in page and "近似重复" in page
        assert f'href="/doc/{first["id"]}"' in page
        assert_error(client.get("/api/similar/0000000000000000"), 404, "not found")
        assert_error(client.get(f"/api/similar/{quote(str(copy), safe='')}"), 404)
        assert_error(client.get("/api/similar/..%2Fx"), 404)
        assert_error(client.get(f"/api/similar/{seed}", params={"limit": 101}), 422)
    engine.close()


def test_stats(site):
    client, engine, docs = site
    data = client.get("/api/stats").json()
    assert data["documents"] == engine.stats().documents == 15
    assert data["sources"] == [str(docs)]
    assert "title" in data["fields"]


def test_healthz(site, tmp_path):
    client, _, _ = site
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok",
                                                               "documents": 15}
    with TestClient(create_app(SearchEngine(tmp_path / "empty"))) as nothing:
        data = assert_error(nothing.get("/healthz"), 503, "index unavailable")
        assert str(tmp_path) not in data["detail"]  # no internals
        for url in ("/api/search?q=聊城", "/api/stats", "/api/documents/abc",
                    "/api/similar/abc", "/api/suggest?q=聊"):
            response = nothing.get(url)
            assert_error(response, 503, "index unavailable")
            assert response.headers["retry-after"] == "5", url
        assert nothing.get("/", params={"q": "聊城"}).status_code == 503
        assert nothing.get("/doc/abc").status_code == 503


def test_unexpected_errors_are_logged_and_a_bare_500(site, caplog, monkeypatch):
    """A bug in the library (settings are checked when read, so no setting can cause one
    any more): the search raises a KeyError carrying internals only when a date filter
    is given, and the server answers a bare 500 and goes on."""
    _, engine, _ = site
    broken = SearchEngine(engine.settings.index_dir)
    real_search = broken.search

    def buggy_search(query, *args, **kwargs):
        if kwargs.get("since"):
            raise KeyError("internal-state-Mars")
        return real_search(query, *args, **kwargs)

    monkeypatch.setattr(broken, "search", buggy_search)
    with TestClient(create_app(broken)) as client, \
            caplog.at_level(logging.ERROR, logger="searcher.web"):
        assert client.get("/api/search", params={"q": "聊城"}).status_code == 200
        response = client.get("/api/search", params={"q": "聊城", "since": "2021-01-01"})
        data = assert_error(response, 500, "internal error")
        assert "Mars" not in response.text and "KeyError" not in data["detail"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in response.headers
        assert client.get("/healthz").status_code == 200  # the server goes on
    assert any("unexpected error" in r.getMessage() and r.exc_info for r in caplog.records)
    broken.close()


def test_unknown_endpoint_and_method(site):
    client, _, _ = site
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.post("/api/search", params={"q": "聊城"}), 405)
    assert client.get("/nothing").status_code == 404
    assert "<html" in client.get("/nothing").text


# -- security -----------------------------------------------------------------------------------

def test_security_headers_everywhere_and_no_cors_by_default(site):
    client, engine, _ = site
    for url in ("/", "/?q=聊城", f"/doc/{seed_id(engine)}", "/api/search?q=聊城",
                "/api/search?q=(", "/api/documents/nope", "/healthz", "/docs",
                "/static/search.js", "/openapi.json", "/nothing"):
        response = client.get(url, headers={"Origin": "https://evil.example"})
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "default-src 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in response.headers, url


def test_cors_only_for_the_given_origin(site):
    _, engine, _ = site
    app = create_app(engine, WebOptions(cors_origins=("https://app.example",)))
    with TestClient(app) as client:
        ok = client.get("/api/search", params={"q": "聊城"},
                        headers={"Origin": "https://app.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = client.get("/api/search", params={"q": "聊城"},
                           headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_read_only(site):
    client, _, _ = site
    for method in ("post", "put", "delete", "patch"):
        for url in ("/api/search", "/api/documents/x", "/api/stats", "/"):
            assert getattr(client, method)(url).status_code == 405, (method, url)


def test_hostile_article_is_data_in_json_and_text_in_pages(site):
    client, _, _ = site
    data = client.get("/api/search", params={"q": "xssprobe"}).json()
    assert data["total"] == 1
    hit = data["hits"][0]
    assert hit["title"] == '<img src=x onerror="window.__pwned=1">恶意标题 xssprobe'
    assert hit["author"] == '<b onmouseover="window.__pwned=2">黑客</b>'
    doc = client.get(f"/api/documents/{hit['id']}").json()
    assert "<script>window.__pwned=5</script>" in doc["text"]  # the entity decoded to text

    for html in (client.get("/", params={"q": "xssprobe"}).text,
                 client.get(f"/doc/{hit['id']}", params={"q": "xssprobe"}).text):
        assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html
        assert "<img" not in html and "<svg" not in html and "<b " not in html
        assert "onerror=" not in html.replace("onerror=&#34;", "").replace(
            "onerror=window", "")
        scripts = [part for part in html.split("<script")[1:]]
        assert len(scripts) == 1 and scripts[0].startswith(' src="/static/search.js"')
        assert "<mark>xssprobe</mark>" in html


# -- the pages ---------------------------------------------------------------------------------

def test_search_page_without_javascript(site):
    client, _, _ = site
    home = client.get("/")
    assert home.status_code == 200 and '<html lang="zh-CN">' in home.text
    assert 'name="q"' in home.text and 'action="/"' in home.text
    page = client.get("/", params={"q": "聊城"}).text
    assert "<mark>聊城</mark>" in page and "条结果" in page and "毫秒" in page
    assert 'href="/doc/' in page
    relaxed = client.get("/", params={"q": "聊城 火箭发射场"}).text
    assert "部分匹配" in relaxed
    bad = client.get("/", params={"q": "-认证"})
    assert bad.status_code == 400 and "查询有误" in bad.text
    assert "only excludes" not in bad.text  # the page is Chinese throughout


def test_search_page_filters_chips_and_pages(site):
    client, _, _ = site
    page = client.get("/", params={"q": "的 OR 是", "author": "安全客"}).text
    assert 'class="chip"' in page and "作者：安全客" in page
    assert 'href="/?q=%E7%9A%84+OR+%E6%98%AF"' in page  # the chip's remove link
    assert 'data-facet="year"' in page and 'data-facet="tag"' in page
    assert '<li class="active"><a href="/?q=%E7%9A%84+OR+%E6%98%AF" aria-current' in page
    assert 'name="author" value="安全客"' in page  # a new query keeps the filter
    full = client.get("/", params={"q": "的 OR 是"}).text
    assert "?q=%E7%9A%84+OR+%E6%98%AF&amp;year=2021" in full  # a facet click adds a filter
    year = client.get("/", params={"q": "的 OR 是", "year": "2021"}).text
    assert "年份：2021" in year
    first = client.get("/", params={"q": "的 OR 是"}).text
    assert 'rel="next"' in first and "page=2" in first
    second = client.get("/", params={"q": "的 OR 是", "page": 2}).text
    assert 'aria-current="page">2<' in second and 'rel="prev"' in second
    oldest = client.get("/", params={"q": "的 OR 是", "sort": "oldest"}).text
    assert '<option value="oldest" selected>' in oldest


def test_search_page_date_range(site):
    """since/until on the page: the date inputs keep them, each shows as a removable chip,
    and the count is the API's for the same range (fewer than without it)."""
    import re

    client, _, _ = site
    params = {"q": "的 OR 是", "since": "2021-06-01", "until": "2021-06-30"}
    page = client.get("/", params=params).text
    assert 'name="since" value="2021-06-01"' in page and 'name="until" value="2021-06-30"' in page
    assert "起：2021-06-01" in page and "止：2021-06-30" in page
    assert 'href="/?q=%E7%9A%84+OR+%E6%98%AF&amp;until=2021-06-30"' in page  # remove since
    shown = int(re.search(r'id="total">(\d+)<', page).group(1))
    ranged = client.get("/api/search", params=params).json()["total"]
    everything = client.get("/api/search", params={"q": "的 OR 是"}).json()["total"]
    assert shown == ranged and 0 < ranged < everything


def test_document_page_marks_the_query(site):
    client, engine, _ = site
    doc_id = seed_id(engine)
    page = client.get(f"/doc/{doc_id}", params={"q": "认证认可"}).text
    assert page.count("<mark>认证认可</mark>") >= 2
    assert "聊城市市场监管局" in page and 'href="/?q=' in page
    plain = client.get(f"/doc/{doc_id}").text
    assert "<mark>" not in plain
    assert client.get("/doc/nope").status_code == 404


def test_api_reference_offline(site):
    client, _, _ = site
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/documents/{doc_id}", "/api/suggest",
            "/api/similar/{doc_id}", "/api/stats", "/healthz"} <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/search" in docs.text and "limit" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text  # nothing remote
    assert "<script" not in docs.text


def test_mounted_under_a_prefix(site):
    from fastapi import FastAPI

    _, engine, _ = site
    outer = FastAPI()
    outer.mount("/search", create_app(engine))
    with TestClient(outer) as client:
        assert client.get("/search/api/search", params={"q": "聊城"}).json()["total"] == 2
        page = client.get("/search/", params={"q": "聊城"}).text
        assert 'href="/search/doc/' in page and 'src="/search/static/search.js"' in page
        assert client.get("/search/static/style.css").status_code == 200


def _listening_sockets(port: int) -> list[str]:
    """The /proc/net/tcp lines of sockets listening on *port* (IPv4): one per socket."""
    return [line for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]


def _listening(port: int) -> set[str]:
    """Local addresses listening on *port* (IPv4, from /proc/net/tcp)."""
    addresses = {line.split()[1].split(":")[0] for line in _listening_sockets(port)}
    return {".".join(str(int(a[i:i + 2], 16)) for i in (6, 4, 2, 0)) for a in addresses}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_command_two_workers_on_loopback(site, tmp_path):
    """The real command: global options, --workers 2 (each worker builds its app from the
    settings it is handed, takes the connections the parent hands it, and is replaced if it
    dies), and 127.0.0.1 unless --host says otherwise."""
    import signal
    import socket
    import time
    import urllib.request

    _, engine, _ = site
    proc, port = start_serve(engine.settings.index_dir, tmp_path, "--workers", "2",
                              "--time-budget", "30")
    held: list[socket.socket] = []

    def connect(count: int) -> list[socket.socket]:
        """*count* connections open at once, each answered (so each is with a worker)."""
        conns = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(count)]
        held.extend(conns)
        for conn in conns:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for conn in conns:
            assert conn.recv(64).startswith(b"HTTP/1.1 200"), "no answer"
        return conns

    def close(conns: list[socket.socket]) -> None:
        for conn in conns:
            conn.close()
            held.remove(conn)

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=xssprobe",
                                    timeout=30) as response:
            assert json.loads(response.read())["total"] == 1
        assert _listening(port) == {"127.0.0.1"}
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        # One listening socket, the parent's: it hands each connection to a worker.
        assert len(_listening_sockets(port)) == 1
        # The workers start independently: wait (bounded) until the second takes
        # connections too (two at once: the first goes to the emptier, the second beside it).
        deadline = time.monotonic() + 60
        while True:
            pair = connect(2)
            owners = set(_served_by(workers, port).values())
            close(pair)
            if len(owners) == 2:
                break
            assert time.monotonic() < deadline, "the second worker never took a connection"
            time.sleep(0.3)
        # Closed by the workers themselves (not only by the client), and their "closed"
        # notices read by the parent, which counts open connections per worker.
        _wait_for(lambda: sum(_held(pid, port) for pid in workers) == 0)
        time.sleep(0.3)
        # Each connection goes to the worker with the fewest open: 32 at once split 16:16
        # (a hash of the addresses, as with SO_REUSEPORT, gives 16:16 one time in seven), and
        # when one worker's 16 close, the next 16 all go to it (a hash: half of them).
        first = connect(32)
        assert {pid: _established(pid, port) for pid in workers} == dict.fromkeys(workers, 16)
        served = _served_by(workers, port)
        close([c for c in first if served[c.getsockname()[1]] == workers[0]])
        _wait_for(lambda: _held(workers[0], port) == 0)
        time.sleep(0.3)
        connect(16)
        assert {pid: _established(pid, port) for pid in workers} == dict.fromkeys(workers, 16)
        close(list(held))
        # A worker that dies is replaced, and the port keeps answering meanwhile.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(set(_children(proc.pid)) - {workers[0]}) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.3)
        for _ in range(8):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
                assert r.status == 200
    finally:
        for conn in held:
            conn.close()
        proc.terminate()
        proc.wait(30)
    assert b"serving" in proc.stdout.read()
    for pid in workers:  # SIGTERM to `serve` stops its workers too
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
            f"/proc/{pid}/status").read_text()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_workers_pick_up_the_nightly_reindex_and_take_cors(docs, tmp_path):
    """The real command with two workers, each holding its own engine: after the nightly
    job (`searcher index`, another process) adds an article, both workers find it, over
    connections they already held; `--cors ORIGIN` reaches both workers (preflight too),
    and another origin gets no CORS headers."""
    import http.client
    import time

    index_dir = tmp_path / "ix"
    run = [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "index", str(docs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run(run, env=env, capture_output=True).returncode == 0
    origin = "https://app.example.com"
    proc, port = start_serve(index_dir, tmp_path, "--workers", "2", "--cors", origin)
    conns: list[http.client.HTTPConnection] = []
    try:
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        deadline = time.monotonic() + 60
        while True:  # two connections at once, one with each worker (the emptier takes one)
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                     for _ in range(2)]
            for conn in conns:
                conn.request("GET", "/healthz")
            assert all(conn.getresponse().read() for conn in conns)
            served = _served_by(workers, port)
            if {served[conn.sock.getsockname()[1]] for conn in conns} == set(workers):
                break
            for conn in conns:
                conn.close()
            assert time.monotonic() < deadline, "the second worker never took a connection"
            time.sleep(0.3)

        def get(conn, url: str, **headers: str) -> tuple[int, dict, bytes]:
            conn.request("GET", url, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()

        query = "/api/search?q=" + quote('"夜间新增的文章"')
        for conn in conns:
            status, headers, body = get(conn, query, Origin=origin)
            assert status == 200 and json.loads(body)["total"] == 0
            assert headers.get("access-control-allow-origin") == origin
            status, headers, _ = get(conn, "/api/stats", Origin="https://other.example")
            assert status == 200 and "access-control-allow-origin" not in headers
            conn.request("OPTIONS", "/api/search", headers={
                "Origin": origin, "Access-Control-Request-Method": "GET"})
            preflight = conn.getresponse()
            preflight.read()
            assert preflight.status == 200
            assert preflight.getheader("access-control-allow-origin") == origin
        write(docs, "news/nightly-addition.md",
              article("夜间新增的文章", "这是夜间新增的文章，第二天就能搜到。"))
        nightly = subprocess.run(run, env=env, capture_output=True, text=True)
        assert nightly.returncode == 0, nightly.stderr
        for conn in conns:  # the same connections, so the same two workers
            status, _, body = get(conn, query)
            data = json.loads(body)
            assert status == 200 and data["total"] == 1, data
            assert data["hits"][0]["title"] == "夜间新增的文章"
        served = _served_by(workers, port)
        assert {served[conn.sock.getsockname()[1]] for conn in conns} == set(workers)
    finally:
        for conn in conns:
            conn.close()
        proc.terminate()
        proc.wait(30)


def test_workers_fall_back_to_uvicorns_own_for_an_unknown_uvicorn(monkeypatch):
    """The supervisor builds uvicorn's connection protocol itself (internals): a uvicorn
    outside the tested releases makes `serve --workers N` use uvicorn's own workers."""
    import socket

    import uvicorn

    from searcher.web import server

    monkeypatch.setattr(uvicorn, "__version__", "0.54.0")
    assert server.uvicorn_supported() is hasattr(socket, "send_fds")
    for version in ("1.0.0", "0.28.1", "dev"):
        monkeypatch.setattr(uvicorn, "__version__", version)
        assert server.uvicorn_supported() is False


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_runs_on_uvicorns_own_workers_for_an_unknown_uvicorn(site, tmp_path):
    """The fallback runs: with a uvicorn release the supervisor does not know, `serve
    --workers 2` serves through uvicorn's own workers (they share the listening socket),
    with the same options (--cors) and answers."""
    import urllib.request

    _, engine, _ = site
    origin = "https://app.example.com"
    proc, port = start_serve(engine.settings.index_dir, tmp_path, "--workers", "2",
                              "--cors", origin, before="import uvicorn\n"
                              "uvicorn.__version__ = '1.0.0'")
    try:
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        listening = {line.split()[9] for line in _listening_sockets(port)}  # inodes
        assert len(listening) == 1 and all(listening & _socket_inodes(pid) for pid in workers)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/search?q=xssprobe",
                                         headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["total"] == 1
            assert response.headers["access-control-allow-origin"] == origin
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    """The worker processes of `serve` (its children that run Python's spawn entry)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.append(int(child))
    return sorted(found)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _connection_lines(port: int, established: bool = True) -> list[list[str]]:
    """/proc/net/tcp's connections whose local end is *port* (the server's): established
    ones, or any but listening sockets (closing ones too)."""
    return [fields for fields in (line.split() for line in
                                  Path("/proc/net/tcp").read_text().splitlines()[1:])
            if int(fields[1].split(":")[1], 16) == port
            and (fields[3] == "01" if established else fields[3] != "0A")]


def _held(pid: int, port: int) -> int:
    """Connections to *port* process *pid* still has a descriptor of, in any state."""
    inodes = _socket_inodes(pid)
    return sum(fields[9] in inodes for fields in _connection_lines(port, established=False))


def _established(pid: int, port: int) -> int:
    """How many established connections to *port* process *pid* holds (/proc)."""
    inodes = _socket_inodes(pid)
    return sum(fields[9] in inodes for fields in _connection_lines(port))


def _served_by(pids: list[int], port: int) -> dict[int, int]:
    """Client port -> the process among *pids* holding the server end of that connection."""
    owner = {inode: pid for pid in pids for inode in _socket_inodes(pid)}
    return {int(fields[2].split(":")[1], 16): owner[fields[9]]
            for fields in _connection_lines(port) if fields[9] in owner}


# -- behaviour over time -----------------------------------------------------------------------

def test_time_budget_answers_503_and_other_requests_go_on(site):
    """A budget spent before the search starts: 503 for each search, while pages that do
    not search answer."""
    _, engine, _ = site
    with TestClient(create_app(engine, time_budget=1e-6)) as client:
        data = assert_error(client.get("/api/search", params={"q": "的 OR 是 OR 聊城"}), 503,
                            "time budget exceeded")
        assert "1e-06 s" in data["detail"]
        assert client.get("/", params={"q": "聊城"}).status_code == 503
        results = []

        def fetch(url):
            results.append(client.get(url).status_code)

        threads = [threading.Thread(target=fetch, args=(url,)) for url in
                   ["/api/search?q=聊城"] * 3 + ["/docs", "/static/style.css", "/"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [200, 200, 200, 503, 503, 503]


SLOW_QUERY = "慢查询"


def _slowed(engine, monkeypatch, seconds: float, checks: bool,
            started: threading.Event | None = None) -> None:
    """Make *engine* take *seconds* longer for SLOW_QUERY: sample_docs holds no query that
    takes seconds.  With *checks*, the delay comes first and checks searcher.time_limit
    every 10 ms, as the engine's ranking steps do; without, it comes after the search, as
    a step that does not check (building the page of hits).  *started* is set when a
    slow search begins."""
    import time

    from searcher.deadline import check_time_limit

    search = engine.search

    def search_slowly(q, *args, **kwargs):
        if q != SLOW_QUERY:
            return search(q, *args, **kwargs)
        if started is not None:
            started.set()
        if not checks:
            results = search(q, *args, **kwargs)
            time.sleep(seconds)
            return results
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            check_time_limit()
            time.sleep(0.01)
        return search(q, *args, **kwargs)

    monkeypatch.setattr(engine, "search", search_slowly)


def test_a_query_over_its_budget_is_a_503_while_the_others_are_answered(site, monkeypatch):
    """A query slower than the budget answers 503 with a message and Retry-After by the end
    of its budget (not when it would have finished), and the searches, health checks and
    pages asked for while it runs are answered before it: it holds the engine's lane for
    LANE_HOLD on the event loop, then LANE_HOLD in a thread, at most."""
    import time

    _, engine, _ = site
    budget, slow = 2.0, 6.0
    searching = threading.Event()
    _slowed(engine, monkeypatch, slow, checks=True, started=searching)
    ended: dict[str, tuple[float, object]] = {}
    with TestClient(create_app(engine, time_budget=budget)) as client:
        def fetch(name: str, url: str) -> None:
            response = client.get(url)
            ended[name] = (time.monotonic(), response)

        started = time.monotonic()
        first = threading.Thread(target=fetch, args=("slow", f"/api/search?q={SLOW_QUERY}"))
        first.start()
        assert searching.wait(30)  # the slow one is searching
        others = [threading.Thread(target=fetch, args=(name, url)) for name, url in
                  [(f"search {i}", "/api/search?q=聊城") for i in range(3)]
                  + [("health", "/healthz"), ("page", "/?q=认证认可"), ("docs", "/docs")]]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join(30)
    at, response = ended["slow"]
    data = assert_error(response, 503, "time budget exceeded")
    assert "2 s" in data["detail"] and response.headers["retry-after"] == "5"
    assert at - started < budget + 1.5, at - started  # by the budget, not after 6 s
    for name, (answered, other) in ended.items():
        if name != "slow":
            assert other.status_code == 200, (name, other.text)
            assert answered < at, name  # answered while the slow one was still waiting


def test_a_search_that_ran_past_its_budget_on_the_loop_is_a_503_not_a_late_answer(
        site, monkeypatch):
    """A step that does not check the time limit can run a search past its budget on the
    event loop; its late answer is a 503 as a late answer from a thread is."""
    _, engine, _ = site
    _slowed(engine, monkeypatch, 0.6, checks=False)
    with TestClient(create_app(engine, time_budget=0.3)) as client:
        assert_error(client.get("/api/search", params={"q": SLOW_QUERY}), 503,
                     "time budget exceeded")
        assert client.get("/api/search", params={"q": "认证认可"}).status_code == 200


def test_picks_up_a_reindex_without_restart(docs, tmp_path):
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    with TestClient(create_app(engine)) as client:
        assert client.get("/api/search", params={"q": '"夜间新增的文章"'}).json()["total"] == 0
        before = client.get("/api/stats").json()["documents"]
        write(docs, "news/nightly-addition.md",
              article("夜间新增的文章", "这是夜间新增的文章，第二天就能搜到。"))
        nightly = SearchEngine(tmp_path / "ix")  # the cron job: another engine, same folder
        assert nightly.index([docs]).added == 1
        data = client.get("/api/search", params={"q": '"夜间新增的文章"'}).json()
        assert data["total"] == 1 and data["hits"][0]["title"] == "夜间新增的文章"
        assert client.get("/api/stats").json()["documents"] == before + 1
        assert "<mark>夜间新增的文章</mark>" in client.get("/", params={"q": "夜间新增的文章"}).text
        (docs / "news/nightly-addition.md").unlink()
        nightly.index([docs], full=True)  # an atomic rebuild swapped in
        assert client.get("/api/search", params={"q": '"夜间新增的文章"'}).json()["total"] == 0
        nightly.close()
    engine.close()


def test_serve_on_a_port_in_use_is_a_user_error(site):
    """A taken port is the user's to fix: one error line and exit 2 (uvicorn alone exits 3,
    the code for bugs)."""
    import socket

    from typer.testing import CliRunner

    from searcher.cli import app

    _, engine, _ = site
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--index-dir",
                                          str(engine.settings.index_dir)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
                             "choose another --port or --host\n")


# -- issue 26: languages, HTTP details, paging, the start page, pinyin, exposure ------------------

def test_every_message_has_english_and_chinese():
    from searcher.web import messages

    for key, (english, chinese) in messages.MESSAGES.items():
        assert english.strip() and chinese.strip(), key
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in english.replace("{", "")
                       if ch not in "“”"), key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), key
    assert messages.text("did_you_mean", "zh", query="聊城") == "您是不是要找：聊城"
    assert messages.negotiate("en-US,en;q=0.9,zh-CN;q=0.8", "zh") == "en"
    assert messages.negotiate("zh-CN,zh;q=0.9,en;q=0.8", "en") == "zh"
    assert messages.negotiate("fr-FR, de;q=0.5", "en") == "en"
    assert messages.negotiate("en;q=0, zh-TW", "en") == "zh"


ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def test_api_errors_keep_their_code_and_speak_the_requests_language(site):
    client, _, _ = site
    cases = [("/api/search?q=" + quote("-城市"), 400, "bad query", "查询只有排除的词语"),
             ("/api/documents/nope", 404, "not found", "没有这个编号的文章"),
             ("/api/nothing", 404, "not found", "没有这个页面"),
             ("/api/search?q=%FF", 400, "bad encoding", "参数 q"),
             ("/api/search?q=x&since=2023-13-45", 422, "invalid parameter", "不是有效日期"),
             ("/api/search?q=x&limit=0", 422, "invalid parameter", "应不小于 1"),
             ("/api/search?q=" + quote("聊城") + "&page=9", 404, "page out of range",
              "结果共 1 页")]
    for url, status, code, chinese in cases:
        english = assert_error(client.get(url), status, code)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in english["detail"]), english
        translated = assert_error(client.get(url, headers=ZH), status, code)
        assert chinese in translated["detail"], (url, translated)
        if status == 422:
            assert translated["problems"][0]["parameter"] in ("since", "limit")
            assert any("\u4e00" <= ch <= "\u9fff" for ch in translated["problems"][0]["message"])
    data = assert_error(client.get("/api/search?q=%FF&page=1"), 400, "bad encoding")
    assert data["parameter"] == "q" and "q" in data["detail"]
    data = assert_error(client.get("/api/search?q=ok&author=%C3%28"), 400, "bad encoding")
    assert data["parameter"] == "author"


def test_the_page_is_chinese_throughout(site):
    client, _, _ = site
    checks = [("/?q=" + quote('"城市'), 200, "没有闭合：其后的词语已逐个搜索"),
              ("/?q=" + quote("-城市"), 400, "查询只有排除的词语"),
              ("/?q=" + quote("聊城") + "&since=2023-13-45", 400, "不是有效日期"),
              ("/doc/0000000000000000", 404, "没有这个编号的文章"),
              ("/nothing", 404, "没有这个页面"),
              ("/?q=%FF", 400, "参数 q 的百分号编码不是有效的 UTF-8"),
              ("/?q=zzqxnothing", 200, "没有找到与“zzqxnothing”相关的文章")]
    for url, status, chinese in checks:
        page = client.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == status, (url, page.status_code)
        assert chinese in page.text, url
        text = page.text.split("<main>")[1].split("</main>")[0]
        for english in ("unclosed", "no document", "bad date", "cannot be opened",
                        "no such page", "percent-encoding", "invalid"):
            assert english not in text, (url, english)


def test_head_for_every_get_route(site):
    client, engine, _ = site
    doc_id = seed_id(engine)
    for url in ("/", "/?q=聊城", "/healthz", "/api/search?q=聊城", "/api/stats",
                f"/api/documents/{doc_id}", f"/api/similar/{doc_id}", "/api/suggest?q=聊",
                f"/doc/{doc_id}", "/docs", "/openapi.json", "/static/style.css",
                "/favicon.ico"):
        get = client.get(url)
        head = client.head(url)
        assert get.status_code == head.status_code == 200, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url
        if "search" not in url and "similar" not in url and "q=" not in url:  # timings vary
            assert head.headers["content-length"] == str(len(get.content)), url
        assert int(head.headers["content-length"]) > 0, url
        assert "content-security-policy" in head.headers
    assert client.head("/api/documents/nope").status_code == 404
    refused = client.post("/healthz")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def test_favicon_and_styled_404s_with_working_links(site):
    client, _, _ = site
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text
    for url in ("/static/nope.css", "/static/deeper/nope.js", "/nothing", "/doc/nope"):
        page = client.get(url)
        assert page.status_code == 404 and "<h1>404" in page.text, url
        links = re.findall(r'(?:href|src)="([^"]+)"', page.text)
        assert "/static/style.css" in links and "/" in links, (url, links)
        for link in links:
            assert client.get(link).status_code == 200, (url, link)


def test_pages_past_the_last_redirect_there_and_the_api_says_404(site):
    client, _, _ = site
    q = "的 OR 是"
    first = client.get("/", params={"q": q, "limit": 10})
    pages = int(re.search(r"/ (\d+) 页", first.text).group(1))
    assert pages >= 2
    for asked in (pages + 1, 500, 5000, 10**12):
        moved = client.get("/", params={"q": q, "page": asked}, follow_redirects=False)
        assert moved.status_code == 302, asked
        assert moved.headers["location"].endswith(f"page={pages}"), moved.headers
        assert f'aria-current="page">{pages}<' in client.get(moved.headers["location"]).text
    data = assert_error(client.get("/api/search", params={"q": q, "page": pages + 1}), 404,
                        "page out of range")
    assert data["pages"] == pages and str(pages) in data["detail"]
    assert client.get("/api/search", params={"q": q, "page": pages}).status_code == 200
    nothing = client.get("/", params={"q": "zzqxnothing", "page": 3},
                         follow_redirects=False)
    assert nothing.status_code == 302 and "page=" not in nothing.headers["location"]


def test_empty_parameters_are_dropped_by_a_redirect(site):
    client, _, _ = site
    moved = client.get("/?q=%E8%81%8A%E5%9F%8E&sort=relevance&since=&until=&author=",
                       follow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["location"] == "/?q=%E8%81%8A%E5%9F%8E"
    kept = client.get("/?q=%E8%81%8A%E5%9F%8E&since=2021-01-01&until=&page=x",
                      follow_redirects=False)
    assert kept.headers["location"] == "/?q=%E8%81%8A%E5%9F%8E&since=2021-01-01"
    page = client.get("/?q=%E8%81%8A%E5%9F%8E&since=2021-01-01")
    assert page.status_code == 200  # nothing to drop: no redirect
    # every link the page makes is free of empty values
    for link in re.findall(r'href="(/\?[^"]*)"', page.text):
        assert not re.search(r"=(&|$)", link.replace("&amp;", "&")), link


def test_pager_has_ellipses_between_gaps():
    from searcher.web.pages import SearchView

    view = SearchView({"q": "x"})
    numbers = [None if link is None else link[0] for link in view.page_links(50, 147)]
    assert numbers == [1, None, 48, 49, 50, 51, 52, None, 147]
    assert [None if lk is None else lk[0] for lk in view.page_links(3, 7)] == \
        [1, 2, 3, 4, 5, 6, 7]
    assert [None if lk is None else lk[0] for lk in view.page_links(1, 5000)][-1] == 1000


def test_pager_ellipsis_on_a_real_page(docs, tmp_path):
    for number in range(75):
        write(docs, f"many/{number}.md", article(f"分页测试 {number}", f"翻页词 第{number}篇。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    with TestClient(create_app(engine)) as client:
        html = client.get("/", params={"q": "翻页词", "page": 4}).text
        pager = html.split('class="pager"')[1].split("</nav>")[0]
        shown = re.findall(r'>(\d+|…)</(?:a|span)>', pager)
        assert shown == ["1", "2", "3", "4", "5", "6", "7", "8"], shown
        html = client.get("/", params={"q": "翻页词", "page": 1}).text
        pager = html.split('class="pager"')[1].split("</nav>")[0]
        assert re.findall(r'>(\d+|…)</(?:a|span)>', pager) == ["1", "2", "3", "…", "8"]
    engine.close()


def test_start_page_facts_examples_and_an_h1_everywhere(site):
    client, engine, _ = site
    home = client.get("/").text
    stats = engine.stats()
    assert f"索引共 <strong>{stats.documents}</strong> 篇文章" in home
    assert "最近更新于 <time>" in home
    examples = re.findall(r'<a class="example" href="([^"]+)"><span class="example-kind">'
                          r"([^<]+)</span>", home)
    kinds = [kind for _, kind in examples]
    assert kinds[0] == "词语" and "拼音" in kinds and "短语" in kinds, examples
    for href, kind in examples:
        page = client.get(href.replace("&amp;", "&"))
        assert page.status_code == 200
        assert int(re.search(r'id="total">(\d+)<', page.text).group(1)) > 0, (kind, href)
    pinyin = next(h for h, k in examples if k == "拼音")
    assert re.fullmatch(r"/\?q=[a-z]+", pinyin), pinyin
    doc_id = seed_id(engine)
    for url in ("/", "/?q=聊城", "/?q=" + quote("聊城 ("), f"/doc/{doc_id}", "/nothing",
                "/docs", "/static/nope"):
        assert len(re.findall(r"<h1[ >]", client.get(url).text)) == 1, url


def test_pinyin_readings_on_the_results_and_the_page(site):
    client, engine, _ = site
    results = engine.search("liaocheng")
    assert results.pinyin == {"liaocheng": ["聊城"]}
    assert engine.search("聊城").pinyin == {}
    assert engine.search("liao cheng").pinyin == {"liaocheng": ["聊城"]}
    data = client.get("/api/search", params={"q": "liaocheng"}).json()
    assert data["pinyin"] == {"liaocheng": ["聊城"]}
    page = client.get("/", params={"q": "liaocheng"}).text
    assert "按拼音 liaocheng 匹配：聊城</p>" in page


def test_pinyin_readings_list_every_word_most_common_first(docs, tmp_path):
    for number in range(3):
        write(docs, f"py/liaocheng-{number}.md", article(f"聊城新闻 {number}", "聊城的消息。"))
    write(docs, "py/liaocheng-course.md", article("治疗的疗程", "一个疗程七天。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    assert engine.search("liaocheng").pinyin == {"liaocheng": ["聊城", "疗程"]}
    with TestClient(create_app(engine)) as client:
        assert "按拼音 liaocheng 匹配：聊城 · 疗程" in client.get("/?q=liaocheng").text
    engine.close()


def test_suggestions_rank_common_readings_first_and_keep_typed_words(docs, tmp_path):
    # 长期 is in more documents than 长江, but changj spells it only in a rare reading of 期
    for number in range(5):
        write(docs, f"s/long-{number}.md", article(f"长期规划 {number}", "长期发展，长期坚持。"))
    write(docs, "s/river.md", article("长江保护法实施", "长江保护法保护长江。"))
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs])
    texts = [s.text for s in engine.suggest("changj")]
    assert "长江" in texts and "长期" in texts, texts
    assert texts.index("长江") < texts.index("长期"), texts
    assert [s.text for s in engine.suggest("changq")][0] == "长期"
    with TestClient(create_app(engine)) as client:
        data = client.get("/api/suggest", params={"q": "长江 保"}).json()
        chosen = {s["text"]: s["query"] for s in data["suggestions"]}
        assert chosen["长江保护法"] == "长江 保护法", chosen
        pinyin = client.get("/api/suggest", params={"q": "changj"}).json()
        assert {s["text"]: s["query"] for s in pinyin["suggestions"]}["长江"] == "长江"
    engine.close()


@pytest.mark.parametrize("typed, text, expected", [
    ("长江 保", "长江保护法", "长江 保护法"),
    ("长江  保", "长江保护法实施", "长江 保护法实施"),
    ("聊", "聊城", "聊城"),
    ("liaoc", "聊城", "聊城"),
    (" 長江 保", "长江保护法", "长江 保护法"),
    ("a (", 'a "(b)', "a b"),
    ("标题", '标题 "引号', "标题 引号"),
    ("-x", "-x 开头", "x 开头"),
])
def test_box_text_keeps_the_typed_words(typed, text, expected):
    from searcher.web.api import box_text

    assert box_text(typed, text) == expected


def test_docs_page_renders_markdown_and_fits_a_phone(site):
    client, _, _ = site
    html = client.get("/docs").text
    assert "``" not in html and "`q`" not in html
    assert "<code>" in html and "<p>" in html
    assert "<table" not in html  # lists, which wrap on a 390 px screen (tested in Chromium)
    schema = client.get("/openapi.json").json()
    search = schema["paths"]["/api/search"]["get"]
    assert set(search["responses"]) == {"200", "400", "404", "422", "500", "503"}
    params = {p["name"]: p["schema"] for p in search["parameters"]}
    assert params["since"]["anyOf"][0] == {"type": "string", "format": "date"}
    for path, ops in schema["paths"].items():
        for op in ops.values():
            assert "``" not in op.get("description", ""), path
            for status, answer in op["responses"].items():
                assert "application/json" in answer["content"], (path, status)


def test_public_leaves_source_paths_out_of_every_answer_and_page(site):
    _, engine, docs = site
    doc_id = seed_id(engine)
    with TestClient(create_app(engine, WebOptions(public=True))) as client:
        answers = [client.get(url) for url in (
            "/api/search?q=%E8%81%8A%E5%9F%8E", f"/api/documents/{doc_id}",
            f"/api/similar/{doc_id}", "/api/stats", "/healthz", "/",
            "/?q=%E8%81%8A%E5%9F%8E", f"/doc/{doc_id}", "/docs", "/openapi.json")]
        for response in answers:
            assert response.status_code == 200, response.url
            text = response.text
            assert str(docs) not in text and SEED_RELPATH not in text, response.url
            assert "index_dir" not in text, response.url
        hit = answers[0].json()["hits"][0]
        assert "path" not in hit and hit["id"] == doc_id
        assert {"path", "relpath"}.isdisjoint(answers[1].json())
        assert "sources" not in answers[3].json()
        assert f'href="/doc/{doc_id}' in answers[6].text
    with TestClient(create_app(engine)) as client:  # not public: as before
        assert client.get("/api/search?q=%E8%81%8A%E5%9F%8E").json()["hits"][0]["path"]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_beyond_loopback_warns_and_public_hides_paths(site, tmp_path):
    import socket
    import urllib.request

    _, engine, docs = site
    # the public setting (a settings file) does what --public does
    (tmp_path / "searcher.toml").write_text("public = true\n", encoding="utf-8")
    proc, port = start_serve(engine.settings.index_dir, tmp_path, "--host", "0.0.0.0",
                              "--config", str(tmp_path / "searcher.toml"))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=30) as r:
            assert str(docs) not in r.read().decode()
        # a URL over what uvicorn's parser reads: its 400, as JSON like every other error
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /api/search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
        assert json.loads(body)["error"] == "bad request"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert "warning: listening on 0.0.0.0: other machines can reach this server" in out
    assert "--public leaves them out" not in out  # it is on
    flag, port = start_serve(engine.settings.index_dir, tmp_path, "--host", "0.0.0.0",
                              "--public")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=30) as r:
            assert str(docs) not in r.read().decode()
    finally:
        flag.terminate()
    assert "--public leaves them out" not in flag.communicate(timeout=30)[0].decode()
    (tmp_path / "searcher.toml").unlink()
    quiet, port = start_serve(engine.settings.index_dir, tmp_path)
    quiet.terminate()
    assert "warning" not in quiet.communicate(timeout=30)[0].decode()


def test_the_servers_budget_not_the_libraries_default_limit_bounds_a_search(site):
    """`serve --time-budget` is the limit of the server's searches: the engine's own default
    (the search_timeout setting) must not cut a search within the budget short."""
    _, engine, _ = site
    hurried = SearchEngine(settings=engine.settings.with_overrides(search_timeout=1e-9))
    with pytest.raises(TimeLimitExceeded):  # the library alone stops at its setting
        hurried.search("聊城")
    with TestClient(create_app(hurried, time_budget=30)) as client:
        found = client.get("/api/search", params={"q": "聊城"})
        assert found.status_code == 200, found.text
        assert found.json()["total"] >= 1
        doc = seed_id(engine)
        assert client.get(f"/api/similar/{doc}").status_code == 200
        assert client.get(f"/doc/{doc}").status_code == 200
    hurried.close()


def test_page_shows_did_you_mean_and_notices_in_chinese(site):
    """A homophone typo gets 「您是不是要找：」 with a link to the corrected search; a slip in
    the query syntax is searched and said in Chinese (the API keeps the English message)."""
    client, _, _ = site
    page = client.get("/", params={"q": "聊成"})
    assert page.status_code == 200
    assert "您是不是要找：" in page.text and 'id="did-you-mean"' in page.text
    assert "聊城</a>" in page.text
    slip = client.get("/", params={"q": "“世界认可日"})
    assert slip.status_code == 200
    assert "第 1 个字符处的 “ 没有闭合" in slip.text and "unclosed" not in slip.text
    api = client.get("/api/search", params={"q": "“世界认可日"}).json()
    assert api["notices"][0]["code"] == "unclosed_quote"
    assert "unclosed quote" in api["notice"]
    zh = client.get("/api/search", params={"q": "“世界认可日"}, headers=ZH).json()
    assert zh["notices"][0]["code"] == "unclosed_quote"
    assert "没有闭合" in zh["notice"] and zh["notices"][0]["message"] == zh["notice"]


def test_the_api_takes_the_sort_names_the_library_takes(site):
    """One list of sort names: the API's (params.SORTS, the route's Literal) is the
    library's, which names them when it refuses another."""
    from searcher import QueryError
    from searcher.web.params import SORTS

    _, engine, _ = site
    with pytest.raises(QueryError) as refused:
        engine.search("认可", sort="random")
    assert f"one of {', '.join(SORTS)}," in str(refused.value)
    assert all(engine.search("认可", sort=name, limit=1).total for name in SORTS)
