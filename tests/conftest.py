"""Shared fixtures: the sample documents, the ../shared data, small article factories."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = ROOT / "sample_docs"
SHARED = ROOT.parent / "shared"
SEED_RELPATH = "seed/liaocheng-world-accreditation-day.md"

needs_shared = pytest.mark.skipif(
    not (SHARED / "corpus" / "rsshub").is_dir(),
    reason="../shared (real corpora) is not present beside the repo; CI provides it",
)


def article(title: str, body: str, *, author: str = "测试", date: str = "2021-06-16 10:00:00",
            categories: str | list[str] = "测试", tags: list[str] | None = None) -> str:
    """A Hexo-style article with YAML front matter and an HTML body."""
    cats = categories if isinstance(categories, list) else [categories]
    lines = ["---", f"title: '{title}'", "categories:"] + [f" - {c}" for c in cats]
    if tags:
        lines += ["tags:"] + [f" - {t}" for t in tags]
    lines += [f"author: {author}", f"date: {date}", "---", "", f"<div><p>{body}</p></div>", ""]
    return "\n".join(lines)


def write(folder: Path, relpath: str, text: str) -> Path:
    path = folder / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A writable copy of sample_docs."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory):
    """sample_docs indexed once (read-only use), as (engine, docs folder)."""
    from searcher import SearchEngine

    base = tmp_path_factory.mktemp("sample")
    target = base / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    engine = SearchEngine(base / "index")
    report = engine.index([target])
    assert not report.failed, report.failed
    yield engine, target
    engine.close()


@pytest.fixture(scope="session")
def corpus_2k(tmp_path_factory):
    """make_corpus.py --limit 2000 output indexed once, as (engine, corpus folder, report)."""
    import subprocess
    import sys

    if not (SHARED / "tools" / "make_corpus.py").is_file():
        pytest.skip("../shared/tools/make_corpus.py is not present beside the repo")
    from searcher import SearchEngine

    base = tmp_path_factory.mktemp("corpus2k")
    out = base / "corpus"
    subprocess.run([sys.executable, str(SHARED / "tools" / "make_corpus.py"), str(out),
                    "--limit", "2000"], check=True, capture_output=True)
    engine = SearchEngine(base / "ix")
    report = engine.index([out], jobs=2)
    yield engine, out, report
    engine.close()


@pytest.fixture
def fresh_cluster():
    """A SearchEngine on a new index name of the node at ``SEARCHER_OPENSEARCH_URL``
    (skips without one, fails without one in CI); its generations are deleted afterwards,
    so runs do not fill the node."""
    import uuid

    url = os.environ.get("SEARCHER_OPENSEARCH_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI is set but SEARCHER_OPENSEARCH_URL is not: start a node with "
                        "scripts/opensearch-node start and export its URL")
        pytest.skip("no OpenSearch cluster: set SEARCHER_OPENSEARCH_URL")
    pytest.importorskip("opensearchpy")
    from searcher import SearchEngine

    name = f"test-{uuid.uuid4().hex[:8]}"
    cluster = SearchEngine(f"{url.rstrip('/')}/{name}")
    try:
        yield cluster
    finally:
        backend = cluster.backend
        if backend is not None and hasattr(backend, "client"):
            backend.client.indices.delete(index=f"{name}-*", ignore=[404],
                                          expand_wildcards="all")
        cluster.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item (``item.rep_call``), so a fixture can tell
    after the test whether it failed (the browser tests then save a screenshot)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


#: Modules whose tests start servers, browsers, clusters or worker processes, or build
#: several indexes: all of them are ``slow``, so ``pytest -m "not slow"`` (the inner loop)
#: runs the unit and library-level tests in about two minutes.  CI runs everything.
SLOW_MODULES = frozenset({
    "test_browser", "test_char_index", "test_cluster", "test_corruption", "test_disk_full",
    "test_identifiers", "test_kill", "test_limits", "test_memory", "test_merge_policy",
    "test_nightly", "test_opensearch", "test_opensearch_time_limit", "test_opensearch_tls",
    "test_optimize", "test_questions", "test_schemathesis", "test_similar", "test_workers",
    "test_worst_case",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def start_serve(index_dir: Path, cwd: Path, *options: str,
                 before: str = "") -> tuple[subprocess.Popen, int]:
    """`searcher --index-dir INDEX serve` on a free loopback port, once it answers (*before*:
    Python run first in the same process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{before}\nfrom searcher.cli import main\nmain()",
         "--index-dir", str(index_dir), "serve", "--port", str(port), *options],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("serve did not answer in 90 s: "
                                     + proc.stdout.read().decode(errors="replace")) from None
            time.sleep(0.3)
