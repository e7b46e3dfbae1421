"""jobterm.core is sans-I/O: importing any of it must load no I/O library.

Each module is imported in a fresh interpreter, so one module's imports cannot hide
another's, and a new module under core/ is checked without touching this file.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import jobterm.core

FORBIDDEN = (
    "asyncio",
    "websockets",
    "httpx",
    "termios",
    "keyring",
    "aiohttp",
    "prompt_toolkit",
    "rich",
)

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""

CORE_MODULES = sorted(
    f"jobterm.core.{info.name}" for info in pkgutil.iter_modules(jobterm.core.__path__)
)


def test_core_has_modules() -> None:
    assert "jobterm.core.escape" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_loads_no_io_library(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module, *FORBIDDEN],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "", f"{module} imports {out}"
