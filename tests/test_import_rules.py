"""The top-level packages import each other only one way (docs/architecture.md, "Layout").

    infra     the library and the Pulumi program: imports nothing of ours outside infra/ (one lazy
              exception: ``bc-sales emulator`` imports the emulator when it runs)
    emulator  the local cloud: emulates Microsoft, so it imports no infra (nor devkit, bench, tests)
    devkit    what tests, scripts and the benchmark share: may import infra and emulator
    bench     the benchmark: may import devkit, emulator, infra
    tests     may import anything; nothing outside tests/ imports tests

Every module's imports are read with ``ast``: ``import`` and ``from ... import`` at any depth (a
late import inside a function counts as much as one at the top; imports under ``if TYPE_CHECKING:``
do not, they never run), relative ones resolved, and ``importlib.import_module("...")`` with a
constant name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("infra", "emulator", "devkit", "bench", "tests")
#: package -> the packages of ours it may import (itself always).
ALLOWED: dict[str, set[str]] = {
    "infra": set(),
    "emulator": set(),
    "devkit": {"infra", "emulator"},
    "bench": {"devkit", "emulator", "infra"},
    "tests": {"infra", "emulator", "devkit", "bench"},
}
#: (module, what it imports) allowed across the rules, each inside a function only.
LAZY_EXCEPTIONS = {
    # `bc-sales emulator` runs the optional extra when it is asked to (infra/cli/main.py, _emulator)
    ("infra.cli.main", "emulator.__main__"),
}
#: Import cycles between modules of one package that exist on purpose (each closed by an import
#: inside a function) or are yet to go; a new cycle fails, and so does an entry that no longer is one.
KNOWN_CYCLES: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path) -> dict[str, bool]:
    """Absolute name -> imported inside a function, for everything ``path`` imports at run time."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def add(target: str, lazy: bool) -> None:
        found[target] = found.get(target, True) and lazy

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, lazy)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, lazy)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            add(prefix, lazy)
            for alias in node.names:  # `from pkg import module`
                add(f"{prefix}.{alias.name}", lazy)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            add(node.args[0].value, lazy)
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out[module_name(path)] = path
    return out


ALL = modules()


def our_imports(path: Path) -> dict[str, bool]:
    """The modules of ours (``infra.x``, ``emulator.y`` ...) that ``path`` imports -> only lazily."""
    out: dict[str, bool] = {}
    for name, lazy in imported_modules(path).items():
        while name and name not in ALL:  # `from infra.clients import http` -> infra.clients.http, else infra.clients
            name = name.rpartition(".")[0]
        if name:
            out[name] = out.get(name, True) and lazy
    return out


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_scan_sees_the_tree() -> None:
    """A wrong root, or a reader that misses late imports, would make every rule pass vacuously."""
    for package in PACKAGES:
        assert sum(1 for m in ALL if top(m) == package) >= 5, package
    assert our_imports(ALL["emulator.app"]).get("emulator.graph.app") is True  # inside build_app()
    assert our_imports(ALL["emulator.core"]).get("emulator.app") is False
    assert "emulator.core" not in our_imports(ALL["emulator.app"])  # under `if TYPE_CHECKING:` only
    assert our_imports(ALL["infra.cli.main"]).get("emulator.__main__") is True


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_downwards(package: str) -> None:
    wrong = sorted(f"{name} imports {target}" + (" (inside a function)" if lazy else "")
                   for name, path in ALL.items() if top(name) == package
                   for target, lazy in our_imports(path).items()
                   if top(target) not in {package} | ALLOWED[package]
                   and not (lazy and (name, target) in LAZY_EXCEPTIONS))
    assert wrong == [], f"{package} may import only {sorted(ALLOWED[package]) or 'nothing of ours'}:\n" + "\n".join(wrong)


def test_no_two_packages_import_each_other() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in ALL.items():
        for target in our_imports(path):
            if top(target) != top(name) and (name, target) not in LAZY_EXCEPTIONS:
                graph[top(name)].add(top(target))
    both = sorted({tuple(sorted((a, b))) for a in PACKAGES for b in graph[a] if a in graph[b]})
    assert both == [], f"these packages import each other: {both}"


def test_no_new_import_cycle_between_modules() -> None:
    """Cycles between two or more modules (a package's __init__ importing its own submodules is how
    packages are built, not a cycle); KNOWN_CYCLES lists the pairs that close one."""
    edges = {name: {t for t in our_imports(path) if t != name and not t.startswith(name + ".")}
             for name, path in ALL.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for name in sorted(edges):
        if name not in index:
            connect(name)
    known = {frozenset(pair) for pair in KNOWN_CYCLES}
    new = [sorted(c) for c in components if not any(pair <= c for pair in known)
           or len(c) > 2 and {frozenset((a, b)) for a in c for b in edges[a] & c} - known]
    assert new == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in new)
    stale = sorted(tuple(sorted(pair)) for pair in known if not any(pair <= c for c in components))
    assert stale == [], f"no longer a cycle, remove from KNOWN_CYCLES: {stale}"


#: Issue 14: no module outside tests/ longer than this (lines); a longer one has two jobs.
MAX_MODULE_LINES = 450


def test_no_module_outside_tests_is_longer_than_the_limit() -> None:
    long = sorted(f"{name}: {n} lines" for name, path in ALL.items() if not name.startswith("tests")
                  for n in [len(path.read_text(encoding="utf-8").splitlines())] if n > MAX_MODULE_LINES)
    assert long == [], "split along its seams:\n" + "\n".join(long)
