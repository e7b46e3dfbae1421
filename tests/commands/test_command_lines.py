"""How a command line is read before any work: which verb it runs (only that one is built),
and which of exec's words are JOBs and which the command."""

from __future__ import annotations

import pytest

from jobterm.app import build_command, verb_module
from jobterm.commands.exec_run import split_jobs


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (["exec", "101", "--", "true"], "exec_"),
        (["--debug", "attach", "101"], "attach"),
        (["auth", "status"], "auth"),
        (["exce"], None),  # unknown: the whole CLI, so click can suggest `exec`
        (["--", "exec"], None),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_verb_a_line_runs(args: list[str], module: str | None) -> None:
    assert verb_module(args) == module


def test_a_verb_alone_builds_just_that_verb() -> None:
    assert sorted(build_command(["exec", "--help"]).commands) == ["exec"]  # type: ignore[attr-defined]
    assert "attach" in build_command(["exce"]).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("after", "words", "shell", "expected"),
    [
        (None, ["ls", "-la"], None, (["101"], ["ls", "-la"])),  # no --: one job, as ever
        (2, ["ls", "-la"], None, (["101"], ["ls", "-la"])),  # exec 101 -- ls -la
        (1, ["102", "103", "true"], None, (["101", "102", "103"], ["true"])),
        (None, ["102"], "echo hi", (["101", "102"], [])),  # exec 101 102 -c 'echo hi'
        (0, ["102"], None, (["101", "102"], [])),  # exec 101 102 -- (no command: an error later)
    ],
)
def test_words_after_dashes_are_the_command(
    after: int | None,
    words: list[str],
    shell: str | None,
    expected: tuple[list[str], list[str]],
) -> None:
    assert split_jobs(after, "101", words, shell) == expected
