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
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, SearcherError

#: HTTP statuses the client retries by itself (with its own back-off) before giving up.
RETRY_STATUSES = (429, 502, 503, 504)


class ClusterError(SearcherError):
    """The cluster refused or failed a request; ``status`` and ``reason`` say why."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def public_url(url: str) -> str:
    """*url* without user information (safe to print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def connect(url: str, *, timeout: float = 30.0, max_retries: int = 3) -> Any:
    """An ``opensearchpy.OpenSearch`` client for *url* with credentials from the environment."""
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
        "retry_on_timeout": True,
        "retry_on_status": RETRY_STATUSES,
        "http_compress": True,
    }
    user = os.environ.get("SEARCHER_OPENSEARCH_USER") or parts.username
    password = os.environ.get("SEARCHER_OPENSEARCH_PASSWORD") or parts.password
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
        if os.environ.get("SEARCHER_OPENSEARCH_VERIFY", "1") == "0":
            if parts.hostname not in ("localhost", "127.0.0.1", "::1"):
                raise ConfigError("SEARCHER_OPENSEARCH_VERIFY=0 is only allowed for a "
                                  "loopback URL; give the CA with SEARCHER_OPENSEARCH_CA_FILE")
            options["verify_certs"] = False
            options["ssl_show_warn"] = False
    host = {"host": parts.hostname, "port": parts.port or (443 if parts.scheme == "https"
                                                             else 9200)}
    if parts.path and parts.path != "/":
        host["url_prefix"] = parts.path
    return OpenSearch([host], **options)


def cluster_error(exc: Exception, url: str, what: str) -> ClusterError:
    """A ClusterError for a client exception, without credentials or request bodies."""
    from opensearchpy import exceptions as ex

    if isinstance(exc, ex.ConnectionError):
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
