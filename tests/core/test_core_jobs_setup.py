from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.jobs import JobRef, parse_job_ref, project_from_remote, split_project_path
from jobterm.core.setup import MAX_HELD, SetupFilter
from jobterm.errors import UsageError


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("123", JobRef(123)),
        (" 42 ", JobRef(42)),
        (
            "https://gitlab.example.com/group/sub/project/-/jobs/123",
            JobRef(123, "https://gitlab.example.com", "group/sub/project"),
        ),
        (
            "http://127.0.0.1:8080/demo/webapp/-/jobs/7/",
            JobRef(7, "http://127.0.0.1:8080", "demo/webapp"),
        ),
        (
            "https://example.com/gitlab/g/p/-/jobs/9/terminal",
            JobRef(9, "https://example.com", "gitlab/g/p"),
        ),
        ("group/sub/project#123", JobRef(123, project="group/sub/project")),
        (" demo/web-app.v2#7 ", JobRef(7, project="demo/web-app.v2")),
        ("/group/project#8", JobRef(8, project="group/project")),
        ("42#9", JobRef(9, project="42")),
    ],
)
def test_parse_job_ref(text: str, ref: JobRef) -> None:
    assert parse_job_ref(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "abc",
        "ftp://x/y/-/jobs/1",
        "https://x/g/p/-/pipelines/1",
        "https://x/-/jobs/1",
        "",
        "g/p#0",
        "g/p#",
        "#12",
        "g/p#12#3",
        "g p#12",
        "g/../p#12",
        "g//p#12",
        "g/p/#12",
        "g/p#¹",
        "g/p!12",
    ],
)
def test_bad_job_refs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_job_ref(text)


@given(st.text(max_size=200))
def test_parse_job_ref_never_crashes(text: str) -> None:
    try:
        ref = parse_job_ref(text)
    except UsageError:
        return
    assert ref.job_id > 0


def test_split_project_path_with_relative_root() -> None:
    assert split_project_path("gitlab/g/p", "/gitlab") == "g/p"
    assert split_project_path("g/p", "") == "g/p"
    assert split_project_path("other/g/p", "/gitlab") is None


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@gitlab.example.com:group/proj.git", ("gitlab.example.com", "group/proj")),
        ("https://gitlab.example.com/group/sub/proj.git", ("gitlab.example.com", "group/sub/proj")),
        ("ssh://git@gitlab.example.com:2222/group/proj.git", ("gitlab.example.com", "group/proj")),
        ("/local/path", None),
        ("", None),
    ],
)
def test_project_from_remote(remote: str, expected: tuple[str, str] | None) -> None:
    assert project_from_remote(remote) == expected


def test_setup_hides_everything_up_to_the_marker() -> None:
    setup = SetupFilter(40, 120, "xterm-256color", nonce="abc")
    line = setup.command()
    assert b"stty rows 40 cols 120" in line
    assert setup.marker not in line  # the echo of the line can't be mistaken for the marker
    assert setup.feed(b"banner\r\n$ " + line) == b""
    assert setup.feed(setup.marker[:5]) == b""
    assert setup.feed(setup.marker[5:] + b"$ ") == b"$ "
    assert setup.feed(b"more") == b"more"


def test_setup_timeout_releases_every_held_byte() -> None:
    setup = SetupFilter(24, 80, None, nonce="n")
    assert setup.feed(b"dash$ ") == b""
    assert setup.timeout() == b"dash$ "
    assert setup.feed(b"x") == b"x"


def test_setup_never_holds_more_than_the_bound() -> None:
    setup = SetupFilter(24, 80, None)
    big = b"y" * (MAX_HELD + 1)
    assert setup.feed(big) == big


def test_setup_line_fits_the_shortest_line_editor() -> None:
    # busybox sh cuts a typed line at 1024 bytes: the set-up must fit with a long TERM.
    line = SetupFilter(9999, 9999, "x" * 40, nonce=secrets.token_hex(8)).command()
    assert len(line) < 900
