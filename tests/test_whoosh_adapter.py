"""searcher.local.whoosh_*: the adapter modules, the only ones that touch Whoosh's internals.

They must refuse Whoosh versions their segment code was not tested against
(whoosh_version), be the only modules that import Whoosh's internal modules or private
names (whoosh_adapter, whoosh_pickles, whoosh_codec), and read what Whoosh's public API
reads.  Also here: every package the code imports is declared in pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import whoosh
from conftest import ROOT, SAMPLE_DOCS

from searcher.errors import SearcherError, UnsupportedWhooshError
from searcher.local import whoosh_adapter as adapter
from searcher.local import whoosh_version
from searcher.local.inspection import internals

PACKAGE = ROOT / "searcher"
#: The adapter modules: the only ones allowed Whoosh's internals (not whoosh_types.py, which
#: only declares Protocols).
ADAPTERS = tuple(PACKAGE / "local" / f"whoosh_{name}.py"
                 for name in ("adapter", "version", "pickles", "codec"))
#: Whoosh modules that are implementation, not API.
INTERNAL = ("whoosh.codec", "whoosh.filedb", "whoosh.reading", "whoosh.writing", "whoosh.util",
            "whoosh.system", "whoosh.matching", "whoosh.support", "whoosh.automata")


# -- the version check ------------------------------------------------------------------


def test_installed_version_is_supported():
    assert whoosh_version.check_version() == whoosh_version.installed_version() == "2.7.5"


@pytest.mark.parametrize("version", [(2, 7, 4), (2, 7, 6), (2, 8, 0), (3, 0, 0), (1, 0)])
def test_refuses_a_version_it_does_not_know(monkeypatch, version):
    monkeypatch.setattr(whoosh, "__version__", version)  # what the check reads
    text = ".".join(map(str, version))
    with pytest.raises(UnsupportedWhooshError) as caught:
        whoosh_version.check_version()
    error = caught.value
    assert isinstance(error, SearcherError) and isinstance(error, ImportError)
    assert error.version == text and error.supported == ">=2.7.5,<2.7.6"
    assert f"whoosh {text} is not supported" in str(error)
    assert "whoosh-reloaded>=2.7.5,<2.7.6" in str(error)


def test_a_local_index_fails_loudly_on_an_unknown_version(tmp_path):
    """A process whose Whoosh reports 2.8.0 cannot open a local index (``import searcher``
    itself loads no Whoosh: a cluster location does not need it)."""
    script = ("import sys\nimport whoosh\nwhoosh.__version__ = (2, 8, 0)\nimport searcher\n"
              "print('imported', flush=True)\nsearcher.SearchEngine(sys.argv[1])\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "ix")],
                            capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert result.returncode != 0 and result.stdout == "imported\n"
    assert "UnsupportedWhooshError: whoosh 2.8.0 is not supported" in result.stderr
    assert ">=2.7.5,<2.7.6" in result.stderr


def test_pyproject_pins_the_supported_range():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"whoosh-reloaded{whoosh_version.SUPPORTED_TEXT}"' in text
    low, high = (".".join(map(str, bound)) for bound in whoosh_version.SUPPORTED)
    assert f">={low},<{high}" == whoosh_version.SUPPORTED_TEXT


# -- the adapter modules, and only they, use the internals ------------------------------


def _whoosh_internals(path: Path) -> list[str]:
    """Imports of Whoosh's internal modules or private names in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, [alias.name for alias in node.names])]
        else:
            continue
        for module, names in modules:
            if not (module == "whoosh" or module.startswith("whoosh.")):
                continue
            if module.startswith(INTERNAL) or any(part.startswith("_")
                                                   for part in module.split(".")):
                found.append(f"line {node.lineno}: {module}")
            found.extend(f"line {node.lineno}: {module}.{name}" for name in names
                         if name.startswith("_") or f"{module}.{name}".startswith(INTERNAL))
    return found


