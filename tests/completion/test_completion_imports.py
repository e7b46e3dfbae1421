"""The completion package imports one way: nothing in it reaches the application, each of its
modules imports alone in a fresh interpreter, and no import cycle runs through it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import jobterm
from util import scaled

PACKAGE = Path(jobterm.__file__).resolve().parent
COMPLETION = sorted(
    f"jobterm.completion.{p.stem}"
    for p in (PACKAGE / "completion").glob("*.py")
    if p.stem != "__init__"
)
# What a Tab may load: the modules the shell's request goes through before typer.
EVERY_TAB = ("protocol", "respond", "answers", "cache", "where", "spec", "gen")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every jobterm module `path` imports, at module level or inside a function."""
    name = module_name(path)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "jobterm" or m.startswith("jobterm.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def cycle_through(edges: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_nothing_in_completion_imports_the_application() -> None:
    edges = graph()
    for name in [*COMPLETION, "jobterm.completion"]:
        wrong = {m for m in edges[name] if m == "jobterm.app" or m.startswith("jobterm.commands")}
        assert not wrong, f"{name} imports {wrong}"


@pytest.mark.parametrize("name", [*COMPLETION, "jobterm.app", "jobterm.__main__"])
def test_no_import_cycle_runs_through_completion(name: str) -> None:
    edges = graph()
    assert len(COMPLETION) >= 8
    for module in COMPLETION:
        assert cycle_through(edges, module) is None, cycle_through(edges, module)
    assert cycle_through(edges, name) is None, cycle_through(edges, name)


@pytest.mark.parametrize("name", COMPLETION)
def test_each_module_imports_alone(name: str, tmp_path: Path) -> None:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({name!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60)
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "jobterm.app" not in loaded
    assert not any(m.startswith("jobterm.commands") for m in loaded)
    if name.rpartition(".")[2] in EVERY_TAB:
        assert "typer" not in loaded, name  # typer costs a few hundred ms on every Tab
        assert "typing" not in loaded, name  # and typing a few ms
