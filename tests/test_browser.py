"""The search page in a real browser: Debian's Chromium driven by Playwright, against the
real server (`searcher serve` in a subprocess on a free loopback port).

Skipped only when /usr/bin/chromium is missing and $CI is not set; in CI a missing browser
is a failure (install it with `apt-get install -y chromium`).  Never `playwright install`.

Desktop is 1280x900, phone 390x844.  A failing test's page is saved as a PNG under
$SEARCHER_TEST_OUTPUT (default: test-output/browser/ in the repository), named after the
test.  `SEARCHER_DOCS_SCREENSHOTS=1 pytest tests/test_browser.py -k readme` writes the
README's screenshots into docs/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT, SAMPLE_DOCS
from test_web_api import write_hostile

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--lang=zh-CN"]
WAIT_MS = 30_000  # bounded, but generous: CI machines are shared and slow
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
OUTPUT = Path(os.environ.get("SEARCHER_TEST_OUTPUT", ROOT / "test-output")) / "browser"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("CI is set but /usr/bin/chromium is missing: apt-get install -y chromium",
                    pytrace=False)
    pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)",
                allow_module_level=True)
if os.environ.get("CI"):
    import playwright.sync_api  # noqa: F401 - in CI a missing playwright is a failure too
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`searcher serve` over sample_docs + the hostile article; yields the base URL."""
    base = tmp_path_factory.mktemp("browser")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    write_hostile(docs)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    index_dir = base / "ix"
    subprocess.run([sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "index",
                    str(docs), "--quiet"], check=True, env=env, cwd=base, timeout=300)
    port = free_port()
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("server did not start:\n" + (base / "server.log").read_text())
        time.sleep(0.2)
    for warm in ("/api/suggest?q=%E8%81%8A", "/api/search?q=%E8%81%8A%E5%9F%8E"):
        urllib.request.urlopen(url + warm, timeout=60).close()  # first calls load caches
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as p:
        yield p


def launch(playwright, profile: Path, **options):
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        locale="zh-CN", timeout=60_000, **options)


