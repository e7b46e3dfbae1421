"""Class: a URL's user:password@ never reaches an output, a log, a recording or a file.

Every place jobterm takes a URL gets one with credentials in it (login's HOST, --host,
GITLAB_HOST, a job URL for exec and attach), with --debug on; the password must appear
nowhere: stdout, stderr, the debug log, the recording, the config and cache directories.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_auth import auth_env_for, jobterm
from jobterm.core.redact import MASK, redact
from util import scaled

PASSWORD = "Pw4url-Secret"


def with_userinfo(url: str, userinfo: str = f"me:{PASSWORD}") -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{userinfo}@{rest}"


@pytest.mark.parametrize(
    "text",
    [
        f"https://me:{PASSWORD}@gitlab.example.com/g/p/-/jobs/1",
        f"see http://{PASSWORD}@127.0.0.1:8080/x for more",
        f"'wss://me:{PASSWORD}@h.example.com/a'",
        f"git+ssh://me:{PASSWORD}@h/x.git",
    ],
)
def test_redact_masks_url_userinfo(text):
    shown = redact(text)
    assert PASSWORD not in shown
    assert f"{MASK}@" in shown


@pytest.mark.parametrize(
    "text", ["git@github.com:group/project.git", "mail me@example.com", "https://h/a@b"]
)
def test_redact_leaves_addresses_without_userinfo(text):
    assert redact(text) == text


def everything_written(root: Path) -> str:
    return "".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and "data" not in p.parts
    )


def test_url_credentials_class_commands(sandbox, signed_in_env, tmp_path):
    url = with_userinfo(sandbox.url)
    job_url = with_userinfo(f"{sandbox.url}/demo/webapp/-/jobs/101")
    fresh = auth_env_for(tmp_path / "fresh")
    runs = [
        jobterm(["--debug", "login", url, "-u", "demo", "--password-stdin"], fresh, stdin="x\n"),
        jobterm(["--debug", "login", url + " bad"], fresh),
        jobterm(["--debug", "jobs", "--host", url], signed_in_env),
        jobterm(["--debug", "jobs"], dict(signed_in_env, GITLAB_HOST=url)),
        jobterm(["--debug", "exec", job_url, "--", "echo", "ran"], signed_in_env),
        jobterm(["--debug", "exec", job_url + "/x", "--", "true"], signed_in_env),
    ]
    assert runs[4].returncode == 0, runs[4].stderr[-2000:]
    assert runs[4].stdout == "ran\n"
    for run in runs:
        assert PASSWORD not in run.stdout + run.stderr, run.args
    for run in runs[:4] + runs[5:]:
        assert run.returncode != 0
    root = Path(signed_in_env["JOBTERM_CONFIG_DIR"]).parent
    assert PASSWORD not in everything_written(root)
    assert PASSWORD not in everything_written(tmp_path / "fresh")


def test_url_credentials_class_recording(spawn_jobterm, signed_in_env, tmp_path):
    cast = tmp_path / "s.cast"
    run = spawn_jobterm(
        ["attach", "101", "--project", "demo/webapp", "--record", str(cast), "--record-input"],
        signed_in_env,
        cols=200,  # one screen line: the shell's own wrapping would split the URL
    )
    run.child.expect("attached to job", timeout=scaled(20))
    run.child.send(f"echo clone https://me:{PASSWORD}@example.com/x.git done-$((2+3))\r")
    run.child.expect("done-5", timeout=scaled(20))
    run.child.send("\r~.")
    assert run.wait_done() == 0
    assert "example.com/x.git" in cast.read_text()
    assert PASSWORD not in cast.read_text()
