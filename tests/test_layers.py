"""The package's shape: imports go one way, down the layers, and Whoosh stays in local/.

Read from the source with ``ast`` (every import, also those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency), so these tests fail as soon as a
change adds a cycle, an arrow up, an import of another module's private name, or a way
for the cluster back end to stand on the local one.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from test_opensearch import opensearch_url  # noqa: F401 - the fixture

PACKAGE = ROOT / "searcher"

#: Lowest first; a module may import its own layer and the layers below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("searcher.errors", "searcher.deadline", "searcher.results", "searcher.reports",
              "searcher.config")),
    ("analysis", ("searcher.analysis", "searcher.query", "searcher.highlight",
                  "searcher.spelling")),
    ("ingest", ("searcher.ingest",)),
    ("core", ("searcher.core", "searcher.arguments")),
    ("back ends", ("searcher.local", "searcher.opensearch")),
    ("engine", ("searcher.engine", "searcher")),
    ("applications", ("searcher.cli", "searcher.web", "searcher.__main__")),
]
#: Back ends stand side by side: neither imports the other.
SIBLINGS = ("searcher.local", "searcher.opensearch")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest prefix naming *module* (``searcher`` itself last)."""
    best, found = -1, None
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    if found is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it")
    return found


def imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported searcher module, names taken from it, line) for every import in *module*."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "searcher" and not target.startswith("searcher."):
                continue
            names = []
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:  # "from . import rules"
                    found.append((f"{target}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names
                      if alias.name.startswith("searcher")]
    return [(target, names, line) for target, names, line in found if target in MODULES]


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def arrows_up(graph: dict[str, list[tuple[str, list[str], int]]]) -> list[str]:
    return [f"{module}:{line} imports {target} ({LAYERS[layer_of(target)][0]} is above "
            f"{LAYERS[layer_of(module)][0]})"
            for module, edges in graph.items() for target, _, line in edges
            if layer_of(target) > layer_of(module)]


def test_no_arrow_up():
    """A lower layer never imports a higher one (errors/results ← analysis ← ingest ← core
    ← local | opensearch ← engine ← cli | web)."""
    assert arrows_up(GRAPH) == []


def test_back_ends_do_not_import_each_other():
    wrong = [f"{module}:{line} imports {target}"
             for module, edges in GRAPH.items() for target, _, line in edges
             for mine in SIBLINGS for other in SIBLINGS
             if mine != other and module.startswith(mine + ".")
             and (target == other or target.startswith(other + "."))]
    assert wrong == []


def cycles_in(graph: dict[str, list[tuple[str, list[str], int]]]) -> list[list[str]]:
    """Groups of modules that reach each other (Tarjan's strongly connected components)."""
    edges = {module: {target for target, _, _ in found if target != module and target in graph}
             for module, found in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_cycles():
    """No module reaches itself through imports (lazy imports inside functions count)."""
    assert cycles_in(GRAPH) == []


def test_no_private_names_across_modules():
    wrong = [f"{module}:{line} imports {name} from {target}"
             for module, edges in GRAPH.items() for target, names, line in edges
             for name in names if name.startswith("_") and not name.startswith("__")]
    assert wrong == []


#: Private names tests still take from another module, each left for a reason; a new one fails.
KNOWN_PRIVATE_IN_TESTS: set[str] = set()


def private_names_in_tests() -> set[str]:
    """``"FILE imports MODULE.NAME"`` for each private module-level name of a searcher module
    that a test imports or reads (``from searcher.x import _y``, ``x._y`` where ``x`` is a
    searcher module).  Private members of a class (a method wrapped to inject a fault at an
    exact point) are not counted; internals of an index are read through
    ``searcher.local.inspection.internals(engine)``."""
    found = set()
    for path in sorted((ROOT / "tests").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: dict[str, str] = {}  # local name → the searcher module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "searcher" or alias.name.startswith("searcher."):
                        if alias.asname:
                            modules[alias.asname] = alias.name
                        else:
                            modules["searcher"] = "searcher"
            elif isinstance(node, ast.ImportFrom) and not node.level and (
                    node.module or "").startswith("searcher"):
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in MODULES:
                        modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                    elif alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.add(f"{path.name} imports {node.module}.{alias.name}")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain, base = [node.attr], node.value
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in modules:
                continue
            module = modules[base.id]
            for name in reversed(chain):  # down the dotted path while it names modules
                if f"{module}.{name}" in MODULES:
                    module = f"{module}.{name}"
                    continue
                if name.startswith("_") and not name.startswith("__"):
                    found.add(f"{path.name} imports {module}.{name}")
                break
    return found


def test_tests_take_no_private_names():
    """Tests use what a module offers (its public names, or the inspection hook), so that a
    module can change its private layout without breaking tests of something else."""
    assert private_names_in_tests() == KNOWN_PRIVATE_IN_TESTS  # (a fixed one leaves the list)


def test_whoosh_is_imported_only_in_local():
    wrong = []
    for module, path in MODULES.items():
        if module.startswith("searcher.local."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level \
                else []
            wrong += [f"{module}:{node.lineno} imports {name}" for name in names
                      if name == "whoosh" or name.startswith("whoosh.")]
    assert wrong == []


def test_the_checks_see_what_they_look_for():
    """Not vacuous: the graph holds the real arrows (lazy ones too), and an arrow up or a
    cycle added to it is reported."""
    assert "searcher.core.rules" in {t for t, _, _ in GRAPH["searcher.local.evaluator"]}
    assert "searcher.local.backend" in {t for t, _, _ in GRAPH["searcher.engine"]}  # lazy
    up = {**GRAPH, "searcher.errors": [("searcher.local.storage", ["IndexDir"], 1)]}
    assert arrows_up(up) == ["searcher.errors:1 imports searcher.local.storage (back ends "
                             "is above base)"]
    looped = {**GRAPH, "searcher.core.rules": [*GRAPH["searcher.core.rules"],
                                               ("searcher.core.plan", [], 1)],
              "searcher.core.plan": [*GRAPH["searcher.core.plan"], ("searcher.core.rules", [], 1)]}
    assert cycles_in(looped) == [["searcher.core.plan", "searcher.core.rules"]]


# -- a cluster location runs without Whoosh ------------------------------------------------
WITHOUT_WHOOSH = """
import sys
import searcher
engine = searcher.SearchEngine(sys.argv[1])
if len(sys.argv) > 2:
    engine.index([sys.argv[2]], full=True)
    found = engine.search("认证认可", facets="author,month")
    engine.search("如何认证认可？")
    engine.suggest("liaoc")
    engine.get(found.hits[0].id)
    engine.similar(found.hits[0].id)
    engine.stats()
    engine.check([sys.argv[2]])
    engine.highlight("认证认可的", "认证")
loaded = sorted(m for m in sys.modules if m == "whoosh" or m.startswith(("whoosh.",
                                                                          "searcher.local")))
print(" ".join(loaded) or "none")
"""


def run_without_whoosh(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", WITHOUT_WHOOSH, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_cluster_location_does_not_import_whoosh():
    """``import searcher`` and an engine on a cluster location load neither Whoosh nor
    searcher.local (the engine connects lazily: no node needed)."""
    assert run_without_whoosh("http://127.0.0.1:9/searcher-no-whoosh") == "none"


def test_using_a_cluster_does_not_import_whoosh(opensearch_url):  # noqa: F811
    """Indexing, searching (a question too), suggest, get, similar, stats and check on a
    cluster: still no Whoosh in the process."""
    name = f"test-no-whoosh-{os.getpid()}"
    try:
        assert run_without_whoosh(f"{opensearch_url.rstrip('/')}/{name}",
                                  str(ROOT / "sample_docs")) == "none"
    finally:
        from searcher.opensearch.client import connect

        client = connect(opensearch_url)
        client.indices.delete(index=f"{name}-*", ignore=[404], expand_wildcards="all")
        client.close()

