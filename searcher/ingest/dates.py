"""Parse the many date spellings found in front matter into aware datetimes.

Feeds mix RFC 2822 (``Wed, 16 Jun 2021 02:23:51 GMT``), ISO 8601,
``YYYY-MM-DD HH:MM:SS`` and bare dates; YAML may already have turned some into
``date``/``datetime`` objects.  Naive values are read in a configurable zone
(default Asia/Shanghai, where these feeds come from) so that sorting and date
filters compare like with like.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

_CJK_DATE = re.compile(
    r"^\s*(\d{4})\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?"
    r"(?:[ T]*(\d{1,2})[:时点](\d{1,2})分?(?::?(\d{1,2})(?:\.\d+)?秒?)?)?\s*$"
)


_UNPADDED = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?"
    r"[ \t]*(?P<zone>Z|[+-]\d{2}:?\d{2})?)?"
)


class DateParseError(ValueError):
    """The value does not look like any supported date format."""


def zone(name: str | None) -> dt.tzinfo:
    """Return the tzinfo for *name* (IANA name), defaulting to Asia/Shanghai."""
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def parse_date(value: object, tz: dt.tzinfo | str | None = None) -> dt.datetime:
    """Return *value* as an aware datetime, or raise :class:`DateParseError`.

    Accepts datetime/date objects (as YAML produces them), epoch seconds and
    strings in RFC 2822, ISO 8601, ``YYYY-MM-DD[ HH:MM[:SS]]`` and
    ``YYYY年MM月DD日`` forms.  Naive values are interpreted in *tz*.
    """
    tzinfo = tz if isinstance(tz, dt.tzinfo) else zone(tz)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tzinfo)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tzinfo)
    if isinstance(value, bool):
        raise DateParseError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        try:
            return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise DateParseError(f"not a date: {value!r}") from exc
    if not isinstance(value, str) or not value.strip():
        raise DateParseError(f"not a date: {value!r}")
    text = value.strip().strip("'\"").strip()
    parsed = _parse_iso(text) or _parse_cjk(text) or _parse_rfc2822(text)
    if parsed is None:
        raise DateParseError(f"unrecognised date {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tzinfo)


def _parse_iso(text: str) -> dt.datetime | None:
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return dt.datetime.fromisoformat(candidate)
    except ValueError:
        pass
    # "2021-6-9 8:05", "2019-03-05T9:00:00+08:00" and other unpadded forms fromisoformat
    # refuses (a one-digit hour, day or month; a fraction; a zone with or without a colon).
    match = _UNPADDED.fullmatch(text)
    if not match:
        return None
    parsed = _build(match.groups()[:6])
    zone_text = match.group("zone")
    if parsed is None or not zone_text:
        return parsed
    if zone_text == "Z":
        return parsed.replace(tzinfo=dt.timezone.utc)
    sign = -1 if zone_text[0] == "-" else 1
    hours, minutes = int(zone_text[1:3]), int(zone_text[-2:])
    if hours > 23 or minutes > 59:
        return None
    return parsed.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes)))


def _parse_cjk(text: str) -> dt.datetime | None:
    match = _CJK_DATE.match(text)
    return _build(match.groups()) if match else None


def _build(groups: tuple[str | None, ...]) -> dt.datetime | None:
    numbers = [int(g) if g else 0 for g in groups]
    numbers += [0] * (6 - len(numbers))
    try:
        year, month, day, hour, minute, second = numbers[:6]
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" means UTC with no local zone known (RFC 2822 §3.3); Python returns it naive.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return *value* in UTC (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
