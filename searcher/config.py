"""Settings: defaults, then ``searcher.toml``, then environment, then explicit arguments.

Only things that change results or where files live are settings; everything
else is an argument of the call that needs it.

Every value is checked where it is read (type, range, a real time zone, a
readable dictionary), so a bad setting stops the command at once with a
:class:`~searcher.errors.ConfigError` naming the file and key or the
variable; it never reaches the indexer, where it would fail every file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

CONFIG_NAME = "searcher.toml"
DEFAULT_INDEX_DIR = "index_data"
#: The table of searcher.toml that holds the settings (top-level keys work too).
TABLE = "searcher"
#: Smallest and largest accepted ``max_bytes``: below 64 KiB ordinary articles would be
#: skipped, so a typo (``max_bytes = 20``) would fail every file of a run.
MIN_MAX_BYTES, MAX_MAX_BYTES = 64 * 1024, 1024**3
#: Environment variables read outside Settings (listed so typos of them are noticed).
OTHER_ENV = ("SEARCHER_CACHE_DIR",)


@dataclass(frozen=True)
class Settings:
    """Everything that decides how documents are read and analysed, and where the index is.

    Constructing one checks every value (``Settings(pinyin="no")`` raises
    :class:`ConfigError`); sizes may be given with units (``"20MB"``).
    """

    #: A folder (the embedded index) or an ``http(s)://host:port/NAME`` URL (an OpenSearch
    #: index or alias NAME; see :func:`parse_cluster_url`).
    index_dir: Path | str = Path(DEFAULT_INDEX_DIR)
    #: IANA zone for dates written without one.
    timezone: str = "Asia/Shanghai"
    #: jieba user dictionary (``word [freq] [tag]`` per line); part of the fingerprint.
    userdict: Path | None = None
    #: Synonym groups, one per line, comma-separated; applied at query time.
    synonyms: Path | None = None
    #: Let Latin queries that spell whole pinyin syllables match Chinese words.
    pinyin: bool = True
    #: Files larger than this are reported and skipped.
    max_bytes: int = 20 * 1024 * 1024
    #: Upper bound, in bytes, on what one process keeps in its search caches (postings,
    #: segment arrays, segment texts): a long-lived server must not grow without limit.
    cache_bytes: int = 256 * 1024 * 1024
    #: Follow links that lead out of a source folder (off: such links are skipped and reported).
    follow_links: bool = False
    #: ``searcher serve``: leave source paths and folders out of every answer and page.
    public: bool = False
    #: Seconds a search may take before it stops with TimeLimitExceeded (0: no limit).
    search_timeout: float = 10.0
    #: Reading one file may take this many seconds, and grow the reading process by
    #: ``parse_memory`` bytes; a file over either bound is reported by name and skipped.
    parse_seconds: float = 60.0
    parse_memory: int = 1024**3
    #: Index drafts too (``draft: true``, ``published: false``, files under ``_drafts/``),
    #: which site generators do not publish (off: they are skipped and reported).
    drafts: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, option in OPTIONS.items():
            object.__setattr__(self, name, option.check(getattr(self, name), _ARGUMENT, name))

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None *overrides* applied (each checked; source ``argument``)."""
        return self._apply(overrides, "argument")

    def _apply(self, overrides: dict[str, Any], source: str) -> Settings:
        origin = _Origin(source, base=None, from_text=False)
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            option = _option(key, origin)
            clean[key] = option.check(value, origin, key)
        return replace(self, **clean)


# -- checking --------------------------------------------------------------------------------

class _Invalid(Exception):
    """A value a checker refuses: *problem* says why (the option says what is accepted)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class _Origin:
    """Where values come from: a file (relative paths resolve against *base*), the
    environment (*from_text*: every value is a string), or arguments."""

    source: str
    base: Path | None
    from_text: bool

    def describe(self, key: str, value: Any) -> str:
        if self.source == "environment":
            return f"environment variable {key}={_show(value)}"
        if self.source == "argument":
            return f"argument {key}={_show(value)}"
        if self.source == "command line":
            return f"--{key.replace('_', '-')} {_show(value)}"
        return f"{self.source}: {key} = {_show(value)}"


_ARGUMENT = _Origin("argument", base=None, from_text=False)


def _show(value: Any) -> str:
    """A value as the user wrote it: TOML-like for strings and booleans (a URL's user
    information, which may hold a password, is never shown)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        text = text if isinstance(text, str) else os.fsdecode(text)
        return json.dumps(_redact(text), ensure_ascii=False)
    return repr(value)


_URL_USER = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*:/+)(?P<user>[^/@]*)@")


