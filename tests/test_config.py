"""Settings: every value is checked where it is read, and the README's precedence holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from searcher import ConfigError, SearchEngine, Settings, load_settings
from searcher.config import ENV, OPTIONS, parse_size


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No SEARCHER_* from the machine running the tests, and no ./searcher.toml."""
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def toml(tmp_path: Path, body: str, name: str = "searcher.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_every_setting_has_a_variable_and_a_check():
    names = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    assert set(OPTIONS) == names
    assert {name: "SEARCHER_" + name.upper() for name in names} == ENV


@pytest.mark.parametrize(("body", "key", "value", "message"), [
    ('timezone = "Asia/Shangai"', "timezone", "Asia/Shangai",
     'timezone = "Asia/Shangai": unknown time zone (did you mean "Asia/Shanghai"?); '
     'expected an IANA time zone name'),
    ('pinyin = "false"', "pinyin", "false",
     'pinyin = "false": a string, not a boolean (write it without quotes); expected true or '
     'false'),
    ('max_bytes = "20 parsecs"', "max_bytes", "20 parsecs",
     "unknown unit 'parsecs'; expected bytes as a whole number or with a unit"),
    ("max_bytes = 20", "max_bytes", 20, "20 bytes is out of range"),
    ("max_bytes = -1", "max_bytes", -1, "negative"),
    ("max_bytes = 1.5", "max_bytes", 1.5, "a decimal number, not a size"),
    ('cache_bytes = "lots"', "cache_bytes", "lots", "not a size"),
    ("follow_links = 1", "follow_links", 1, "a number, not a boolean"),
    ('userdict = "missing.txt"', "userdict", "missing.txt", "missing.txt does not exist"),
    ("index_dir = 3", "index_dir", 3, "a number, not a path"),
    ("timezone = 8", "timezone", 8, "a number, not text"),
])
def test_bad_values_in_the_file_name_file_key_value_and_what_is_accepted(
        tmp_path, body, key, value, message):
    path = toml(tmp_path, f"[searcher]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    error = caught.value
    assert (error.source, error.key, error.value) == (str(path), key, value)
    assert error.expected and error.expected in str(error)
    assert str(error).startswith(f"{path}: {key} = ")
    assert message in str(error)


def test_unknown_keys_name_the_nearest_known_one(tmp_path):
    path = toml(tmp_path, "[searcher]\npinyn = false\n")
    with pytest.raises(ConfigError, match=r'unknown setting "pinyn" \(did you mean "pinyin"\?\)') \
            as caught:
        load_settings(path)
    assert caught.value.key == "pinyn" and "max_bytes" in caught.value.expected
    # A key above the [searcher] table would be silently ignored: refused instead.
    with pytest.raises(ConfigError, match="outside the \\[searcher\\] table"):
        load_settings(toml(tmp_path, 'pinyin = false\n[searcher]\ntimezone = "UTC"\n'))
    with pytest.raises(ConfigError, match="cannot read .*searcher.toml"):
        load_settings(toml(tmp_path, "[searcher\n"))


def test_a_userdict_that_is_not_utf8_is_refused_before_any_file_is_read(tmp_path):
    (tmp_path / "dict.txt").write_bytes("蓝鲸云盘 5\n".encode("gb18030"))
    path = toml(tmp_path, 'userdict = "dict.txt"\n')  # top-level keys work too
    with pytest.raises(ConfigError, match=r"dict.txt is not UTF-8 text \(byte 1 is 0xc0\)"):
        load_settings(path)


def test_good_values_are_normalised(tmp_path):
    (tmp_path / "dict.txt").write_text("蓝鲸云盘 5\n", encoding="utf-8")
    settings = load_settings(toml(tmp_path, """
        [searcher]
        index_dir = "ix"
        timezone = "Europe/Paris"
        userdict = "dict.txt"
        synonyms = ""
        pinyin = false
        max_bytes = "20MB"
        cache_bytes = "512 KiB"
        follow_links = true
        """.replace("\n        ", "\n")))
    assert settings.index_dir == tmp_path / "ix"          # relative to the file's folder
    assert settings.userdict == tmp_path / "dict.txt"
    assert settings.synonyms is None
    assert (settings.timezone, settings.pinyin, settings.follow_links) == (
        "Europe/Paris", False, True)
    assert (settings.max_bytes, settings.cache_bytes) == (20_000_000, 512 * 1024)


@pytest.mark.parametrize(("text", "size"), [
    ("1048576", 1048576), ("20MB", 20 * 10**6), ("20 mb", 20 * 10**6), ("512 KiB", 524288),
    ("20M", 20 * 2**20), ("1.5GiB", 3 * 2**29), (" 64 kib ", 65536), ("7b", 7), (4096, 4096),
])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "-1", "1.5", "0.1B", "20 MBs", "1e6", True, 2.0])
def test_sizes_refused(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(("raw", "value"), [
    ("0", False), ("1", True), ("true", True), ("FALSE", False), ("yes", True), (" no ", False),
])
def test_booleans_from_the_environment(monkeypatch, raw, value):
    monkeypatch.setenv("SEARCHER_PINYIN", raw)
    monkeypatch.setenv("SEARCHER_FOLLOW_LINKS", raw)
    settings = load_settings()
    assert settings.pinyin is value and settings.follow_links is value


@pytest.mark.parametrize(("variable", "raw", "message"), [
    ("SEARCHER_PINYIN", "maybe", "not a yes/no value; expected true or false (in the "
                                 "environment: 0, 1, true, false, yes or no)"),
    ("SEARCHER_FOLLOW_LINKS", "on", "not a yes/no value"),
    ("SEARCHER_MAX_BYTES", "20 MB please", "not a size"),
    ("SEARCHER_CACHE_BYTES", "-5", "not a size"),
    ("SEARCHER_TIMEZONE", "Asia/Beijing", "unknown time zone"),
    ("SEARCHER_USERDICT", "/no/such/dict.txt", "/no/such/dict.txt does not exist"),
    ("SEARCHER_INDEX_DIR", "/etc/hostname/ix",
     "/etc/hostname/ix is under /etc/hostname, which is a file, not a folder"),
])
def test_bad_environment_values_name_the_variable(monkeypatch, variable, raw, message):
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    error = caught.value
    assert (error.source, error.key, error.value) == ("environment", variable, raw)
    assert str(error).startswith(f'environment variable {variable}="{raw}": ')
    assert message in str(error)


def test_sizes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEARCHER_MAX_BYTES", "2 MiB")
    monkeypatch.setenv("SEARCHER_CACHE_BYTES", "0")
    settings = load_settings()
    assert (settings.max_bytes, settings.cache_bytes) == (2 * 2**20, 0)


def test_arguments_are_checked_too(tmp_path):
    with pytest.raises(ConfigError) as caught:
        SearchEngine(tmp_path / "ix", pinyin="no")
    assert (caught.value.source, caught.value.key, caught.value.value) == (
        "argument", "pinyin", "no")
    assert str(caught.value).startswith('argument pinyin="no": a string, not a boolean')
    with pytest.raises(ConfigError, match='did you mean "timezone"'):
        SearchEngine(tmp_path / "ix", time_zone="UTC")
    with pytest.raises(ConfigError, match="max_bytes"):
        Settings(max_bytes="huge")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        SearchEngine(Path("/etc/hostname"))
    assert SearchEngine(tmp_path / "ix", max_bytes="1 GiB").settings.max_bytes == 2**30
    engine = SearchEngine(settings=Settings(), timezone="UTC")
    assert engine.settings.timezone == "UTC"


def test_precedence_defaults_file_environment_arguments(tmp_path, monkeypatch):
    """README: defaults < searcher.toml < environment < arguments, key by key."""
    assert Settings().timezone == "Asia/Shanghai" and Settings().pinyin is True
    toml(tmp_path, '[searcher]\ntimezone = "Europe/Paris"\npinyin = false\nmax_bytes = "1MB"\n'
                   'index_dir = "from-file"\ncache_bytes = 1000000\n')
    settings = load_settings()   # ./searcher.toml
    assert (settings.timezone, settings.pinyin, settings.max_bytes, settings.cache_bytes) == (
        "Europe/Paris", False, 10**6, 10**6)
    assert settings.index_dir == tmp_path / "from-file"
    monkeypatch.setenv("SEARCHER_TIMEZONE", "America/New_York")
    monkeypatch.setenv("SEARCHER_PINYIN", "yes")
    monkeypatch.setenv("SEARCHER_INDEX_DIR", "from-env")
    settings = load_settings()
    assert (settings.timezone, settings.pinyin, settings.max_bytes) == (
        "America/New_York", True, 10**6)           # max_bytes still from the file
    assert settings.index_dir == Path("from-env")
    settings = load_settings(timezone="UTC", index_dir=tmp_path / "arg", pinyin=None)
    assert (settings.timezone, settings.pinyin) == ("UTC", True)   # None = not given
    assert settings.index_dir == tmp_path / "arg"
    engine = SearchEngine(tmp_path / "engine-ix", pinyin=False)
    assert (engine.settings.timezone, engine.settings.pinyin, engine.settings.cache_bytes) == (
        "America/New_York", False, 10**6)
    assert engine.settings.index_dir == tmp_path / "engine-ix"
    # An empty variable counts as unset.
    monkeypatch.setenv("SEARCHER_TIMEZONE", "")
    assert load_settings().timezone == "Europe/Paris"


def test_a_misspelt_variable_is_reported(monkeypatch, caplog):
    monkeypatch.setenv("SEARCHER_PINYN", "0")
    load_settings()
    assert "SEARCHER_PINYN is not used by searcher (did you mean SEARCHER_PINYIN?)" in caplog.text


def test_settings_from_the_environment_change_real_results(sample_index, monkeypatch):
    """SEARCHER_PINYIN=no switches pinyin off (the string "false" in the file used to leave it
    on); a timezone from the environment moves the date filter's day boundaries."""
    engine, _ = sample_index
    assert engine.search("liaocheng").total >= 1
    monkeypatch.setenv("SEARCHER_PINYIN", "no")
    with SearchEngine(engine.settings.index_dir) as off:
        assert off.settings.pinyin is False
        assert off.search("liaocheng").total == 0
    # The seed article is dated 2021-06-16 02:23:51 UTC: still June 15 in New York.
    monkeypatch.setenv("SEARCHER_TIMEZONE", "America/New_York")
    seed = "聊城市市场监管局组织开展丰富多彩的_世界认可日_主题宣传活动"
    with SearchEngine(engine.settings.index_dir) as ny:
        results = ny.search("认证认可", until="2021-06-15")
        assert [hit.title for hit in results.hits] == [seed] and not results.relaxed
    monkeypatch.setenv("SEARCHER_TIMEZONE", "Asia/Shanghai")
    with SearchEngine(engine.settings.index_dir) as sh:
        assert seed not in [hit.title for hit in sh.search("认证认可", until="2021-06-15").hits]
