"""One direction of dependencies between the top-level packages, checked over the real import graph.

Every ``import``/``from … import`` in every module counts, at the top, inside functions (lazy imports) and
under ``if TYPE_CHECKING:`` alike: each one couples the two packages. The table below is the design
(docs/ARCHITECTURE.md): leaves at the bottom, stages above, the service and the eval tools on top. A new
top-level package fails ``test_every_package_has_a_layer`` until it is placed in the table.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_PACKAGES = {"tests", "scripts", "docs"}  # test code and tools may import anything

_LEAVES = {"config", "common"}
_STAGES = {"models", "gpu", "asr", "knowledge", "retrieval", "summarize"}
# package -> the project packages it may import (its own modules always)
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "common": frozenset({"config"}),
    "models": frozenset(_LEAVES),
    "gpu": frozenset(_LEAVES | {"models"}),
    "asr": frozenset(_LEAVES | {"models", "gpu"}),
    "knowledge": frozenset(_LEAVES | {"models"}),
    "retrieval": frozenset(_LEAVES | {"models", "gpu", "asr", "knowledge"}),
    "summarize": frozenset(_LEAVES | {"models", "gpu", "asr", "knowledge", "retrieval"}),
    "assist": frozenset(_LEAVES | _STAGES),
    "eval": frozenset(_LEAVES | _STAGES | {"assist"}),
}
# settings a stage may not take: it receives its own section (AsrSettings, RetrievalSettings …)
WHOLE_SETTINGS = {"Settings", "load_settings"}


@dataclass(frozen=True, slots=True)
class Edge:
    """One import of package ``target`` by a module of package ``source``."""

    source: str
    target: str
    where: str  # file:line, relative to the repository root
    module: str  # what the line imports


def packages(root: Path = ROOT) -> list[str]:
    """Top-level packages of the project (folders with an ``__init__.py``)."""
    return sorted(p.parent.name for p in root.glob("*/__init__.py") if p.parent.name not in NOT_PACKAGES)


def _absolute(node: ast.ImportFrom, module_path: tuple[str, ...], is_package: bool) -> str:
    """The absolute module a (possibly relative) ``from`` import names."""
    if not node.level:
        return node.module or ""
    base = module_path if is_package else module_path[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import in one file, at any depth."""
    rel = path.relative_to(root)
    module_path = tuple(rel.with_suffix("").parts)
    is_package = path.name == "__init__.py"
    if is_package:
        module_path = module_path[:-1]
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            found.append((node.lineno, _absolute(node, module_path, is_package), names))
    return found


def import_edges(root: Path = ROOT) -> list[Edge]:
    """Every import from one project package into another."""
    known = set(packages(root))
    edges: list[Edge] = []
    for package in sorted(known):
        for path in sorted((root / package).rglob("*.py")):
            for line, module, _ in imports_of(path, root):
                target = module.split(".")[0]
                if target in known and target != package:
                    edges.append(Edge(package, target, f"{path.relative_to(root)}:{line}", module))
    return edges


def forbidden(edges: list[Edge], allowed: dict[str, frozenset[str]]) -> list[str]:
    """One readable line per import the layer table does not allow."""
    return [
        f"{e.where}: {e.source} imports {e.module} ({e.source} may import only: "
        f"{', '.join(sorted(allowed.get(e.source, ()))) or 'nothing of the project'})"
        for e in edges
        if e.target not in allowed.get(e.source, frozenset())
    ]


