"""Split front matter from the body and read it, leniently when it is broken.

Three styles, as Hugo reads them: YAML between ``---`` lines, TOML between
``+++`` lines (:mod:`tomllib`) and a JSON object at the very start.  Real feeds
also contain front matter that is not valid at all (unbalanced quotes, titles
spread over several lines); rather than drop those articles we salvage
``key: value`` (or ``key = value``) pairs with a line-based reader and report a
warning.

Front matter is small.  A block whose values expand to more than
:data:`MAX_VALUES` items (YAML aliases can make a few hundred bytes stand for
gigabytes) is refused with :class:`FrontMatterError`, and a string longer than
:data:`MAX_VALUE_CHARS` is cut, with a warning.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_OPEN = re.compile(r"\A\s*---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)
_TOML_OPEN = re.compile(r"\A\s*\+\+\+[ \t]*\r?\n")
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*\r?$", re.M)
_JSON_OPEN = re.compile(r"\A\s*\{\s*\"")
_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_TOML_KEY = re.compile(r"^[ \t]*([A-Za-z_][\w-]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
_TOML_TABLE = re.compile(r"^[ \t]*\[")
#: Most values (strings, numbers, list items, mapping entries) a front matter block may hold,
#: counted as they would be expanded: ten thousand is far beyond any real article's.
MAX_VALUES = 10_000
#: Longest string kept from front matter; longer ones are cut (with a warning).
MAX_VALUE_CHARS = 10_000


class FrontMatterError(ValueError):
    """Front matter that cannot be read within bounds (it would expand without limit)."""
_ITEM = re.compile(r"^[ \t]*-[ \t]+(.*?)[ \t]*$")


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that leaves timestamps as text: ``date: 2021-02-30`` must not sink the
    whole block, and :mod:`searcher.ingest.dates` reads (and reports) dates itself."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


class _Handler(YAMLHandler):
    def load(self, fm: str, **kwargs: Any) -> Any:
        return yaml.load(fm, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


_HANDLER = _Handler()


@dataclass
class FrontMatter:
    """What the head of a file said, plus anything worth a warning."""

    metadata: dict[str, Any]
    body: str
    warnings: list[str] = field(default_factory=list)
    present: bool = False
    #: The front matter block as written, and its style (``yaml``, ``toml``, ``json``).
    block: str = ""
    style: str = ""

    @functools.cached_property
    def raw(self) -> dict[str, str]:
        """The text written after each top-level key (first line only), for a value the
        parser turned into something else (``title: 12_00``); read only when asked."""
        if self.style == "yaml":
            return lenient_pairs(self.block)
        if self.style == "toml":
            return lenient_toml_pairs(self.block)
        return {}


def split(text: str) -> tuple[str | None, str]:
    """Return ``(YAML front matter block or None, body)``.  Leading blank lines are allowed."""
    block, body, _style = split_any(text)
    return (block, body) if _style == "yaml" else (None, text)


def split_any(text: str) -> tuple[str | None, str, str]:
    """Return ``(front matter block or None, body, style)``, style ``yaml``, ``toml``,
    ``json`` or ``""`` (none)."""
    for style, opener, closer in (("yaml", _OPEN, _CLOSE), ("toml", _TOML_OPEN, _TOML_CLOSE)):
        opening = opener.match(text)
        if not opening:
            continue
        closing = closer.search(text, opening.end())
        if not closing:
            return None, text, ""
        block = text[opening.end() : closing.start()]
        return block, text[closing.end() :].lstrip("\r\n"), style
    opening = _JSON_OPEN.match(text)
    if opening:
        start = text.index("{")
        end: int | None
        try:
            _value, end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            end = _json_end(text, start)
            if end is None:
                return None, text, ""
        return text[start:end], text[end:].lstrip("\r\n"), "json"
    return None, text, ""


def _json_end(text: str, start: int) -> int | None:
    """Where a broken JSON object that starts at *start* ends: its closing brace on a line
    of its own (None when there is none)."""
    match = re.compile(r"^\}[ \t]*\r?$", re.M).search(text, start)
    return match.end() if match else None


def parse(text: str) -> FrontMatter:
    """Read the front matter of *text*; never raises for malformed metadata.

    Raises :class:`FrontMatterError` only for a block that would expand beyond
    :data:`MAX_VALUES` values.
    """
    block, body, style = split_any(text)
    if block is None:
        return FrontMatter(metadata={}, body=text)
    if style == "toml":
        metadata, warnings = _load_toml(block)
    elif style == "json":
        metadata, warnings = _load_json(block)
    else:
        metadata, warnings = _load_yaml(block)
    metadata = {str(key): value for key, value in metadata.items()}
    metadata = bounded(metadata, warnings)
    return FrontMatter(metadata=metadata, body=body, warnings=warnings, present=True,
                       block=block, style=style)


def yaml_load(block: str) -> Any:
    """What the YAML loader makes of *block* (raising its errors; dates kept as text): the
    general path that :func:`simple_yaml` short-cuts, and that tests compare it with."""
    return _HANDLER.load(block)


def _load_yaml(block: str) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    simple = simple_yaml(block)
    if simple is not None:
        return simple, warnings
    try:
        metadata = yaml_load(block)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        metadata = lenient_metadata(block)
        warnings = [f"front matter is not valid YAML ({problem}); salvaged {len(metadata)} keys"]
    except RecursionError:
        metadata = lenient_metadata(block)
        warnings = [f"front matter is nested too deeply; salvaged {len(metadata)} keys"]
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        metadata = lenient_metadata(block)
        warnings = ["front matter is not a mapping; salvaged key: value lines"]
    return metadata, warnings


# Most front matter is a few ``key: value`` lines and a list or two of plain values.  The
# YAML loader spends most of its time building nodes and objects for them in Python;
# such blocks are read here directly, with the loader's own rules for what a plain value
# stands for (its implicit resolvers: ``true``, ``null``, dates), and anything else
# (quoting with escapes, comments, blank or continued lines, nesting, numbers, anchors,
# tabs, characters YAML refuses or reads as line breaks) goes to the loader.  Tests
# compare both on every real front matter we have and on generated blocks.
_SIMPLE_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +(.*))?")
_SIMPLE_ITEM = re.compile(r"( *)-(?: +(.*))?")
#: A value that is one scalar: single or double quoted without escapes, or plain (no
#: indicator first, no ": " or " #" inside, nothing after a closing quote).
_SIMPLE_VALUE = re.compile(
    r"'([^'\n]*)'|\"([^\"\\\n]*)\"|((?![-?:,\[\]{}#&*!|>'\"%@`])(?:[^:#\n]|:(?! |$)|(?<! )#)*?)"
    r" *")
#: Characters the YAML reader refuses, takes as line breaks or as a byte order mark, and tabs.
_NOT_SIMPLE = re.compile("[^\x0A\x20-\x7E\xA0-\u2027\u202A-\uD7FF\uE000-\uFEFE"
                         "\uFF00-\uFFFD\U00010000-\U0010ffff]")
_STR, _BOOL, _NULL, _TIMESTAMP = (f"tag:yaml.org,2002:{name}"
                                  for name in ("str", "bool", "null", "timestamp"))
_NOT_READ = object()


def simple_yaml(block: str) -> dict[str, Any] | None:
    """What the YAML loader gives for a block of ``key: value`` lines and ``- value``
    lists of plain or simply quoted strings, booleans, nulls and dates (dates as text,
    as :class:`_Loader` keeps them); None for any other block (read it with the loader)."""
    if not block or _NOT_SIMPLE.search(block):
        return None
    result: dict[str, Any] = {}
    items: list[Any] | None = None  # the list of the last key, while its items are read
    indent = ""
    key = ""
    lines = block.split("\n")
    if not lines[-1]:
        lines.pop()  # the line end before the closing "---"
    for line in lines:
        match = _SIMPLE_KEY.fullmatch(line)
        if match is not None:
            key = _simple_scalar(match.group(1), plain_only=True)
            if not isinstance(key, str):
                return None
            written = match.group(2)
            if written is None or not written.strip(" "):
                items, indent = [], ""
                result[key] = None
                continue
            value = _simple_scalar(written)
            if value is _NOT_READ:
                return None
            items = None
            result[key] = value
            continue
        match = _SIMPLE_ITEM.fullmatch(line)
        if match is None or items is None:
            return None  # anything else, or an item after a value
        if not items:
            indent = match.group(1)
            result[key] = items
        elif match.group(1) != indent:
            return None
        written = match.group(2)
        value = None if written is None or not written.strip(" ") else _simple_scalar(written)
        if value is _NOT_READ:
            return None
        items.append(value)
    return result if key else None


@functools.lru_cache(maxsize=4096)  # authors, categories, tags and flags repeat
def _simple_scalar(written: str, plain_only: bool = False) -> Any:
    """The value of one scalar as the loader reads it (a string, bool or None), or
    :data:`_NOT_READ`."""
    match = _SIMPLE_VALUE.fullmatch(written)
    if match is None:
        return _NOT_READ
    single, double, plain = match.groups()
    if plain is None:
        return _NOT_READ if plain_only else single if single is not None else double
    if not plain:
        return _NOT_READ
    resolvers = _Loader.yaml_implicit_resolvers
    tag = _STR
    for tag_, pattern in [*resolvers.get(plain[0], ()), *resolvers.get(None, ())]:
        if pattern.match(plain):
            tag = tag_
            break
    if tag in (_STR, _TIMESTAMP):
        return plain
    if tag == _BOOL:
        return yaml.constructor.SafeConstructor.bool_values[plain.lower()]
    if tag == _NULL:
        return None
    return _NOT_READ


def _load_toml(block: str) -> tuple[dict[str, Any], list[str]]:
    try:
        return tomllib.loads(block), []
    except tomllib.TOMLDecodeError as exc:
        metadata: dict[str, Any] = dict(lenient_toml_metadata(block))
        return metadata, [f"front matter is not valid TOML ({exc}); "
                          f"salvaged {len(metadata)} keys"]


def _load_json(block: str) -> tuple[dict[str, Any], list[str]]:
    try:
        metadata = json.loads(block)
    except (ValueError, RecursionError) as exc:
        salvaged = {key: value for line in block.splitlines()
                    for key, value in _json_pair(line)}
        return salvaged, [f"front matter is not valid JSON ({exc}); "
                          f"salvaged {len(salvaged)} keys"]
    if not isinstance(metadata, dict):
        return {}, ["front matter is not a JSON object; ignored"]
    return metadata, []


def _json_pair(line: str) -> list[tuple[str, Any]]:
    """A ``"key": value`` line of a broken JSON block, as a (key, value) pair if it reads."""
    try:
        pair = json.loads("{" + line.strip().rstrip(",") + "}")
    except (ValueError, RecursionError):
        return []
    return list(pair.items()) if isinstance(pair, dict) else []


def bounded(metadata: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """*metadata* with long strings cut; :class:`FrontMatterError` when it holds (or, through
    YAML aliases, stands for) more than :data:`MAX_VALUES` values.

    Aliased values are counted each time they are used, since that is how they would be
    expanded; the walk stops at the bound, so it costs at most that many steps.
    """
    if _flat_and_short(metadata):
        return metadata
    count = 0
    cut: list[str] = []

    def walk(value: Any, key: str, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_VALUES or depth > 100:
            raise FrontMatterError(
                f"front matter holds more than {MAX_VALUES:,} values or is nested more than "
                "100 deep (YAML aliases that expand without limit?); refused")
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS:
                cut.append(key)
                return value[:MAX_VALUE_CHARS]
            return value
        if isinstance(value, dict):
            return {k: walk(v, key, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, key, depth + 1) for v in value]
        return value

    result = {key: walk(value, key, 0) for key, value in metadata.items()}
    if cut:
        names = ", ".join(dict.fromkeys(cut))
        warnings.append(f"front matter value of {names} is longer than {MAX_VALUE_CHARS:,} "
                        "characters; cut")
    return result


def _flat_and_short(metadata: dict[str, Any]) -> bool:
    """Whether :func:`bounded` has nothing to do: every value is a short string or another
    scalar, or a list of them, and all of them together are within the bound (as most
    front matter is: then the walk is skipped)."""
    count = 0
    for value in metadata.values():
        items = value if isinstance(value, list) else (value,)
        count += len(items) + (items is value)
        for item in items:
            if isinstance(item, str):
                if len(item) > MAX_VALUE_CHARS:
                    return False
            elif isinstance(item, (dict, list, tuple)):
                return False
    return count <= MAX_VALUES


def lenient_pairs(block: str) -> dict[str, str]:
    """The raw, unconverted text after each top-level ``key:`` (first line only)."""
    pairs: dict[str, str] = {}
    for line in block.splitlines():
        match = _KEY.match(line)
        if match:
            pairs.setdefault(match.group(1), (match.group(2) or "").strip())
    return pairs


def lenient_metadata(block: str) -> dict[str, Any]:
    """Salvage ``key: value`` pairs, ``- item`` lists and continuation lines."""
    result: dict[str, Any] = {}
    key: str | None = None
    for line in block.splitlines():
        match = _KEY.match(line)
        if match:
            key = match.group(1)
            value = match.group(2)
            result[key] = unquote(value) if value else None
            continue
        if key is None or not line.strip():
            continue
        item = _ITEM.match(line)
        current = result.get(key)
        if item and (current is None or isinstance(current, list)):
            result[key] = [*(current or []), unquote(item.group(1))]
        elif isinstance(current, str) or current is None:
            joined = f"{current or ''} {unquote(line.strip())}".strip()
            result[key] = joined
    return result


def lenient_toml_pairs(block: str) -> dict[str, str]:
    """The raw text after each top-level ``key =`` of a TOML block (first line only)."""
    pairs: dict[str, str] = {}
    for key, value in _toml_lines(block):
        pairs.setdefault(key, value)
    return pairs


def lenient_toml_metadata(block: str) -> dict[str, Any]:
    """Salvage the top-level ``key = value`` lines of a broken TOML block, each read alone."""
    result: dict[str, Any] = {}
    for key, value in _toml_lines(block):
        try:
            result[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            result[key] = unquote(value)
    return result


def _toml_lines(block: str) -> list[tuple[str, str]]:
    pairs = []
    for line in block.splitlines():
        if _TOML_TABLE.match(line):
            break  # keys below a [table] header are not top-level
        match = _TOML_KEY.match(line)
        if match:
            pairs.append((match.group(1), match.group(2)))
    return pairs


def unquote(value: str) -> str:
    """Strip the quotes YAML would have removed, even when they are unbalanced."""
    value = value.strip()
    stripped = value.strip("'\"").strip()
    if stripped != value:
        return stripped.replace("''", "'")
    return value
