"""uvicorn's HTTP protocol with a JSON answer for requests its parser cannot read.

A request that fails to parse (malformed, or a URL over what httptools' parser takes:
measured, a 70 KB query string fails where 60 KB is read) never reaches the app: uvicorn
answers ``400 Invalid HTTP request received.`` in plain text itself.  These subclasses
answer the same 400 as the app's other errors, ``{"error": ..., "detail": ...}``, which is
what API clients parse.  The language cannot be chosen (the headers were not read):
English, the API's default.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from .guard import SECURITY_HEADERS
from .messages import text

BODY = json.dumps({"error": "bad request", "detail": text("bad_request", "en")
                   + " (malformed, or a URL or headers too long for the server's parser)"}
                  ).encode()


def _head() -> bytes:
    lines = [b"HTTP/1.1 400 Bad Request", b"content-type: application/json",
             b"content-length: " + str(len(BODY)).encode(), b"connection: close",
             *(name + b": " + value for name, value in SECURITY_HEADERS)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


class JsonErrorsH11(H11Protocol):
    """uvicorn's h11 protocol (no httptools): a JSON 400."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_head() + BODY)
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    JsonErrorsHttpTools: type = JsonErrorsH11
else:
    class JsonErrorsHttpTools(HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol (the fast parser): a JSON 400."""

        def send_400_response(self, msg: str) -> None:
            self.transport.write(_head() + BODY)
            self.transport.close()
