from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.frames import BASE64, BINARY, MAX_INPUT_FRAME, TerminalCodec
from jobterm.errors import ProtocolError


@pytest.mark.parametrize("proto", [BINARY, None])
def test_binary_input_is_split_into_16k_frames(proto: str | None) -> None:
    data = bytes(range(256)) * 300  # 76,800 bytes
    frames = TerminalCodec(proto).encode_input(data)
    assert all(isinstance(f, bytes) for f in frames)
    assert [len(f) for f in frames] == [16384, 16384, 16384, 16384, 11264]
    assert b"".join(f for f in frames if isinstance(f, bytes)) == data


def test_base64_frames_are_text_and_limit_the_decoded_size() -> None:
    data = b"\x00\xff" * 20000
    frames = TerminalCodec(BASE64).encode_input(data)
    assert all(isinstance(f, str) for f in frames)
    decoded = [base64.b64decode(f) for f in frames if isinstance(f, str)]
    assert max(len(d) for d in decoded) == MAX_INPUT_FRAME
    assert b"".join(decoded) == data


def test_empty_input_sends_nothing() -> None:
    assert TerminalCodec(BINARY).encode_input(b"") == []


def test_output_decoding() -> None:
    assert TerminalCodec(BINARY).decode_output(b"\x1b[0m$ ") == b"\x1b[0m$ "
    assert TerminalCodec(BASE64).decode_output("aGk=") == b"hi"
    assert TerminalCodec(BASE64).decode_output(b"aGk=") == b"hi"


def test_invalid_base64_from_the_server_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid base64"):
        TerminalCodec(BASE64).decode_output("not base64!")


def test_text_frame_on_binary_protocol_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="text frame"):
        TerminalCodec(BINARY).decode_output("hello")


def test_unknown_subprotocol_is_refused() -> None:
    with pytest.raises(ProtocolError, match="unknown terminal subprotocol"):
        TerminalCodec("v2.channel.k8s.io")


@given(st.binary(max_size=100_000), st.sampled_from([BINARY, BASE64, None]))
def test_roundtrip_any_bytes(data: bytes, proto: str | None) -> None:
    codec = TerminalCodec(proto)
    frames = codec.encode_input(data)
    assert b"".join(codec.decode_output(f) for f in frames) == data
    assert all(len(codec.decode_output(f)) <= MAX_INPUT_FRAME for f in frames)
