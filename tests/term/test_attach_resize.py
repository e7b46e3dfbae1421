"""Resizing that just works: `jobterm attach` in a real PTY, the screen rendered by pyte.

Each test changes the window of the terminal jobterm runs in, then checks on the job's side
(`stty size`) that the size arrived, and on ours that nothing of the hidden line (`stty`,
`__jobterm_size`) ever reached the terminal or the shell's history.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import string
import time
from typing import Any

import pexpect
import pyte
import pytest

from jobterm.core.setup import ERASE_LINE
from util import scaled

WAIT = 20
#: What the hidden lines and markers look like (a test's own commands may name the function).
HIDDEN = re.compile(rb"stty rows \d|__jobterm_size \d|jobterm-prompt;|jobterm-ready;")

SHELLS = {
    "bash": ["bash", "-l"],
    "zsh": ["zsh", "-l"],
    "dash": ["dash"],
    "busybox": ["busybox", "sh"],
}


class Term:
    """jobterm attached in a PTY: what it printed, fed into a pyte screen as it arrives."""

    def __init__(self, run: Any, rows: int, cols: int) -> None:
        self.run = run
        self.child: pexpect.spawn = run.child
        self.child.logfile_read = io.BytesIO()
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.fed = 0
        self.seen_lines: set[str] = set()

    @property
    def shown(self) -> bytes:
        log = self.child.logfile_read
        assert isinstance(log, io.BytesIO)
        return log.getvalue()

    def sync(self) -> None:
        """Render what arrived since the last call; remember every line the screen showed."""
        data = self.shown
        self.stream.feed(data[self.fed :])
        self.fed = len(data)
        self.seen_lines.update(line.rstrip() for line in self.screen.display)

    def expect(self, pattern: str | bytes, timeout: float = WAIT) -> None:
        self.child.expect(pattern, timeout=scaled(timeout))
        self.sync()

    def resize(self, rows: int, cols: int) -> None:
        self.sync()
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def ready(self) -> None:
        """Wait until the job's shell answers a command and shows its next prompt (a size
        still pending is typed in at that prompt, before it is shown: keys typed earlier
        would be type-ahead, which rightly holds the size back)."""
        token = "".join(random.choices(string.ascii_lowercase, k=8))
        self.child.send(f"echo ready-{token}-$((40+2))\r")
        self.expect(f"ready-{token}-42")
        self.expect(rb"[#$%] ")

    def remote_size(self) -> tuple[int, int]:
        self.child.send("stty size\r")
        self.expect(rb"\r\n(\d+) (\d+)\r\n")
        match = self.child.match
        return int(match.group(1)), int(match.group(2))

    def assert_nothing_hidden_shown(self) -> None:
        self.sync()
        found = HIDDEN.search(self.shown)
        assert found is None, self.shown[max(0, found.start() - 300) : found.end() + 100]
        for line in self.seen_lines:
            assert HIDDEN.search(line.encode()) is None, line

    def leave(self) -> int:
        self.child.send("\r~.")
        return int(self.run.wait_done())


def shell_job(shell: str) -> dict[str, Any]:
    argv = SHELLS[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return {
        "id": 130,
        "project": "demo/webapp",
        "name": f"shell:{shell}",
        "user": "demo",
        "status": "running",
        "script_seconds": None,
        "shell": argv,
    }


@pytest.fixture
def attach_shell_raw(spawn_jobterm, make_sandbox, signed_in):
    """Attach to a job whose terminal runs `shell`; returns as soon as jobterm says so."""

    def start(shell: str, rows: int = 24, cols: int = 80) -> Term:
        sandbox = make_sandbox({"jobs": [shell_job(shell)]})
        run = spawn_jobterm(
            ["attach", "130", "--project", "demo/webapp"], signed_in(sandbox), rows=rows, cols=cols
        )
        term = Term(run, rows, cols)
        term.expect("attached to job 130")
        return term

    return start


@pytest.fixture
def attach_shell(attach_shell_raw):
    """Attach, and wait until the job's shell answers."""

    def start(shell: str, rows: int = 24, cols: int = 80) -> Term:
        term = attach_shell_raw(shell, rows, cols)
        term.ready()
        return term

    return start