def _redact(text: str) -> str:
    """*text* with the ``user:password@`` part of a URL replaced by ``***@``."""
    return _URL_USER.sub(lambda m: m.group("scheme") + "***@", text, count=1)


@dataclass(frozen=True)
class Option:
    """One setting: its variable, how a raw value becomes a checked one, what is accepted."""

    name: str
    env: str
    parse: Callable[[Any, _Origin], Any]
    expected: str
    doc: str

    def check(self, value: Any, origin: _Origin, key: str) -> Any:
        """The checked, normalised *value*, or ConfigError naming *origin* and *key*."""
        try:
            return self.parse(value, origin)
        except _Invalid as exc:
            where = origin.describe(key, value)
            shown = _redact(value) if isinstance(value, str) else value
            raise ConfigError(f"{where}: {exc.problem}; expected {self.expected}",
                              source=origin.source, key=key, value=shown,
                              expected=self.expected) from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"a {_kind(value)}, not text")
    if "\0" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise _Invalid("holds a NUL or an undecodable character")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "decimal number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


def _path(value: Any, origin: _Origin) -> Path:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
        if isinstance(value, bytes):
            value = os.fsdecode(value)
    if isinstance(value, str) and not value.strip():
        raise _Invalid("an empty path")
    if not isinstance(value, str):
        raise _Invalid(f"a {_kind(value)}, not a path")
    if "\0" in value:
        raise _Invalid("holds a NUL character")
    path = Path(value).expanduser()
    if origin.base is not None and not path.is_absolute():
        path = origin.base / path
    return path


#: An index location naming a cluster (``https:/host`` too: what ``pathlib.Path`` makes of it).
_CLUSTER = re.compile(r"^https?:/", re.IGNORECASE)
#: Characters OpenSearch refuses in index and alias names.
_BAD_NAME = re.compile(r'[\\/*?"<>|\s,#:A-Z]')


def is_cluster_url(location: Any) -> bool:
    """Whether an index location names a cluster (``http(s)://…``) rather than a folder."""
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    return isinstance(location, str) and bool(_CLUSTER.match(location))


def parse_cluster_url(location: str | os.PathLike[str]) -> tuple[str, str]:
    """``(cluster URL, index name)`` of ``http(s)://host[:port][/prefix]/NAME``.

    Raises ValueError saying what is wrong (never echoing user information:
    credentials belong in the environment, see :mod:`searcher.opensearch.client`).
    """
    from urllib.parse import urlsplit

    text = os.fspath(location)
    text = re.sub(r"^(https?):/+", lambda m: m.group(1).lower() + "://", text,
                  flags=re.IGNORECASE)
    parts = urlsplit(text)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("holds user information; give credentials in "
                         "SEARCHER_OPENSEARCH_USER/SEARCHER_OPENSEARCH_PASSWORD or "
                         "SEARCHER_OPENSEARCH_API_KEY, never in the URL")
    if parts.query or parts.fragment:
        raise ValueError("has a query string or fragment")
    if not parts.hostname:
        raise ValueError("names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a bad port") from None
    path = parts.path.rstrip("/")
    prefix, _, name = path.rpartition("/")
    if not name:
        raise ValueError("names no index (add /NAME after the host and port)")
    if _BAD_NAME.search(name) or name[0] in "-_+" or name in (".", "..") \
            or len(name.encode("utf-8")) > 200:
        raise ValueError(f"has an invalid index name {name!r} (lowercase, no "
                         'spaces or \\/*?"<>|,#:, not starting with -, _ or +)')
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{prefix}", name


def _parse_index_dir(value: Any, origin: _Origin) -> Path | str:
    if is_cluster_url(value):
        try:
            url, name = parse_cluster_url(value)
        except ValueError as exc:
            raise _Invalid(f"not a usable OpenSearch location: it {exc}") from None
        return f"{url}/{name}"
    path = _path(value, origin)
    # The nearest part of the path that exists must be a folder: an index cannot be made
    # in (or under) a regular file, and saying so now beats a FileExistsError later.
    for part in (path, *path.absolute().parents):
        try:
            is_dir = part.is_dir()
            exists = is_dir or part.exists()
        except OSError:  # unreadable: let the command report what it cannot do
            return path
        if exists and not is_dir:
            where = "is" if part == path else f"is under {part}, which is"
            raise _Invalid(f"{path} {where} a file, not a folder")
        if exists:
            return path
    return path


