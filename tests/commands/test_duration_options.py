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

TIME_WORDS = ("timeout", "interval", "wait-", "seconds", "delay", "keep-unknown")
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
    known = {
        ("exec", "--timeout"),
        ("exec", "--wait-timeout"),
        ("attach", "--wait-timeout"),
        ("cp", "--timeout"),
        ("watch", "--wait-timeout"),
        ("watch", "--keep-unknown"),
    }
    assert known <= set(OPTIONS)


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


#: Every duration variable, with a command that reads it before asking the server anything
#: (exec ends every failure of its own with 255, README).
VARIABLES = {
    "JOBTERM_WATCH_INTERVAL": [["attach", "101"], ["debug", "101"]],
    "JOBTERM_LOG_INTERVAL": [["logs", "101"], ["debug", "101"]],
    "JOBTERM_SESSION_WAIT": [["debug", "101"]],
    "JOBTERM_PING_INTERVAL": [["exec", "101"]],
    "JOBTERM_PING_TIMEOUT": [["exec", "101"]],
    "JOBTERM_WATCH_POLL": [["watch", "1"]],
    "JOBTERM_HTTP_DEADLINE": [["jobs"]],
}
#: The polling intervals, which have a floor (core.duration.POLL_FLOOR).
POLLS = {
    "JOBTERM_WATCH_INTERVAL": ["attach", "101"],
    "JOBTERM_LOG_INTERVAL": ["logs", "101", "-f"],
    "JOBTERM_WATCH_POLL": ["watch", "1"],
}
CASES = [(variable, args) for variable, lines in VARIABLES.items() for args in lines]


def test_every_duration_variable_in_the_source_has_a_case():
    """A new JOBTERM_*_INTERVAL/_TIMEOUT/_WAIT variable must be added above (and so tested)."""
    import re
    from pathlib import Path

    import jobterm

    package = Path(jobterm.__file__).parent
    names = {
        name
        for path in package.rglob("*.py")
        for name in re.findall(
            r"JOBTERM_[A-Z_]+_(?:INTERVAL|TIMEOUT|WAIT|POLL|DEADLINE)\b", path.read_text()
        )
    }
    assert names == set(VARIABLES)


@pytest.mark.parametrize("value", ["nan", "1e3", "0"])
@pytest.mark.parametrize(("variable", "args"), CASES)
def test_duration_class_environment(sandbox, signed_in_env, variable, args, value):
    env = dict(signed_in_env, **{variable: value})
    line = [*args, "--project", "demo/webapp"]
    if args[0] == "exec":
        result, code = jobterm([*line, "--", "true"], env), 255
    else:
        result, code = jobterm(line, env), 2
    assert result.returncode == code, result.stderr
    assert variable in result.stderr
    assert FORMS in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-5"])
def test_duration_class_sandbox_config(tmp_path, value):
    path = tmp_path / "world.toml"
    path.write_text(f"[settings]\nsession_timeout = {value}\n")
    result = jobterm(["sandbox", "--port", "0", "--config", str(path)], auth_env_for(tmp_path))
    assert result.returncode == 11, result.stderr
    assert "session_timeout" in result.stderr


@pytest.mark.parametrize("variable", list(POLLS))
def test_a_polling_interval_has_a_floor(sandbox, signed_in_env, variable):
    """1ms would send a request every millisecond: refused, naming the floor."""
    env = dict(signed_in_env, **{variable: "1ms"})
    result = jobterm([*POLLS[variable], "--project", "demo/webapp"], env)
    assert result.returncode == 2, result.stderr
    assert f"{variable}: 1ms is shorter than 50ms" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
