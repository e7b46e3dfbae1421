"""Run a module's sign-in tests against both page styles of the sandbox.

    from signin_styles import make_sandbox, sandbox, signin_style  # noqa: F401

overrides the `sandbox` and `make_sandbox` fixtures of that module: each test runs once with
the classic pages and once with GitLab 18's (`signin_style = "gitlab18"`); `signin_style`
says which, for the few assertions that differ.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures_sandbox import MakeSandbox, SandboxInfo, _Sandboxes

STYLES = ("classic", "gitlab18")


@pytest.fixture(scope="module", params=STYLES)
def signin_style(request: pytest.FixtureRequest) -> str:
    style: str = request.param
    return style


def with_style(config: dict[str, Any] | None, style: str) -> dict[str, Any]:
    config = copy.deepcopy(config or {})
    config.setdefault("settings", {}).setdefault("signin_style", style)
    return config


@pytest.fixture(scope="module")
def sandbox(signin_style: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    sandboxes = _Sandboxes(tmp_path_factory.mktemp(f"sandbox-{signin_style}"))
    yield sandboxes(with_style(None, signin_style))
    sandboxes.close()


@pytest.fixture
def make_sandbox(signin_style: str, tmp_path: Path) -> Iterator[MakeSandbox]:
    sandboxes = _Sandboxes(tmp_path)

    def make(config: dict[str, Any] | None = None, *args: str) -> SandboxInfo:
        return sandboxes(with_style(config, signin_style), *args)

    yield make
    sandboxes.close()
