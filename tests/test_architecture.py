"""The layering of docs/architecture.md, enforced by reading every import in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "goturn_caffe"

# docs/architecture.md's table: first dotted component below goturn_caffe -> layer.
LAYERS = {
    "paths": 0, "config": 0, "fileio": 0, "caffe_env": 0, "plotting": 0,
    "geometry": 1, "datasets": 2, "model": 3, "train": 4, "track": 5, "vot": 6, "ope": 6,
    "ablation": 7, "benchmarks": 7, "doctor": 7, "cli": 7, "data_layer": 7, "demo": 7, "gpu_session": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path, modules: dict) -> set:
    """Every goturn_caffe module ``path`` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c`: c may itself be a module
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("goturn_caffe.") :
                found.add(name)
    return found


def layer(module: str) -> int:
    top = module.split(".")[1]
    if top not in LAYERS:
        raise AssertionError(f"{module}: not in docs/architecture.md's layer table")
    return LAYERS[top]


def import_graph() -> dict:
    modules = all_modules()
    return {name: imported_modules(path, modules) - {name} for name, path in modules.items()
            if name != "goturn_caffe"}


def test_every_module_has_a_layer():
    for module in import_graph():
        layer(module)


def test_no_import_runs_upward():
    upward = [f"{src} (layer {layer(src)}) imports {dst} (layer {layer(dst)})"
              for src, targets in import_graph().items() for dst in targets
              if dst != "goturn_caffe" and layer(dst) > layer(src)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = import_graph()
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_function_level_imports(tmp_path):
    # The checker must catch an import hidden inside a function, as the
    # datasets cycle once was.
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from goturn_caffe.vot.protocol import BURNIN\n")
    modules = {"goturn_caffe.vot.protocol": None, "goturn_caffe.vot": None}
    assert imported_modules(source, modules) == {"goturn_caffe.vot.protocol"}


@pytest.mark.parametrize("module", ["goturn_caffe.geometry.cropping", "goturn_caffe.track.goturn"])
def test_the_papers_path_is_where_the_docs_say(module):
    assert module in all_modules()
