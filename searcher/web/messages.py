"""Every sentence the web app shows or answers, in English and Chinese (zh-CN).

The JSON API answers errors as ``{"error": code, "detail": message}``: *code* is a stable,
machine-readable English phrase (clients branch on it) and *message* is in the request's
language, chosen from ``Accept-Language`` (English when it names neither; the search page
defaults to Chinese).  One table keeps both languages side by side, so a message added in
one is visibly missing in the other (``tests/test_web_api.py`` checks every key has both).
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "zh"]

#: key → (English, Chinese); ``{name}`` fields are filled by :func:`text`.
MESSAGES: dict[str, tuple[str, str]] = {
    # errors (the API's ``detail``, the page's alert)
    "not_found_document": ("no document with this id", "没有这个编号的文章"),
    "not_found_page": ("no such page or endpoint", "没有这个页面"),
    "method_not_allowed": ("method not allowed; this API only reads (GET, HEAD)",
                           "不支持这个请求方法：这里只能读取（GET、HEAD）"),
    "index_unavailable": ("the index cannot be opened right now; the server log says why",
                          "索引暂时无法打开，原因见服务器日志"),
    "unavailable": ("the search engine cannot answer right now", "搜索引擎暂时无法回答"),
    "time_budget": ("the request took longer than {seconds} s; try a narrower query "
                    "(fewer words, a filter)",
                    "请求用时超过 {seconds} 秒；请缩小查询范围（少用几个词，或加筛选条件）"),
    "bad_encoding": ("parameter {parameter}: the percent-encoding is not valid UTF-8",
                     "参数 {parameter} 的百分号编码不是有效的 UTF-8"),
    "page_out_of_range": ("page {page} does not exist: the results have {pages} page(s)",
                          "没有第 {page} 页：结果共 {pages} 页"),
    "uri_too_long": ("the request line is too long (at most {limit} bytes)",
                     "请求地址太长（最多 {limit} 字节）"),
    "bad_request": ("the request could not be read", "无法读取这个请求"),
    "internal": ("an unexpected error happened; it has been logged",
                 "发生了意外错误，已记入日志"),
    "invalid_parameter": ("{problems}", "参数有误：{problems}"),
    "bad_date": ("{parameter}: not a date (YYYY-MM-DD): {value}",
                 "{parameter}：不是有效日期（应为 年-月-日，如 2021-06-01）：{value}"),
    "bad_query": ("{detail}", "查询有误：{detail}"),
    "bad_filter": ("{detail}", "筛选条件有误：{detail}"),
    # notes on the results page
    "relaxed": ("No article holds every word; these are the closest partial matches.",
                "没有文章包含全部词语，下面是最接近的部分匹配。"),
    "pinyin": ("Read as pinyin {spelling}: {words}", "按拼音 {spelling} 匹配：{words}"),
    "did_you_mean": ("Did you mean: {query}", "您是不是要找：{query}"),
    # how a query with a slip was read (searcher.results.Notice codes and params)
    "notice_unclosed_quote": ("The quote {mark} at character {position} is not closed: its "
                              "words were searched one by one, not as a phrase.",
                              "第 {position} 个字符处的 {mark} 没有闭合：其后的词语已逐个搜索，"
                              "没有按短语匹配（补上 {closing} 即可按短语搜索）。"),
    "notice_unclosed_paren": ("The '(' at character {position} is not closed: it was read "
                              "as closed at the end.",
                              "第 {position} 个字符处的“(”没有闭合：已按在末尾闭合处理。"),
    "notice_unmatched_paren": ("The ')' at character {position} closes nothing and was "
                               "left out.", "第 {position} 个字符处的“)”没有对应的“(”，已忽略。"),
    "notice_dangling_operator": ("{text} at character {position} has no word to act on and "
                                 "was left out.",
                                 "第 {position} 个字符处的 {text} 缺少要作用的词语，已忽略。"),
    "notice_empty_field": ("{text} at character {position} has no value and was left out.",
                           "第 {position} 个字符处的 {text} 后面没有值，已忽略。"),
    "no_results": ("No article matches “{query}”.", "没有找到与“{query}”相关的文章。"),
    "empty_page": ("This page has no results.", "这一页没有结果。"),
}

#: The query parser's messages (searcher/query.py) → Chinese.  A message not listed here is
#: shown in Chinese as a generic sentence with its position (see :func:`query_error`).
_QUERY_ERRORS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), zh) for p, zh in (
    (r'^unclosed quote at character (\d+)', "第 {0} 个字符处的引号没有闭合：请补上另一个 \""),
    (r"^unclosed '\(' at character (\d+)", "第 {0} 个字符处的“(”没有闭合：请补上“)”"),
    (r"^unexpected '\)' at character (\d+)", "第 {0} 个字符处多了一个“)”"),
    (r"^unexpected (.+) at character (\d+)$", "第 {1} 个字符处不应出现 {0}"),
    (r"^OR at character (\d+) needs a word on both sides", "第 {0} 个字符处的 OR 两边都要有词语"),
    (r"^'-' at character (\d+) needs a word after it", "第 {0} 个字符处的“-”后面要跟一个词语"),
    (r"^NOT at character (\d+) needs a word after it", "第 {0} 个字符处的 NOT 后面要跟一个词语"),
    (r"^(\w+): at character (\d+) needs a value after the colon",
     "第 {1} 个字符处的 {0}: 冒号后面要有值"),
    (r"^empty query", "查询是空的：请至少输入一个词语"),
    (r"^query is too long \((\d+) characters, at most (\d+)\)",
     "查询太长（{0} 个字符，最多 {1} 个）"),
    (r"^the query has no words to search for", "查询里没有可搜索的词语"),
    (r"^the query only excludes words", "查询只有排除的词语：请至少加一个要搜索的词语"),
    (r"^query is nested too deeply", "查询的括号嵌套太深"),
    (r"^unknown facet '(.*)': use one or more of (.*)$", "没有“{0}”这个分面：可用 {1}"),
    (r"^bad date filter: date value out of range", "日期超出可用范围"),
    (r"^bad date filter: (.*)$", "日期条件无效：{0}"),
    (r"^bad year filter (.*): use a year", "年份条件 {0} 无效：请用年份，如 2021"),
    (r"^bad month filter (.*): use YYYY-MM", "月份条件 {0} 无效：请用 年-月，如 2021-06"),
)]


def text(key: str, lang: Lang, **fields: object) -> str:
    """The message *key* in *lang*, with *fields* filled in."""
    english, chinese = MESSAGES[key]
    return (chinese if lang == "zh" else english).format(**fields)


def notice_text(notice: object, lang: Lang) -> str:
    """A query notice (:class:`searcher.results.Notice`) in *lang*: its own English
    message, or this table's wording of its code and params."""
    code = getattr(notice, "code", "")
    params = dict(getattr(notice, "params", {}) or {})
    key = f"notice_{code}"
    if key not in MESSAGES:
        return str(getattr(notice, "message", notice))
    try:
        return text(key, lang, **params)
    except (KeyError, IndexError):  # a notice without the params its wording names
        return str(getattr(notice, "message", notice))


def query_error(message: str, position: int | None, lang: Lang) -> str:
    """A library QueryError's message in *lang* (the library writes English)."""
    if lang != "zh":
        return message
    for pattern, chinese in _QUERY_ERRORS:
        found = pattern.search(message)
        if found:
            return chinese.format(*found.groups())
    if position is not None:
        return f"第 {position + 1} 个字符处无法理解"
    return "无法理解这个查询或筛选条件"


def negotiate(header: str | None, default: Lang) -> Lang:
    """The language *header* (``Accept-Language``) prefers among ours, else *default*."""
    best: tuple[float, Lang] | None = None
    for number, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.split("-")[0]
        lang: Lang | None = "zh" if primary == "zh" else "en" if primary == "en" else None
        if lang is None or weight <= 0:
            continue
        key = weight - number * 1e-6  # equal weights: the first listed wins
        if best is None or key > best[0]:
            best = (key, lang)
    return best[1] if best else default
