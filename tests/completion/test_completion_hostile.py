"""Hostile names from a real sandbox, completed by Tab in real bash, zsh and fish: every one
must reach the command as the one literal word the server sent, whatever quote the user
opened, and nothing in it may run (the class of defect: server text read as shell syntax).
The job names shown beside the candidates must not reach the terminal as control sequences."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from completion_helpers import REPO, host_name, wait_until
from fixtures_auth import auth_env_for, login_stdin
from fixtures_sandbox import _Sandboxes
from util import scaled

# one per letter, so that `evil/<letter>` names exactly one of them
PROJECTS = {
    "a": "evil/a; touch pwned-semicolon",
    "b": "evil/b$(touch pwned-substitution)",
    "c": 'evil/c `touch pwned-backtick` it\'s "quoted" !! \\ end',
    "d": "evil/d two  spaces > pwned-redirect | cat &",
    "e": "evil/e line\nbreak; touch pwned-newline",
    "f": "evil/f \x1b]0;TITLE\x07 {x,y} * ~ $HOME",
}
JOB_NAMES = ["build; $(touch pwned-job) \x1b]0;JOBTITLE\x07", "test \x1b[2J`touch pwned-job2`"]
OPENINGS = ["", "'", '"']
PROMPT = "READY> "


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A sandbox whose projects and jobs have hostile names, a signed-in user whose
    completion cache the real refresher filled from it, and a `jobterm` on PATH that records
    its arguments instead of running (completion requests still reach the real one)."""
    root = tmp_path_factory.mktemp("hostile")
    config = {
        "projects": [{"path": path, "members": ["demo"]} for path in PROJECTS.values()],
        "jobs": [
            {"project": PROJECTS["a"], "name": name, "user": "demo", "status": "running"}
            for name in JOB_NAMES
        ],
    }
    sandboxes = _Sandboxes(root)
    sandbox = sandboxes(config)
    try:
        env = auth_env_for(root / "user", sandbox.url)
        _jobterm(env, ["login", sandbox.url, "--username", "demo", "--password-stdin"],
                 login_stdin(sandbox, "demo"))  # fmt: skip
        host = host_name(sandbox.url)
        _jobterm(env, ["-m", "jobterm.completion.refresh", host, "--projects"])
        _jobterm(env, ["-m", "jobterm.completion.refresh", host, "--project",
                       PROJECTS["a"]])  # fmt: skip
        yield _shell_env(env, root)
    finally:
        sandboxes.close()


def _jobterm(env: dict[str, str], args: list[str], stdin: str = "") -> None:
    argv = [sys.executable, *args] if args[0] == "-m" else [sys.executable, "-m", "jobterm", *args]
    result = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, env=env, timeout=scaled(60)
    )
    assert result.returncode == 0, result.stderr


def _shell_env(env: dict[str, str], root: Path) -> dict[str, str]:
    real = Path(sys.executable).parent / "jobterm"
    if not real.exists():
        pytest.skip("the jobterm entry point is not installed beside this Python")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "jobterm"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "if '_JOBTERM_COMPLETE' in os.environ:\n"
        f"    os.execv({str(real)!r}, [{str(real)!r}, *sys.argv[1:]])\n"
        f"with open({str(root / 'argv.jsonl')!r}, 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    wrapper.chmod(0o755)
    (root / "cwd").mkdir()
    return dict(
        env, PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}", TERM="dumb",
        HOME=str(root / "home"), ROOT=str(root),
    )  # fmt: skip


def start(shell: str, env: dict[str, str], term: str = "dumb") -> pexpect.spawn:
    """`shell`, interactive in a PTY, with jobterm's completion script loaded."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    (Path(env["ROOT"]) / "argv.jsonl").unlink(missing_ok=True)
    setup = {
        "bash": (["--norc", "--noprofile", "-i"],
                 f"PS1='{PROMPT}'; source {REPO / 'completions' / 'jobterm.bash'}"),
        "zsh": (["-f", "-i"], f"PS1='{PROMPT}'; autoload -Uz compinit; compinit -u -D; "
                f"source {REPO / 'completions' / '_jobterm'}"),
        "fish": (["--no-config", "-i"], f"function fish_prompt; echo -n '{PROMPT}'; end; "
                 f"source {REPO / 'completions' / 'jobterm.fish'}"),
    }[shell]  # fmt: skip
    child = pexpect.spawn(
        shell, setup[0], env=dict(env, TERM=term), cwd=env["ROOT"] + "/cwd", encoding="utf-8",
        timeout=scaled(20), dimensions=(40, 200),
    )  # fmt: skip
    child.sendline(setup[1] + "; echo READY-$((6*7))" if shell != "fish" else
                   setup[1] + "; echo READY-(math 6 \\* 7)")  # fmt: skip
    child.expect_exact("READY-42")
    child.expect_exact(PROMPT)
    return child


def recorded(env: dict[str, str]) -> list[list[str]]:
    path = Path(env["ROOT"]) / "argv.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_tab_inserts_each_hostile_project_as_one_literal_word(
    hostile: dict[str, str], shell: str
) -> None:
    child = start(shell, hostile)
    try:
        expected = []
        for opening in [*OPENINGS, *(["$'"] if shell != "fish" else [])]:  # fish has no $'...'
            for letter, path in PROJECTS.items():
                # Tab, then Enter: the shell reads the keys in order, after completing
                child.send(f"jobterm jobs -p {opening}evil/{letter}\t\r")
                expected.append(["jobs", "-p", path])
                wait_until(lambda: len(recorded(hostile)) >= len(expected))
                assert recorded(hostile) == expected, (opening, letter)
    finally:
        child.close(force=True)
    assert sorted(p.name for p in (Path(hostile["ROOT"]) / "cwd").iterdir()) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_job_names_beside_the_ids_are_shown_not_obeyed(hostile: dict[str, str], shell: str) -> None:
    child = start(shell, hostile, "xterm")  # a terminal that shows fish's menu
    try:
        # complete the hostile project, then list its jobs with their names beside
        child.send("jobterm attach -p evil/a\t")
        child.send("\t\t")
        shown = ""
        for visible_part in ("JOBTITLE", "[2J"):
            child.expect_exact(visible_part)
            shown += child.before + child.after
        child.send("\x03")
    finally:
        child.close(force=True)
    assert "\x1b]0;JOBTITLE" not in shown
    assert "\x1b[2J" not in shown
    assert not list((Path(hostile["ROOT"]) / "cwd").iterdir())
