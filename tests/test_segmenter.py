"""Our precise-mode cut (indexing) and the frozen-dictionary query segmenter must cut
exactly like jieba's own code."""

from __future__ import annotations

import random
import re

import pytest
from conftest import SAMPLE_DOCS, SHARED, needs_shared

from searcher.analysis.normalize import fold
from searcher.analysis.segmenter import QuerySegmenter, install_dictionary
from searcher.analysis.tokens import load_userdict, segment_han
from searcher.ingest.documents import load_document

HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory) -> QuerySegmenter:
    path = tmp_path_factory.mktemp("dict") / "querydict.sqlite"
    install_dictionary(path, "test-fingerprint", lambda: segment_han("初始化"))
    return QuerySegmenter(path)


def jieba_cut(run: str) -> list[str]:
    """jieba's own precise mode (HMM on) on a Han run: the reference."""
    import jieba

    segment_han("初始化")  # jieba loaded and set up the way indexing sets it up
    return list(jieba.dt._Tokenizer__cut_DAG(run))


def han_runs(folders) -> list[str]:
    runs: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.md")):
            doc = load_document(path, folder)
            runs.extend(HAN_RUN.findall(fold(doc.title + "\n" + doc.body)))
    return runs


def test_identical_to_jieba_on_sample_docs(segmenter):
    runs = han_runs([SAMPLE_DOCS])
    assert len(runs) > 100
    for run in runs:
        expected = jieba_cut(run)
        assert segment_han(run) == expected, run
        assert segmenter.cut(run) == expected, run


@needs_shared
def test_identical_to_jieba_on_the_real_feed():
    runs = han_runs([SHARED / "corpus" / "rsshub"])
    assert len(runs) > 1000
    for run in runs:
        assert segment_han(run) == jieba_cut(run), run


def test_identical_to_jieba_on_query_sized_pieces(segmenter):
    folders = [SAMPLE_DOCS] + ([SHARED / "corpus" / "rsshub"]
                               if (SHARED / "corpus" / "rsshub").is_dir() else [])
    text = "".join(han_runs(folders))
    rng = random.Random(5)
    for _ in range(3000):
        size = rng.randint(1, 12)
        start = rng.randrange(0, len(text) - size)
        piece = text[start : start + size]
        assert segmenter.cut(piece) == jieba_cut(piece), piece


def test_unknown_names_go_through_the_hmm(segmenter):
    for name in ["记者侯梦茹通讯员李兆敏", "袁荣谦带领认证认可科", "茌平区东昌府区"]:
        assert segmenter.cut(name) == segment_han(name) == jieba_cut(name)


def test_user_dictionary_words_are_frozen_too(tmp_path):
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("蓝鲸云盘 100 n\n", encoding="utf-8")
    load_userdict(userdict)
    path = tmp_path / "querydict.sqlite"
    install_dictionary(path, "with-userdict", lambda: None)
    assert QuerySegmenter(path).cut("蓝鲸云盘很好用")[0] == "蓝鲸云盘"
