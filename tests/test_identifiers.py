"""Identifiers in technical writing (issue 23, part 3), on real blog posts.

A Latin/digit query word finds every document where it stands as a whole token between
non-alphanumeric characters (``application.yml`` → ``yml``, ``statistics.getAverage()`` →
``getAverage``); a dotted or slashed name queried whole matches as a phrase; a version
number does not match the documents holding its digits.  The ground truth is a regular
expression over the text the index holds (``engine.get(id)``), not searcher's analysis.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from searcher import SearchEngine
from searcher.analysis.tokens import index_terms
from searcher.local.inspection import internals

BLOGS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "blogs"
#: What a whole token may not touch (the tokenizer's Latin letters and digits).
ALNUM = r"0-9a-z\u00c0-\u024f"
WORDS = ["yml", "png", "getAverage", "json", "java.util.List", "docker-compose",
         "3.6.3", "application.yml", "SpringBoot", "java.util", "src/main/resources",
         "std::cout"]
#: Raw files worth copying: they hold one of the identifiers (plus a few that do not).
_WANTED = re.compile(r"getAverage|\.yml|\.png|java\.util\.List|3\.6\.3|docker-compose|\.json",
                     re.I)
_RARE = re.compile(r"getAverage|java\.util\.List|3\.6\.3|WithUnaryOptions|std::cout"
                   r"|src/main/resources")


def _fold(text: str) -> str:
    import opencc

    return opencc.OpenCC("t2s").convert(unicodedata.normalize("NFKC", text).lower())


def whole_token_docs(engine: SearchEngine, ids: list[str], word: str) -> set[str]:
    pattern = re.compile(rf"(?<![{ALNUM}]){re.escape(_fold(word))}(?![{ALNUM}])")
    found = set()
    for doc_id in ids:
        doc = engine.get(doc_id)
        if pattern.search(_fold(doc.title + "\n" + doc.text)):
            found.add(doc_id)
    return found


def all_ids(engine: SearchEngine) -> list[str]:
    return [fields["id"] for fields in internals(engine).searcher().all_stored_fields()]


@pytest.fixture(scope="module")
def tech_posts(tmp_path_factory):
    """About 80 real blog posts (those mentioning identifiers first), indexed locally."""
    if not BLOGS.is_dir():
        pytest.skip(f"{BLOGS} is not there")
    base = tmp_path_factory.mktemp("tech")
    target = base / "docs"
    rare, common, other = [], [], []
    for path in sorted(p for p in BLOGS.rglob("*.md") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        kind = rare if _RARE.search(text) else common if _WANTED.search(text) else other
        kind.append(path)
    for path in rare + common[:40] + other[::100]:
        dest = target / path.relative_to(BLOGS)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    engine = SearchEngine(base / "index")
    report = engine.index([target])
    assert not report.failed, report.failed
    yield engine, target
    engine.close()


def test_latin_tokens_are_indexed_by_their_parts() -> None:
    assert {"statistics", "getaverage"} <= set(index_terms("statistics.getAverage()"))
    assert {"application", "yml"} <= set(index_terms("见application.yml文件"))
    assert {"step1", "png"} <= set(index_terms("图片step1.png"))
    assert "3.6.3" in index_terms("from maven:3.6.3-jdk-8")
    # Version numbers keep their digits together: no "3" or "6" of their own.
    assert index_terms("升级到3.6.3版本") == ["升级", "到", "3.6.3", "版本"]
    assert "6" not in index_terms("python3.6")


@pytest.mark.parametrize("word", WORDS)
def test_identifier_finds_every_document_holding_it_as_a_token(tech_posts, word: str) -> None:
    engine, _ = tech_posts
    ids = all_ids(engine)
    truth = whole_token_docs(engine, ids, word)
    found = {h.id for h in engine.search(word, limit=1000).hits}
    assert found == truth, (word, len(truth), len(found))


def test_identifiers_are_there_to_find(tech_posts) -> None:
    """The set is not vacuous: the identifiers occur inside longer names."""
    engine, _ = tech_posts
    ids = all_ids(engine)
    assert len(whole_token_docs(engine, ids, "yml")) > len(
        whole_token_docs(engine, ids, "application.yml")) > 0
    # (mostly in prose: an image's file name in its URL is not text)
    assert len(whole_token_docs(engine, ids, "png")) >= 2
    assert whole_token_docs(engine, ids, "getAverage")


def test_dotted_name_is_a_phrase_and_versions_stay_whole(tech_posts) -> None:
    engine, _ = tech_posts
    ids = all_ids(engine)
    for name in ("java.util.List", "application.yml", "3.6.3"):
        hits = {h.id for h in engine.search(name, limit=1000).hits}
        assert hits == whole_token_docs(engine, ids, name), name
    # The parts apart are not the name: "java util list" finds more than the name.
    apart = {h.id for h in engine.search("java util list", limit=1000).hits}
    assert apart >= {h.id for h in engine.search("java.util.List", limit=1000).hits}


@pytest.mark.skipif(not os.environ.get("SEARCHER_OPENSEARCH_URL"),
                    reason="no OpenSearch cluster (SEARCHER_OPENSEARCH_URL)")
def test_cluster_finds_the_same_identifiers(tech_posts) -> None:
    import uuid

    from searcher.config import Settings
    from searcher.opensearch import OpenSearchBackend

    engine, folder = tech_posts
    backend = OpenSearchBackend(os.environ["SEARCHER_OPENSEARCH_URL"], Settings(),
                                name=f"test-{uuid.uuid4().hex[:8]}", replicas=0)
    try:
        report = backend.index([folder])
        assert not report.failed, report.failed
        for word in [*WORDS, "client.WithUnaryOptions"]:
            local = {h.id for h in engine.search(word, limit=1000).hits}
            cluster = {h.id for h in backend.search(word, limit=1000).hits}
            assert cluster == local, word
    finally:
        backend.client.indices.delete(index=f"{backend.name}-*", ignore=[404],
                                      expand_wildcards="all")
        backend.close()


@pytest.mark.slow
def test_every_blog_post_with_the_identifier(tmp_path) -> None:
    """The whole blogs corpus: yml and png are found wherever they stand as tokens."""
    if not BLOGS.is_dir():
        pytest.skip(f"{BLOGS} is not there")
    engine = SearchEngine(tmp_path / "index")
    engine.index([BLOGS])
    ids = all_ids(engine)
    for word in ("yml", "png", "getAverage", "java.util", "org.springframework",
                 "main/resources", "std::cout"):
        truth = whole_token_docs(engine, ids, word)
        assert truth
        assert {h.id for h in engine.search(word, limit=1000).hits} == truth, word
    engine.close()