def find_cycle(edges: list[Edge]) -> list[Edge]:
    """The edges of one package cycle, or [] when the package graph is acyclic."""
    first: dict[tuple[str, str], Edge] = {}
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        first.setdefault((e.source, e.target), e)
        graph[e.source].add(e.target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return [first[(a, b)] for a, b in zip(cycle, cycle[1:], strict=False)]
    return []


def whole_settings_in_stages(root: Path = ROOT) -> list[str]:
    """Stage modules that import the whole ``Settings`` instead of their own section."""
    bad = []
    for package in sorted(set(packages(root)) & _STAGES):
        for path in sorted((root / package).rglob("*.py")):
            for line, module, names in imports_of(path, root):
                if module.split(".")[0] == "config" and WHOLE_SETTINGS & set(names):
                    bad.append(f"{path.relative_to(root)}:{line}: imports {', '.join(sorted(WHOLE_SETTINGS & set(names)))}"
                               f" from {module}; a stage takes its own settings section")
    return bad


def _describe(cycle: list[Edge]) -> str:
    return " -> ".join([cycle[0].source, *(e.target for e in cycle)]) + "\n" + "\n".join(
        f"  {e.where}: {e.source} imports {e.module}" for e in cycle)


# ---------------------------------------------------------------- the project


def test_every_package_has_a_layer() -> None:
    missing = sorted(set(packages()) - set(ALLOWED))
    assert not missing, f"packages missing from the layer table in tests/test_layering.py: {missing}"


def test_no_import_against_the_layers() -> None:
    problems = forbidden(import_edges(), ALLOWED)
    assert not problems, "imports against the layering (docs/ARCHITECTURE.md):\n" + "\n".join(problems)


def test_no_package_cycle() -> None:
    cycle = find_cycle(import_edges())
    assert not cycle, "package import cycle: " + _describe(cycle)


def test_stages_take_only_their_settings_section() -> None:
    problems = whole_settings_in_stages()
    assert not problems, "\n".join(problems)


def test_the_table_itself_is_a_dag_with_leaves_at_the_bottom() -> None:
    table_edges = [Edge(a, b, "table", b) for a, targets in ALLOWED.items() for b in targets]
    assert find_cycle(table_edges) == []
    assert ALLOWED["config"] == frozenset() and ALLOWED["common"] <= {"config"}
    assert all("assist" not in ALLOWED[s] and "eval" not in ALLOWED[s] for s in _STAGES | _LEAVES)
    assert "retrieval" not in ALLOWED["knowledge"] and "asr" not in ALLOWED["gpu"]


# ---------------------------------------------------------------- the checker can fail


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """A small tree with a lazy upward import, a relative import and a gpu <-> asr cycle."""
    files = {
        "config/__init__.py": "from config.settings import Settings\n",
        "config/settings.py": "class Settings: ...\n",
        "asr/__init__.py": "",
        "asr/engine.py": "from gpu.batching import decode\nfrom . import vocab\n",
        "asr/vocab.py": "def apply():\n    from assist.metrics import COUNTER\n    return COUNTER\n",
        "gpu/__init__.py": "",
        "gpu/batching.py": "import asr.engine\n\ndef decode(): ...\n",
        "retrieval/__init__.py": "from config import Settings, RetrievalSettings\n",
        "assist/__init__.py": "",
        "assist/metrics.py": "import asr\nCOUNTER = 0\n",
        "tests/__init__.py": "import assist\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_checker_names_file_and_line_of_a_forbidden_import(synthetic: Path) -> None:
    assert packages(synthetic) == ["asr", "assist", "config", "gpu", "retrieval"]
    problems = forbidden(import_edges(synthetic), ALLOWED)
    assert problems == [
        "asr/vocab.py:2: asr imports assist.metrics (asr may import only: common, config, gpu, models)",
        "gpu/batching.py:1: gpu imports asr.engine (gpu may import only: common, config, models)",
    ]


def test_checker_finds_a_cycle(synthetic: Path) -> None:
    cycle = find_cycle(import_edges(synthetic))
    assert [(e.source, e.target, e.where) for e in cycle] == [("asr", "assist", "asr/vocab.py:2"),
                                                               ("assist", "asr", "assist/metrics.py:1")]
    assert _describe(cycle).startswith("asr -> assist -> asr\n")
    acyclic = [Edge("asr", "gpu", "a.py:1", "gpu"), Edge("assist", "asr", "b.py:1", "asr")]
    assert find_cycle(acyclic) == []


def test_checker_resolves_relative_imports(synthetic: Path) -> None:
    engine = imports_of(synthetic / "asr" / "engine.py", synthetic)
    assert (2, "asr", ("vocab",)) in engine
    (synthetic / "asr" / "sub").mkdir()
    (synthetic / "asr" / "sub" / "__init__.py").write_text("from .. import vocab\n", encoding="utf-8")
    (synthetic / "asr" / "sub" / "mod.py").write_text("from ..engine import decode\n", encoding="utf-8")
    assert imports_of(synthetic / "asr" / "sub" / "__init__.py", synthetic) == [(1, "asr", ("vocab",))]
    assert imports_of(synthetic / "asr" / "sub" / "mod.py", synthetic) == [(1, "asr.engine", ("decode",))]


def test_checker_flags_whole_settings_in_a_stage(synthetic: Path) -> None:
    assert whole_settings_in_stages(synthetic) == [
        "retrieval/__init__.py:1: imports Settings from config; a stage takes its own settings section"]