@pytest.fixture(scope="module")
def browser(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("profile"),
                     viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


def save_if_failed(request, page) -> None:
    """A failed test's page, as a PNG in the test output (see the module's docstring)."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not page.is_closed():
        OUTPUT.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")[:120]
        page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser, request):
    page = browser.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page
    save_if_failed(request, page)
    page.close()


@pytest.fixture
def phone(browser, request):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page
    save_if_failed(request, page)
    page.close()


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def total(page) -> int:
    return int(page.locator("#total").inner_text())


def test_suggestions_as_you_type_keyboard_navigable(server, page, tmp_path):
    page.goto(server + "/")
    box = page.locator("#q")
    box.press_sequentially("聊", delay=50)
    options = page.locator("#suggestions [role=option]")
    expect(options.first).to_be_visible()
    assert box.get_attribute("aria-expanded") == "true"
    texts = options.all_inner_texts()
    assert texts and all("聊" in t for t in texts), texts
    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    assert box.get_attribute("aria-activedescendant") == "suggestion-0"
    chosen = options.first.get_attribute("data-text")
    page.screenshot(path=str(tmp_path / "suggestions.png"))
    box.press("Enter")
    page.wait_for_url(lambda url: "q=" in url)
    assert query_of(page.url)["q"] == [chosen]
    expect(page.locator(".hit").first).to_be_visible()
    box = page.locator("#q")
    box.fill("")
    box.press_sequentially("聊", delay=50)
    expect(options.first).to_be_visible()
    box.press("Escape")
    expect(page.locator("#suggestions")).to_be_hidden()


def test_search_facets_pages_document_and_back(server, page, tmp_path):
    page.goto(server + "/")
    page.locator("#q").fill("的 OR 是")
    page.locator("#q").press("Enter")
    page.wait_for_url(lambda url: "q=" in url)
    marks = page.locator(".hits mark")
    expect(marks.first).to_be_visible()
    assert page.locator(".hits mark").count() >= 3
    assert "毫秒" in page.locator("#summary").inner_text()
    everything = total(page)
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

    facet = page.locator('[data-facet="author"] li a').first
    name = facet.inner_text()
    count = int(page.locator('[data-facet="author"] li .count').first.inner_text())
    facet.click()
    page.wait_for_url(lambda url: "author=" in url)
    assert total(page) == count < everything
    chip = page.locator(".chip")
    expect(chip).to_contain_text(name)
    chip.locator("a").click()
    page.wait_for_url(lambda url: "author=" not in url)
    assert total(page) == everything

    page.locator(".pager .next").click()
    page.wait_for_url(lambda url: "page=2" in url)
    expect(page.locator('.pager [aria-current="page"]')).to_have_text("2")
    second_page_first = page.locator(".hit-title").first.inner_text()
    page.go_back()
    page.wait_for_url(lambda url: "page=2" not in url)
    expect(page.locator('.pager [aria-current="page"]')).to_have_text("1")
    page.go_forward()
    page.wait_for_url(lambda url: "page=2" in url)
    assert page.locator(".hit-title").first.inner_text() == second_page_first
    page.go_back()
    page.wait_for_url(lambda url: "page=2" not in url)

    results_url = page.url
    first = page.locator(".hit-title").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(lambda url: "/doc/" in url)
    expect(page.locator("h1.doc-title")).to_have_text(title)
    expect(page.locator(".doc-text mark").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "document.png"), full_page=True)
    page.go_back()
    page.wait_for_url(results_url)
    assert total(page) == everything

    page.select_option("#sort", "date")  # the script submits the change at once
    page.wait_for_url(lambda url: "sort=date" in url)
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates == sorted(dates, reverse=True)


def test_hostile_article_shows_as_text_and_no_script_runs(server, page, tmp_path):
    page.goto(server + "/?q=xssprobe")
    title = page.locator(".hit-title").first
    expect(title).to_have_text('<img src=x onerror="window.__pwned=1">恶意标题 xssprobe')
    assert page.locator(".results img, .results svg, .results b").count() == 0
    page.locator(".hit-title").first.click()
    page.wait_for_url(lambda url: "/doc/" in url)
    expect(page.locator("h1.doc-title")).to_contain_text("<img src=x onerror=")
    expect(page.locator(".doc-text")).to_contain_text("<script>window.__pwned=5</script>")
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    assert page.evaluate("() => window.__pwned") is None
    # The page's CSP refuses inline script, even one added to the DOM.
    page.evaluate("""() => { const s = document.createElement('script');
                            s.textContent = 'window.__inline = 1';
                            document.head.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__inline") is None
    assert any("Content Security Policy" in m for m in page.console_messages), \
        page.console_messages


INJECTED = "[onerror], [onload], [onmouseover], script:not([src]), .results img, .doc img"


def test_hostile_article_is_text_even_without_the_csp(server, playwright, tmp_path):
    """The CSP is the second line: with it bypassed, the hostile article's markup, in every
    field, still shows as text on the results (facets and suggestions too) and the document
    page, no element comes from it, and no script runs (with the CSP, a slip in escaping
    would be blocked and go unseen)."""
    context = launch(playwright, tmp_path / "profile", bypass_csp=True,
                     viewport={"width": 1200, "height": 900})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto(server + "/?q=xssprobe")
        expect(page.locator(".hit-title").first).to_contain_text("<img src=x onerror=")
        expect(page.locator("body")).to_contain_text("<script>window.__pwned=3</script>")
        expect(page.locator("body")).to_contain_text('"><svg onload="window.__pwned=4">')
        assert page.locator(INJECTED).count() == 0
        page.locator(".hit-title").first.hover()
        box = page.locator("#q")
        box.fill("")
        box.press_sequentially("<img", delay=50)  # the hostile title is suggested
        options = page.locator("#suggestions [role=option]")
        expect(options.first).to_be_visible()
        assert any("<img src=x" in text for text in options.all_inner_texts())  # the title
        assert page.locator(INJECTED).count() == 0
        page.keyboard.press("Escape")
        page.locator(".hit-title").first.click()
        page.wait_for_url(lambda url: "/doc/" in url)
        expect(page.locator(".doc-text")).to_contain_text("<script>window.__pwned=5</script>")
        expect(page.locator(".doc-text")).to_contain_text("<img src=x onerror=window.__pwned=6>")
        page.locator("h1.doc-title").hover()
        page.wait_for_timeout(200)
        page.screenshot(path=str(tmp_path / "hostile-without-csp.png"), full_page=True)
        assert page.locator(INJECTED).count() == 0
        assert page.evaluate("() => window.__pwned") is None
        # the control: without the CSP, an inline script does run on this page
        page.evaluate("""() => { const s = document.createElement('script');
                                s.textContent = 'window.__inline = 1';
                                document.head.appendChild(s); }""")
        assert page.evaluate("() => window.__inline") == 1
    finally:
        context.close()


def test_phone_sized_screen(server, phone):
    phone.goto(server + "/?q=" + "聊城")
    expect(phone.locator(".hit").first).to_be_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    box = phone.locator("#q").bounding_box()
    assert box and box["width"] > 200


def test_basic_search_without_javascript(server, playwright, tmp_path):
    context = launch(playwright, tmp_path / "profile", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server + "/", timeout=WAIT_MS)
        page.locator("#q").fill("认证认可")
        page.locator(".searchform button[type=submit]").click()
        page.wait_for_url(lambda url: "q=" in url, timeout=WAIT_MS)
        assert page.locator(".hits mark").count() >= 1
        page.locator('[data-facet="year"] li a').first.click(timeout=WAIT_MS)
        page.wait_for_url(lambda url: "year=" in url, timeout=WAIT_MS)
        assert page.locator(".chip").count() == 1
        page.screenshot(path=str(tmp_path / "nojs.png"), full_page=True)
    finally:
        context.close()


# -- issue 26: the start page, phones, paging, 404s, the API reference ------------------------

def test_start_page_examples_lead_to_results(server, page):
    page.goto(server + "/")
    expect(page.locator("h1")).to_have_text("中文全文搜索")
    expect(page.locator("#indexinfo")).to_contain_text("索引共 15 篇文章")
    expect(page.locator("#indexinfo")).to_contain_text("最近更新于")
    examples = page.locator("a.example")
    kinds = examples.locator(".example-kind").all_inner_texts()
    assert kinds[0] == "词语" and "拼音" in kinds and "短语" in kinds, kinds
    pinyin = examples.nth(kinds.index("拼音"))
    spelled = pinyin.inner_text().split()[-1]
    pinyin.click()
    page.wait_for_url(lambda url: "q=" in url)
    assert query_of(page.url)["q"] == [spelled]
    assert total(page) > 0
    expect(page.locator(".pinyin-note")).to_contain_text(f"按拼音 {spelled} 匹配：")
    assert page.locator("h1").count() == 1  # the results page's own (for screen readers)


def test_forms_send_no_empty_parameters(server, page):
    page.goto(server + "/?q=" + "聊城")
    page.locator("#q").fill("认证认可")
    page.locator("#q").press("Enter")
    page.wait_for_url(lambda url: "%E8%AE%A4" in url)
    assert set(query_of(page.url)) == {"q"}, page.url  # no since=&until=&sort=relevance
    page.locator('input[name="since"]').fill("2021-01-01")
    page.locator("button.apply").click()
    page.wait_for_url(lambda url: "since=" in url)
    assert set(query_of(page.url)) == {"q", "since"}, page.url
    assert "until=" not in page.url


def test_pages_past_the_last_land_on_the_last(server, page):
    page.goto(server + "/?q=" + "的 OR 是")
    pages = int(page.locator(".pager a.pageno, .pager .current").last.inner_text())
    page.goto(server + "/?q=" + "的 OR 是" + "&page=5000")
    assert query_of(page.url)["page"] == [str(pages)]
    expect(page.locator('.pager [aria-current="page"]')).to_have_text(str(pages))
    expect(page.locator(".hit").first).to_be_visible()


def test_phone_filter_toggle_shows_facets_and_a_compact_date_row(server, phone):
    phone.goto(server + "/?q=" + "的 OR 是")
    toggle = phone.locator(".filter-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_text("筛选")
    first_hit = phone.locator(".hit").first.bounding_box()
    assert toggle.bounding_box()["y"] < first_hit["y"] < 844  # near the top, results in view
    expect(phone.locator("#filters")).to_be_hidden()
    toggle.click()
    expect(phone.locator("#filters")).to_be_visible()
    since = phone.locator('input[name="since"]').bounding_box()
    until = phone.locator('input[name="until"]').bounding_box()
    assert abs(since["y"] - until["y"]) < 2, (since, until)  # one row
    assert phone.locator("#filters").bounding_box()["y"] < first_hit["y"] + 5
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    facet = phone.locator('[data-facet="author"] li a').first
    name = facet.inner_text()
    facet.click()
    phone.wait_for_url(lambda url: "author=" in url)
    expect(phone.locator(".filter-toggle")).to_have_text("筛选（1）")
    expect(phone.locator(".chip")).to_contain_text(name)


def test_phone_without_javascript_can_open_the_filters(server, playwright, tmp_path, request):
    context = launch(playwright, tmp_path / "profile", java_script_enabled=False,
                     viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(server + "/?q=" + "的 OR 是", timeout=WAIT_MS)
        expect(page.locator("#filters")).to_be_hidden(timeout=WAIT_MS)
        page.locator(".filter-toggle").click(timeout=WAIT_MS)
        expect(page.locator("#filters")).to_be_visible(timeout=WAIT_MS)
        save_if_failed(request, page)
    finally:
        context.close()


def test_nothing_wraps_mid_value_on_a_phone(server, phone):
    phone.goto(server + "/?q=" + "认证认可")
    phone.locator(".hit-title").first.click()
    phone.wait_for_url(lambda url: "/doc/" in url)
    dates = phone.locator(".similar time, .meta time, .docmeta time")
    assert dates.count() >= 1
    for i in range(dates.count()):
        lines = dates.nth(i).evaluate("el => el.getClientRects().length")
        height = dates.nth(i).bounding_box()["height"]
        assert lines == 1 and height < 30, (dates.nth(i).inner_text(), lines, height)
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_404_under_static_is_styled_and_its_links_work(server, page):
    response = page.goto(server + "/static/nope/deeper.css")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("404")
    background = page.locator(".error").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(253, 236, 234)", background  # style.css was loaded
    page.locator("a", has_text="返回搜索首页").click()
    page.wait_for_url(server + "/")
    expect(page.locator("#q")).to_be_visible()
    icon = page.request.get(server + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"


def test_api_reference_fits_a_phone(server, phone):
    phone.goto(server + "/docs")
    expect(phone.locator("h1")).to_contain_text("HTTP API")
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), \
        phone.evaluate("() => document.documentElement.scrollWidth")
    assert "``" not in phone.locator("main").inner_text()
    expect(phone.locator(".endpoint code").first).to_be_visible()


@pytest.mark.skipif(not os.environ.get("SEARCHER_DOCS_SCREENSHOTS"),
                    reason="writes docs/*.png: SEARCHER_DOCS_SCREENSHOTS=1")
def test_readme_screenshots(server, browser):
    """The README's pictures: the start page and a results page (desktop), a phone view."""
    docs = ROOT / "docs"
    page = browser.new_page()
    page.set_viewport_size(DESKTOP)
    page.goto(server + "/")
    page.screenshot(path=str(docs / "start-page.png"))
    page.goto(server + "/?q=liaocheng")
    expect(page.locator(".hit").first).to_be_visible()
    page.screenshot(path=str(docs / "results-page.png"))
    page.close()
    phone = browser.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(server + "/?q=" + "聊城")
    expect(phone.locator(".hit").first).to_be_visible()
    phone.screenshot(path=str(docs / "phone-view.png"))
    phone.locator(".filter-toggle").click()
    expect(phone.locator("#filters")).to_be_visible()
    phone.screenshot(path=str(docs / "phone-filters.png"))
    phone.close()
