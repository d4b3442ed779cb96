"""A search of the OpenSearch back end honours its time limit: each request's timeout is
what is left of it (the cluster's ``timeout`` and the client's), a request that runs out
raises TimeLimitExceeded and is not sent again.

The cluster is the real node ($SEARCHER_OPENSEARCH_URL, as tests/test_opensearch.py); a
slow cluster is that node behind a loopback relay that holds each ``_search`` answer back
for a few seconds."""

from __future__ import annotations

import http.client
import http.server
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from conftest import SAMPLE_DOCS
from test_opensearch import opensearch_url  # noqa: F401 - the fixture

from searcher import SearchEngine, TimeLimitExceeded
from searcher.config import Settings

#: Seconds the relay holds back each search answer.
DELAY = 2.0


class _Relay(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _relay(target: str, delay: float) -> _Relay:
    """A loopback HTTP relay to *target* that waits *delay* seconds before each ``_search``."""
    parts = urlsplit(target)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "/_search" in self.path:
                time.sleep(delay)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            try:
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection",
                                            "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: its timeout
                pass
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = _Relay(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def cluster(opensearch_url):  # noqa: F811 - the fixture
    """sample_docs in a fresh cluster index; (direct engine, engine through the slow relay)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    direct = SearchEngine(f"{opensearch_url.rstrip('/')}/{name}", settings=Settings())
    report = direct.index([SAMPLE_DOCS])
    assert not report.failed, report.failed
    relay = _relay(opensearch_url, DELAY)
    slow = SearchEngine(f"http://127.0.0.1:{relay.server_address[1]}/{name}",
                        settings=Settings())
    yield direct, slow
    slow.close()
    relay.shutdown()
    direct.backend.client.indices.delete(index=f"{name}-*", ignore=[404],
                                         expand_wildcards="all")
    direct.close()


def plain(results) -> list:
    return [(h.id, h.snippet, h.highlights) for h in results.hits] + [results.total]


def test_a_search_within_its_limit_answers_as_without_one(cluster):
    direct, _ = cluster
    for query in ("认证认可", '"世界认可日"', "聊城 OR 认可"):
        assert plain(direct.search(query, timeout=30, facets=["author"])) == \
            plain(direct.search(query, timeout=0, facets=["author"]))


def test_a_slow_cluster_stops_at_the_limit_not_after_its_retries(cluster):
    direct, slow = cluster
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded) as caught:
        slow.search("认证认可", timeout=1)
    took = time.monotonic() - started
    assert caught.value.seconds == 1
    assert took < DELAY, took  # the request gave up at the limit, and was not sent again
    # without a limit the same slow cluster answers, as the direct one does
    assert plain(slow.search("认证认可", timeout=0)) == plain(direct.search("认证认可"))


def test_a_passed_limit_sends_no_request(cluster):
    from searcher import time_limit

    _, slow = cluster
    started = time.monotonic()
    with time_limit(0), pytest.raises(TimeLimitExceeded):
        slow.search("认证认可")
    assert time.monotonic() - started < DELAY
