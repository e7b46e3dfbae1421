"""core/hosts.py: every form of HOST a user may type becomes the same Host."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.hosts import Host, host_for_url, parse_host
from jobterm.errors import UsageError


@pytest.mark.parametrize(
    "text",
    [
        "gitlab.example.com",
        "GitLab.Example.com",
        "https://gitlab.example.com",
        "https://gitlab.example.com/",
        "https://gitlab.example.com:443/",
        "  gitlab.example.com  ",
        "HTTPS://gitlab.example.com//",
        "gitlab.example.com.",
    ],
)
def test_forms_of_one_host_normalise_alike(text: str) -> None:
    host = parse_host(text)
    assert host == Host("https", "gitlab.example.com", None, "")
    assert host.name == "gitlab.example.com"
    assert host.base_url == "https://gitlab.example.com"
    assert host.url("/api/v4/user") == "https://gitlab.example.com/api/v4/user"


def test_relative_url_root_is_kept_in_name_and_base_url() -> None:
    host = parse_host("https://example.com/gitlab/")
    assert host.root == "/gitlab"
    assert host.name == "example.com/gitlab"
    assert host.url("users/sign_in") == "https://example.com/gitlab/users/sign_in"
    assert parse_host("example.com/a/b").root == "/a/b"


def test_ports_and_schemes() -> None:
    assert parse_host("http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"
    assert parse_host("http://127.0.0.1:80").port is None
    assert parse_host("https://h.example:80").port == 80
    assert parse_host("h.example:8443").name == "h.example:8443"
    host = parse_host("http://[::1]:3000/")
    assert host.hostname == "::1"
    assert host.netloc == "[::1]:3000"
    assert host.base_url == "http://[::1]:3000"
    assert parse_host("[0:0::1]").hostname == "::1"


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("http://localhost:1", True),
        ("http://127.0.0.1:1", True),
        ("http://127.1.2.3", True),
        ("http://[::1]:1", True),
        ("http://app.localhost", True),
        ("http://gitlab.example.com", False),
        ("http://10.0.0.1", False),
        ("http://localhost.example.com", False),
    ],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert parse_host(text).is_loopback is loopback


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ftp://gitlab.example.com",
        "https://user:secret@gitlab.example.com",
        "https://gitlab.example.com/?x=1",
        "https://gitlab.example.com/#top",
        "gitlab example.com",
        "gitlab.example.com:0",
        "gitlab.example.com:70000",
        "gitlab.example.com:port",
        "https://gitlab.example.com/group/project/-/jobs/1",
        "https://gitlab.example.com/a/../b",
        "https://[::1",
        "https://[nothex]:1",
        "gitlab.exa\x00mple.com",
        "https://",
        "-bad-.example.com",
    ],
)
def test_bad_hosts_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_host(text)


def test_userinfo_is_never_echoed() -> None:
    with pytest.raises(UsageError) as info:
        parse_host("https://demo:hunter2@gitlab.example.com")
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in (info.value.hint or "")


def test_host_for_url_picks_longest_root() -> None:
    plain = parse_host("example.com")
    rooted = parse_host("https://example.com/gitlab")
    other = parse_host("http://127.0.0.1:3000")
    known = [plain, rooted, other]
    assert host_for_url("https://example.com/gitlab/g/p/-/jobs/1", known) == rooted
    assert host_for_url("https://example.com/gitlabx/p/-/jobs/1", known) == plain
    assert host_for_url("https://example.com/g/p/-/jobs/1", known) == plain
    assert host_for_url("http://127.0.0.1:3000/g/p/-/jobs/9", known) == other
    assert host_for_url("http://127.0.0.1:3001/g/p/-/jobs/9", known) is None
    assert host_for_url("not a url", known) is None


@given(st.text(max_size=60))
def test_parse_host_never_crashes(text: str) -> None:
    try:
        host = parse_host(text)
    except UsageError:
        return
    # What parses is stable: parsing the base URL again gives the same host.
    assert parse_host(host.base_url) == host
    assert parse_host(host.name, default_scheme=host.scheme) == host


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(labels, min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.lists(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), max_size=3),
)
def test_round_trip_of_generated_hosts(names: list[str], port: int | None, root: list[str]) -> None:
    netloc = ".".join(names) + (f":{port}" if port else "")
    url = f"https://{netloc}/" + "/".join(root)
    host = parse_host(url)
    assert host.hostname == ".".join(names)
    assert host.root == "".join(f"/{r}" for r in root)
    assert parse_host(host.base_url + "/") == host
