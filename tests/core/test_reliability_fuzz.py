"""Hypothesis for the parsers, where their owners' tests leave a property unchecked.

Already covered elsewhere (not repeated here): frame round-trips (test_core_frames), the escape
parser against a byte model on a small alphabet (test_core_escape), cookie input forms and
never-crashing (test_auth_cookies), sign-in pages never crashing and tag soup
(test_auth_pages), job references never crashing (test_core_jobs_setup), exec output with
well-formed sessions under any chunking and stdin framing (test_exec_core).

Added here: what a server frame may turn into; input frames under any frame limit; escape
events keeping their order and any escape byte; the hidden set-up under any chunking and its
bound; generated job URLs and git remotes round-tripping; cookie errors never showing a value;
Set-Cookie deletions; CSRF tokens of any text; the exec parser on arbitrary bytes (at most one
ending, chunking never changes the result) and with stderr kept apart.
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Iterable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from escape_model import reference_events
from jobterm.core.cookies import CookieInputError, CookieStore, parse_cookie_input
from jobterm.core.escape import Command, Data, EscapeParser
from jobterm.core.execproto import (
    ExecSpec,
    Exited,
    Failed,
    Output,
    Protocol,
    Stream,
    marker,
)
from jobterm.core.frames import BASE64, BINARY, SERVER_INPUT_LIMIT, TerminalCodec
from jobterm.core.jobs import JobRef, parse_job_ref, project_from_remote, split_project_path
from jobterm.core.setup import MAX_HELD, SetupFilter
from jobterm.core.signin_pages import parse_csrf_token
from jobterm.errors import ProtocolError

PROTOCOLS = st.sampled_from([BINARY, BASE64, None])


def chunked(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# -- frames -----------------------------------------------------------------------------------


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)), PROTOCOLS)
def test_a_server_frame_is_bytes_or_a_protocol_error(message: bytes | str, proto: str | None):
    codec = TerminalCodec(proto)
    try:
        data = codec.decode_output(message)
    except ProtocolError as exc:
        error: ProtocolError | None = exc
    else:
        error = None
    if error is not None:
        assert error.exit_code == 9
        assert "\n" not in error.message
        return
    assert isinstance(data, bytes)
    if proto != BASE64:
        assert data == message


@given(st.binary(max_size=5000), st.integers(1, SERVER_INPUT_LIMIT), PROTOCOLS)
def test_input_frames_respect_any_frame_limit(data: bytes, limit: int, proto: str | None):
    codec = TerminalCodec(proto, max_frame=limit)
    frames = codec.encode_input(data)
    decoded = [base64.b64decode(f) if isinstance(f, str) else f for f in frames]
    assert b"".join(decoded) == data
    assert all(0 < len(d) <= limit for d in decoded)
    assert all(len(d) == limit for d in decoded[:-1])  # only the last frame is short
    assert all(isinstance(f, str) == (proto == BASE64) for f in frames)


# -- escapes ----------------------------------------------------------------------------------


def merged(events: Iterable[Data | Command]) -> list[Data | Command]:
    result: list[Data | Command] = []
    for event in events:
        if isinstance(event, Data) and result and isinstance(result[-1], Data):
            result[-1] = Data(result[-1].data + event.data)
        else:
            result.append(event)
    return result


ESCAPES = st.sampled_from([b"~", b"%", b"\x1d", b"!", b"a"])


@given(ESCAPES, st.data())
def test_escape_events_keep_their_order_for_any_escape_byte(esc: bytes, data: st.DataObject):
    alphabet = st.sampled_from([esc, b".", b"?", b"#", b"r", b"\r", b"\n", b"a", b"z", b"~"])
    typed = b"".join(data.draw(st.lists(alphabet, max_size=80)))
    cuts = data.draw(st.lists(st.integers(0, len(typed)), max_size=10))
    parser = EscapeParser(esc)
    got = [event for chunk in chunked(typed, cuts) for event in parser.feed(chunk)]
    assert merged(got) == reference_events(typed, esc[0])


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
def test_without_an_escape_char_every_byte_passes(typed: bytes, cuts: list[int]):
    parser = EscapeParser(None)
    got = [event for chunk in chunked(typed, cuts) for event in parser.feed(chunk)]
    assert all(isinstance(e, Data) for e in got)
    assert b"".join(e.data for e in got if isinstance(e, Data)) == typed


# -- the hidden set-up -----------------------------------------------------------------------


@given(
    st.binary(max_size=3000),
    st.binary(max_size=3000),
    st.lists(st.integers(0, 7000), max_size=12),
)
def test_setup_shows_exactly_what_follows_the_marker(before: bytes, after: bytes, cuts: list[int]):
    setup = SetupFilter(24, 80, "xterm", nonce="00ff00ff00ff00ff")
    stream = before + setup.marker + after
    if stream.find(setup.marker) != len(before):
        return  # `before` happened to complete a marker: not this property's case
    shown = b"".join(setup.feed(chunk) for chunk in chunked(stream, cuts))
    assert setup.done
    assert shown == after


@given(st.lists(st.integers(1, 90_000), min_size=1, max_size=12), st.booleans())
def test_setup_never_holds_more_than_its_bound_and_loses_nothing(sizes: list[int], time_out: bool):
    setup = SetupFilter(24, 80, None, nonce="00ff00ff00ff00ff")
    fed = shown = 0
    for i, size in enumerate(sizes):
        chunk = bytes([0x41 + i % 26]) * size
        fed += size
        shown += len(setup.feed(chunk))
        assert fed - shown <= MAX_HELD
    if time_out and not setup.done:
        shown += len(setup.timeout())
        assert shown == fed


# -- job references and remotes ---------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
SEGMENT = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9_])?", fullmatch=True).filter(
    lambda s: not s.endswith(".git") and ".." not in s
)


@given(
    st.sampled_from(["http", "https"]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.lists(SEGMENT, min_size=1, max_size=4),
    st.integers(1, 10**12),
    st.sampled_from(["", "/", "/terminal", "/terminal.ws"]),
)
def test_generated_job_urls_round_trip(scheme, labels, port, segments, job_id, suffix):
    netloc = ".".join(labels) + (f":{port}" if port else "")
    path = "/".join(segments)
    ref = parse_job_ref(f"{scheme}://{netloc}/{path}/-/jobs/{job_id}{suffix}")
    assert ref == JobRef(job_id, f"{scheme}://{netloc}", path)


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.integers(1, 10**12))
def test_generated_project_refs_round_trip(segments, job_id):
    project = "/".join(segments)
    assert parse_job_ref(f"{project}#{job_id}") == JobRef(job_id, project=project)


@given(
    st.lists(LABEL, min_size=1, max_size=3),
    st.lists(SEGMENT, min_size=2, max_size=4),
    st.sampled_from(["scp", "https", "ssh"]),
    st.booleans(),
)
def test_generated_git_remotes_name_their_project(labels, segments, form, dot_git):
    host, path = ".".join(labels), "/".join(segments)
    tail = path + (".git" if dot_git else "")
    remote = {
        "scp": f"git@{host}:{tail}",
        "https": f"https://{host}/{tail}",
        "ssh": f"ssh://git@{host}:2222/{tail}",
    }[form]
    assert project_from_remote(remote) == (host, path)


@given(st.text(max_size=120))
def test_project_from_remote_never_crashes(text: str):
    result = project_from_remote(text)
    assert result is None or (result[0] and "/" in result[1])


@given(st.lists(SEGMENT, max_size=3), st.lists(SEGMENT, min_size=1, max_size=4))
def test_project_path_under_a_relative_root(root: list[str], project: list[str]):
    root_path = "/" + "/".join(root)
    url_path = "/".join([*root, *project])
    assert split_project_path(url_path, root_path) == "/".join(project)


# -- cookies and sign-in pages ----------------------------------------------------------------

COOKIE_OCTET = st.characters(
    codec="ascii", exclude_characters=' ",;\\=', min_codepoint=0x21, max_codepoint=0x7E
)
JUNK = st.sampled_from(
    ["", " ", ";", "=", "\n", "\t", "Cookie: ", "_gitlab_session=", "a=", "é", " x", '"', "\\"]
)


@given(st.text(COOKIE_OCTET, min_size=8, max_size=40), JUNK, JUNK, JUNK)
# Found by this test: a tab made `_gitlab_session=<value>` a table row's cookie *name*, and
# the error about the next field quoted that name, value included.
@example(value="00000000", a="_gitlab_session=", b="\t", c="é")
def test_cookie_errors_never_show_the_value(value: str, a: str, b: str, c: str):
    secret = "Zq9" + value  # never a piece of the messages' own words
    text = f"{a}{secret}{b}{c}"
    message = ""
    try:
        parse_cookie_input(text)
    except CookieInputError as exc:
        message = str(exc)
    assert secret not in message


NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)


@given(
    st.lists(st.tuples(NAME, st.text(COOKIE_OCTET, min_size=1, max_size=20)), max_size=6),
    st.sampled_from(["Max-Age=0", "Max-Age=-1", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]),
)
def test_set_cookie_deletion_removes_whatever_was_set(pairs, deletion):
    store = CookieStore()
    store.apply([f"{name}={value}; Path=/; HttpOnly" for name, value in pairs])
    assert store.cookies == dict(pairs)
    store.apply([f"{name}=; {deletion}; Path=/" for name, _ in pairs])
    assert store.cookies == {}
    assert store.header() == ""


@given(st.text(max_size=300))
def test_set_cookie_headers_never_crash(text: str):
    store = CookieStore()
    store.apply(text.split("\n"))
    for name in store.cookies:
        assert name
        assert ";" not in name
        assert "=" not in name


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80))
def test_any_csrf_token_is_read_back(token: str):
    page = f'<html><head><meta name="csrf-token" content="{html.escape(token)}"></head></html>'
    assert parse_csrf_token(page) == token


# -- exec output ------------------------------------------------------------------------------

READY_NONCE = b"r" * 24
NONCE = b"0123456789abcdef01234567"
PIECES = st.sampled_from(
    [
        marker(READY_NONCE, b"R"),
        marker(NONCE, b"S"),
        marker(NONCE, b"E"),
        marker(NONCE, b"Q"),
        marker(NONCE, b"Z"),
        marker(NONCE, b"F"),
        marker(READY_NONCE, b"F"),
        b"#jt:",
        NONCE,
        b"0.",
        b"255.",
        b"x.",
        b".",
        b"\r\n",
    ]
)
GARBAGE = st.lists(st.one_of(PIECES, st.binary(max_size=20)), max_size=25).map(b"".join)


def proto(stderr_apart: bool = False) -> Protocol:
    spec = ExecSpec((b"cmd",), stderr_apart=stderr_apart)
    return Protocol(spec, ready_nonce=READY_NONCE, nonce=NONCE)


def outcome(events: list[object]) -> tuple[bytes, bytes, list[object]]:
    out = b"".join(e.data for e in events if isinstance(e, Output) and e.stream is Stream.STDOUT)
    err = b"".join(e.data for e in events if isinstance(e, Output) and e.stream is Stream.STDERR)
    others = [e for e in events if not isinstance(e, Output)]
    return out, err, others


@settings(max_examples=300)
@given(GARBAGE, st.lists(st.integers(0, 600), max_size=12), st.booleans())
def test_exec_parser_on_any_bytes_ends_once_and_ignores_chunking(data, cuts, apart):
    whole = proto(apart).feed(data)
    p = proto(apart)
    pieces = [event for chunk in chunked(data, cuts) for event in p.feed(chunk)]
    assert outcome(pieces) == outcome(whole)
    endings = [i for i, e in enumerate(pieces) if isinstance(e, (Exited, Failed))]
    assert len(endings) <= 1
    if endings:
        assert endings[0] == len(pieces) - 1  # nothing after the end
        assert p.done
        assert p.feed(b"more" + marker(NONCE, b"E") + b"0.") == []


def _without(blob: bytes, *needles: bytes) -> bytes:
    for needle in needles:
        blob = blob.replace(needle, b"")
    return blob


@given(
    st.binary(max_size=400),
    st.binary(max_size=400),
    st.integers(0, 255),
    st.lists(st.integers(0, 1000), max_size=12),
)
def test_stderr_kept_apart_under_any_chunking(out: bytes, err: bytes, status: int, cuts):
    out = _without(out, marker(NONCE, b"E")[:4])
    err = _without(err, marker(NONCE, b"Z")[:4])
    stream = (
        marker(READY_NONCE, b"R")
        + marker(NONCE, b"S")
        + out
        + marker(NONCE, b"E")
        + b"%d." % status
        + marker(NONCE, b"Q")
        + err
        + marker(NONCE, b"Z")
        + b"\r\n$ "
    )
    p = proto(stderr_apart=True)
    got_out, got_err, others = outcome([e for c in chunked(stream, cuts) for e in p.feed(c)])
    assert (got_out, got_err) == (out, err)
    assert others[-1] == Exited(status)


@pytest.mark.parametrize("kind", [b"R", b"S", b"E"])
def test_marker_kinds_are_single_bytes(kind: bytes):
    # The generators above rely on this shape: "#jt:" NONCE ":" KIND "."
    assert marker(NONCE, kind) == b"#jt:" + NONCE + b":" + kind + b"."
