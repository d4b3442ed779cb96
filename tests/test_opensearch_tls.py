"""Credentials and TLS against a real secured endpoint: nginx (TLS, basic auth, API key) in
front of the real test node (tests/tls_proxy.py explains why and how).

Needs $SEARCHER_OPENSEARCH_URL (scripts/opensearch-node start) and Debian's nginx
(scripts/test installs it).  Without them these tests skip, except in CI (env CI set),
where a missing node or nginx is a failure.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import traceback
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from conftest import SAMPLE_DOCS
from tls_proxy import NGINX, TlsProxy, start_proxy

from searcher.config import Settings
from searcher.errors import ConfigError

URL_ENV = "SEARCHER_OPENSEARCH_URL"
ENV = ("SEARCHER_OPENSEARCH_USER", "SEARCHER_OPENSEARCH_PASSWORD", "SEARCHER_OPENSEARCH_API_KEY",
       "SEARCHER_OPENSEARCH_CA_FILE", "SEARCHER_OPENSEARCH_VERIFY")
#: URL-hostile characters, to prove the password survives a URL and is never echoed.
PASSWORD = "p@ss:w/rd%?#Zq-" + uuid.uuid4().hex[:6]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsProxy]:
    url = os.environ.get(URL_ENV)
    if not url:
        _missing(f"{URL_ENV} is not set: start a node with scripts/opensearch-node start")
    pytest.importorskip("opensearchpy", reason="opensearch-py is not installed")
    if NGINX is None:
        _missing("nginx is not installed (apt-get install -y nginx; scripts/test does it)")
    running = start_proxy(url, tmp_path_factory.mktemp("tls-proxy"), password=PASSWORD)
    yield running
    running.stop()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """A clean credentials environment; returns monkeypatch.setenv."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch.setenv


