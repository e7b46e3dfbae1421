"""Plain `jobterm exec` lines run without typer (commands/exec_quick.py), and that changes
nothing but the time they take:

* the quick table names exactly the options of the click command typer builds;
* for any command line, the quick reading is either None (typer reads it) or the very
  request typer's reading makes: same words, same values, same defaults;
* a plain line runs end to end without importing typer (or rich, prompt_toolkit, httpx);
  one that is not plain still gets typer's help and usage errors.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click import core as click
from typer.core import TyperGroup, TyperOption

from completion_helpers import imported_modules
from jobterm.app import build_command
from jobterm.commands.exec_ import request_of
from jobterm.commands.exec_quick import HOST_VARIABLE, OPTIONS, quick_request
from jobterm.commands.exec_run import ExecRequest


def _exec_command() -> click.Command:
    root = build_command(["exec"])
    assert isinstance(root, TyperGroup)
    return root.commands["exec"]


def _typer_reading(args: list[str]) -> ExecRequest | None:
    """The request typer's parser makes of `jobterm exec ARGS`, None when it refuses."""
    command = _exec_command()
    try:
        with click.Context(_exec_command()) as root:
            ctx = command.make_context("exec", list(args), parent=root)
    except (typer.TyperException, typer.Exit):
        return None
    return request_of(ctx)


def test_the_quick_table_is_the_click_command() -> None:
    declared = {
        tuple(sorted((*p.opts, *p.secondary_opts))): (p.name, not p.is_flag)
        for p in _exec_command().params
        if isinstance(p, TyperOption) and "--help" not in p.opts
    }
    quick = {tuple(sorted(o.names)): (o.key, o.takes_value) for o in OPTIONS}
    assert quick == declared


PLAIN = [
    ["101", "--", "true"],
    ["g/app#7", "-c", "ls | wc -l"],
    ["101", "102", "--json", "--", "sh", "-c", "exit 3"],
    ["--project", "demo/webapp", "101", "--stderr", "--timeout", "90s", "--", "x"],
    ["101", "--wait", "--wait-timeout=0", "-n", "--host", "h.example", "--", "a", "--", "b"],
    ["101", "-i", "-t", "-p", "g/a", "--", "-h"],
]


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_plain_lines_read_as_typer_reads_them(args: list[str]) -> None:
    quick = quick_request(args, {})
    assert quick is not None
    assert quick == _typer_reading(args)


def test_the_host_comes_from_the_environment_as_typer_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for value in ("https://gl.example", ""):
        monkeypatch.setenv(HOST_VARIABLE, value)
        for args in (["101", "--", "true"], ["101", "--host", "other", "--", "true"]):
            assert quick_request(args, {HOST_VARIABLE: value}) == _typer_reading(args)


WORDS = st.one_of(
    st.sampled_from(
        [
            "101",
            "g/a#7",
            "",
            "x y",
            "--",
            "-",
            "-h",
            "--help",
            "-it",
            "-cls",
            "--wait=1",
            "--nope",
            "-x",
            "5",
            "90s",
            "0",
            "1y",
            "-1",
            *(name for option in OPTIONS for name in option.names),
            *(f"{n}=v" for option in OPTIONS for n in option.names if n.startswith("--")),
            "--timeout=2m",
            "--wait-timeout=0",
            "--timeout=0",
        ]
    ),
    st.text(alphabet="ab-=#/ ", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=8))
def test_any_line_reads_as_typer_reads_it_or_goes_to_typer(args: list[str]) -> None:
    quick = quick_request(args, {})
    if quick is not None:
        assert quick == _typer_reading(args)


def test_a_plain_line_runs_without_typer(sandbox: Any, signed_in: Any) -> None:
    env = signed_in(sandbox)
    line = ["exec", "101", "--project", "demo/webapp", "--", "true"]
    modules = imported_modules(env, line)
    assert "websockets" in modules  # it did connect
    assert not modules & {"typer", "rich", "prompt_toolkit", "httpx", "aiohttp"}
    assert "typer" in imported_modules(env, ["exec", "101", "--project", "demo/webapp", "-h"])


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["101", "--timeout", "soon", "--", "true"], 2, "Invalid value for '--timeout'"),
        (["101", "--nope", "--", "true"], 2, "No such option: --nope"),
        (["101", "-h"], 0, "Run one command in a running job"),
        (["101", "--"], 2, "no command"),  # plain, but wrong: the same error either way
    ],
)
def test_lines_that_are_not_plain_get_typer(
    sandbox: Any, signed_in: Any, args: list[str], code: int, words: str
) -> None:
    env = signed_in(sandbox)
    done = subprocess.run(
        [sys.executable, "-m", "jobterm", "exec", *args],
        env=dict(env, GITLAB_HOST=sandbox.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert words in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
