"""The cached CLI spec answers verbs and options as typer does, without importing typer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from completion_helpers import candidates, complete, imported_modules, isolated_env
from jobterm.app import build_command
from jobterm.completion import protocol
from jobterm.completion import spec as completion_spec
from jobterm.completion.resolve import click_answer

LINES = [
    "jobterm ",
    "jobterm a",
    "jobterm -",
    "jobterm --",
    "jobterm --debug ",
    "jobterm --debug j",
    "jobterm --debug --",
    "jobterm attach -",
    "jobterm attach --",
    "jobterm attach --wa",
    "jobterm attach --wait --",
    "jobterm attach --escape-char ^] --no-resize -",
    "jobterm attach --record ",
    "jobterm attach --record out.cast -",
    "jobterm attach --record=out",
    "jobterm attach -p=demo",
    "jobterm attach --wait-timeout ",
    "jobterm attach 101 ",
    "jobterm attach 101 -",
    "jobterm jobs ",
    "jobterm jobs --json -",
    "jobterm jobs -p demo/webapp --",
    "jobterm login -",
    "jobterm logout --",
    "jobterm auth ",
    "jobterm sandbox --",
    "jobterm exec -",
    "jobterm exec 101 -- ",
    "jobterm nosuchverb ",
    "jobterm attach --nosuch ",
]


def typer_answer(line: str) -> list[tuple[str, str, str]]:
    request = protocol.read_request(_environ(line))
    assert request is not None
    return click_answer(build_command(), request[1], request[2])


def _environ(line: str) -> dict[str, str]:
    words = protocol.split_words(line)
    index = len(words) if line.endswith(" ") else len(words) - 1
    return {"_JOBTERM_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(index)}


@pytest.fixture(scope="module")
def spec() -> completion_spec.Spec:
    return completion_spec.build(build_command())


@pytest.mark.parametrize("line", LINES)
def test_spec_agrees_with_typer(spec: completion_spec.Spec, line: str) -> None:
    request = protocol.read_request(_environ(line))
    assert request is not None
    _, args, incomplete = request
    mine = completion_spec.answer(spec, args, incomplete)
    if mine is None:
        return  # the fast path hands this one to typer: nothing to compare
    if mine == [("", "", "file")]:
        # a path's value: click offers nothing and leaves it to the shell, as the spec does
        assert typer_answer(line) == []
    else:
        assert mine == typer_answer(line)


def test_click_resolves_through_typer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow path's one import from typer's vendored click (`resolve._resolver_class`)
    still resolves verbs, option names and a parameter's own completion."""
    monkeypatch.setenv("JOBTERM_CONFIG_DIR", str(tmp_path))  # nobody signed in
    cli = build_command()
    verbs = click_answer(cli, [], "")
    assert ("attach", "Open the terminal of a running job, like...", "plain") in verbs
    assert {"--project", "--all"} <= {value for value, _, _ in click_answer(cli, ["jobs"], "--")}
    assert click_answer(cli, ["attach", "--host"], "") == []  # signed out: no hosts, no error


def test_spec_decides_the_common_lines(spec: completion_spec.Spec) -> None:
    """The point of the spec: verbs and option names never need typer."""
    for line in ("jobterm ", "jobterm j", "jobterm --", "jobterm attach --", "jobterm jobs -"):
        request = protocol.read_request(_environ(line))
        assert request is not None
        assert completion_spec.answer(spec, request[1], request[2]), line


def test_first_tab_writes_the_spec_then_typer_stays_away(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    first = complete(env, "bash", "jobterm ")
    assert ("plain", "attach", "Open the terminal of a running job, like...") in candidates(first)
    spec_file = Path(env["JOBTERM_CACHE_DIR"]) / completion_spec.SPEC_FILE
    assert spec_file.exists()
    assert candidates(complete(env, "zsh", "jobterm ")) == candidates(first)
    modules = imported_modules(
        dict(
            env, _JOBTERM_COMPLETE="complete_bash", COMP_WORDS="jobterm attach --", COMP_CWORD="2"
        ),
        [],
    )
    assert "typer" not in modules


def test_a_changed_cli_rebuilds_the_spec(tmp_path: Path, spec: completion_spec.Spec) -> None:
    directory = str(tmp_path)
    completion_spec.save(directory, spec)
    assert completion_spec.load(directory) == spec
    stale = dict(spec, fingerprint="0.0.0:1:0")
    completion_spec.save(directory, stale)
    assert completion_spec.load(directory) is None
    (tmp_path / completion_spec.SPEC_FILE).write_text("{broken")
    assert completion_spec.load(directory) is None
    assert os.path.basename(completion_spec.SPEC_FILE) == "cli-spec.json"


def test_completion_offers_the_verbs_help_lists_and_no_hidden_one(tmp_path: Path) -> None:
    """No internal command is offered: the verbs of `--help`, of the spec and of click's
    resolution are the same, and a hidden verb is in none of them."""
    import subprocess
    import sys

    import typer

    help_text = subprocess.run(
        [sys.executable, "-m", "jobterm", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0] for line in help_text.split("Commands:")[1].splitlines() if line}
    env = isolated_env(tmp_path)
    assert {value for _, value, _ in candidates(complete(env, "bash", "jobterm "))} == listed
    assert {value for value, _, _ in click_answer(build_command(), [], "")} == listed

    def verb() -> None:
        """Do nothing."""

    app = typer.Typer()
    app.command("eval", hidden=True)(verb)
    app.command("shown")(verb)
    cli = typer.main.get_command(app)
    spec = completion_spec.build(cli)
    assert "eval" not in {name for name, _ in spec["root"]["commands"]}
    assert "eval" not in {value for value, _, _ in click_answer(cli, [], "")}
    assert "shown" in {value for value, _, _ in click_answer(cli, [], "")}
