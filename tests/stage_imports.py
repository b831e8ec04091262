"""What each stage script imports from the distillery package, followed through the package: the modules
a stage's `deps` in dvc.yaml must list, so that editing one re-runs exactly the stages that run it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "distillery"


def module_file(name: str) -> Path | None:
    """src/distillery/a/b.py for 'distillery.a.b', the package's __init__.py for a package, else None."""
    parts = name.split(".")
    if parts[0] != "distillery":
        return None
    base = ROOT / "src" / Path(*parts)
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


def imported_modules(path: Path) -> set[str]:
    """The distillery modules `path` imports anywhere in it (function-level imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return {name for name in names if module_file(name) is not None}


def loaded_by_name(path: Path) -> dict[str, str]:
    """Modules a file loads by name (importlib): a module-level dict literal of name -> 'distillery.x.y'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                is_module = isinstance(value, ast.Constant) and str(value.value).startswith("distillery.")
                if is_module and isinstance(key, ast.Constant):
                    found[key.value] = value.value
    return found


def stage_modules(script: Path, arguments: list[str]) -> set[Path]:
    """Every package file the script runs with these command-line arguments: its imports, theirs, and so
    on, plus the modules a registry loads by name: the one named by an argument (an architecture), or
    every one when no argument names any (a stage that loads them all)."""
    files, queue = set(), [script]
    while queue:
        path = queue.pop()
        modules = imported_modules(path)
        registry = loaded_by_name(path)
        named = [module for name, module in registry.items() if name in arguments]
        modules |= set(named or registry.values())
        for module in modules:
            file = module_file(module)
            if file not in files:
                files.add(file)
                queue.append(file)
    return {file for file in files if file.name != "__init__.py"}
