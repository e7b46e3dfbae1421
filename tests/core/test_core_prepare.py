"""core.prepare: the lines that prepare a terminal's shell, run in real shells in a PTY
(bash, dash, busybox sh, zsh) with hostile values from the server, and the one line that
says what holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pexpect
import pytest

from jobterm.core.prepare import (
    EXPORTS_LIMIT,
    LINE_LIMIT,
    Prepare,
    Report,
    describe,
    lines,
    predefined,
)
from util import scaled

SHELLS = {
    "bash": ["bash", "--norc", "--noprofile", "-i"],
    "dash": ["dash", "-i"],
    "busybox": ["busybox", "sh", "-i"],
    "zsh": ["zsh", "-f", "-i"],
}
NONCE = "0123456789abcdef"


def job(**more: Any) -> dict[str, Any]:
    base = "http://127.0.0.1:8080"
    return {
        "id": 302,
        "name": "e2e",
        "stage": "test",
        "ref": "main",
        "web_url": f"{base}/demo/webapp/-/jobs/302",
        "pipeline": {"id": 1004, "project_id": 1, "web_url": f"{base}/demo/webapp/-/pipelines/1"},
        "commit": {"id": "a" * 40, "short_id": "aaaaaaaa"},
        "user": {"username": "demo"},
        **more,
    }


HOSTILE = {
    "quotes": {"name": "aa" + "'" * 253},
    "command": {"stage": "$(touch PWNED) `touch PWNED` ; touch PWNED #"},
    "both": {"name": "aa" + "'" * 253, "stage": "$(touch PWNED) #"},
    "non-ascii": {"name": "€" * 255},
    "controls": {"name": "a\x03b\x15c\x1b[2J", "ref": "x\ny"},
    "long": {"name": "n" * 5000, "stage": "s" * 399},
}


def shell_run(argv: list[str], cwd: Path, typed: list[str], then: str) -> tuple[str, str]:
    """Type `typed` (each a line) into a fresh interactive shell with no CI variables, then
    `then`; (everything it printed, what `then` printed between markers)."""
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PS1": "$ ", "TERM": "dumb"}
    child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env, timeout=scaled(10))
    try:
        child.send("".join(line + "\r" for line in typed))
        child.expect(rb"\x1b\]jobterm-prep;" + NONCE.encode() + rb";[^\x07]*\x07")
        seen = (child.before or b"") + (child.after or b"")
        child.send(f"echo BEGIN-$((6*7)); {then}; echo END-$((6*7))\r")
        child.expect(b"BEGIN-42\r\n")
        child.expect(b"END-42")
        return seen.decode(errors="replace"), (child.before or b"").decode(errors="replace")
    finally:
        child.close(force=True)


@pytest.mark.parametrize("shell", list(SHELLS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_values_never_run_and_never_break_the_line(tmp_path, shell, case):
    build = tmp_path / "builds" / "with space" / "demo" / "webapp"
    build.mkdir(parents=True)
    facts = predefined(job(**HOSTILE[case]), "demo/webapp", str(build))
    typed = lines(facts, NONCE, move=True)
    assert all(len(line.encode()) < LINE_LIMIT for line in typed), [len(t) for t in typed]
    assert all(line.isascii() for line in typed)
    seen, shown = shell_run(SHELLS[shell], tmp_path, typed, 'printf \'%s|\' "$PWD" "${CI_JOB_ID-}"')
    assert not list(tmp_path.rglob("PWNED")), seen  # nothing from the server ran
    report = Report.find(seen.encode(), NONCE)
    assert report is not None
    assert (report.had_variables, report.where) == (False, "l")
    assert shown.strip().split("|")[:2] == [str(build), "302"], shown
    count = re.search(r": (\d+) predefined ones are set", describe(report, facts, moved=True) or "")
    assert count, describe(report, facts, moved=True)
    assert int(count.group(1)) == len(facts.variables) + 1  # and CI_PROJECT_DIR


@pytest.mark.parametrize("shell", ["bash", "dash", "busybox"])
def test_a_shell_with_the_variables_is_moved_not_exported_to(tmp_path, shell):
    build = tmp_path / "project"
    build.mkdir()
    facts = predefined(job(), "demo/webapp", "/no/such/dir", "docker")
    typed = [f" export CI_JOB_ID=999 CI_PROJECT_DIR={build}", *lines(facts, NONCE, move=True)]
    seen, shown = shell_run(SHELLS[shell], tmp_path, typed, 'printf \'%s|\' "$PWD" "$CI_JOB_ID"')
    report = Report.find(seen.encode(), NONCE)
    assert report == Report(True, "e", str(build), 0)
    assert shown.strip().split("|")[:2] == [str(build), "999"]
    assert "all the job's variables, as the docker executor" in str(
        describe(report, facts, moved=True)
    )


def test_the_log_directory_that_is_not_there_is_said_and_not_exported(tmp_path):
    facts = predefined(job(), "demo/webapp", "/no/such/dir")
    seen, shown = shell_run(
        SHELLS["bash"], tmp_path, lines(facts, NONCE, move=True), 'echo "${CI_PROJECT_DIR-unset}"'
    )
    report = Report.find(seen.encode(), NONCE)
    assert report is not None
    assert report.where == "n"
    assert shown.strip() == "unset"
    assert "/no/such/dir, is not in this shell" in str(describe(report, facts, moved=True))


def test_the_probe_alone_changes_nothing(tmp_path):
    seen, shown = shell_run(
        SHELLS["dash"], tmp_path, lines(None, NONCE, move=False), 'echo "$PWD|${__jobterm_v-gone}"'
    )
    assert shown.strip() == f"{tmp_path}|gone"
    report = Report.find(seen.encode(), NONCE)
    text = Prepare(hint="HINT").announce(report).decode()
    assert text.startswith("[jobterm] in ")
    assert "not the build directory" in text
    assert text.rstrip().endswith("HINT")


def test_predefined_values_are_bounded_and_typeable():
    facts = predefined(job(name="x" * 10_000, stage="€"), "demo/webapp", "/b'd")
    names = dict(facts.variables)
    assert "CI_JOB_NAME" not in names  # too long: left out, never cut
    assert "CI_JOB_STAGE" not in names  # not ASCII: left out
    assert facts.build_dir is None  # a quote: not typed
    assert sum(len(k) + len(v) + 4 for k, v in facts.variables) <= EXPORTS_LIMIT
    assert names["CI_SERVER_URL"] == "http://127.0.0.1:8080"


def test_a_report_in_pieces_and_a_forged_one_with_another_nonce():
    from jobterm.core.prepare import ReportScanner

    real = f"\x1b]jobterm-prep;{NONCE};nl;21;/b\x07".encode()
    forged = b"\x1b]jobterm-prep;ffffffffffffffff;yh;0;/evil\x07"
    scanner = ReportScanner(NONCE)
    found = [scanner.feed(bytes([b])) for b in forged + real]
    assert [f for f in found if f] == [Report(False, "l", "/b", 21)]


@pytest.mark.parametrize(
    ("line", "directory"),
    [
        ("Initialized empty Git repository in /builds/g/p/.git/", "/builds/g/p"),
        (
            "Reinitialized existing Git repository in /home/r/builds/t1/0/g/p/.git/",
            "/home/r/builds/t1/0/g/p",
        ),
        ("Cloning into '/builds/g/p'...", "/builds/g/p"),
        ("Initialized empty Git repository in relative/.git/", None),
        ("Initialized empty Git repository in /b'ad/.git/", None),
        ("$ echo Initialized empty Git repository in /x/.git/", None),
    ],
)
def test_the_build_directory_as_the_log_names_it(line, directory):
    from jobterm.core.prepare import build_dir_in_log

    assert build_dir_in_log(line) == directory


def test_the_project_is_spelled_as_the_jobs_url_spells_it():
    facts = predefined(job(), "Demo/WebApp", None)
    names = dict(facts.variables)
    assert names["CI_PROJECT_PATH"] == "demo/webapp"
    assert names["CI_SERVER_URL"] == "http://127.0.0.1:8080"
