"""The layout's arrows point down: no upward import and no import cycle anywhere in ``src/``.

Floors, top to bottom: the CLI; sweeps and the runner; the studies (and the benchmarks); the
libraries (report, targets, models, data, analysis, kernels, linear); the engine, the run folder
and the config. A module may import its own floor or lower ones, never a higher one. Imports
inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "learnability"

# Floor of each top-level name (higher number = higher floor).
FLOORS = {
    "cli": 5,
    "__main__": 5,
    "__init__": 4,  # the public API re-exports the runner
    "sweep": 4,
    "runner": 4,
    "studies": 3,
    "bench": 3,
    "report": 2,
    "targets": 2,
    "models": 2,
    "data": 2,
    "analysis": 2,
    "kernels": 2,
    "linear": 2,
    "engine": 1,
    "export": 1,
    "runs": 1,
    "sweep_folder": 1,
    "config": 1,
    "_validation": 0,
    "_seeds": 0,
    "_progress": 0,
    "_arrays": 0,
    "_threads": 0,
    "_words": 0,
    "_version": 0,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``learnability`` modules that ``name`` imports (anywhere in the file)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t.startswith(PACKAGE + ".") and t != name:
                found.add(t)
    return found


def _floor(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return FLOORS[top]


def test_every_top_level_module_has_a_floor() -> None:
    tops = {m.split(".")[1] for m in _modules() if "." in m}
    assert tops <= set(FLOORS), f"add {sorted(tops - set(FLOORS))} to FLOORS"


def test_imports_point_down_only() -> None:
    modules = _modules()
    upward = [
        f"{name} (floor {_floor(name)}) imports {dep} (floor {_floor(dep)})"
        for name, path in modules.items()
        if name != PACKAGE
        for dep in _imports(name, path, modules)
        if _floor(dep) > _floor(name)
    ]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A package's own __init__ re-exporting its submodules is not a cycle of the design.
    graph = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items()}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d) :] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "\n".join(cycles)


def test_cli_and_bench_import_no_study_internals() -> None:
    """The CLI reaches studies through the registry only; the benchmarks import no study."""
    modules = _modules()
    bad = []
    for name, path in modules.items():
        deps = _imports(name, path, modules)
        if name == f"{PACKAGE}.cli":
            bad += [f"{name} imports {d}" for d in deps if d.startswith(f"{PACKAGE}.studies.")]
        if name.startswith(f"{PACKAGE}.bench"):
            bad += [f"{name} imports {d}" for d in deps if d.startswith(f"{PACKAGE}.studies")]
        if name.startswith(f"{PACKAGE}.studies"):
            bad += [f"{name} imports {d}" for d in deps if d.startswith(f"{PACKAGE}.bench")]
    assert not bad, "\n".join(sorted(bad))