@pytest.fixture(scope="session")
def secured_index(proxy: TlsProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """sample_docs indexed through the proxy (basic auth + CA); yields the alias name."""
    from searcher.opensearch import OpenSearchBackend

    docs = tmp_path_factory.mktemp("tls-docs") / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    name = f"tls-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as mp:
        for key in ENV:
            mp.delenv(key, raising=False)
        mp.setenv("SEARCHER_OPENSEARCH_USER", proxy.user)
        mp.setenv("SEARCHER_OPENSEARCH_PASSWORD", proxy.password)
        mp.setenv("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
        backend = OpenSearchBackend.from_location(f"{proxy.url}/{name}", Settings(),
                                                  replicas=0)
        report = backend.index([docs])
        assert report.added == 14 and not report.failed, report.failed
    yield name
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCHER_OPENSEARCH_API_KEY", proxy.api_key)
        mp.setenv("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
        backend.client.indices.delete(index=f"{name}-*", ignore=[404], expand_wildcards="all")
        backend.close()


def _backend(proxy: TlsProxy, name: str, **kwargs):
    from searcher.opensearch import OpenSearchBackend

    return OpenSearchBackend.from_location(f"{proxy.url}/{name}", Settings(), replicas=0,
                                           **kwargs)


def _leaks(secret: str, exc: BaseException, records: list[logging.LogRecord]) -> list[str]:
    """Every place *secret* (or its basic-auth base64) shows up: message, repr, args,
    attributes, chained exceptions, the formatted traceback and log records."""
    needles = [secret, quote(secret, safe=""),
               base64.b64encode(f"searcher:{secret}".encode()).decode()]
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[str, object]] = [("exception", exc)]
    while todo:
        where, obj = todo.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            todo += [(f"{where}.__cause__", obj.__cause__),
                     (f"{where}.__context__", obj.__context__)]
            todo += [(f"{where}.args[{i}]", a) for i, a in enumerate(obj.args)]
            todo += [(f"{where}.{k}", v) for k, v in vars(obj).items()]
        for text in texts:
            if any(n in text for n in needles):
                found.append(where)
    text = "".join(traceback.format_exception(exc))
    if any(n in text for n in needles):
        found.append("traceback")
    for record in records:
        if any(n in record.getMessage() for n in needles):
            found.append(f"log {record.name}: {record.getMessage()[:80]}")
    return found


# -- the right CA and credentials -----------------------------------------------------------


def test_basic_auth_with_the_right_ca_searches(proxy, secured_index, env):
    env("SEARCHER_OPENSEARCH_USER", proxy.user)
    env("SEARCHER_OPENSEARCH_PASSWORD", proxy.password)
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    backend = _backend(proxy, secured_index)
    results = backend.search("认证认可")
    assert results.total == 1 and "世界认可日" in results.hits[0].title
    assert backend.stats().documents == 14
    assert backend.stats().url == proxy.url  # the URL the user gave, no credentials
    assert backend.search('"城市场"').total == 1
    # an incremental run goes through the same front door: bulk, point-in-time, lease
    assert backend.index().unchanged == 14


def test_credentials_in_the_url_percent_encoded(proxy, secured_index, env):
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    from searcher.opensearch import OpenSearchBackend

    user_info = f"{proxy.user}:{quote(proxy.password, safe='')}"
    url = proxy.url.replace("https://", f"https://{user_info}@")
    backend = OpenSearchBackend(url, Settings(), name=secured_index)
    assert backend.search("认证认可").total == 1
    assert proxy.password not in repr(backend) and proxy.user not in repr(backend)
    # An index location (a setting, shown in stats and logs) refuses user information.
    with pytest.raises(ConfigError) as info:
        OpenSearchBackend.from_location(f"{url}/{secured_index}", Settings())
    assert proxy.password not in str(info.value) and quote(proxy.password, safe="") not in (
        str(info.value) + repr(info.value.value))


def test_api_key_header(proxy, secured_index, env):
    env("SEARCHER_OPENSEARCH_API_KEY", proxy.api_key)
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    assert _backend(proxy, secured_index).search("认证认可").total == 1


def test_verify_off_is_accepted_for_loopback_only(proxy, secured_index, env):
    from searcher.opensearch import OpenSearchBackend

    env("SEARCHER_OPENSEARCH_API_KEY", proxy.api_key)
    env("SEARCHER_OPENSEARCH_VERIFY", "0")  # no CA given: only the switch lets it through
    assert _backend(proxy, secured_index).search("认证认可").total == 1
    for url in ("https://search.example.com:9200", "https://10.0.0.5:9200",
                "https://127.0.0.1.example.com:9200"):
        with pytest.raises(ConfigError) as info:
            OpenSearchBackend(url, Settings())
        assert "loopback" in str(info.value)
    env("SEARCHER_OPENSEARCH_VERIFY", "maybe")
    with pytest.raises(ConfigError) as info:
        _backend(proxy, secured_index)
    assert "SEARCHER_OPENSEARCH_VERIFY" in str(info.value)


# -- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_untrusted_certificate_is_refused(proxy, secured_index, env, ca, caplog):
    from searcher.opensearch import ClusterError

    caplog.set_level(logging.DEBUG)
    env("SEARCHER_OPENSEARCH_USER", proxy.user)
    env("SEARCHER_OPENSEARCH_PASSWORD", proxy.password)
    if ca == "wrong":  # a CA with the same name but another key
        env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.wrong_ca_file))
    backend = _backend(proxy, secured_index, timeout=10)
    with pytest.raises(ClusterError) as info:
        backend.search("认证认可")
    error = info.value
    assert error.status is None and error.reason == "tls"
    assert proxy.url in str(error) and "certificate" in str(error)
    assert "SEARCHER_OPENSEARCH_CA_FILE" in str(error)
    assert _leaks(proxy.password, error, caplog.records) == []


def test_certificate_for_another_host_is_refused(proxy, secured_index, env):
    from searcher.opensearch import ClusterError, OpenSearchBackend

    env("SEARCHER_OPENSEARCH_API_KEY", proxy.api_key)
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    other = proxy.url.replace("127.0.0.1", "127.0.0.2")  # same server, trusted CA
    with pytest.raises(ClusterError) as info:
        OpenSearchBackend.from_location(f"{other}/{secured_index}", Settings(),
                                        timeout=10).search("认证认可")
    assert info.value.reason == "tls" and other in str(info.value)
    assert "127.0.0.2" in str(info.value).split(":", 3)[-1]  # the mismatch, named
    localhost = proxy.url.replace("127.0.0.1", "localhost")  # a name it does hold
    assert OpenSearchBackend.from_location(f"{localhost}/{secured_index}",
                                           Settings()).search("认证认可").total == 1


