"""Class: a secret typed in the wrong place of the command line is never shown back.

Every secret-bearing option of every verb (found by walking the CLI, so a new one is covered
without touching this file), and mistyped ones, get a secret-looking value in each way a
user could misplace it: as the option's value, glued with `=`, as an extra positional, and
before other mistakes. Whatever the error, the value appears neither on stdout nor stderr,
and jobterm does not go on to use it as a host name.
"""

from __future__ import annotations

import pytest

from fixtures_auth import auth_env_for, jobterm
from jobterm.app import build_command
from jobterm.usage import is_secret_option

SECRET = "Zq7c0ffee9d1e2f3a4b5c6d7e8f90a1b2"  # shaped like a session cookie value


def secret_bearing_options() -> list[tuple[str, str]]:
    root = build_command()
    found = []
    for verb, command in root.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            found.extend((verb, name) for name in param.opts if is_secret_option(name))
    return sorted(found)


OPTIONS = secret_bearing_options()


def test_the_cli_has_the_secret_options_we_know_of():
    assert {("login", "--password-stdin"), ("login", "--cookie"), ("login", "--token")} <= set(
        OPTIONS
    )


def misplacements(verb: str, option: str) -> list[list[str]]:
    return [
        [verb, option, SECRET],
        [verb, f"{option}={SECRET}"],
        [verb, "h.example.com", option, SECRET],
        [verb, option, SECRET, "h.example.com"],
        [verb, "--no-such-option", option, SECRET],
        [verb, option, SECRET, "--no-such-option"],
    ]


CASES = (
    [
        pytest.param(args, id=" ".join(args).replace(SECRET, "S"))
        for verb, option in OPTIONS
        for args in misplacements(verb, option)
    ]
    + [
        pytest.param(["login", "h.example.com", wrong, SECRET], id=f"mistyped {wrong}")
        for wrong in ("--password", "--passwd", "--otp", "--private-token", "--secret")
    ]
    + [
        pytest.param(["login", f"--password={SECRET}", "h.example.com"], id="mistyped --password="),
        pytest.param(["login", SECRET], id="secret as host"),
    ]
)


@pytest.mark.parametrize("args", CASES)
def test_secret_options_class_never_echo_the_value(tmp_path, args):
    result = jobterm(args, auth_env_for(tmp_path), stdin="")
    assert result.returncode != 0
    assert SECRET not in result.stdout + result.stderr, result.stderr
    assert SECRET.lower() not in (result.stdout + result.stderr).lower()
    assert "Traceback" not in result.stderr
    assert "cannot connect" not in result.stderr  # it was not taken for a host


def test_usage_errors_of_other_verbs_still_say_what_was_wrong(tmp_path):
    result = jobterm(["jobs", "surplus"], auth_env_for(tmp_path))
    assert result.returncode == 2
    assert "surplus" in result.stderr