def _whoosh_private_attributes() -> set[str]:
    """Underscore names Whoosh's own code defines (methods and attributes)."""
    names: set[str] = set()
    for path in Path(whoosh.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8", errors="replace")
        names.update(re.findall(r"(?:def |self\.)(_[a-z][a-z0-9_]*)\b", text))
    return names


def test_only_the_adapters_import_whoosh_internals():
    offenders = {str(path.relative_to(ROOT)): found
                 for path in PACKAGE.rglob("*.py") if path not in ADAPTERS
                 for found in [_whoosh_internals(path)] if found}
    assert offenders == {}
    # the check does see them where they are (whoosh_version only reads whoosh.__version__)
    assert all(_whoosh_internals(path) for path in ADAPTERS if path.stem != "whoosh_version")


def test_only_the_adapters_touch_whoosh_private_attributes():
    """``x._name`` where Whoosh defines ``_name`` and searcher itself does not."""
    whoosh_private = _whoosh_private_attributes()
    own: set[str] = set()
    used: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") and path not in ADAPTERS:
                used.setdefault(node.attr, []).append(
                    f"{path.relative_to(ROOT)}:{node.lineno}")
    offenders = {name: where for name, where in used.items()
                 if name in whoosh_private and name not in own}
    assert offenders == {}
    assert {"_perdoc", "_terms", "_added", "_commit_toc"} <= whoosh_private


# -- the adapter reads what Whoosh's public API reads -----------------------------------


def _matcher_postings(reader, fieldname: str, term: bytes) -> tuple[list, list]:
    """(ids, weights) of *term* as Whoosh's public matcher gives them."""
    matcher = reader.postings(fieldname, term)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def test_postings_and_lengths_match_whooshs_public_reader(sample_index):
    engine, _docs = sample_index
    ix = adapter.open_index(str(internals(engine).root.current().path))
    with ix.reader() as top:
        for reader, _offset in top.leaf_readers():
            checked = 0
            for fieldname, term in reader.all_terms():
                if fieldname not in ("title", "body", "tag"):
                    continue
                ids, weights = adapter.term_postings(reader, fieldname, term.decode("utf-8"))
                assert (list(ids), pytest.approx(list(weights))) == _matcher_postings(
                    reader, fieldname, term), (fieldname, term)
                checked += 1
            assert checked > 500
            assert adapter.term_postings(reader, "body", "没有这个词的词") == ([], [])
            for name in ("title", "body"):
                raw = np.fromiter(adapter.length_bytes(reader, name), dtype=np.uint8)
                decoded = [adapter.BYTE_TO_LENGTH[b] for b in raw]
                assert decoded == [reader.doc_field_length(d, name, 0)
                                   for d in range(reader.doc_count_all())]
            folder = adapter.reader_folder(reader)
            assert folder == str(internals(engine).root.current().path)
            segment_id = adapter.reader_segment_id(reader)
            name = adapter.segment_file_name(segment_id, "bigrams.stream.npy")
            assert (Path(folder) / name).is_file()  # the sidecar written beside the segment
            assert adapter.is_segment_file(name, reader.segment())
            assert not adapter.is_segment_file("MAIN_other.bigrams.stream.npy", reader.segment())
    ix.close()


def test_postings_read_with_pread_and_through_whoosh_agree(tmp_path):
    """A segment in a folder is read from its files with ``pread`` (the term row found by
    hashing as Whoosh does); one in memory (or in a compound file) has no file of its own
    and is read through Whoosh's own file object.  Both give what Whoosh's matcher
    gives, term by term."""
    from whoosh.filedb.filestore import FileStorage, RamStorage
    from whoosh.writing import SegmentWriter

    from searcher.local.schema import build_schema

    bodies = [f"第{i}篇 聊城 认证认可 {'发展 ' * (i % 7)} 新闻{i % 13} 主题{i % 5}"
              for i in range(400)]
    storages = {"folder": FileStorage(str(tmp_path)), "memory": RamStorage()}
    read: dict[str, dict[tuple[str, bytes], tuple[list, list]]] = {}
    for label, storage in storages.items():
        ix = storage.create_index(build_schema())
        with SegmentWriter(ix, compound=False) as writer:  # one file each, as searcher writes
            for i, body in enumerate(bodies):
                writer.add_document(id=str(i), title=f"标题{i % 3}", body=body)
        with ix.reader() as top:
            ((reader, _offset),) = top.leaf_readers()
            got = read[label] = {}
            for fieldname, term in reader.all_terms():
                if fieldname not in ("title", "body"):
                    continue
                ids, weights = adapter.term_postings(reader, fieldname, term.decode("utf-8"))
                assert (list(ids), pytest.approx(list(weights))) == _matcher_postings(
                    reader, fieldname, term), (label, term)
                got[fieldname, term] = (list(ids), list(weights))
            assert adapter.term_postings(reader, "body", "没有这个词的词") == ([], [])
            assert adapter.term_postings(reader, "no_such_field", "聊城") == ([], [])
        if label == "folder":  # a closed file's descriptor number is never read again
            with pytest.raises(ValueError):
                adapter.term_postings(reader, "body", "聊城")
        ix.close()
    assert read["folder"] == read["memory"]
    assert max(len(ids) for ids, _weights in read["folder"].values()) == len(bodies)


def test_datetime_to_long_orders_like_dates():
    import datetime as dt

    earlier = adapter.datetime_to_long(dt.datetime(2021, 6, 16, 2, 23, 51))
    later = adapter.datetime_to_long(dt.datetime(2021, 6, 16, 2, 23, 52))
    assert 0 < earlier < later


# -- declared dependencies --------------------------------------------------------------


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared():
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # the extras count too: the OpenSearch back end imports opensearch-py (searcher[opensearch])
    specs = [*project["dependencies"], *(s for extra in project["optional-dependencies"].values()
                                          for s in extra)]
    declared = {_normalise(re.match(r"[A-Za-z0-9_.\-]+", spec).group()) for spec in specs}
    distributions = packages_distributions()
    imported: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "searcher":
                    imported.setdefault(top, str(path.relative_to(ROOT)))
    assert {"whoosh", "jieba", "yaml", "rich", "numpy"} <= set(imported)
    missing = {}
    for module, where in imported.items():
        names = distributions.get(module) or [module]  # tomli: only installed on 3.10
        if not any(_normalise(n) in declared for n in names):
            missing[module] = where
    assert missing == {}


def test_postings_of_every_segment_at_once_equal_each_segments(tmp_path):
    """postings_everywhere (the plain blocks of all segments decoded as one list, inlined
    rows through Whoosh's matcher) gives each segment's term_postings, shifted by its
    first document number, for every term of real articles in several segments."""
    from searcher import SearchEngine

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=2, batch_size=7)
    leaves = [(leaf.reader(), offset) for leaf, offset in
              internals(engine).searcher().leaf_searchers()]
    assert len(leaves) >= 3
    terms = {(f, t.decode("utf-8")) for reader, _ in leaves for f, t in reader.all_terms()
             if f in ("title", "body", "tag")}
    shapes = set()
    for fieldname, term in sorted(terms):
        ids, weights = adapter.postings_everywhere(leaves, fieldname, term)
        want_ids, want_weights = [], []
        for reader, offset in leaves:
            each_ids, each_weights = adapter.term_postings(reader, fieldname, term)
            want_ids += [int(i) + offset for i in each_ids]
            want_weights += list(np.asarray(each_weights, dtype=np.float32))
            shapes.add(type(each_ids).__name__)
        assert ids.tolist() == want_ids, (fieldname, term)
        assert weights.tolist() == want_weights, (fieldname, term)
    assert shapes >= {"list", "ndarray"}  # inlined rows and plain blocks both read
    assert adapter.postings_everywhere(leaves, "body", "没有这个词的词")[0].tolist() == []
    engine.close()