def test_https_to_a_plain_http_port_is_named(proxy, env):
    from searcher.opensearch import ClusterError, OpenSearchBackend

    plain = os.environ[URL_ENV].replace("http://", "https://")  # the node itself: no TLS
    with pytest.raises(ClusterError) as info:
        OpenSearchBackend.from_location(f"{plain}/x", Settings(), timeout=10).search("x")
    assert info.value.reason == "tls" and plain in str(info.value)
    assert "https" in str(info.value) and "certificate" not in str(info.value)


@pytest.mark.parametrize("how", ["no credentials", "wrong password", "wrong user",
                                 "wrong api key", "wrong password in the URL"])
def test_refused_credentials_say_401_and_never_echo_the_password(proxy, secured_index, env,
                                                                 how, caplog):
    from searcher.opensearch import ClusterError

    caplog.set_level(logging.DEBUG)
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    wrong = PASSWORD[::-1]  # as hostile as the real one
    location = f"{proxy.url}/{secured_index}"
    if how == "wrong password":
        env("SEARCHER_OPENSEARCH_USER", proxy.user)
        env("SEARCHER_OPENSEARCH_PASSWORD", wrong)
    elif how == "wrong user":
        env("SEARCHER_OPENSEARCH_USER", "mallory")
        env("SEARCHER_OPENSEARCH_PASSWORD", proxy.password)
    elif how == "wrong api key":
        env("SEARCHER_OPENSEARCH_API_KEY", wrong)
    elif how == "wrong password in the URL":
        location = location.replace("https://",
                                    f"https://{proxy.user}:{quote(wrong, safe='')}@")
    from searcher.opensearch import OpenSearchBackend

    if how == "wrong password in the URL":
        # An index location refuses user information (a ConfigError, see test_cluster);
        # code that builds the backend from a URL may still carry it there.
        backend = OpenSearchBackend(location.rsplit("/", 1)[0], Settings(),
                                    name=secured_index, replicas=0)
    else:
        backend = OpenSearchBackend.from_location(location, Settings(), replicas=0)
    for secret in (proxy.password, wrong):
        assert secret not in repr(backend) and secret not in repr(backend.client)
    for call in (lambda: backend.search("认证认可"), backend.stats, lambda: backend.index()):
        with pytest.raises(ClusterError) as info:
            call()
        error = info.value
        assert error.status == 401, str(error)
        assert proxy.url in str(error) and "401" in str(error)
        assert "credentials" in error.reason
        for secret in (proxy.password, wrong):
            assert _leaks(secret, error, caplog.records) == []


def test_configuration_mistakes_are_named(proxy, env, tmp_path):
    from searcher.opensearch import OpenSearchBackend

    env("SEARCHER_OPENSEARCH_CA_FILE", str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ConfigError) as info:
        OpenSearchBackend(proxy.url, Settings())
    assert str(tmp_path / "missing-ca.pem") in str(info.value)
    env("SEARCHER_OPENSEARCH_CA_FILE", str(proxy.ca_file))
    env("SEARCHER_OPENSEARCH_USER", proxy.user)
    with pytest.raises(ConfigError) as info:  # a user without a password
        OpenSearchBackend(proxy.url, Settings())
    assert "SEARCHER_OPENSEARCH_PASSWORD" in str(info.value)


def test_the_proxy_really_guards_the_node(proxy):
    """What the tests above rely on: without TLS trust or credentials nothing gets through."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(proxy.ca_file))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{proxy.url}/_cluster/health", context=context, timeout=10)
    assert info.value.code == 401
    request = urllib.request.Request(f"{proxy.url}/_cluster/health",
                                     headers={"Authorization": f"ApiKey {proxy.api_key}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        assert answer.status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{proxy.url}/", timeout=10,
                               context=ssl.create_default_context())

