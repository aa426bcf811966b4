"""The package's structure, checked from its source: data flows one way and stages meet only
at their declared interfaces.

- No import cycles between si_explorer's modules, counting imports inside functions (a cycle
  held together by a late import is still a cycle).
- No module reads another module's private names: ``obj._name`` is only used where ``_name``
  is defined in the same module, and no ``from x import _name`` crosses modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "si_explorer"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, level: int, target: str | None) -> str:
    """The absolute module name of ``from <level dots><target> import ...`` in ``importer``."""
    if level == 0:
        return target or ""
    base = importer.split(".")
    if not is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(name: str) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its source."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(name, node.level, node.module)
            # `from . import ops` imports a submodule; other names come from the package.
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def test_no_import_cycles():
    graph = {name: imports_of(name) for name in MODULES}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def private_names_defined(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__, getattr(self, "_x"), pickled state keys
    return {n for n in names if n.startswith("_")}


#: Public API that merely starts with an underscore (namedtuple's methods).
NOT_PRIVATE = {"_replace", "_asdict", "_fields", "_make"}


def is_dunder(name: str) -> bool:
    return (name.startswith("__") and name.endswith("__")) or name in NOT_PRIVATE


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_access_across_modules(name):
    tree = ast.parse(MODULES[name].read_text())
    own = private_names_defined(tree)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if is_dunder(node.attr) or node.attr in own:
                continue
            bad.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (
            node.level or "si_explorer" in (node.module or "")
        ):
            for alias in node.names:
                if alias.name.startswith("_") and not is_dunder(alias.name):
                    bad.append(f"line {node.lineno}: imports {alias.name}")
    assert not bad, f"{name} uses private names of other modules: {bad}"


def test_the_checks_see_a_cycle_and_a_private_access(tmp_path, monkeypatch):
    """The two checks above fail on a package that has what they look for."""
    pkg = tmp_path / "si_explorer"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from .a import f\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text(
        "from ..a import f\n\ndef g(stack):\n    return stack._planes\n"
    )
    modules = {module_name_in(pkg, p): p for p in sorted(pkg.rglob("*.py"))}
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "MODULES", modules)
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "PACKAGE", pkg)
    with pytest.raises(AssertionError, match="si_explorer.a -> si_explorer.b -> si_explorer.a"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match=r"\._planes"):
        test_no_private_access_across_modules("si_explorer.sub.c")


def module_name_in(package: Path, path: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
