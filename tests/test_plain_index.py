"""An index folder holds no pickles: loading one could run code, and an index is data.

Two complementary checks on indexes built from real articles:

* every file of a fresh index is scanned for a pickle stream.  A pickle of protocol 2-5
  starts with the PROTO opcode (``0x80``, then the protocol byte); at each such pair the
  bytes that follow are run through ``pickletools.dis``, which simulates the unpickler's
  stack and memo and raises on anything a real unpickler would refuse, so random binary
  data (compressed text, numpy arrays: the pair occurs there by chance) seldom passes;
  a stream is counted when it parses through its STOP opcode with at least
  :data:`MIN_OPCODES` opcodes (a pickle of a tuple of two small ints has 6; a random
  stretch that parses is nearly always a length-prefixed string followed by a chance
  STOP byte, 3 opcodes).  On an index of an older schema this finds the table of
  contents, the terms tables' extras and posting blocks;
* deflated values (stored fields, compressed posting blocks) are invisible to a scan, so
  searching a freshly opened index, then reading every stored field, every column and
  every term's postings through Whoosh's own readers, must never call the allow-list
  unpickler (the only way searcher loads a pickle).
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import shutil
import warnings
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared

from searcher import SearchEngine
from searcher.errors import IndexCorruptError
from searcher.local import whoosh_adapter, whoosh_codec, whoosh_pickles
from searcher.local.storage import IndexDir

MIN_OPCODES = 6
_PROTO = re.compile(rb"\x80[\x02-\x05]")


def pickle_streams(data: bytes, limit: int = 5) -> list[int]:
    """Offsets of (up to *limit*) pickle streams in *data* (see the module docstring)."""
    found = []
    for match in _PROTO.finditer(data):
        start = match.start()
        piece = data[start : start + 1_000_000]
        try:
            with warnings.catch_warnings():  # (random STRING opcodes: bad escapes)
                warnings.simplefilter("ignore")
                pickletools.dis(piece, out=io.StringIO())
        except Exception:  # noqa: BLE001 - not a pickle (dis stops at the first STOP)
            continue
        if sum(1 for _ in pickletools.genops(piece)) >= MIN_OPCODES:
            found.append(start)
            if len(found) >= limit:
                break
    return found


def pickled_files(folder: Path) -> dict[str, list[int]]:
    return {str(p.relative_to(folder)): hits for p in sorted(folder.rglob("*"))
            if p.is_file() and (hits := pickle_streams(p.read_bytes()))}


def test_the_scan_finds_pickles_and_passes_plain_data() -> None:
    stored = {"id": "x", "meta": {"tags": ["a", "b"]}, "n": (1, 2.5)}
    assert pickle_streams(b"\x00" * 50 + pickle.dumps(stored, 2) + b"\xff" * 50) == [50]
    assert pickle_streams(pickle.dumps((3, 7), 3)) == [0]
    assert pickle_streams(b"\x80\x03).") == []  # "pickles" random data holds
    assert pickle_streams(b"\x80\x03U\x05abcde.") == []
    assert pickle_streams(b'{"fieldmap":{"body":2}}' + bytes(range(256)) * 4) == []


class _Counted:
    """Counts IndexUnpickler loads (every pickle searcher loads from an index)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = whoosh_pickles.IndexUnpickler.load

        def load(unpickler):
            self.calls += 1
            return original(unpickler)

        monkeypatch.setattr(whoosh_pickles.IndexUnpickler, "load", load)


def _read_everything(index_dir: Path) -> int:
    """Search, then read every stored field, column and posting; returns postings read."""
    engine = SearchEngine(index_dir)
    try:
        for query in ("城市", '"数据"', "python", "2021", "学习 方法", "tag:python 代码"):
            results = engine.search(query, facets=["year", "tag"])
            for hit in results.hits:
                engine.get(hit.id)
        engine.suggest("数")
        engine.stats()
    finally:
        engine.close()
    ix = whoosh_adapter.open_index(str(IndexDir(index_dir).current().path))
    postings = 0
    with ix.reader() as top:
        for reader, _offset in top.leaf_readers():
            assert all(isinstance(f, dict) for f in reader.all_stored_fields())
            for name in ("text", "date"):  # (a missing date is a sentinel past datetime)
                list(reader.column_reader(name, translate=False))
            for fieldname, term in reader.all_terms():
                matcher = reader.postings(fieldname, term)
                while matcher.is_active():
                    matcher.id(), matcher.weight(), matcher.value()
                    matcher.next()
                    postings += 1
    ix.close()
    return postings


def test_searching_a_new_index_never_unpickles(sample_index, monkeypatch) -> None:
    engine, _docs = sample_index
    counted = _Counted(monkeypatch)
    assert _read_everything(engine.backend.root.root) > 1000
    assert counted.calls == 0
    whoosh_pickles.safe_loads(pickle.dumps({"a": 1}))  # the counter does count
    assert counted.calls == 1


@needs_shared
@pytest.mark.slow
def test_an_index_of_real_articles_holds_no_pickle(tmp_path: Path, monkeypatch) -> None:
    blogs = SHARED / "corpus" / "blogs"
    engine = SearchEngine(tmp_path / "ix")
    report = engine.index([blogs])
    engine.close()
    assert report.added > 1000
    assert pickled_files(tmp_path / "ix") == {}
    counted = _Counted(monkeypatch)
    assert _read_everything(tmp_path / "ix") > 100_000
    assert counted.calls == 0


def test_a_searcher_reading_older_segment_formats_refuses_the_index(
        sample_index, tmp_path: Path, monkeypatch) -> None:
    """What an older searcher does with this index, simulated: a lower SEGMENT_FORMAT."""
    engine, _docs = sample_index
    copy = tmp_path / "ix"
    shutil.copytree(engine.backend.root.root, copy)
    monkeypatch.setattr(whoosh_codec, "SEGMENT_FORMAT", 1)
    older = SearchEngine(copy)
    with pytest.raises(IndexCorruptError) as caught:
        older.search("城市")
    older.close()
    message = str(caught.value)
    assert re.search(r"_MAIN_\d+\.toc", message) and "searcher index --full" in message
    assert "newer searcher" in message
