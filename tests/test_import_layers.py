"""ivgr's packages import one way: each layer uses only the layers below it, so there is no cycle.

The graph is read from the source with `ast` (every `import` / `from ... import` statement,
including those inside functions and under TYPE_CHECKING: a lazy import is still a dependency),
then collapsed to units: a subpackage (`ivgr.eval`) or a top-level module (`ivgr.geometry`).
PEP 562 lazy exports (`_EXPORTS = {name: "module"}`) are strings, not import statements, and are
not edges: the root package re-exports from above that way without importing at start-up.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ivgr"

# Lowest first. A unit may import units of lower layers only (not its own layer, not above).
LAYERS: list[set[str]] = [
    {"ivgr.errors", "ivgr._lazy"},
    {"ivgr", "ivgr.fileio", "ivgr.jsonl", "ivgr.geometry", "ivgr.recipes"},  # `ivgr`: __version__, errors
    {"ivgr.parsing", "ivgr.prompts", "ivgr.plan"},
    {"ivgr.judges", "ivgr.archive"},
    {"ivgr.rewards", "ivgr.data", "ivgr.models"},  # ivgr.data.images: image loading for all
    {"ivgr.inference"},
    {"ivgr.eval", "ivgr.training"},
    {"ivgr.ui", "ivgr.report"},
    {"ivgr.demo"},
    {"ivgr.commands"},
    {"ivgr.cli"},
]

# Module-level rules the layers cannot express (both ends are legal layers apart).
FORBIDDEN: dict[tuple[str, str], str] = {
    ("ivgr.training.train", "ivgr.data.synthetic"):
        "training reads a prepared dataset; `data_path: synthetic` is made at the command layer",
    ("ivgr.training.sft", "ivgr.data.synthetic"):
        "SFT reads a prepared JSONL; `synthetic_scenes` and its tokenizer words are made at the command layer",
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """`ivgr/eval/__init__.py` -> `ivgr.eval`; `ivgr/eval/runner.py` -> `ivgr.eval.runner`."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """(imported ivgr module, line) for every import statement of one file, relative ones resolved."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from ivgr.eval import readers` imports the module ivgr.eval.readers
            found += [(base, node.lineno)] + [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return [(mod, line) for mod, line in found if mod == "ivgr" or mod.startswith("ivgr.")]


def unit_of(module: str, root: Path = ROOT) -> str | None:
    """The subpackage or top-level module a module belongs to; None for a name that is no module."""
    parts = module.split(".")
    if len(parts) == 1:
        return "ivgr"
    unit = ".".join(parts[:2])
    base = root.parent / unit.replace(".", "/")
    return unit if base.is_dir() or base.with_suffix(".py").is_file() else None


def import_edges(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> ["file:line", ...], over every ivgr/**.py."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        src = unit_of(module_name(path, root), root)
        for module, line in imported_modules(path, root):
            dst = unit_of(module, root)  # None for `ivgr.__version__` of `from ivgr import __version__`
            where = f"{path.relative_to(root.parent)}:{line}"
            if dst is not None and dst != src and where not in edges[(src, dst)]:
                edges[(src, dst)].append(where)
    return dict(edges)


def find_cycle(edges: dict[tuple[str, str], list[str]]) -> list[str] | None:
    """One cycle of units as [a, b, ..., a], or None (iterative depth-first search)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for src, dst in sorted(edges):
        graph[src].append(dst)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(graph[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return None


def describe(cycle: list[str], edges: dict[tuple[str, str], list[str]]) -> str:
    return "; ".join(f"{a} -> {b} ({', '.join(edges[(a, b)][:3])})" for a, b in zip(cycle, cycle[1:]))


def test_no_import_cycle_among_ivgr_packages():
    edges = import_edges()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + describe(cycle, edges)


def test_every_unit_imports_only_lower_layers():
    layer = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    edges = import_edges()
    units = {u for edge in edges for u in edge}
    assert not units - set(layer), f"add these to LAYERS in {Path(__file__).name}: {sorted(units - set(layer))}"
    upward = [f"{a} -> {b} ({', '.join(where[:3])})" for (a, b), where in sorted(edges.items()) if layer[b] >= layer[a]]
    assert not upward, "imports that do not go down a layer:\n" + "\n".join(upward)


@pytest.mark.parametrize(("importer", "imported"), sorted(FORBIDDEN))
def test_forbidden_module_imports(importer, imported):
    path = ROOT.parent / (importer.replace(".", "/") + ".py")
    hits = [line for module, line in imported_modules(path) if module == imported or module.startswith(imported + ".")]
    assert not hits, f"{importer} imports {imported} (lines {hits}): {FORBIDDEN[(importer, imported)]}"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root / "ivgr"


def test_the_checker_finds_a_cycle_through_lazy_and_relative_imports(tmp_path):
    """The checker itself: a function-level import one way and a relative import back is a cycle."""
    root = _write(tmp_path, {
        "ivgr/__init__.py": "",
        "ivgr/errors.py": "",
        "ivgr/inference/__init__.py": "",
        "ivgr/inference/engine.py": "def f():\n    from ivgr.eval.readers import x\n",
        "ivgr/eval/__init__.py": "",
        "ivgr/eval/readers.py": "from ivgr.errors import E\n",
        "ivgr/eval/runner.py": "from ..inference import engine\n",
    })
    edges = import_edges(root)
    assert set(edges) == {("ivgr.inference", "ivgr.eval"), ("ivgr.eval", "ivgr.inference"), ("ivgr.eval", "ivgr.errors")}
    cycle = find_cycle(edges)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"ivgr.eval", "ivgr.inference"}
    assert "ivgr/eval/runner.py:1" in describe(cycle, edges)


def test_the_checker_passes_a_one_way_graph(tmp_path):
    root = _write(tmp_path, {
        "ivgr/__init__.py": "from ivgr.errors import E\n",
        "ivgr/errors.py": "",
        "ivgr/data/__init__.py": "",
        "ivgr/data/images.py": "from ivgr import __version__\n",
        "ivgr/inference/engine.py": "from ivgr.data.images import file_loader\n",
    })
    edges = import_edges(root)
    assert set(edges) == {("ivgr", "ivgr.errors"), ("ivgr.data", "ivgr"), ("ivgr.inference", "ivgr.data")}
    assert find_cycle(edges) is None
