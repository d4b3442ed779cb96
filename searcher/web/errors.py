"""The web app's errors: :class:`ApiError` (a status, a stable code, a message in the
request's language), the library's errors mapped onto them, and pydantic's validation
problems worded in English and Chinese.
"""

import logging
from typing import Any

from ..errors import DocumentNotFoundError, IndexNotFoundError, QueryError, SearcherError
from . import messages

log = logging.getLogger("searcher.web")


class ApiError(Exception):
    """An error answered as ``{"error": ..., "detail": ...}`` with *status*: *error* is the
    stable code, *key* and *fields* the message (:mod:`searcher.web.messages`), given in the
    request's language when answered; *extra* are more keys of the answer."""

    def __init__(self, status: int, error: str, key: str, fields: dict[str, Any] | None = None,
                 **extra: Any) -> None:
        self.status, self.error, self.key, self.extra = status, error, key, extra
        self.fields = fields or {}
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        """The message in English (logs, and the API's default)."""
        return self.message("en")

    def message(self, lang: messages.Lang) -> str:
        if self.key in ("bad_query", "bad_filter"):
            said = messages.query_error(self.fields["detail"], self.extra.get("position"),
                                        lang)
            return said if lang == "en" else messages.text(self.key, lang, detail=said)
        return messages.text(self.key, lang, **self.fields)


def as_api_error(exc: Exception) -> ApiError:
    """The library's errors as HTTP errors (anything else is a bug: 500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QueryError):
        return ApiError(400, "bad query", "bad_query", {"detail": str(exc)},
                        position=exc.position)
    if isinstance(exc, DocumentNotFoundError):
        return ApiError(404, "not found", "not_found_document")
    if isinstance(exc, IndexNotFoundError):
        log.warning("index unavailable: %s", exc)
        return ApiError(503, "index unavailable", "index_unavailable")
    if isinstance(exc, SearcherError):
        log.warning("search failed: %s", exc)
        return ApiError(503, "unavailable", "unavailable")
    raise exc


#: pydantic's error types → Chinese (the English is pydantic's own message).
_PROBLEMS_ZH = {
    "missing": "缺少这个参数", "string_too_short": "不能为空",
    "string_too_long": "太长（最多 {max_length} 个字符）",
    "too_long": "太多（最多 {max_length} 个）",
    "int_parsing": "应为整数", "int_from_float": "应为整数",
    "greater_than_equal": "应不小于 {ge}", "less_than_equal": "应不大于 {le}",
    "literal_error": "应为 {expected} 之一",
    "date_from_datetime_parsing": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_from_datetime_inexact": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_parsing": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_type": "不是有效日期（应为 年-月-日，如 2021-06-01）",
}


def problem(item: dict[str, Any]) -> dict[str, str]:
    # "author.0" (one of a repeated parameter's values) is the parameter "author"
    where = ".".join(str(part) for part in item.get("loc", ())[1:]
                     if not isinstance(part, int)) or "request"
    english = item.get("msg", "invalid")
    chinese = _PROBLEMS_ZH.get(item.get("type", ""), "无效")
    try:
        chinese = chinese.format(**(item.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        chinese = "无效"
    return {"parameter": where, "en": english, "zh": chinese}


class InvalidParameters(ApiError):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(422, "invalid parameter", "invalid_parameter", problems=problems)

    def message(self, lang: messages.Lang) -> str:
        problems = self.extra["problems"]
        sep = "; " if lang == "en" else "；"
        joined = sep.join(f"{p['parameter']}: {p[lang]}" if lang == "en"
                          else f"{p['parameter']} {p[lang]}" for p in problems)
        return joined if lang == "en" else f"参数有误：{joined}"

