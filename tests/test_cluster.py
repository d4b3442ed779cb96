"""One setting names the index: the CLI, SearchEngine and the web app against a real
OpenSearch node (``--index http://host:port/NAME``), next to a local index of the same files.

Needs $SEARCHER_OPENSEARCH_URL (scripts/opensearch-node start); skips without it, fails in
CI (see tests/test_opensearch.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import uuid
import warnings
from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, SEED_RELPATH, SHARED, article, needs_shared, write
from test_opensearch import opensearch_url  # noqa: F401 - the fixture
from typer.testing import CliRunner

from searcher import SearchEngine
from searcher.cli import app
from searcher.config import Settings, load_settings
from searcher.errors import ConfigError, DocumentNotFoundError, IndexLockedError, SearcherError
from searcher.local.inspection import internals


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def cli_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def drop(url: str, name: str) -> None:
    from searcher.opensearch.client import connect

    client = connect(url)
    client.indices.delete(index=f"{name}-*", ignore=[404], expand_wildcards="all")
    client.close()


@pytest.fixture
def location(opensearch_url):  # noqa: F811
    """A fresh cluster location URL/NAME, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield f"{opensearch_url}/{name}"
    drop(opensearch_url, name)


@pytest.fixture(scope="module")
def pair(opensearch_url, tmp_path_factory):  # noqa: F811
    """sample_docs indexed by the CLI into a local folder and into the cluster (read-only)."""
    base = tmp_path_factory.mktemp("pair")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    local = str(base / "ix")
    name = f"test-{uuid.uuid4().hex[:8]}"
    cluster = f"{opensearch_url}/{name}"
    for where in (local, cluster):
        result = run("--index", where, "index", str(docs), "--quiet")
        assert result.exit_code == 0, result.output
    yield local, cluster, docs
    drop(opensearch_url, name)


#: What may differ between runs and back ends: timings and scores.
DIFFERING = ("elapsed_ms", "score")


def without_timing(data):
    """A --json result without what may differ between runs and back ends."""
    if isinstance(data, dict):
        return {k: without_timing(v) for k, v in data.items() if k not in DIFFERING}
    if isinstance(data, list):
        return [without_timing(v) for v in data]
    return data


# -- the CLI with --index URL ----------------------------------------------------------------


def test_search_json_is_the_local_json(pair):
    local, cluster, _ = pair
    for args in (['"城市"', "--author", "趣头条", "--author", "新华社"],
                 ['"市"', "--since", "2021-01-01", "--facets", "author,category,month"],
                 ['"的"', "--category", "科技", "--sort", "date", "-n", "3", "--page", "2"],
                 ['"的"', "--year", "2021", "--facets", "tag,year", "--facet-limit", "2"]):
        mine = cli_json("search", *args, "--index", cluster)
        theirs = cli_json("search", *args, "--index", local)
        assert mine["total"] > 0, args
        if "--sort" not in args:  # phrases rank by a constant score: ties in any order
            for data in (mine, theirs):
                data["hits"] = sorted(({k: v for k, v in h.items() if k != "rank"}
                                       for h in data["hits"]), key=lambda h: h["id"])
        assert without_timing(mine) == without_timing(theirs), args
    # both sides of the subcommand, and the old spelling
    a = cli_json("--index", cluster, "search", "聊城")
    b = cli_json("search", "聊城", "--index-dir", cluster)
    c = cli_json("-d", cluster, "search", "聊城")
    assert [h["id"] for h in a["hits"]] == [h["id"] for h in b["hits"]] == \
        [h["id"] for h in c["hits"]] != []


