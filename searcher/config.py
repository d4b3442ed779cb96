"""Settings: defaults, then ``searcher.toml``, then environment, then explicit arguments.

Only things that change results or where files live are settings; everything
else is an argument of the call that needs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CONFIG_NAME = "searcher.toml"
DEFAULT_INDEX_DIR = "index_data"
ENV = {
    "index_dir": "SEARCHER_INDEX_DIR",
    "userdict": "SEARCHER_USERDICT",
    "synonyms": "SEARCHER_SYNONYMS",
    "timezone": "SEARCHER_TIMEZONE",
}


@dataclass(frozen=True)
class Settings:
    """Everything that decides how documents are read and analysed, and where the index is."""

    index_dir: Path = Path(DEFAULT_INDEX_DIR)
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
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-None *overrides* applied."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        for key in ("index_dir", "userdict", "synonyms"):
            if key in clean:
                clean[key] = Path(clean[key])
        return replace(self, **clean)


def load_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from *config* (or ./searcher.toml if present), the environment and *overrides*."""
    values: dict[str, Any] = {}
    path = Path(config) if config else Path(CONFIG_NAME)
    if config and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        values.update(_read_toml(path))
    for key, env in ENV.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    settings = Settings().with_overrides(**values)
    return settings.with_overrides(**overrides)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    section = data.get("searcher", data)
    base = path.parent
    for key in ("index_dir", "userdict", "synonyms"):
        if key in section and not Path(section[key]).is_absolute():
            section[key] = str(base / section[key])
    return dict(section)