def _parse_text_file(value: Any, origin: _Origin) -> Path | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # "" switches the file off (e.g. to override searcher.toml)
    path = _path(value, origin)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise _Invalid(f"{path} is a folder") from None
    except FileNotFoundError:
        raise _Invalid(f"{path} does not exist") from None
    except OSError as exc:
        raise _Invalid(f"{path} cannot be read ({exc.strerror})") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"{path} is not UTF-8 text (byte {exc.start + 1} is "
                       f"0x{data[exc.start]:02x})") from None
    return path


def _parse_timezone(value: Any, origin: _Origin) -> str:
    name = _text(value).strip()
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError, OSError: all "unknown"
        raise _Invalid(f"unknown time zone{_suggest_zone(name)}") from None
    return name


def _suggest_zone(name: str) -> str:
    import difflib
    from zoneinfo import available_timezones

    zones = {zone.lower(): zone for zone in available_timezones()}
    close = difflib.get_close_matches(name.lower(), zones, n=1, cutoff=0.6)
    return f" (did you mean {_show(zones[close[0]])}?)" if close else ""


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


def _parse_bool(value: Any, origin: _Origin) -> bool:
    if isinstance(value, bool):
        return value
    if origin.from_text and isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _Invalid("not a yes/no value")
    if isinstance(value, str):
        raise _Invalid("a string, not a boolean (write it without quotes)")
    raise _Invalid(f"a {_kind(value)}, not a boolean")


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
          "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(value: Any) -> int:
    """Bytes from ``20971520``, ``"20MB"`` (10**6), ``"512 KiB"`` or ``"20M"`` (2**20).

    Raises ValueError for anything else (negative, fractional bytes, unknown unit).
    """
    try:
        return _size(value)
    except _Invalid as exc:
        raise ValueError(exc.problem) from None


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Invalid(f"a {_kind(value)}, not a size")
    if isinstance(value, int):
        if value < 0:
            raise _Invalid("negative")
        return value
    match = _SIZE.fullmatch(value)
    if not match:
        raise _Invalid("not a size")
    unit = match.group(2).lower()
    if unit not in _UNITS:
        raise _Invalid(f"unknown unit {match.group(2)!r}")
    number = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(number) or number != int(number):
        raise _Invalid("not a whole number of bytes")
    return int(number)


def _seconds(low: float, high: float) -> Callable[[Any, _Origin], float]:
    """A number of seconds from *low* to *high* (also as text, from a file or the
    environment)."""
    def parse(value: Any, origin: _Origin) -> float:
        if origin.from_text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise _Invalid("not a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"a {_kind(value)}, not a number of seconds")
        if not (math.isfinite(value) and low <= value <= high):
            raise _Invalid(f"{value:g} s is out of range")
        return float(value)
    return parse


def _sized(low: int, high: int | None) -> Callable[[Any, _Origin], int]:
    def parse(value: Any, origin: _Origin) -> int:
        size = _size(value)
        if size < low or (high is not None and size > high):
            raise _Invalid(f"{_human(size)} is out of range")
        return size
    return parse


def _human(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


_SIZE_FORMS = "bytes as a whole number or with a unit (20MB, 512 KiB, 20M)"


#: Every setting, in the order README documents them.
OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("index_dir", "SEARCHER_INDEX_DIR", _parse_index_dir,
           "a folder path (created by the first 'searcher index') or an OpenSearch "
           "location http(s)://host:port/NAME",
           "where the index lives"),
    Option("timezone", "SEARCHER_TIMEZONE", _parse_timezone,
           'an IANA time zone name such as "Asia/Shanghai" or "UTC"',
           "zone for dates written without one"),
    Option("userdict", "SEARCHER_USERDICT", _parse_text_file,
           'a readable UTF-8 text file ("" for none)',
           "jieba user dictionary"),
    Option("synonyms", "SEARCHER_SYNONYMS", _parse_text_file,
           'a readable UTF-8 text file ("" for none)',
           "synonym groups, applied at query time"),
    Option("pinyin", "SEARCHER_PINYIN", _parse_bool,
           "true or false (in the environment: 0, 1, true, false, yes or no)",
           "match pinyin spellings of Chinese words"),
    Option("max_bytes", "SEARCHER_MAX_BYTES", _sized(MIN_MAX_BYTES, MAX_MAX_BYTES),
           f"{_SIZE_FORMS}, from 64 KiB to 1 GiB",
           "larger files are reported, not indexed"),
    Option("cache_bytes", "SEARCHER_CACHE_BYTES", _sized(0, None),
           f"{_SIZE_FORMS}, 0 or more",
           "memory budget of one process's search caches"),
    Option("follow_links", "SEARCHER_FOLLOW_LINKS", _parse_bool,
           "true or false (in the environment: 0, 1, true, false, yes or no)",
           "follow symbolic links inside the source folders"),
    Option("public", "SEARCHER_PUBLIC", _parse_bool,
           "true or false (in the environment: 0, 1, true, false, yes or no)",
           "searcher serve: leave source paths and folders out of every answer and page"),
    Option("search_timeout", "SEARCHER_SEARCH_TIMEOUT", _seconds(0, math.inf),
           "seconds as a number, 0 or more (0: no limit)",
           "time limit of one search (TimeLimitExceeded; the CLI exits 124)"),
    Option("parse_seconds", "SEARCHER_PARSE_SECONDS", _seconds(0.01, 86_400),
           "a number of seconds, from 0.01 to 86400",
           "time bound of reading one file (a file over it is reported and skipped)"),
    Option("parse_memory", "SEARCHER_PARSE_MEMORY", _sized(2**20, None),
           f"{_SIZE_FORMS}, at least 1 MiB",
           "memory bound of reading one file (a file over it is reported and skipped)"),
    Option("drafts", "SEARCHER_DRAFTS", _parse_bool,
           "true or false (in the environment: 0, 1, true, false, yes or no)",
           "index drafts (draft: true, published: false, _drafts/) too"),
)}
#: Settings name → environment variable.
ENV = {name: option.env for name, option in OPTIONS.items()}


