"""Date parsing: every spelling found in front matter becomes an aware datetime."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import yaml

from searcher.ingest.dates import DEFAULT_TIMEZONE, DateParseError, parse_date, to_utc, zone

UTC = dt.timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- strings with an explicit zone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("Wed, 16 Jun 2021 02:23:51 GMT", utc(2021, 6, 16, 2, 23, 51)),
        ("Wed, 16 Jun 2021 02:23:51 +0000", utc(2021, 6, 16, 2, 23, 51)),
        ("Wed, 16 Jun 2021 10:23:51 +0800", utc(2021, 6, 16, 2, 23, 51)),
        ("16 Jun 2021 02:23:51 GMT", utc(2021, 6, 16, 2, 23, 51)),
        ("Fri, 01 Jan 0900 00:00:00 GMT", utc(900, 1, 1)),
    ],
)
def test_rfc2822(text: str, expected_utc: dt.datetime) -> None:
    parsed = parse_date(text)
    assert parsed.tzinfo is not None
    assert parsed == expected_utc
    assert to_utc(parsed).replace(tzinfo=None) == expected_utc.replace(tzinfo=None)


def test_rfc2822_keeps_its_own_zone_whatever_tz_is_given() -> None:
    assert parse_date("Wed, 16 Jun 2021 02:23:51 GMT", "America/New_York") == utc(
        2021, 6, 16, 2, 23, 51
    )


def test_rfc2822_minus_zero_zone_is_utc() -> None:
    assert parse_date("Wed, 16 Jun 2021 02:23:51 -0000") == utc(2021, 6, 16, 2, 23, 51)


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2021-06-09T08:00:00Z", utc(2021, 6, 9, 8)),
        ("2021-06-09T08:00:00+00:00", utc(2021, 6, 9, 8)),
        ("2021-06-09T08:00:00+08:00", utc(2021, 6, 9, 0)),
        ("2021-06-09T08:00:00+0800", utc(2021, 6, 9, 0)),
        ("2021-06-09T10:00:00+09:00", utc(2021, 6, 9, 1)),
        ("2021-06-08T20:00:00-04:00", utc(2021, 6, 9, 0)),
        ("2021-06-09T08:05:30.250+08:00", utc(2021, 6, 9, 0, 5, 30, 250000)),
    ],
)
def test_iso8601_with_zone(text: str, expected_utc: dt.datetime) -> None:
    parsed = parse_date(text)
    assert parsed == expected_utc
    # An explicit zone wins over the default and over a zone passed in.
    assert parse_date(text, "UTC") == expected_utc


def test_iso8601_z_suffix_is_utc_not_local() -> None:
    parsed = parse_date("2021-06-09T08:00:00Z")
    assert parsed.utcoffset() == dt.timedelta(0)
    assert (parsed.hour, parsed.minute) == (8, 0)


# --- naive strings: read in Asia/Shanghai by default ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "wall"),
    [
        ("2021-06-09T08:00:00", (2021, 6, 9, 8, 0, 0)),
        ("2021-06-09 08:00:00", (2021, 6, 9, 8, 0, 0)),
        ("2021-06-09 08:05", (2021, 6, 9, 8, 5, 0)),
        ("2021-6-9 8:05", (2021, 6, 9, 8, 5, 0)),
        ("2021-06-09", (2021, 6, 9, 0, 0, 0)),
        ("2021/06/09", (2021, 6, 9, 0, 0, 0)),
        ("2021.6.9", (2021, 6, 9, 0, 0, 0)),
        ("2021年6月9日", (2021, 6, 9, 0, 0, 0)),
        ("2021年06月09日", (2021, 6, 9, 0, 0, 0)),
        ("2021年6月9日 08:05", (2021, 6, 9, 8, 5, 0)),
        ("2021年6月9日8时05分30秒", (2021, 6, 9, 8, 5, 30)),
        ("  '2021-06-09 08:00:00'  ", (2021, 6, 9, 8, 0, 0)),
    ],
)
def test_naive_strings_are_read_in_shanghai(text: str, wall: tuple[int, ...]) -> None:
    parsed = parse_date(text)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == dt.timedelta(hours=8)
    assert (
        parsed.year,
        parsed.month,
        parsed.day,
        parsed.hour,
        parsed.minute,
        parsed.second,
    ) == wall
    assert parsed == dt.datetime(*wall, tzinfo=SHANGHAI)


def test_naive_shanghai_converts_to_utc_eight_hours_earlier() -> None:
    assert to_utc(parse_date("2021-06-09 08:00:00")) == utc(2021, 6, 9, 0)
    assert to_utc(parse_date("2021-06-09")) == utc(2021, 6, 8, 16)


def test_cjk_date_with_hour_and_minute_only() -> None:
    assert parse_date("2021年6月9日 8时05分") == dt.datetime(2021, 6, 9, 8, 5, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("tz", "offset_hours"),
    [
        ("UTC", 0),
        ("Asia/Tokyo", 9),
        ("Europe/London", 1),  # June: British Summer Time
        ("America/New_York", -4),  # June: EDT
        (ZoneInfo("Asia/Tokyo"), 9),
        (dt.timezone(dt.timedelta(hours=-3)), -3),
    ],
)
def test_naive_values_use_the_given_zone(tz: object, offset_hours: int) -> None:
    parsed = parse_date("2021-06-09 12:00:00", tz)  # type: ignore[arg-type]
    assert parsed.utcoffset() == dt.timedelta(hours=offset_hours)
    assert (parsed.hour, parsed.minute) == (12, 0)
    assert to_utc(parsed) == utc(2021, 6, 9, 12 - offset_hours)


def test_given_zone_applies_to_date_only_and_cjk_forms() -> None:
    assert parse_date("2021-06-09", "UTC") == utc(2021, 6, 9)
    assert parse_date("2021年6月9日", "Asia/Tokyo") == dt.datetime(
        2021, 6, 9, tzinfo=ZoneInfo("Asia/Tokyo")
    )


def test_zone_default_and_named() -> None:
    assert DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert zone(None) == SHANGHAI
    assert zone("") == SHANGHAI
    assert zone("Europe/Paris") == ZoneInfo("Europe/Paris")


# --- objects YAML produces, and epoch numbers ----------------------------------------------------


def test_yaml_date_object() -> None:
    value = yaml.safe_load("date: 2021-06-09")["date"]
    assert type(value) is dt.date
    assert parse_date(value) == dt.datetime(2021, 6, 9, tzinfo=SHANGHAI)
    assert parse_date(value, "UTC") == utc(2021, 6, 9)


def test_yaml_naive_datetime_object() -> None:
    value = yaml.safe_load("date: 2021-06-09 08:30:00")["date"]
    assert isinstance(value, dt.datetime) and value.tzinfo is None
    parsed = parse_date(value)
    assert parsed == dt.datetime(2021, 6, 9, 8, 30, tzinfo=SHANGHAI)
    assert to_utc(parsed) == utc(2021, 6, 9, 0, 30)


def test_yaml_aware_datetime_object_is_kept() -> None:
    value = yaml.safe_load("date: 2021-06-09T10:00:00+09:00")["date"]
    parsed = parse_date(value, "America/New_York")
    assert parsed == utc(2021, 6, 9, 1)
    assert parsed.utcoffset() == dt.timedelta(hours=9)


def test_aware_datetime_passes_through_unchanged() -> None:
    value = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    assert parse_date(value) is value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, utc(1970, 1, 1)),
        (1623810231, utc(2021, 6, 16, 2, 23, 51)),
        (1623810231.5, utc(2021, 6, 16, 2, 23, 51, 500000)),
    ],
)
def test_epoch_seconds_are_utc(value: float, expected: dt.datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


# --- garbage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Invalid Date",
        "garbage",
        "",
        "   ",
        "''",
        "2021-13-01",
        "2021-02-30",
        "2021-06-09 25:00:00",
        "June 9th, sometime",
        None,
        True,
        False,
        [2021, 6, 9],
        {"year": 2021},
        10**20,
        float("nan"),
    ],
)
def test_garbage_raises_date_parse_error(value: object) -> None:
    with pytest.raises(DateParseError):
        parse_date(value)


def test_date_parse_error_is_a_value_error_naming_the_value() -> None:
    with pytest.raises(ValueError, match="Invalid Date"):
        parse_date("Invalid Date")


def test_to_utc_treats_naive_as_utc() -> None:
    assert to_utc(dt.datetime(2021, 6, 9, 8)) == utc(2021, 6, 9, 8)
    assert to_utc(dt.datetime(2021, 6, 9, 8, tzinfo=SHANGHAI)) == utc(2021, 6, 9, 0)
    assert to_utc(dt.datetime(2021, 6, 9, 8, tzinfo=SHANGHAI)).tzinfo is UTC


@pytest.mark.parametrize(("value", "expected"), [
    ("2019-03-05 9:00:00 +0800", dt.datetime(2019, 3, 5, 1, 0, tzinfo=dt.timezone.utc)),
    ("2019-03-05T9:00:00+08:00", dt.datetime(2019, 3, 5, 1, 0, tzinfo=dt.timezone.utc)),
    ("2019-3-5 9:05:07.25 -0130", dt.datetime(2019, 3, 5, 10, 35, 7, tzinfo=dt.timezone.utc)),
    ("2019-03-05T9:00Z", dt.datetime(2019, 3, 5, 9, 0, tzinfo=dt.timezone.utc)),
])
def test_one_digit_hours_with_a_zone(value: str, expected: dt.datetime) -> None:
    assert parse_date(value) == expected
