"""Plain `jobterm exec` and `jobterm attach` lines run without typer (commands/quick.py),
and that changes nothing but the time they take:

* each quick table names exactly the options of the click command typer builds;
* for any command line, the quick reading is either None (typer reads it) or the very
  reading typer makes: same words, same values, same defaults;
* a plain line runs end to end without importing typer (or rich, prompt_toolkit, httpx);
  one that is not plain still gets typer's help and usage errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click import core as click
from typer.core import TyperGroup, TyperOption

from completion_helpers import imported_modules
from jobterm.app import build_command
from jobterm.commands.exec_ import request_of
from jobterm.commands.exec_run import ExecRequest
from jobterm.commands.quick import ATTACH_OPTIONS, HOST_VARIABLE, attach_params, quick_request
from jobterm.commands.quick import EXEC_OPTIONS as OPTIONS
from jobterm.core.quickargs import Option
from util import scaled


def _command(verb: str) -> click.Command:
    root = build_command([verb])
    assert isinstance(root, TyperGroup)
    return root.commands[verb]


def _typer_context(verb: str, args: list[str]) -> click.Context | None:
    """The context typer's parser makes of `jobterm VERB ARGS`, None when it refuses."""
    command = _command(verb)
    try:
        with click.Context(command) as root:
            return command.make_context(verb, list(args), parent=root)
    except (typer.TyperException, typer.Exit):
        return None


def _typer_reading(args: list[str]) -> ExecRequest | None:
    ctx = _typer_context("exec", args)
    return None if ctx is None else request_of(ctx)


def _typer_params(args: list[str]) -> dict[str, Any] | None:
    ctx = _typer_context("attach", args)
    return None if ctx is None else ctx.params


@pytest.mark.parametrize(("verb", "table"), [("exec", OPTIONS), ("attach", ATTACH_OPTIONS)])
def test_each_quick_table_is_its_click_command(verb: str, table: tuple[Option, ...]) -> None:
    declared = {
        tuple(sorted((*p.opts, *p.secondary_opts))): (p.name, not p.is_flag)
        for p in _command(verb).params
        if isinstance(p, TyperOption) and "--help" not in p.opts
    }
    quick = {tuple(sorted(o.names)): (o.key, o.takes_value) for o in table}
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


ATTACH_WORDS = st.one_of(
    st.sampled_from(
        [
            "101",
            "g/a#7",
            "",
            "x y",
            "--",
            "-",
            "-h",
            "-e",
            "^]",
            "none",
            "~~",
            "rec.cast",
            "--wait",
            "--wait-timeout=0",
            "--record=",
            "--escape-char=",
            "--no-resize=1",
            *(name for option in ATTACH_OPTIONS for name in option.names),
        ]
    ),
    st.text(alphabet="ab-=#/ ", max_size=6),
)


@pytest.mark.parametrize(
    "args",
    [
        ["101"],
        ["https://gl.example/g/a/-/jobs/7", "--no-resize", "-e", "none"],
        ["-p", "g/a", "7", "--record", "s.cast", "--record-input", "--wait", "--wait-timeout", "9"],
    ],
    ids=" ".join,
)
def test_plain_attach_lines_read_as_typer_reads_them(args: list[str]) -> None:
    quick = attach_params(args, {})
    assert quick is not None
    assert quick == _typer_params(args)


@settings(max_examples=300, deadline=None)
@given(st.lists(ATTACH_WORDS, max_size=7))
def test_any_attach_line_reads_as_typer_reads_it_or_goes_to_typer(args: list[str]) -> None:
    quick = attach_params(args, {})
    if quick is not None:
        assert quick == _typer_params(args)


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


RECORD_MODULES = (
    "import atexit, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write("
    "'\\n'.join(sorted({m.split('.')[0] for m in sys.modules}))))\n"
    "sys.argv = ['jobterm', *sys.argv[2:]]\n"
    "from jobterm.__main__ import run\n"
    "run()\n"
)


def test_a_plain_attach_runs_without_typer(sandbox: Any, signed_in: Any, tmp_path: Path) -> None:
    env = {**os.environ, **signed_in(sandbox), "TERM": "xterm-256color"}
    modules = tmp_path / "modules"
    child = pexpect.spawn(
        sys.executable,
        ["-c", RECORD_MODULES, str(modules), "attach", "101", "--project", "demo/webapp"],
        env=env,
        dimensions=(24, 80),
        timeout=scaled(20),
    )
    child.expect("attached to job")
    child.send("echo quick-$((6*7))\r")
    child.expect("quick-42")
    child.send("\r~.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    loaded = set(modules.read_text().split())
    assert "websockets" in loaded
    assert not loaded & {"typer", "rich", "prompt_toolkit"}
