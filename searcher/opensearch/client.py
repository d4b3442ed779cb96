"""Connecting to a cluster: URL, credentials and TLS from the environment.

Credentials never appear in messages: errors name the cluster by its URL with
any ``user:password@`` part removed, and exceptions from the client are
re-raised as :class:`ClusterError` carrying only the status and reason.

Environment (read when a client is made):

* ``SEARCHER_OPENSEARCH_USER`` + ``SEARCHER_OPENSEARCH_PASSWORD`` — HTTP basic auth;
* ``SEARCHER_OPENSEARCH_API_KEY`` — ``Authorization: ApiKey …`` instead;
* ``SEARCHER_OPENSEARCH_CA_FILE`` — CA bundle for ``https://`` URLs (certificates are
  always verified; ``SEARCHER_OPENSEARCH_VERIFY=0`` is refused unless the URL is
  loopback, for a throw-away local node with a self-signed certificate).

A ``user:password@`` in the URL is percent-decoded (``p%40ss`` is ``p@ss``), as in any URL.
Tested against a real TLS + basic-auth/API-key front (tests/test_opensearch_tls.py).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import ClusterError, ConfigError

#: HTTP statuses the client retries by itself (with its own back-off) before giving up.
RETRY_STATUSES = (429, 502, 503, 504)


def public_url(url: str) -> str:
    """*url* without user information (safe to print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def connect(url: str, *, timeout: float = 30.0, max_retries: int = 3,
            retry_on_timeout: bool = True) -> Any:
    """An ``opensearchpy.OpenSearch`` client for *url* with credentials from the environment
    (*retry_on_timeout* off: a request that times out is not sent again)."""
    try:
        from opensearchpy import OpenSearch
    except ImportError:
        raise ConfigError("the OpenSearch back end needs opensearch-py: "
                          "pip install 'searcher[opensearch]'") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not an OpenSearch URL: {public_url(url)!r} "
                          "(expected http(s)://host:port)")
    options: dict[str, Any] = {
        "timeout": timeout,
        "max_retries": max_retries,
        "retry_on_timeout": retry_on_timeout,
        "retry_on_status": RETRY_STATUSES,
        "http_compress": True,
    }
    user = os.environ.get("SEARCHER_OPENSEARCH_USER") or unquote(parts.username or "")
    password = os.environ.get("SEARCHER_OPENSEARCH_PASSWORD") or unquote(parts.password or "")
    api_key = os.environ.get("SEARCHER_OPENSEARCH_API_KEY")
    if api_key:
        options["headers"] = {"Authorization": f"ApiKey {api_key}"}
    elif user:
        if not password:
            raise ConfigError("SEARCHER_OPENSEARCH_USER is set but "
                              "SEARCHER_OPENSEARCH_PASSWORD is not")
        options["http_auth"] = (user, password)
    if parts.scheme == "https":
        options["use_ssl"] = True
        options["verify_certs"] = True
        ca = os.environ.get("SEARCHER_OPENSEARCH_CA_FILE")
        if ca:
            if not os.path.isfile(ca):
                raise ConfigError(f"SEARCHER_OPENSEARCH_CA_FILE: no such file {ca}")
            options["ca_certs"] = ca
        if not _verify_setting():
            if not is_loopback(parts.hostname):
                raise ConfigError("SEARCHER_OPENSEARCH_VERIFY=0 is only allowed for a "
                                  "loopback URL; give the CA with SEARCHER_OPENSEARCH_CA_FILE")
            options["verify_certs"] = False
            options["ssl_show_warn"] = False
    host = {"host": parts.hostname, "port": parts.port or (443 if parts.scheme == "https"
                                                             else 9200)}
    if parts.path and parts.path != "/":
        host["url_prefix"] = parts.path
    return OpenSearch([host], **options)


def is_loopback(host: str) -> bool:
    """Whether *host* (a URL's hostname) is this machine: ``localhost`` or a loopback IP."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _verify_setting() -> bool:
    value = os.environ.get("SEARCHER_OPENSEARCH_VERIFY", "1").strip().lower()
    if value in ("1", "true", "yes", "on", ""):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"SEARCHER_OPENSEARCH_VERIFY={value!r}: expected 1 or 0")


def _tls_failure(exc: BaseException) -> tuple[bool, str] | None:
    """(whether the certificate was refused, the problem) behind a TLS failure, else None."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return True, str(item.verify_message or item.reason or "certificate verify failed")
        if isinstance(item, ssl.SSLError):
            return False, str(item.reason or "TLS handshake failed")
        if isinstance(item, BaseException):
            todo += [item.__cause__, item.__context__, getattr(item, "reason", None),
                     getattr(item, "info", None), *item.args]
    return None


def cluster_error(exc: Exception, url: str, what: str) -> ClusterError:
    """A ClusterError for a client exception, without credentials or request bodies."""
    from opensearchpy import exceptions as ex

    if isinstance(exc, ex.ConnectionError):
        failure = _tls_failure(exc)
        if failure is None and isinstance(exc, ex.SSLError):
            failure = (False, "TLS handshake failed")
        if failure is not None and failure[0]:
            return ClusterError(
                f"cannot verify the TLS certificate of OpenSearch at {public_url(url)} "
                f"({what}): {failure[1]}; give the cluster's CA with "
                "SEARCHER_OPENSEARCH_CA_FILE", None, "tls")
        if failure is not None:
            return ClusterError(
                f"TLS with OpenSearch at {public_url(url)} failed ({what}): {failure[1]} "
                "(does the cluster speak https on that port?)", None, "tls")
        return ClusterError(f"cannot reach OpenSearch at {public_url(url)} ({what}): "
                            f"{type(exc).__name__}", None, "connection")
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = None
    reason = ""
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            reason = str(error.get("reason") or error.get("type") or "")
        elif error:
            reason = str(error)
    if not reason:
        reason = str(getattr(exc, "error", "") or type(exc).__name__)
    if status in (401, 403):
        reason = "authentication or permission refused; check the credentials"
    return ClusterError(f"OpenSearch at {public_url(url)} refused {what}: "
                        f"{status or ''} {reason}".strip(), status, reason)