def history_lines(term: Term) -> list[str]:
    term.child.send("history; echo end-$((1+2))\r")
    term.expect("end-3")
    text = term.child.before.decode(errors="replace")
    return [line for line in text.split("\r\n")[1:] if line.strip()]


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_resize_applies_at_the_next_prompt_with_nothing_shown(attach_shell, shell):
    term = attach_shell(shell)
    assert term.remote_size() == (24, 80)
    term.resize(30, 100)
    term.child.send("\r")
    term.ready()
    assert term.remote_size() == (30, 100)
    term.resize(20, 70)
    time.sleep(0.5)  # an idle prompt gets the size by itself, after a quiet moment
    assert term.remote_size() == (20, 70)
    term.assert_nothing_hidden_shown()
    prompt_rows = [row for row in term.screen.display if row.strip()]
    assert all(len(row) == 70 for row in term.screen.display)
    assert prompt_rows, "the screen is empty"
    if shell in ("bash", "zsh"):
        lines = history_lines(term)
        assert not [line for line in lines if re.search(r"__jobterm_size \d", line)], lines
        ours = [line for line in lines if "__jobterm_" in line or "stty rows" in line]
        if shell == "bash":
            assert not ours, lines
        else:  # zsh cannot delete the set-up line's own entry (see core/setup.py)
            assert len(ours) == 1, lines
            assert "stty rows" in ours[0], lines
    assert term.leave() == 0


def test_prompt_is_redrawn_once_at_the_new_width(attach_shell):
    term = attach_shell("bash")
    term.child.send("PS1='[$COLUMNS]> '\r")
    term.expect(r"\[80\]> ")
    term.resize(30, 111)
    term.child.send("\r")
    term.expect(r"\[111\]> ")
    term.child.send("echo done-$((2*3))\r")
    term.expect("done-6")
    term.expect(r"\[111\]> ")
    rows = [row.rstrip() for row in term.screen.display if row.strip()]
    # The Enter gives exactly one fresh prompt: the one before the resize line was dropped.
    assert rows[-3:] == ["[111]> echo done-$((2*3))", "done-6", "[111]>"], rows
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


def test_resize_while_a_command_runs_waits_for_the_prompt(attach_shell):
    term = attach_shell("bash")
    term.child.send("sleep 3; stty size; echo after-$((3+4))\r")
    time.sleep(0.5)
    term.resize(33, 99)
    term.expect("after-7")
    # The size the command saw when it returned is still the old one: nothing was typed
    # into it, and the size comes with the next prompt.
    assert "24 80" in term.child.before.decode()
    assert term.remote_size() == (33, 99)
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


def test_keys_typed_during_the_hidden_line_arrive_once_and_in_order(attach_shell, tmp_path):
    term = attach_shell("bash")
    started = tmp_path / "started"
    # Make the size function slow, and say when it starts: keys typed then are held back.
    term.child.send(
        "eval \"$(declare -f __jobterm_size | sed '1s/__jobterm_size/__slow_real/')\"; "
        f'__jobterm_size() {{ : > {started}; sleep 1; __slow_real "$@"; }}\r'
    )
    term.ready()
    term.resize(28, 90)
    deadline = time.monotonic() + scaled(WAIT)
    while not started.exists():
        assert time.monotonic() < deadline, "the hidden resize did not start"
        time.sleep(0.02)
    term.child.send("echo AB")
    term.child.send("CD-$((1+1))\r")
    term.expect("ABCD-2")
    term.ready()
    assert term.shown.count(b"ABCD-2") == 1
    assert term.remote_size() == (28, 90)
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


