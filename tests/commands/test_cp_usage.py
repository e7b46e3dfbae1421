"""`jobterm cp`'s command line, and what it refuses before connecting anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_auth import jobterm


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["a", "b"], "neither side of cp is JOB:PATH"),
        (["1:a", "group/app#2:b"], "both sides of cp are JOB:PATH"),
        (["123:", "."], "the path in the job is empty"),
    ],
)
def test_operands_that_cannot_be_a_copy(
    auth_env: dict[str, str], args: list[str], says: str
) -> None:
    done = jobterm(["cp", *args], auth_env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert says in done.stderr
    assert done.stdout == ""


def test_a_missing_source_is_said_before_connecting(
    auth_env: dict[str, str], tmp_path: Path
) -> None:
    # No host is configured: reaching the network would fail with another message.
    done = jobterm(["cp", str(tmp_path / "nope\nline"), "123:x"], auth_env)
    assert done.returncode == 30
    assert (
        done.stderr
        == f"jobterm: '{tmp_path}/nope\\nline': no such file or directory (check the path)\n"
    )


def test_a_missing_local_folder_is_said_before_connecting(
    auth_env: dict[str, str], tmp_path: Path
) -> None:
    done = jobterm(["cp", "123:x", str(tmp_path / "no" / "x")], auth_env)
    assert done.returncode == 30
    assert "does not exist" in done.stderr
    assert not (tmp_path / "no").exists()


def test_a_source_that_fails_to_read_is_said_before_connecting(
    auth_env: dict[str, str], tmp_path: Path
) -> None:
    """A regular file by its mode whose reading fails (I/O error): a reading error here,
    not "writing the copy failed", and before any network (no host is configured)."""
    done = jobterm(["cp", "/proc/self/mem", "123:x"], auth_env)
    assert done.returncode == 35, done.stderr
    assert done.stderr.startswith("jobterm: reading '/proc/self/mem' here failed: ")
    assert done.stderr.count("\n") == 1