def test_show_stats_similar_and_suggest(pair):
    local, cluster, docs = pair
    seed = str(docs / SEED_RELPATH)
    shown = cli_json("show", seed, "--index", cluster)
    assert shown == cli_json("show", seed, "--index", local)
    plain = run("show", shown["id"], "--index", cluster)
    assert plain.exit_code == 0 and "世界认可日" in plain.output
    missing = run("show", "no-such-id", "--index", cluster)
    assert missing.exit_code == 2 and "no document with id or path" in missing.output

    stats, local_stats = cli_json("stats", "--index", cluster), cli_json("stats", "--index", local)
    assert set(local_stats) <= set(stats)
    assert stats["index_dir"] == cluster and stats["documents"] == local_stats["documents"] == 14
    assert stats["sources"] == local_stats["sources"] == [str(docs)]
    assert stats["fingerprint"] == local_stats["fingerprint"]
    text = run("stats", "--index", cluster)
    assert text.exit_code == 0 and "14 in" in text.output and cluster in text.output

    similar = cli_json("similar", shown["id"], "-n", "3", "--index", cluster)
    assert similar["query"] == shown["id"] and len(similar["hits"]) == 3
    assert shown["id"] not in {h["id"] for h in similar["hits"]}
    page2 = cli_json("similar", shown["id"], "-n", "2", "--page", "2", "--index", cluster)
    assert [h["rank"] for h in page2["hits"]] == [3, 4]
    assert page2["hits"][0]["id"] == similar["hits"][2]["id"]
    assert run("similar", "no-such-id", "--index", cluster).exit_code == 2

    for prefix in ("liaoc", "lc", "聊", "認證", "python", "5g", "世界"):
        mine = cli_json("suggest", prefix, "--index", cluster)
        theirs = [s for s in cli_json("suggest", prefix, "-n", "30", "--index", local)
                  if s["kind"] != "phrase"][:10]  # the cluster offers no two-word phrases
        assert mine == theirs, prefix
    assert cli_json("suggest", "zzzzqqq", "--index", cluster) == []


def test_check_reports_stale_missing_and_extra(opensearch_url, location, tmp_path):  # noqa: F811
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    local = str(tmp_path / "ix")
    for where in (local, location):
        assert run("index", str(docs), "--index", where, "-q").exit_code == 0
    clean = run("check", "--index", location)
    assert clean.exit_code == 0 and "up to date" in clean.output
    seed = docs / SEED_RELPATH
    seed.write_text(seed.read_text(encoding="utf-8").replace("聊城", "德州"), encoding="utf-8")
    (docs / "news/yangtze-flood-season.md").unlink()
    write(docs, "news/new.md", article("新文章", "济南发布了新规。"))
    report = run("check", "--index", location, "--json")
    assert report.exit_code == 1
    data = json.loads(report.stdout)
    assert data["stale"] == [str(seed)]
    assert data["extra"] == [str(docs / "news/yangtze-flood-season.md")]
    assert data["missing"] == [str(docs / "news/new.md")]
    assert data == json.loads(run("check", "--index", local, "--json").stdout)
    # check changed nothing; index brings it up to date
    assert run("index", "--index", location, "-q").exit_code == 0
    assert run("check", "--index", location).exit_code == 0


def test_the_setting_from_environment_and_settings_file(pair, tmp_path, monkeypatch):
    local, cluster, _ = pair
    env_run = run("search", "聊城", "--json", env={"SEARCHER_INDEX_DIR": cluster})
    assert env_run.exit_code == 0 and json.loads(env_run.stdout)["total"] == 2
    config = tmp_path / "searcher.toml"
    config.write_text(f'[searcher]\nindex_dir = "{cluster}"\n', encoding="utf-8")
    file_run = run("--config", str(config), "stats", "--json")
    assert file_run.exit_code == 0 and json.loads(file_run.stdout)["index_dir"] == cluster
    assert load_settings(config).index_dir == cluster  # not made relative to the file
    engine = SearchEngine(cluster)
    assert engine.is_cluster and engine.search("聊城").total == 2
    both = dict(author=["趣头条", "新华社"])
    assert engine.search("聊城", **both).total == SearchEngine(local).search("聊城", **both).total
    with pytest.raises(DocumentNotFoundError):
        engine.get("no-such-id")
    engine.close()


@pytest.mark.parametrize("bad", [
    "http://127.0.0.1:9200", "http://127.0.0.1:9200/", "https://:9200/x",
    "http://127.0.0.1:port/x", "http://127.0.0.1:9200/Upper", "http://127.0.0.1:9200/_x",
    "http://127.0.0.1:9200/a?b=c", "http://alice:s3cret@127.0.0.1:9200/x"])
