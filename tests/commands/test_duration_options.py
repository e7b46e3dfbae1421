"""Class: every duration the command line or the environment takes refuses nan, inf,
negative and unreadable values with exit 2 and a line naming the accepted forms.

The options are found by walking the CLI: any option whose name says it is a time (timeout,
interval, wait, seconds, delay) must use the shared duration parser (metavar DURATION), so a
new one that reads a bare float fails here.
"""

from __future__ import annotations

import pytest

from fixtures_auth import auth_env_for, jobterm
from jobterm.app import build_command
from jobterm.core.duration import FORMS

TIME_WORDS = ("timeout", "interval", "wait-", "seconds", "delay")
BAD = ["nan", "inf", "-1", "1e400", "-inf", "abc"]
NEEDS = {"attach": ["1"], "exec": ["1"], "sandbox": ["--port", "0"]}


def duration_options() -> list[tuple[str, str]]:
    found = []
    for verb, command in build_command().commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            for name in param.opts:
                if any(word in name for word in TIME_WORDS):
                    found.append((verb, name))
    return sorted(found)


OPTIONS = duration_options()


def test_the_cli_has_the_duration_options_we_know_of():
    assert {("exec", "--timeout"), ("exec", "--wait-timeout"), ("attach", "--wait-timeout")} <= set(
        OPTIONS
    )


@pytest.mark.parametrize(("verb", "option"), OPTIONS)
def test_every_time_option_uses_the_duration_parser(verb, option):
    command = build_command().commands[verb]  # type: ignore[attr-defined]
    param = next(p for p in command.params if option in p.opts)
    assert param.metavar == "DURATION"


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize(("verb", "option"), OPTIONS)
def test_duration_class_bad_values_exit_2(tmp_path, verb, option, value):
    args = [verb, *NEEDS.get(verb, []), f"{option}={value}"]
    if verb == "exec":
        args += ["--", "true"]
    result = jobterm(args, auth_env_for(tmp_path))
    assert result.returncode == 2, result.stderr
    assert FORMS in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "variable", ["JOBTERM_WATCH_INTERVAL", "JOBTERM_PING_INTERVAL", "JOBTERM_PING_TIMEOUT"]
)
def test_duration_class_environment(sandbox, signed_in_env, variable):
    env = dict(signed_in_env, **{variable: "nan"})
    if "WATCH" in variable:  # read before attach asks for a terminal
        result, code = jobterm(["attach", "101", "--project", "demo/webapp"], env), 2
    else:  # exec ends every failure of its own with 255 (README)
        result = jobterm(["exec", "101", "--project", "demo/webapp", "--", "true"], env)
        code = 255
    assert result.returncode == code, result.stderr
    assert variable in result.stderr
    assert FORMS in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-5"])
def test_duration_class_sandbox_config(tmp_path, value):
    path = tmp_path / "world.toml"
    path.write_text(f"[settings]\nsession_timeout = {value}\n")
    result = jobterm(["sandbox", "--port", "0", "--config", str(path)], auth_env_for(tmp_path))
    assert result.returncode == 11, result.stderr
    assert "session_timeout" in result.stderr
