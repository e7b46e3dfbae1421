"""`jobterm login` on pages that fooled it before: a broadcast banner beside a wrong
password, a registration form before the sign-in form, a bot check in front of GitLab, and
GitLab 18's JSON email verification with a resend."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures_auth import auth_env_for, jobterm
from fixtures_sandbox import MakeSandbox
from util import scaled

BANNER = "Invalid passwords are being reset tonight"


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def password_login(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    settings: dict[str, object],
    *,
    user: str = "demo",
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`jobterm login URL -u USER --password-stdin` on a sandbox with `settings`; the user's
    right password unless `stdin` says otherwise."""
    sb = make_sandbox({"settings": settings})
    env = auth_env_for(tmp_path / "a")
    text = stdin if stdin is not None else f"{user}-password\n"
    return jobterm(["login", sb.url, "-u", user, "--password-stdin"], env, stdin=text)


def refused_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of a sign-in refused with the auth exit code."""
    assert result.returncode == 3
    return one_line(result.stderr)


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_wrong_password_on_a_page_with_a_broadcast_banner(
    make_sandbox: MakeSandbox, tmp_path: Path, style: str
) -> None:
    result = password_login(
        make_sandbox,
        tmp_path,
        {"signin_style": style, "broadcast_message": BANNER},
        stdin="wrong\n",
    )
    line = refused_line(result)
    assert "wrong username or password" in line
    assert "reset tonight" not in line


@pytest.mark.parametrize("style", ["classic", "gitlab18"])
def test_a_banner_with_bot_check_words_does_not_stop_sign_in(
    make_sandbox: MakeSandbox, tmp_path: Path, style: str
) -> None:
    banner = "Checking your browser support tonight: please update Firefox"
    result = password_login(
        make_sandbox, tmp_path, {"signin_style": style, "broadcast_message": banner}
    )
    assert result.returncode == 0, result.stderr


def test_registration_form_beside_sign_in(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    result = password_login(make_sandbox, tmp_path, {"signup_enabled": True})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        pytest.param({"kind": "bot_challenge", "path": "/users"}, "bot check", id="bot_challenge"),
        # a proxy's or portal's page at /users/sign_in (no CSRF token, no sign-in form)
        pytest.param({"kind": "html", "path": "/users/sign_in"}, "not GitLab's", id="not_gitlab"),
    ],
)
def test_a_page_it_cannot_sign_in_on_says_use_from_browser(
    make_sandbox: MakeSandbox, tmp_path: Path, fault: dict[str, str], said: str
) -> None:
    line = refused_line(password_login(make_sandbox, tmp_path, {"faults": [fault]}))
    assert said in line
    assert "--from-browser" in line


def test_json_verification_with_resend(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox({"settings": {"signin_style": "gitlab18"}})
    env = auth_env_for(tmp_path / "a")
    old = sb.admin("GET", "/users/erin")["verification_code"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobterm", "login", sb.url, "-u", "erin", "--password-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"erin-password\nresend\n")
    proc.stdin.flush()
    deadline = time.monotonic() + scaled(20)
    new = old
    while new == old and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        new = sb.admin("GET", "/users/erin")["verification_code"]
    assert new != old, "jobterm did not ask for a new code"
    out, err = proc.communicate(f"{new}\n".encode(), timeout=scaled(20))
    assert proc.returncode == 0, err.decode()
    assert b"erin" in out


def test_json_verification_wrong_code(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    result = password_login(
        make_sandbox,
        tmp_path,
        {"signin_style": "gitlab18"},
        user="erin",
        stdin="erin-password\n123\n",
    )
    line = refused_line(result)
    assert "verification code was not accepted" in line
    assert "The code is incorrect" in line  # GitLab's own message, one line


def test_the_verify_endpoints_message_is_shown_through_the_one_sanitiser() -> None:
    from jobterm.core.safetext import is_safe
    from jobterm.gitlab.verify_email import _said

    said = _said({"status": "failure", "message": "bad \x1b]52;c;aGk=\x07 code\n\x9b2J"})
    assert said == ": bad ^[]52;c;aGk=^G code <9b>2J"
    assert is_safe(said)
