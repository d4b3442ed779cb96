"""Whoosh's pickles in an index folder are loaded by an allow-list Unpickler.

An index folder is data: a table of contents or a stored-fields block naming
``os.system`` must be refused before anything runs, while every real index loads
as before (the rest of the suite opens real indexes through the same loader).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from searcher import SearchEngine
from searcher.local import whoosh_adapter, whoosh_pickles
from searcher.local.storage import IndexDir


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_table_of_contents_naming_a_function_is_refused(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 标题\n\n城市场监管的正文。\n", encoding="utf-8")
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1)
    assert engine.search('"城市场"').total == 1  # a real index loads through the allow-list
    engine.close()
    folder = IndexDir(tmp_path / "ix").current().path
    ix = whoosh_adapter.open_index(str(folder))
    marker = tmp_path / "ran"
    toc = whoosh_index.TOC(ix.schema, [Evil(marker)], ix.latest_generation() + 1)
    toc.write(ix.storage, "MAIN")  # Whoosh's own writer: the segment list is a pickle
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
        whoosh_index.TOC.read(ix.storage, "MAIN")
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    ("builtins", "eval"), ("os", "system"), ("subprocess", "Popen"),
    ("whoosh.index", "open_dir"), ("searcher.local.storage", "shutil"),
])
def test_only_index_types_resolve(tmp_path: Path, payload: tuple[str, str]) -> None:
    module, name = payload
    data = f"c{module}\n{name}\n.".encode()  # protocol 0: GLOBAL, then STOP
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        whoosh_pickles.safe_loads(data)


def test_whoosh_loads_pickles_through_the_allow_list() -> None:
    from whoosh import columns
    from whoosh.codec import whoosh3
    from whoosh.filedb import structfile

    assert columns.loads is whoosh_pickles.safe_loads
    assert whoosh3.loads is whoosh_pickles.safe_loads
    assert structfile.load_pickle is whoosh_pickles.safe_load
    assert whoosh_index.pickle.loads is whoosh_pickles.safe_loads
