"""Decode article bytes: UTF-8 (with or without BOM), then legacy GB18030.

Files that are neither (or that are binary) raise :class:`DocumentError` so the
indexer can report them by name and carry on.
"""

from __future__ import annotations

import codecs

from ..errors import DocumentError


def decode(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)`` for *data*, or raise :class:`DocumentError`."""
    if b"\x00" in data[:8192]:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                return data.decode("utf-16"), "utf-16"
            except UnicodeDecodeError as exc:
                raise DocumentError(f"cannot decode UTF-16 text: {exc.reason}") from None
        raise DocumentError("binary file (contains NUL bytes), not text")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DocumentError(f"invalid UTF-8 after BOM at byte {exc.start}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise DocumentError(
                f"not UTF-8 (bad byte at offset {utf8_error.start}) and not GB18030 either"
            ) from None
