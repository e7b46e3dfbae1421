"""The import layers of ARCHITECTURE.md ("Which way imports go"), held to the code: every
import of a jobterm module, at module level or inside a function, goes to its own layer or
one below, except the one sideways edge the document names; only the commands start the
sandbox, and the sandbox imports only what its row says."""

from __future__ import annotations

import ast
from pathlib import Path

import jobterm

PACKAGE = Path(jobterm.__file__).resolve().parent

# Top to bottom, as ARCHITECTURE.md draws them: (layer, the modules and packages in it).
LAYERS: list[tuple[str, set[str]]] = [
    ("commands", {"__main__", "app", "boundary", "commands", "demo"}),
    ("cp", {"cp"}),
    ("adapters", {"term", "completion"}),
    ("jobs", {"jobs"}),
    ("gitlab", {"gitlab"}),
    ("browsers", {"browsers"}),
    ("support", {"env", "dirs", "files", "log", "stdio", "usage", "optional_values", "aio"}),
    ("core", {"core", "errors"}),
]
BESIDE = "sandbox"
SANDBOX_MAY_IMPORT = {"core", "errors", "aio", "files"}
SIDEWAYS = {("jobs.terminal", "term.connection")}  # a plain record handed to term/


def top(module: str) -> str:
    """The first name under jobterm: `term.attach` -> `term`."""
    return module.split(".")[0]


def depth(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if top(module) in members:
            return index
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every jobterm module `path` imports, without the `jobterm.` prefix."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: list[str]) -> set[str]:
    """Every jobterm module `source` imports, read as a module of `package` (its parts
    under jobterm), without the `jobterm.` prefix."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["jobterm", *package[: len(package) - node.level + 1]]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{a.name}" for a in node.names)  # names may be modules
    return {
        m.removeprefix("jobterm.")
        for m in found
        if m.startswith("jobterm.") and _exists(m.removeprefix("jobterm."))
    }


def _exists(module: str) -> bool:
    """A module or package of jobterm, not a name defined in one."""
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def edges() -> list[tuple[str, str]]:
    return [
        (module_name(path), target)
        for path in sorted(PACKAGE.rglob("*.py"))
        for target in sorted(imports_of(path))
        if top(target) != top(module_name(path))
    ]


def test_every_module_has_a_layer() -> None:
    names = {top(module_name(p)) for p in PACKAGE.rglob("*.py") if module_name(p)}
    placed = set().union(*(members for _, members in LAYERS)) | {BESIDE}
    assert names - placed == set(), "add them to ARCHITECTURE.md's layers and to LAYERS"


def upward(edge_list: list[tuple[str, str]]) -> list[str]:
    """The edges that climb a layer (the sandbox and the named sideways edge aside)."""
    found = []
    for source, target in edge_list:
        if top(source) == BESIDE or top(target) == BESIDE or (source, target) in SIDEWAYS:
            continue
        below, above = depth(target), depth(source)
        if below is not None and above is not None and below < above:
            found.append(f"{source} -> {target}")
    return found


def test_imports_go_down_the_layers() -> None:
    assert upward(edges()) == []


def test_the_check_flags_an_upward_edge_and_only_that() -> None:
    made_up = [("core.frames", "term.attach"), ("term.attach", "core.frames")]
    assert upward([*made_up, *SIDEWAYS]) == ["core.frames -> term.attach"]


def test_the_sandbox_stands_beside() -> None:
    wrong = [
        f"{source} -> {target}"
        for source, target in edges()
        if (top(source) == BESIDE and top(target) not in SANDBOX_MAY_IMPORT)
        or (top(target) == BESIDE and LAYERS[0][0] != _layer_name(source))
    ]
    assert wrong == []


def _layer_name(module: str) -> str:
    index = depth(module)
    return LAYERS[index][0] if index is not None else BESIDE


def test_the_walk_finds_imports_inside_functions() -> None:
    """Heavy imports sit inside functions (ARCHITECTURE.md): a walk of the module level
    alone would miss the edges that matter."""
    source = (PACKAGE / "commands" / "attach_start.py").read_text()
    inside = {
        node.module
        for function in ast.walk(ast.parse(source))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert inside, "attach_start.py no longer imports inside a function: pick another module"
    found = imports_of(PACKAGE / "commands" / "attach_start.py")
    assert {m.removeprefix("jobterm.") for m in inside if m.startswith("jobterm.")} <= found
    assert sorted(SIDEWAYS)[0] in edges(), "the sideways edge is gone: drop it here and there"


def test_the_walk_reads_relative_imports_and_names_from_the_root() -> None:
    lines = "from ..core import frames\nfrom . import tty\nfrom jobterm import aio, __version__\n"
    found = imports_in(lines, ["term"])  # as though it stood in term/
    assert found >= {"core.frames", "term.tty", "aio"}
    assert "__version__" not in found