@pytest.mark.parametrize(
    "fake",
    [
        r"\033]jobterm-prompt;%s\007",
        r"\033]jobterm-prompt;0123456789abcdef%s\007",
        r"\033]jobterm-ready;%s\007\033]jobterm-prompt;%s\007",
    ],
)
def test_a_fake_prompt_marker_cannot_make_jobterm_type_into_a_program(attach_shell, fake):
    term = attach_shell("bash")
    # A program prints look-alike markers, then reads its input: anything jobterm typed
    # now would be read by `cat` and shown.
    term.child.send(f"printf '{fake}' x x; cat\r")
    time.sleep(0.5)
    term.resize(31, 101)
    time.sleep(1.0)
    term.child.send("line-for-cat\r")
    term.expect("line-for-cat\r\nline-for-cat")
    term.child.sendcontrol("d")
    term.ready()
    assert re.search(rb"__jobterm_size \d", term.shown) is None  # cat never got the line
    assert term.remote_size() == (31, 101)
    assert term.leave() == 0


def test_no_marker_falls_back_to_one_quiet_notice_and_tilde_r(
    spawn_jobterm, make_sandbox, signed_in
):
    # Something that is not a shell jobterm recognises (`cat`): the set-up line is merely
    # echoed, no marker ever comes, so jobterm says once how to resize and `~r` types stty.
    job = {**shell_job("bash"), "shell": ["sh", "-c", "exec cat"]}
    sandbox = make_sandbox({"jobs": [job]})
    run = spawn_jobterm(["attach", "130", "--project", "demo/webapp"], signed_in(sandbox))
    term = Term(run, 24, 80)
    term.expect("attached to job 130")
    term.expect(r"jobterm-ready", timeout=WAIT)  # the set-up gave up hiding: all shown
    term.resize(40, 132)
    term.expect(r"now 132x40; ~r at a shell prompt applies it")
    term.resize(41, 133)
    time.sleep(1.0)
    term.child.send("\r~r")
    term.expect("stty rows 41 cols 133")  # cat shows what ~r typed: visible, as asked
    term.sync()
    assert term.shown.count(b"at a shell prompt applies it") == 1
    assert term.leave() == 0


