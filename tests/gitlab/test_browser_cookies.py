"""The `--from-browser` readers against cookie stores built with the browsers' own schemas:
Chromium v10/v11, schema 24 with and without the host hash, Firefox's cookies.sqlite (rows
still in the -wal) and mozLz4 session stores, wrong keys and missing cookies. No browser
needed: these always run."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_stores import chromium_profile, firefox_profile, firefox_session_json
from jobterm.browsers import chromium, firefox
from jobterm.browsers.chromium import KINDS, KeySource
from jobterm.browsers.find import DISK_FACTS, Spec, parse_spec, session_from_browser
from jobterm.browsers.firefox import MozLz4Error, read_mozlz4, write_mozlz4
from jobterm.browsers.store import Found, belongs_to
from jobterm.core.hosts import parse_host
from jobterm.errors import BrowserError, ExitCode, UsageError

HOST = parse_host("https://gitlab.example.com")
SESSION = ("gitlab.example.com", "_gitlab_session", "0123456789abcdef0123456789abcdef", "/")
REMEMBER = ("gitlab.example.com", "remember_user_token", "eyJfcmFpbHMiOnt9fQ--abc", "/")
OTHERS = [
    ("gitlab.example.org", "_gitlab_session", "not-this-host", "/"),
    ("example.com", "_gitlab_session", "parent-host-only-cookie", "/"),
    ("gitlab.example.com", "_ga", "tracking", "/"),
]


def read_chromium(profile: Path, keys: KeySource | None = None) -> dict[str, str]:
    return chromium.read(KINDS["chromium"], profile, HOST, keys).cookies


@pytest.mark.parametrize("version", [24, 23])
@pytest.mark.parametrize("network_dir", [False, True])
def test_chromium_v10(tmp_path: Path, version: int, network_dir: bool) -> None:
    """Schema 24 puts SHA-256(host) before the value; older schemas do not."""
    profile = chromium_profile(
        tmp_path, [*OTHERS, SESSION, REMEMBER], version=version, network_dir=network_dir
    )
    assert read_chromium(profile) == {SESSION[1]: SESSION[2], REMEMBER[1]: REMEMBER[2]}


def test_chromium_domain_cookie_and_plain_value(tmp_path: Path) -> None:
    domain = (".example.com", "_gitlab_session", "from-a-domain-cookie", "/")
    profile = chromium_profile(tmp_path, [domain], plain=True)
    assert read_chromium(profile) == {"_gitlab_session": "from-a-domain-cookie"}


def test_chromium_v11_with_the_keyring_password(tmp_path: Path) -> None:
    profile = chromium_profile(tmp_path, [SESSION], prefix=b"v11", password=b"s3cret-from-keyring")
    keys = KeySource(KINDS["chromium"], tmp_path, keyring_password=b"s3cret-from-keyring")
    assert read_chromium(profile, keys) == {SESSION[1]: SESSION[2]}


def test_chromium_v11_with_an_empty_keyring_password(tmp_path: Path) -> None:
    """Chromium seals v11 with an empty password when the keyring gave none."""
    profile = chromium_profile(tmp_path, [SESSION], prefix=b"v11", password=b"")
    keys = KeySource(KINDS["chromium"], tmp_path, keyring_password=b"another")
    assert read_chromium(profile, keys) == {SESSION[1]: SESSION[2]}


@pytest.mark.parametrize(("prefix", "version"), [(b"v10", 24), (b"v11", 24), (b"v10", 23)])
def test_chromium_wrong_key_is_a_decrypt_error(tmp_path: Path, prefix: bytes, version: int) -> None:
    profile = chromium_profile(
        tmp_path, [SESSION], prefix=prefix, password=b"not-the-key", version=version
    )
    keys = KeySource(KINDS["chromium"], tmp_path, keyring_password=b"also-wrong")
    with pytest.raises(BrowserError) as caught:
        read_chromium(profile, keys)
    assert caught.value.exit_code == ExitCode.COOKIE_DECRYPT
    assert SESSION[2] not in str(caught.value)


def test_chromium_host_hash_of_another_host_is_refused(tmp_path: Path) -> None:
    """A value sealed for another host (copied row) fails the schema-24 hash check."""
    from jobterm.browsers.chromium import seal

    sealed = seal("value", "evil.example.net")
    keys = KeySource(KINDS["chromium"], tmp_path)
    with pytest.raises(BrowserError):
        keys.open(sealed, "gitlab.example.com", hashed=True)
    assert keys.open(sealed, "evil.example.net", hashed=True) == "value"


def test_chromium_v20_says_app_bound(tmp_path: Path) -> None:
    keys = KeySource(KINDS["chrome"], tmp_path)
    with pytest.raises(BrowserError, match="application-bound") as caught:
        keys.open(b"v20" + bytes(48), "gitlab.example.com", hashed=True)
    assert caught.value.exit_code == ExitCode.COOKIE_DECRYPT


def test_chromium_missing_cookie(tmp_path: Path) -> None:
    profile = chromium_profile(tmp_path, [*OTHERS, REMEMBER])
    found = chromium.read(KINDS["chromium"], profile, HOST)
    assert not found.has_session


def test_chromium_profiles_default_first(tmp_path: Path) -> None:
    for name in ("Profile 2", "Default", "System Profile"):
        chromium_profile(tmp_path, [SESSION], profile=name)
    (tmp_path / "Crashpad").mkdir()
    assert [p.name for p in chromium.profiles(tmp_path)] == [
        "Default",
        "Profile 2",
        "System Profile",
    ]


def test_store_copy_does_not_touch_the_original(tmp_path: Path) -> None:
    profile = chromium_profile(tmp_path, [SESSION])
    before = (profile / "Cookies").read_bytes()
    read_chromium(profile)
    assert (profile / "Cookies").read_bytes() == before
    assert sorted(p.name for p in profile.iterdir()) == ["Cookies"]


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "Default").mkdir()
    (tmp_path / "Default" / "Cookies").write_bytes(b"garbage" * 100)
    with pytest.raises(BrowserError) as caught:
        read_chromium(tmp_path / "Default")
    assert caught.value.exit_code == ExitCode.COOKIE_STORE_LOCKED


# -- Firefox ---------------------------------------------------------------------------------


def test_mozlz4_round_trip_and_damage() -> None:
    payload = b'{"cookies": []}' * 50
    sealed = write_mozlz4(payload)
    assert sealed.startswith(b"mozLz40\0")
    assert read_mozlz4(sealed) == payload
    with pytest.raises(MozLz4Error):
        read_mozlz4(b"notmozlz4" + sealed[8:])
    with pytest.raises(MozLz4Error):
        read_mozlz4(sealed[:20])


def test_firefox_running(tmp_path: Path) -> None:
    """While Firefox runs: persistent cookies only in the -wal file, session cookies in
    recovery.jsonlz4."""
    profile, connection = firefox_profile(
        tmp_path, "default-release", cookies=[REMEMBER, *OTHERS], session=[SESSION, *OTHERS]
    )
    assert connection is not None
    try:
        assert (profile / "cookies.sqlite-wal").stat().st_size > 0
        found = firefox.read(profile, HOST)
    finally:
        connection.close()
    assert found.cookies == {REMEMBER[1]: REMEMBER[2], SESSION[1]: SESSION[2]}
    assert next(iter(found.ordered())) == "_gitlab_session"


def test_firefox_closed(tmp_path: Path) -> None:
    profile, _ = firefox_profile(tmp_path, "default", session=[SESSION], running=False)
    assert (profile / "sessionstore.jsonlz4").is_file()
    assert firefox_session_json(profile / "sessionstore.jsonlz4")["cookies"]
    assert firefox.read(profile, HOST).cookies == {SESSION[1]: SESSION[2]}


def test_firefox_damaged_session_store_is_a_note(tmp_path: Path) -> None:
    profile, _ = firefox_profile(tmp_path, "default", session=[SESSION], running=False)
    (profile / "sessionstore.jsonlz4").write_bytes(b"mozLz40\0broken")
    found = firefox.read(profile, HOST)
    assert not found.has_session
    assert found.notes


def test_damaged_session_store_is_said(tmp_path: Path) -> None:
    profile, _ = firefox_profile(tmp_path, "default", session=[SESSION], running=False)
    (profile / "sessionstore.jsonlz4").write_bytes(b"mozLz40\0broken")
    with pytest.raises(BrowserError, match=r"sessionstore\.jsonlz4 unreadable") as caught:
        session_from_browser(Spec("firefox", str(profile)), HOST, {}, verify_all)
    assert caught.value.exit_code == ExitCode.NO_BROWSER_SESSION


def test_firefox_profiles_ini_default_first(tmp_path: Path) -> None:
    firefox_profile(tmp_path, "work", session=[], running=False, default=False)
    firefox_profile(tmp_path, "default-release", session=[], running=False)
    assert [name for name, _ in firefox.profiles(tmp_path)] == ["default-release", "work"]


# -- choosing profiles -----------------------------------------------------------------------


def test_parse_spec() -> None:
    assert parse_spec("") == Spec(None, None)
    assert parse_spec("Chromium") == Spec("chromium", None)
    assert parse_spec("google-chrome:Profile 1") == Spec("chrome", "Profile 1")
    assert parse_spec("firefox-esr:/p/a:b") == Spec("firefox", "/p/a:b")
    with pytest.raises(UsageError):
        parse_spec("netscape")


def fake_home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home)}


def verify_all(found: Found) -> dict[str, object] | None:
    return {"username": "demo"}


def test_any_browser_tries_them_in_order(tmp_path: Path) -> None:
    environ = fake_home(tmp_path)
    home = Path(environ["HOME"])
    chromium_profile(home / ".config" / "chromium", [REMEMBER])  # no session here
    firefox_profile(home / ".mozilla" / "firefox", "default", session=[SESSION], running=False)
    found, user = session_from_browser(Spec(None, None), HOST, environ, verify_all)
    assert found.browser == "firefox"
    assert user == {"username": "demo"}


def test_no_browser_at_all(tmp_path: Path) -> None:
    with pytest.raises(BrowserError) as caught:
        session_from_browser(Spec(None, None), HOST, fake_home(tmp_path), verify_all)
    assert caught.value.exit_code == ExitCode.NO_BROWSER


@pytest.mark.parametrize("profile", ["Profile 9", "/no/such/dir", "~/nothing"])
def test_no_such_profile(tmp_path: Path, profile: str) -> None:
    environ = fake_home(tmp_path)
    chromium_profile(Path(environ["HOME"]) / ".config" / "chromium", [SESSION])
    with pytest.raises(BrowserError) as caught:
        session_from_browser(Spec("chromium", profile), HOST, environ, verify_all)
    assert caught.value.exit_code == ExitCode.NO_BROWSER_PROFILE


def test_no_session_says_when_browsers_write_it(tmp_path: Path) -> None:
    environ = fake_home(tmp_path)
    chromium_profile(Path(environ["HOME"]) / ".config" / "chromium", [REMEMBER])
    with pytest.raises(BrowserError) as caught:
        session_from_browser(Spec("chromium", "Default"), HOST, environ, verify_all)
    assert caught.value.exit_code == ExitCode.NO_BROWSER_SESSION
    assert caught.value.hint == DISK_FACTS
    assert "30 s" in DISK_FACTS


def test_rejected_session(tmp_path: Path) -> None:
    profile = chromium_profile(tmp_path / "data", [SESSION])
    with pytest.raises(BrowserError) as caught:
        session_from_browser(Spec("chromium", str(profile)), HOST, {}, lambda found: None)
    assert caught.value.exit_code == ExitCode.BROWSER_SESSION_REJECTED


@pytest.mark.parametrize(
    ("host_key", "path", "url", "sent"),
    [
        ("gitlab.example.com", "/", "https://gitlab.example.com", True),
        (".example.com", "/", "https://gitlab.example.com", True),
        (".gitlab.example.com", "/", "https://gitlab.example.com", True),
        ("example.com", "/", "https://gitlab.example.com", False),
        ("xgitlab.example.com", "/", "https://gitlab.example.com", False),
        (".ample.com", "/", "https://gitlab.example.com", False),
        ("example.com", "/gitlab", "https://example.com/gitlab", True),
        ("example.com", "/other", "https://example.com/gitlab", False),
        ("example.com", "/gitlabx", "https://example.com/gitlab", False),
        ("127.0.0.1", "/", "http://127.0.0.1:8080", True),
    ],
)
def test_which_cookies_belong_to_the_instance(
    host_key: str, path: str, url: str, sent: bool
) -> None:
    assert belongs_to(host_key, path, parse_host(url)) is sent


@pytest.mark.parametrize("store", ["chromium", "firefox sqlite", "firefox session store"])
def test_a_secure_cookie_goes_only_where_a_browser_would_send_it(
    tmp_path: Path, store: str
) -> None:
    """A Secure cookie is read for https and for this machine, never for plain http to
    another host (--insecure-http would send it in clear text; a browser does not)."""
    local = ("127.0.0.1", SESSION[1], SESSION[2], "/")
    if store == "chromium":
        profile = chromium_profile(tmp_path, [SESSION, REMEMBER, local], secure=True)

        def read(host: str) -> dict[str, str]:
            return chromium.read(KINDS["chromium"], profile, parse_host(host)).cookies
    else:
        session = store == "firefox session store"
        profile, _ = firefox_profile(
            tmp_path,
            "default",
            cookies=None if session else [SESSION, REMEMBER, local],
            session=[SESSION, local] if session else None,
            running=False,
            secure=True,
        )

        def read(host: str) -> dict[str, str]:
            return firefox.read(profile, parse_host(host)).cookies

    assert read("https://gitlab.example.com").get(SESSION[1]) == SESSION[2]
    assert read("http://gitlab.example.com") == {}
    assert read("http://127.0.0.1:8080").get(SESSION[1]) == SESSION[2]


@pytest.mark.parametrize(
    ("host_key", "url", "sent"),
    [
        (".0.0.1", "http://127.0.0.1:8080", False),  # no domain cookies for an address
        ("127.0.0.1", "http://127.0.0.1:8080", True),
        (".1", "http://10.0.0.1", False),
        (".[::1]", "http://[::1]:8080", False),
        (".example.com", "https://gitlab.example.com", True),
        (".ample.com", "https://gitlab.example.com", False),  # on a label's boundary only
    ],
)
def test_hosts_match_as_a_browser_matches_them(host_key: str, url: str, sent: bool) -> None:
    assert belongs_to(host_key, "/", parse_host(url)) is sent


def _odd_chromium(tmp_path: Path, rows: list[tuple[object, ...]]) -> Path:
    """A cookie store with rows no browser writes (NULL or BLOB where text belongs)."""
    import sqlite3

    profile = tmp_path / "Default"
    profile.mkdir()
    connection = sqlite3.connect(profile / "Cookies")
    with connection:
        connection.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
        connection.execute("INSERT INTO meta VALUES ('version', '20')")
        connection.execute(
            "CREATE TABLE cookies(creation_utc INTEGER, host_key, name, value, "
            "encrypted_value, path, is_secure INTEGER)"
        )
        connection.executemany("INSERT INTO cookies VALUES (?, ?, ?, ?, ?, ?, 0)", rows)
    connection.close()
    return profile


def test_rows_no_browser_writes_are_passed_over(tmp_path: Path) -> None:
    profile = _odd_chromium(
        tmp_path,
        [
            (1, None, "_gitlab_session", "null-host", b"", "/"),
            (2, b"gitlab.example.com", "_gitlab_session", "blob-host", b"", "/"),
            (3, "gitlab.example.com", None, "null-name", b"", "/"),
            (4, "gitlab.example.com", "_gitlab_session", None, None, None),
            (5, "gitlab.example.com", "_gitlab_session", "the-good-one", b"", "/"),
        ],
    )
    assert read_chromium(profile) == {"_gitlab_session": "the-good-one"}


def test_of_two_matching_cookies_the_newest_wins_whatever_their_order(tmp_path: Path) -> None:
    rows = [
        (200, "gitlab.example.com", "_gitlab_session", "newer", b"", "/"),
        (100, ".example.com", "_gitlab_session", "older-domain-cookie", b"", "/"),
    ]
    assert read_chromium(_odd_chromium(tmp_path, rows)) == {"_gitlab_session": "newer"}


def test_firefox_rows_no_browser_writes_are_passed_over_and_the_newest_wins(
    tmp_path: Path,
) -> None:
    import sqlite3

    profile, _ = firefox_profile(tmp_path, "default", cookies=[], running=False)
    connection = sqlite3.connect(profile / "cookies.sqlite")
    with connection:
        connection.executemany(
            "INSERT INTO moz_cookies (name, value, host, path, creationTime, isSecure) "
            "VALUES (?, ?, ?, ?, ?, 0)",
            [
                (None, "null-name", "gitlab.example.com", "/", 1),
                ("_gitlab_session", "blob-host", b"gitlab.example.com", "/", 2),
                ("_gitlab_session", "newest", "gitlab.example.com", None, 9),
                ("_gitlab_session", "older", ".example.com", "/", 5),
            ],
        )
    connection.close()
    assert firefox.read(profile, HOST).cookies == {"_gitlab_session": "newest"}
