"""Split front matter from the body and read it, leniently when YAML refuses.

python-frontmatter reads well-formed YAML.  Real feeds also contain front
matter that is not YAML at all (unbalanced quotes, titles spread over several
lines); rather than drop those articles we salvage ``key: value`` pairs with a
line-based reader and report a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

_OPEN = re.compile(r"\A\s*---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)
_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
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
    raw: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    present: bool = False


def split(text: str) -> tuple[str | None, str]:
    """Return ``(front matter block or None, body)``.  Leading blank lines are allowed."""
    opening = _OPEN.match(text)
    if not opening:
        return None, text
    closing = _CLOSE.search(text, opening.end())
    if not closing:
        return None, text
    block = text[opening.end() : closing.start()]
    body = text[closing.end() :]
    return block, body.lstrip("\r\n")


def parse(text: str) -> FrontMatter:
    """Read the front matter of *text*; never raises for malformed metadata."""
    block, body = split(text)
    if block is None:
        return FrontMatter(metadata={}, body=text)
    raw = lenient_pairs(block)
    warnings: list[str] = []
    try:
        metadata = _HANDLER.load(block)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        metadata = lenient_metadata(block)
        warnings = [f"front matter is not valid YAML ({problem}); salvaged {len(metadata)} keys"]
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        metadata = lenient_metadata(block)
        warnings = ["front matter is not a mapping; salvaged key: value lines"]
    metadata = {str(key): value for key, value in metadata.items()}
    return FrontMatter(metadata=metadata, body=body, raw=raw, warnings=warnings, present=True)


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


def unquote(value: str) -> str:
    """Strip the quotes YAML would have removed, even when they are unbalanced."""
    value = value.strip()
    stripped = value.strip("'\"").strip()
    if stripped != value:
        return stripped.replace("''", "'")
    return value
