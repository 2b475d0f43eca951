"""The layout the README's "Architecture" section describes holds: ``bench/`` has no import cycle (module-level or
inside a function), it imports ``methods``, ``datasets`` and ``reports`` nowhere (it reaches them only by name,
through ``bench.registry``), and every subpackage the README names exists with the modules it names."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
LAYOUT = {
    "body": {"body_model", "embedded", "skeletons", "regressors"},
    "geometry": {"rotations", "projections", "alignment", "metrics"},
    "run": {"experiments", "units", "runner", "executors", "threads", "tracking", "sweep", "runtime", "results",
            "evaluate", "pipeline"},
}  # fmt: skip


def _module(path: Path) -> str:
    parts = list(path.relative_to(BENCH.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> list[str]:
    """Every module an import statement anywhere in ``tree`` names (``from a.b import c`` gives a.b and a.b.c)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in BENCH.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = {t for t in _imports(ast.parse(path.read_text())) if t in modules and t != name}
        # a package's __init__ is imported on the way to its modules: not an edge of its own
        graph[name] = {t for t in targets if not name.startswith(f"{t}.")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_bench_has_no_import_cycle():
    graph = _graph()
    assert len(graph) > 30  # the walk found the modules
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_bench_does_not_import_the_plugin_folders():
    plugins = {"methods", "datasets", "reports"}
    for path in sorted(BENCH.rglob("*.py")):
        outside = [m for m in _imports(ast.parse(path.read_text())) if m.split(".")[0] in plugins]
        assert not outside, f"{path} imports {outside}: bench reaches them only through bench.registry, by name"


def test_the_subpackages_hold_what_the_readme_says():
    readme = (BENCH.parent / "README.md").read_text()
    for package, modules in LAYOUT.items():
        assert f"`bench/{package}/`" in readme
        present = {p.stem for p in (BENCH / package).iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
        assert modules <= present, f"bench/{package}/ lacks {modules - present}"
    assert (BENCH / "run" / "experiments" / "table1.toml").is_file()  # the shipped files moved with experiments.py
