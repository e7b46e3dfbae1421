"""core/cookies.py: pasted cookies in every form people copy, and Set-Cookie handling."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.cookies import (
    CookieInputError,
    CookieStore,
    parse_cookie_input,
    parse_set_cookie,
)

SESSION = "0123456789abcdef0123456789abcdef"
REMEMBER = "W1sxXSwiJDJhJDEwJGFiYyIsIjE3MDAwMDAwMDAuMCJd--0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(
    "text",
    [
        SESSION,
        f"  {SESSION}\n",
        f'"{SESSION}"',
        f"_gitlab_session={SESSION}",
        f"_gitlab_session={SESSION};",
        f"Cookie: _gitlab_session={SESSION}",
        f"cookie:_gitlab_session={SESSION}",
        f"preferred_language=en; _gitlab_session={SESSION}; event_filter=all",
        f"_gitlab_session\t{SESSION}\tgitlab.example.com\t/\tSession\t47\t✓\t✓\tLax",
        f"gitlab.example.com\tFALSE\t/\tTRUE\t0\t_gitlab_session\t{SESSION}",
        f"_gitlab_session = {SESSION}",
        f'_gitlab_session="{SESSION}"',
    ],
)
def test_session_alone_in_any_form(text: str) -> None:
    cookies = parse_cookie_input(text)
    assert cookies.session_name == "_gitlab_session"
    assert cookies.session_value == SESSION
    assert cookies.cookies == {"_gitlab_session": SESSION}
    assert not cookies.has_remember_token


def test_header_with_remember_and_known_sign_in() -> None:
    text = (
        f"Cookie: known_sign_in=abc%3D%3D--12; _gitlab_session={SESSION}; "
        f"remember_user_token={REMEMBER}; other=1\r\n"
    )
    cookies = parse_cookie_input(text)
    assert list(cookies.cookies) == ["_gitlab_session", "remember_user_token", "known_sign_in"]
    assert cookies.cookies["remember_user_token"] == REMEMBER
    assert cookies.cookies["known_sign_in"] == "abc%3D%3D--12"
    assert cookies.has_remember_token


def test_several_lines() -> None:
    text = f"_gitlab_session={SESSION}\nremember_user_token={REMEMBER}\n"
    assert parse_cookie_input(text).cookies["remember_user_token"] == REMEMBER


def test_suffixed_session_name_of_development_instances() -> None:
    cookies = parse_cookie_input(f"_gitlab_session_4f2a={SESSION}")
    assert cookies.session_name == "_gitlab_session_4f2a"
    # The exact name wins when both are present.
    both = parse_cookie_input(f"_gitlab_session_4f2a=x; _gitlab_session={SESSION}")
    assert both.session_name == "_gitlab_session"


def test_bare_value_with_base64_padding() -> None:
    assert parse_cookie_input("YWJjZA==").session_value == "YWJjZA=="


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n  ",
        "preferred_language=en; event_filter=all",
        "remember_user_token=abc",
        "Cookie: ",
        "_gitlab_session=",
        "_gitlab_session=a b; x=1",
        "a=b=c",
        "two words",
        f"_gitlab_session={SESSION}; _gitlab_session=other",
        "_gitlab_session_a=1; _gitlab_session_b=2",
        "_gitlab_session=caf\u00e9",
        "_gitlab_session=a\\b",
        "_gitlab_session x=abc",
    ],
)
def test_unusable_input_is_an_error(text: str) -> None:
    with pytest.raises(CookieInputError):
        parse_cookie_input(text)


def test_error_messages_never_show_values() -> None:
    secret = "s3cr3tVALUE"
    for text in (
        f"_gitlab_session={secret} x",
        f"_gitlab_session={secret}\u00e9",
        f"{secret} {secret}",
    ):
        with pytest.raises(CookieInputError) as info:
            parse_cookie_input(text)
        assert secret not in str(info.value)


cookie_octet = st.characters(
    codec="ascii", exclude_characters=' ",;\\', min_codepoint=0x21, max_codepoint=0x7E
)


@given(st.text(cookie_octet, min_size=1, max_size=80))
def test_any_cookie_value_survives_every_form(value: str) -> None:
    for text in (f"_gitlab_session={value}", f"Cookie: a=1; _gitlab_session={value}; b=2"):
        assert parse_cookie_input(text).session_value == value


@given(st.text(max_size=200))
def test_parser_never_crashes(text: str) -> None:
    try:
        cookies = parse_cookie_input(text)
    except CookieInputError:
        return
    for name, value in cookies.cookies.items():
        assert value
        assert " " not in value
        assert ";" not in value
        # What was accepted can always be sent back in a header.
        assert f"{name}={value}" in CookieStore.of(cookies.cookies).header()


NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_set_cookie_parsing() -> None:
    cookie = parse_set_cookie(f"_gitlab_session={SESSION}; path=/; HttpOnly; SameSite=Lax", NOW)
    assert cookie is not None
    assert (cookie.name, cookie.value, cookie.deleted) == ("_gitlab_session", SESSION, False)
    gone = parse_set_cookie(
        "remember_user_token=; path=/; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT", NOW
    )
    assert gone is not None
    assert gone.deleted
    past = parse_set_cookie("a=b; Expires=Wed, 31 Dec 2025 23:59:59 GMT", NOW)
    assert past is not None
    assert past.deleted
    future = parse_set_cookie("a=b; expires=Fri, 01 Jan 2027 00:00:00 GMT", NOW)
    assert future is not None
    assert not future.deleted
    # Max-Age wins over Expires.
    kept = parse_set_cookie("a=b; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", NOW)
    assert kept is not None
    assert not kept.deleted
    assert parse_set_cookie("garbage", NOW) is None
    assert parse_set_cookie("=value", NOW) is None
    bad_date = parse_set_cookie("a=b; expires=someday", NOW)
    assert bad_date is not None
    assert not bad_date.deleted


def test_store_applies_set_cookie_and_renders_headers() -> None:
    store = CookieStore.of({"_gitlab_session": "old", "known_sign_in": "k"})
    assert store.apply(["_gitlab_session=new; path=/", f"remember_user_token={REMEMBER}"], NOW)
    assert store.cookies == {
        "_gitlab_session": "new",
        "known_sign_in": "k",
        "remember_user_token": REMEMBER,
    }
    assert not store.apply(["_gitlab_session=new; path=/"], NOW)
    assert store.session_header() == "_gitlab_session=new"
    assert store.header() == f"_gitlab_session=new; known_sign_in=k; remember_user_token={REMEMBER}"
    assert store.apply(["_gitlab_session=; max-age=0"], NOW)
    assert not store.has_session
    assert not store.apply(["never_set=; max-age=0"], NOW)
    store.apply(["_gitlab_session_dev=x"], NOW)
    assert store.session_names == ["_gitlab_session_dev"]
    store.drop_session()
    assert not store.has_session
    assert "remember_user_token" in store.cookies


@given(st.lists(st.text(max_size=80), max_size=6))
def test_set_cookie_never_crashes_and_keeps_headers_sendable(headers: list[str]) -> None:
    store = CookieStore.of({"_gitlab_session": "abc"})
    store.apply(headers, NOW)
    for name, value in store.cookies.items():
        assert name
        assert value
        assert ";" not in name
        assert "=" not in name
