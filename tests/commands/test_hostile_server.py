"""Class: no string from the server can drive the user's terminal.

A sandbox world whose every name is hostile (job, stage and ref names, runner descriptions,
the project's and the user's names, and the message of an error answer) carries an OSC 52
clipboard write, an OSC 0 window title, CSI 2J (clear screen) and C1 controls. Every command
that prints then runs against it: in pipes, where nothing jobterm writes may hold ESC, BEL or
a C1 code at all (the command's own output through `exec` aside: that is the user's data);
and in a real terminal (`attach`, its status escape and the job picker), where jobterm's own
escape sequences are allowed but the hostile ones must arrive only in their visible form.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures_auth import auth_env_for, jobterm
from fixtures_sandbox import launch_sandbox
from reliability import shown, sign_in
from util import scaled

HOSTILE = "\x1b]52;c;cHduZWQ=\x1b\\\x1b]0;owned\x07\x1b[2J\x9b2J\x9d0;t\x9c"
SHOWN = "^[]52;c;cHduZWQ=^[\\^[]0;owned^G^[[2J<9b>2J<9d>0;t<9c>"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
RAW_PIECES = [b"\x1b]52;", b"\x1b]0;owned", b"\x1b[2J", "\x9b".encode(), "\x9d".encode()]
JOBS = (101, 102, 104, 105, 106, 107, 108)


def hostile(prefix: str) -> str:
    return f"{prefix}<{HOSTILE}>"


WORLD: dict[str, Any] = {
    "users": [{"username": "demo", "name": hostile("user")}],
    "runners": [{"id": n, "description": hostile(f"runner{n}")} for n in (1, 2, 3)],
    "projects": [{"path": "demo/webapp", "name": hostile("project")}],
    "jobs": [
        {"id": n, "name": hostile(f"job{n}"), "stage": hostile("stage"), "ref": hostile("ref")}
        for n in JOBS
    ],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    info = launch_sandbox(WORLD, (), tmp_path_factory.mktemp("hostile"))
    yield info
    info.stop()


@pytest.fixture(scope="module")
def env(world, tmp_path_factory):
    return sign_in(world, tmp_path_factory.mktemp("demo"))


def assert_inert(result: subprocess.CompletedProcess[str], *, check_stdout: bool = True) -> None:
    streams = {"stderr": result.stderr}
    if check_stdout:
        streams["stdout"] = result.stdout
    for name, text in streams.items():
        found = CONTROL.search(text)
        assert found is None, f"{name} of {result.args[3:]} holds {found.group()!r}: {text!r}"


PRINTING = [
    ["jobs", "--project", "demo/webapp"],
    ["jobs", "--project", "demo/webapp", "--all"],
    ["jobs", "--everywhere", "--all"],
    ["jobs", "--project", "demo/webapp", "--json"],
    ["auth", "status"],
    ["--debug", "jobs", "--project", "demo/webapp"],
    *(["exec", str(n), "--project", "demo/webapp", "--", "true"] for n in (104, 105, 106, 107)),
    ["--debug", "exec", "105", "--project", "demo/webapp", "--", "true"],
    ["attach", "105", "--project", "demo/webapp"],
]


@pytest.mark.parametrize("args", PRINTING, ids=" ".join)
def test_hostile_server_strings_class_in_pipes(env, args):
    result = jobterm(args, env)
    assert_inert(result)
    if "--json" not in args:
        assert HOSTILE not in result.stdout + result.stderr


def test_hostile_server_strings_class_shown_visibly(env):
    table = jobterm(["jobs", "--project", "demo/webapp", "--all"], env)
    assert table.returncode == 0, table.stderr
    assert f"job101<{SHOWN[:20]}" in table.stdout  # the table may cut a long name short
    refused = jobterm(["exec", "107", "--project", "demo/webapp", "--", "true"], env)
    assert f"runner2<{SHOWN}>" in refused.stderr


def test_hostile_server_strings_class_error_messages(world, env):
    message = hostile("denied")
    world.admin("POST", "/faults", kind="server_error", status=403, message=message, times=1)
    try:
        result = jobterm(["jobs", "--project", "demo/webapp"], env)
    finally:
        world.admin("DELETE", "/faults")
    assert result.returncode == 6, result.stderr
    assert f"denied<{SHOWN}" in result.stderr
    assert_inert(result)


def test_hostile_server_strings_class_exec_output_is_the_users(env):
    """What the command prints is the user's data and passes as it is; jobterm's own words
    about the run stay inert."""
    result = jobterm(["exec", "101", "--project", "demo/webapp", "--", "printf", "a\\033b"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a\x1bb"
    assert_inert(result, check_stdout=False)


def assert_no_raw_hostile(data: bytes) -> None:
    for piece in RAW_PIECES:
        assert piece not in data, (piece, data[-2000:])


def test_hostile_server_strings_class_attach_in_a_terminal(spawn_jobterm, env):
    run = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], env, cols=250)
    run.child.logfile_read = __import__("io").BytesIO()
    run.child.expect("attached to job", timeout=scaled(20))
    run.child.expect("leave with", timeout=scaled(20))
    run.child.send("\r~#")
    run.child.expect("attached for", timeout=scaled(20))
    run.child.send("\r~.")
    assert run.wait_done() == 0
    seen = shown(run)
    assert_no_raw_hostile(seen)
    assert f"job101<{SHOWN}>".encode() in seen


def test_hostile_server_strings_class_job_picker(spawn_jobterm, env):
    run = spawn_jobterm(["attach", "--project", "demo/webapp"], env, cols=250)
    run.child.logfile_read = __import__("io").BytesIO()
    run.child.expect("Attach to which job", timeout=scaled(20))
    run.child.expect("job102", timeout=scaled(20))
    run.child.sendcontrol("c")
    run.wait_done()
    assert_no_raw_hostile(shown(run))


def test_hostile_server_strings_class_page_flash(world, tmp_path):
    """The LDAP form's failure flash quotes the user name back into the page jobterm reads:
    whatever of it jobterm shows stays inert."""
    env = auth_env_for(tmp_path, world.url)
    args = ["login", world.url, "--ldap", "-u", hostile("who"), "--password-stdin"]
    result = jobterm(args, env, stdin="wrong\n")
    assert result.returncode == 3, result.stderr
    assert_inert(result)
