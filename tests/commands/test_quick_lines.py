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
import signal
import subprocess
import sys
import time
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


def _quick_exec(args: list[str]) -> Any:
    return quick_request(args, {})


def _quick_attach(args: list[str]) -> Any:
    return attach_params(args, {})


#: For each verb: the quick reading, typer's reading, and words to make lines of.
READERS = {
    "exec": (_quick_exec, _typer_reading, OPTIONS, ["90s", "--timeout=2m", "-it", "-cls"]),
    "attach": (_quick_attach, _typer_params, ATTACH_OPTIONS, ["^]", "~~", "none", "s.cast"]),
}

PLAIN = [
    ("exec", ["101", "--", "true"]),
    ("exec", ["g/app#7", "-c", "ls | wc -l"]),
    ("exec", ["101", "102", "--json", "--", "sh", "-c", "exit 3"]),
    ("exec", ["--project", "demo/webapp", "101", "--stderr", "--timeout", "90s", "--", "x"]),
    ("exec", ["101", "--wait", "--wait-timeout=0", "-n", "--host", "h", "--", "a", "--", "b"]),
    ("exec", ["101", "-i", "-t", "-p", "g/a", "--", "-h"]),
    ("attach", ["101"]),
    ("attach", ["https://gl.example/g/a/-/jobs/7", "--no-resize", "-e", "none"]),
    ("attach", ["-p", "g/a", "7", "--record", "s.cast", "--record-input", "--wait-timeout", "9"]),
]


@pytest.mark.parametrize(("verb", "args"), PLAIN, ids=lambda v: " ".join(v) if v else "")
def test_plain_lines_read_as_typer_reads_them(verb: str, args: list[str]) -> None:
    quick, typer_reading, _, _ = READERS[verb]
    assert quick(args) is not None
    assert quick(args) == typer_reading(args)


def test_the_host_comes_from_the_environment_as_typer_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for value in ("https://gl.example", ""):
        monkeypatch.setenv(HOST_VARIABLE, value)
        for args in (["101", "--", "true"], ["101", "--host", "other", "--", "true"]):
            assert quick_request(args, {HOST_VARIABLE: value}) == _typer_reading(args)
            assert attach_params(args[:1], {HOST_VARIABLE: value}) == _typer_params(args[:1])


def _words(table: tuple[Option, ...], extra: list[str]) -> st.SearchStrategy[str]:
    names = [name for option in table for name in option.names]
    glued = [f"{name}=v" for name in names if name.startswith("--")]
    common = ["101", "g/a#7", "", "x y", "--", "-", "-h", "--help", "--nope", "-x", "0", "-1"]
    return st.one_of(
        st.sampled_from([*common, *extra, *names, *glued, "--wait=1", "--wait-timeout=0"]),
        st.text(alphabet="ab-=#/ ", max_size=6),
    )


@pytest.mark.parametrize("verb", sorted(READERS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_line_reads_as_typer_reads_it_or_goes_to_typer(verb: str, data: st.DataObject) -> None:
    quick, typer_reading, table, extra = READERS[verb]
    args = data.draw(st.lists(_words(table, extra), max_size=8))
    if quick(args) is not None:
        assert quick(args) == typer_reading(args)


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


@pytest.mark.parametrize(
    "project", [["--project", "demo/webapp"], ["-pdemo/webapp"]], ids=["plain", "typer"]
)
def test_ctrl_c_while_waiting_says_so_the_same_way_on_both_paths(
    make_sandbox: Any, signed_in: Any, project: list[str]
) -> None:
    sandbox = make_sandbox()
    env = signed_in(sandbox)
    argv = [sys.executable, "-m", "jobterm", "exec", "104", *project, "--wait", "--", "true"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + scaled(30)
    while not any("/jobs/104" in r["path"] for r in sandbox.admin("GET", "/requests")["requests"]):
        assert time.monotonic() < deadline, "jobterm never asked about the pending job"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=scaled(30))
    assert proc.returncode == 130
    assert err.decode() == "jobterm: interrupted\n"