def test_exec_output_carries_no_marker(signed_in_env):
    from fixtures_auth import jobterm

    result = jobterm(
        ["exec", "101", "--project", "demo/webapp", "--", "printf", "%s", "plain"], signed_in_env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plain"


USER_PROMPTS = {
    # shell: (argv with the user's start-up file, its content, a command, what must show)
    "bash": (
        ["bash", "--rcfile", "{rc}", "-i"],
        "PROMPT_COMMAND='printf \"[pc:%s]\" \"$?\"'\n",
        "false",
        r"\[pc:1\]",  # the user's hook still runs, and still sees the command's status
    ),
    "zsh": (
        ["env", "ZDOTDIR={dir}", "zsh", "-i"],
        "precmd() { print -n \"[pc:$?]\" }\n",
        "false",
        r"\[pc:1\]",
    ),
    "dash": (["env", "ENV={rc}", "dash", "-i"], "PS1='dash-own$ '\n", "true", r"dash-own\$"),
}  # fmt: skip


@pytest.mark.parametrize("shell", sorted(USER_PROMPTS))
def test_the_users_own_prompt_hooks_keep_working(
    spawn_jobterm, make_sandbox, signed_in, tmp_path, shell
):
    argv, content, command, shows = USER_PROMPTS[shell]
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    rc = tmp_path / (".zshrc" if shell == "zsh" else "rc")
    rc.write_text(content)
    job = {**shell_job("bash"), "shell": [a.format(rc=rc, dir=tmp_path) for a in argv]}
    sandbox = make_sandbox({"jobs": [job]})
    run = spawn_jobterm(["attach", "130", "--project", "demo/webapp"], signed_in(sandbox))
    term = Term(run, 24, 80)
    term.expect("attached to job 130")
    term.ready()
    term.child.send(f"{command}\r")
    term.expect(shows)
    term.resize(26, 90)
    term.child.send("\r")
    term.ready()
    assert term.remote_size() == (26, 90)
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


def test_a_resize_during_a_full_screen_program_comes_with_the_prompt_after_it(attach_shell):
    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    term = attach_shell("bash")
    term.child.send("seq 1 500 | less\r")
    term.expect("7")
    term.resize(27, 95)
    time.sleep(1.0)  # nothing may be typed into less meanwhile
    term.child.send("q")  # less's own key, not type-ahead for the shell
    term.expect(r"[~/][^\r\n]*[#$] ")  # the prompt after less, drawn at the new size
    assert term.remote_size() == (27, 95)  # the very first command after less has it
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


def test_a_resize_during_the_set_up_is_applied_without_a_notice(attach_shell_raw):
    term = attach_shell_raw("bash")
    term.resize(35, 110)  # the set-up line with the old size may be on its way
    term.ready()
    assert term.remote_size() == (35, 110)
    assert b"now 110x35" not in term.shown
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0


@pytest.mark.parametrize(
    ("shell", "child"),
    [("bash", "export PROMPT_COMMAND; bash --norc -i"), ("dash", "export PS1; dash -i")],
)
def test_a_child_shell_that_inherits_the_prompt_hook_prints_no_error(attach_shell, shell, child):
    # The prompt hook lives in PROMPT_COMMAND or PS1; where the user's set-up exports them, a
    # shell started inside the job inherits the hook but not the functions it calls.
    term = attach_shell(shell)
    term.child.send(f"{child}\r")
    term.child.send("echo in-child-$((3+3))\r")
    term.expect("in-child-6")
    term.child.send("exit\r")
    term.ready()
    assert b"__jt_" not in term.shown, term.shown[-600:]
    assert term.leave() == 0


def test_the_set_up_is_the_first_thing_the_job_reads_in_one_piece(
    spawn_jobterm, make_sandbox, signed_in, tmp_path
):
    # No start-up latency: the set-up goes out as the session's first frame, before any wait
    # for a prompt, so the job's first read is the whole line.
    first = tmp_path / "first-read"
    reader = f"stty -icanon -echo min 1 time 0; dd bs=65536 count=1 of={first} 2>/dev/null; cat"
    sandbox = make_sandbox({"jobs": [{**shell_job("bash"), "shell": ["sh", "-c", reader]}]})
    run = spawn_jobterm(["attach", "130", "--project", "demo/webapp"], signed_in(sandbox))
    term = Term(run, 24, 80)
    term.expect("attached to job 130")
    deadline = time.monotonic() + scaled(WAIT)
    while not first.exists() or not first.stat().st_size:  # dd writes its one read at once
        assert time.monotonic() < deadline, "the job read nothing"
        time.sleep(0.02)
    typed = first.read_bytes()  # the PTY turned each line's CR into LF (ICRNL)
    assert typed.startswith(b" stty rows 24 cols 80 "), typed
    assert typed.endswith(b" jobterm-ready\n"), typed  # the set-up and the probe, all of it
    lines = typed.splitlines()
    assert all(len(line) < 1024 for line in lines), lines  # busybox sh's line editor
    assert all(line.startswith(b" ") and b"__jobterm_" in line for line in lines), lines
    assert term.leave() == 0


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_the_first_prompt_shows_at_once_and_is_redrawn_in_place(attach_shell_raw, shell):
    term = attach_shell_raw(shell, 24, 80)
    term.expect(re.escape(ERASE_LINE))  # the early prompt's line, erased for the fresh one
    before = term.shown[: term.shown.index(ERASE_LINE)]
    early = before[before.rindex(b"\n") + 1 :]
    assert early.strip(), "nothing was shown before the set-up ran"
    term.ready()
    term.child.send("clear\r")
    term.expect(rb"[#$] ")
    term.assert_nothing_hidden_shown()
    assert term.remote_size() == (24, 80)
    assert term.leave() == 0


def test_after_the_set_up_the_screen_holds_one_prompt(attach_shell_raw):
    term = attach_shell_raw("bash", 24, 80)
    term.expect(re.escape(ERASE_LINE))
    term.expect(rb"[#$] ")
    term.sync()
    rows = [row.rstrip() for row in term.screen.display if row.strip()]
    prompts = [row for row in rows if row.endswith(("#", "$"))]
    assert len(prompts) == 1, rows  # the early one was redrawn in place, not repeated
    assert rows[-1] == prompts[0]
    assert len(re.findall(r"[#$](?: |$)", rows[-1])) == 1, rows[-1]  # not two prompts in a row
    term.assert_nothing_hidden_shown()
    assert term.leave() == 0