def _option(key: str, origin: _Origin) -> Option:
    option = OPTIONS.get(key)
    if option is not None:
        return option
    import difflib

    close = difflib.get_close_matches(key, OPTIONS, n=1, cutoff=0.5)
    hint = f" (did you mean {_show(close[0])}?)" if close else ""
    expected = "one of " + ", ".join(OPTIONS)
    where = "argument" if origin.source == "argument" else origin.source
    raise ConfigError(f"{where}: unknown setting {_show(key)}{hint}; expected {expected}",
                      source=origin.source, key=key, value=None, expected=expected)


# -- loading ---------------------------------------------------------------------------------

def load_settings(config: str | os.PathLike[str] | None = None, *,
                  source: str = "argument", **overrides: Any) -> Settings:
    """Settings from *config* (or ./searcher.toml if present), the environment and *overrides*.

    Later sources win: defaults < file < environment < *overrides* (None
    means "not given").  Every value is checked; the first bad one raises
    :class:`ConfigError` naming it.  *source* names where *overrides* came
    from in error messages (the CLI passes ``command line``).
    """
    path = Path(config) if config else Path(CONFIG_NAME)
    if config and not path.is_file():
        raise ConfigError(f"config file {path} does not exist" if not path.exists()
                          else f"config file {path} is not a file",
                          source=str(path), key=None, value=None, expected="a TOML file")
    values: dict[str, Any] = {}
    if path.is_file():
        origin = _Origin(str(path), base=path.absolute().parent, from_text=False)
        for key, raw in _read_toml(path).items():
            values[key] = _option(key, origin).check(raw, origin, key)
    environment = _Origin("environment", base=None, from_text=True)
    for name, option in OPTIONS.items():
        raw = os.environ.get(option.env, "")
        if raw.strip():
            values[name] = option.check(raw, environment, option.env)
    _warn_unknown_environment()
    settings = Settings(**values)._apply(overrides, source)
    log.info("settings (%s, environment, %s): %s",
             path if path.is_file() else "no settings file", source,
             ", ".join(f"{name}={_show(getattr(settings, name))}" for name in OPTIONS))
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 (byte {exc.start + 1})",
                          source=str(path), expected="a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", source=str(path),
                          expected="a TOML file") from None
    if TABLE not in data:
        return data
    outside = [key for key in data if key != TABLE]
    if outside:
        raise ConfigError(
            f"{path}: {_show(outside[0])} is outside the [{TABLE}] table; "
            f"put every setting under [{TABLE}]",
            source=str(path), key=outside[0], value=data[outside[0]],
            expected=f"settings under [{TABLE}]")
    section = data[TABLE]
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {TABLE} = {_show(section)} must be a table ([{TABLE}])",
                          source=str(path), key=TABLE, value=section,
                          expected=f"a [{TABLE}] table")
    return dict(section)


def _warn_unknown_environment() -> None:
    """Log SEARCHER_* variables that look like a misspelt known one (they are ignored)."""
    known = [*ENV.values(), *OTHER_ENV]
    for name in os.environ:
        if name.startswith("SEARCHER_") and name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            if close:
                log.warning("environment variable %s is not used by searcher "
                            "(did you mean %s?)", name, close[0])