def test_malformed_locations_are_config_errors(bad):
    with pytest.raises(ConfigError) as info:
        Settings(index_dir=bad)
    assert info.value.key == "index_dir"
    assert "s3cret" not in str(info.value) and "s3cret" not in str(info.value.value)
    shown = bad.replace("alice:s3cret", "***")
    assert shown in str(info.value)
    result = run("--index", bad, "stats")
    assert result.exit_code == 2 and "error:" in result.output
    assert "s3cret" not in result.output


def test_credentials_never_appear(pair, monkeypatch):
    _, cluster, _ = pair
    env = {"SEARCHER_OPENSEARCH_USER": "alice", "SEARCHER_OPENSEARCH_PASSWORD": "s3cret-pw"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    engine = SearchEngine(cluster)
    assert "s3cret" not in repr(engine) and "alice" not in repr(engine)
    shown = json.dumps(engine.stats().as_dict())
    assert "s3cret" not in shown and "alice" not in shown
    for args in (["stats", "--json"], ["search", "聊城"], ["show", "nothing"], ["-v", "stats"]):
        result = run("--index", cluster, *args, env=env)
        assert "s3cret" not in result.output and "alice" not in result.output, args
    unreachable = run("--index", "http://127.0.0.1:9/x", "stats", env=env)
    assert unreachable.exit_code == 2 and "s3cret" not in unreachable.output


def test_queries_use_the_user_dictionary(opensearch_url, tmp_path):  # noqa: F811
    from searcher.analysis.tokens import query_terms
    from searcher.opensearch import OpenSearchBackend

    docs = tmp_path / "docs"
    write(docs, "a.md", article("量子猫咪计划", "研究所启动了量子猫咪计划。"))
    write(docs, "b.md", article("量子力学", "量子和猫咪是两回事。"))
    userdict = tmp_path / "dict.txt"
    userdict.write_text("量子猫咪 100000 n\n", encoding="utf-8")
    settings = Settings(userdict=userdict)
    local = SearchEngine(tmp_path / "ix", settings=settings)
    local.index([docs])
    backend = OpenSearchBackend(opensearch_url, settings, name=f"test-{uuid.uuid4().hex[:8]}",
                                replicas=0)
    try:
        backend.index([docs])
        cut = backend.query_cut()
        assert query_terms("量子猫咪", cut) == ["量子猫咪"] == query_terms(
            "量子猫咪", internals(local).query_context().cut)
        plain = OpenSearchBackend(opensearch_url, Settings(), name=backend.name)
        assert query_terms("量子猫咪", plain.query_cut()) != ["量子猫咪"]
        for query in ("量子猫咪", "量子猫咪 研究所"):
            mine, theirs = backend.search(query), local.search(query)
            assert [h.id for h in mine.hits] == [h.id for h in theirs.hits], query
            assert [h.highlights for h in mine.hits] == [h.highlights for h in theirs.hits]
    finally:
        backend.client.indices.delete(index=f"{backend.name}-*", ignore=[404])
        backend.close()
        local.close()


# -- the web app ------------------------------------------------------------------------------


def test_serve_answers_from_the_cluster(pair, monkeypatch):
    """The same answers as from the folder; a cluster search waits in a pool thread (a
    network call that does not check searcher.time_limit), never on the event loop."""
    pytest.importorskip("httpx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from searcher.web import create_app

    local, cluster, docs = pair
    engine = SearchEngine(cluster)
    search, threads = engine.search, []

    def search_and_note_the_thread(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return search(*args, **kwargs)

    monkeypatch.setattr(engine, "search", search_and_note_the_thread)
    with TestClient(create_app(engine)) as web, \
            TestClient(create_app(SearchEngine(local))) as reference:
        for params in ({"q": '"城市"', "author": ["趣头条", "新华社"], "sort": "oldest"},
                       {"q": '"世界认可日"', "facets": "author,month"},
                       {"q": '"的"', "category": "科技", "sort": "date", "limit": 2}):
            mine, theirs = web.get("/api/search", params=params), reference.get(
                "/api/search", params=params)
            assert mine.status_code == 200, mine.text
            assert without_timing(mine.json()) == without_timing(theirs.json()), params
        assert web.get("/healthz").json() == {"status": "ok", "documents": 14}
        stats = web.get("/api/stats").json()
        assert stats["index_dir"] == cluster and stats["documents"] == 14
        suggestions = web.get("/api/suggest", params={"q": "liaoc"}).json()
        assert "聊城" in json.dumps(suggestions, ensure_ascii=False)
        seed = SearchEngine(local).search('"世界认可日"').hits[0].id
        page = web.get(f"/doc/{seed}", params={"q": "世界认可日"})
        assert page.status_code == 200 and "世界认可日" in page.text
        assert web.get("/api/search", params={"q": "“ ”"}).status_code == 400
        slip = web.get("/api/search", params={"q": "“世界认可日"}).json()
        assert slip["total"] > 0 and slip["notices"][0]["code"] == "unclosed_quote"
    assert threads and all(name.startswith("searcher-web") for name in threads), threads


# -- index --part K/N -------------------------------------------------------------------------


def _real_docs(folder: Path, count: int = 60) -> Path:
    """*count* news transcripts and every feed article from ../shared, copied."""
    news = sorted((SHARED / "corpus" / "xwlb" / "news").glob("*.md"))
    for path in random.Random(7).sample(news, count):
        target = folder / "xwlb" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    shutil.copytree(SHARED / "corpus" / "rsshub", folder / "rsshub")
    return folder


def _ids(url: str, name: str) -> list[str]:
    from searcher.opensearch.client import connect
    from searcher.opensearch.generations import current_index, read_manifest

    client = connect(url)
    try:
        client.indices.refresh(index=name)
        index = current_index(client, name)
        manifest = read_manifest(client, index)
        hits = int(client.count(index=index)["count"])
        assert hits == len(manifest)  # nothing duplicated
        return sorted(manifest)
    finally:
        client.close()


@needs_shared
def test_parts_share_the_documents(opensearch_url, tmp_path):  # noqa: F811
    from searcher.opensearch.sync import in_share

    docs = _real_docs(tmp_path / "docs")
    files = [p for p in docs.rglob("*") if p.is_file()]
    names = {k: f"test-{uuid.uuid4().hex[:8]}" for k in ("full", "parts")}
    try:
        full = run("--index", f"{opensearch_url}/{names['full']}", "index", str(docs), "--json")
        assert full.exit_code in (0, 1), full.output
        full_report = json.loads(full.stdout)
        parts_at = f"{opensearch_url}/{names['parts']}"
        reports = []
        for k in (1, 2):
            result = run("index", str(docs), "--part", f"{k}/2", "--index", parts_at, "--json")
            assert result.exit_code in (0, 1), result.output
            reports.append(json.loads(result.stdout))
        full_ids = _ids(opensearch_url, names["full"])
        assert _ids(opensearch_url, names["parts"]) == full_ids
        assert len(full_ids) == full_report["documents"] > 100
        shares = [{i for i in full_ids if in_share(i, (k, 2))} for k in (1, 2)]
        assert [r["added"] for r in reports] == [len(s) for s in shares]
        assert all(len(s) > len(full_ids) // 4 for s in shares)  # a real split
        assert sum(len(r["failed"]) for r in reports) <= len(full_report["failed"]) * 2
        # the same searches answer on both
        for query in ('"新闻联播"', "会见 总统", "经济"):
            assert SearchEngine(parts_at).search(query, limit=1000).total == \
                SearchEngine(f"{opensearch_url}/{names['full']}").search(
                    query, limit=1000).total, query

        # a file of part 1's share is removed: part 1 deletes it, part 2 touches nothing
        engine = SearchEngine(parts_at)
        victim = next(f for f in sorted(files) if in_share(engine.get(str(f)).id, (1, 2)))
        victim_id = engine.get(str(victim)).id
        other = next(f for f in sorted(files) if in_share(engine.get(str(f)).id, (2, 2)))
        victim.unlink()
        second = json.loads(run("index", "--part", "2/2", "--index", parts_at,
                                "--json").stdout)
        assert (second["deleted"], second["added"], second["updated"]) == (0, 0, 0)
        assert engine.get(victim_id).id == victim_id  # still there: not part 2's
        first = json.loads(run("index", "--part", "1/2", "--index", parts_at, "--json").stdout)
        assert (first["deleted"], first["added"], first["updated"]) == (1, 0, 0)
        assert first["unchanged"] == len(shares[0]) - 1
        with pytest.raises(DocumentNotFoundError):
            engine.get(victim_id)
        assert engine.get(str(other)).path == str(other)
        assert _ids(opensearch_url, names["parts"]) == sorted(set(full_ids) - {victim_id})
        report = SearchEngine(parts_at).check()
        assert (report.extra, report.stale) == ([], [])
        assert sorted(report.missing) == sorted(f["path"] for f in full_report["failed"])

        # a share run never rebuilds
        refused = run("index", "--full", "--part", "1/2", "--index", parts_at)
        assert refused.exit_code == 2 and "without --part" in refused.output
        engine.close()
    finally:
        for name in names.values():
            drop(opensearch_url, name)


def test_a_whole_run_and_a_share_run_exclude_each_other(opensearch_url, location):  # noqa: F811
    from searcher.opensearch import OpenSearchBackend
    from searcher.opensearch.lease import ClusterLock

    backend = OpenSearchBackend.from_location(location, Settings(), replicas=0)
    backend.index([SAMPLE_DOCS])
    client, url, name = backend.client, backend.url, backend.name
    with ClusterLock(client, url, name, part=(1, 2)):
        with ClusterLock(client, url, name, part=(2, 2)):  # shares run side by side
            pass
        with pytest.raises(IndexLockedError):
            backend.index([SAMPLE_DOCS], wait=0.5)  # a whole run waits for the shares
    with ClusterLock(client, url, name), pytest.raises(IndexLockedError):
        backend.index([SAMPLE_DOCS], part=(1, 2), wait=0.5)
    assert backend.index([SAMPLE_DOCS], part=(2, 2)).unchanged > 0
    backend.close()


def test_part_on_a_local_index_is_refused(tmp_path):
    result = run("index", str(SAMPLE_DOCS), "--part", "1/2", "--index", str(tmp_path / "ix"))
    assert result.exit_code == 2 and "needs a cluster index" in result.output
    assert not (tmp_path / "ix").exists()
    for bad in ("0/2", "3/2", "1", "a/b"):
        result = run("index", str(SAMPLE_DOCS), "--part", bad, "--index", str(tmp_path / "i"))
        assert result.exit_code == 2 and "--part" in result.output, bad
    with pytest.raises(SearcherError):
        SearchEngine(tmp_path / "ix2").index([SAMPLE_DOCS], part=(1, 2))
    assert os.listdir(tmp_path) == []


def test_suggestions_rank_common_readings_first_on_the_cluster(location, tmp_path):
    """As in the local index: changj spells 长江 in its common reading and 长期 only in a
    rare one (期 read ji), so 长江 comes first although 长期 is in more documents."""
    docs = tmp_path / "docs"
    for number in range(5):
        write(docs, f"s/long-{number}.md", article(f"长期规划 {number}", "长期发展，长期坚持。"))
    write(docs, "s/river.md", article("长江保护法实施", "长江保护法保护长江。"))
    engine = SearchEngine(location)
    assert not engine.index([docs]).failed
    texts = [s.text for s in engine.suggest("changj")]
    assert texts.index("长江") < texts.index("长期"), texts
    assert [s.text for s in engine.suggest("changq")][0] == "长期"
    engine.close()


def test_pinyin_readings_on_the_cluster_are_the_local_ones(pair):
    local, cluster, _ = pair
    for query in ("liaocheng", "liao cheng", "changjiang 保护", "聊城", "-liaocheng 聊城"):
        mine = SearchEngine(cluster).search(query).pinyin
        assert mine == SearchEngine(local).search(query).pinyin, query
    assert SearchEngine(cluster).search("liaocheng").pinyin == {"liaocheng": ["聊城"]}
