"""The transfer's own pieces, with no session: what it keeps of the job's answers, and how
a download's payload lands."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobterm.core.cpscript import Checksum
from jobterm.cp.transfer import ANSWER_LIMIT, FLUSH_SIZE, _Answer, _Receiver, _their_sum


def test_the_checksum_line_survives_warnings_before_it() -> None:
    """The programs print their checksum last; a tool's warnings before it (more than the
    limit kept) must not push it out."""
    answer = _Answer()
    line = b"sha256 " + b"ab" * 32 + b"\n"

    async def feed() -> None:
        for piece in [b"tar: a warning from the job\n" * (ANSWER_LIMIT // 10), line]:
            await answer.write(piece)

    asyncio.run(feed())
    assert len(answer.data) <= ANSWER_LIMIT
    assert _their_sum(answer.data) == ("sha256", "ab" * 32)


def _receive(tmp_path: Path, stream: bytes, piece: int) -> tuple[_Receiver, list[int]]:
    done: list[int] = []
    receiver = _Receiver(tmp_path / "out", "out", lambda so_far, total: done.append(so_far))

    async def feed() -> None:
        for i in range(0, len(stream), piece):
            await receiver.write(stream[i : i + piece])
        await receiver.drain()

    asyncio.run(feed())
    return receiver, done


@pytest.mark.parametrize("piece", [4091, 16384, FLUSH_SIZE + 1])
def test_the_receiver_lands_and_hashes_every_byte_in_order(tmp_path: Path, piece: int) -> None:
    """Payload is written and hashed in batches: across batch borders and WebSocket-sized
    pieces, the file and the checksum are the stream's bytes exactly, and progress ends at
    the whole size."""
    payload = os.urandom(3 * FLUSH_SIZE + 12345)
    stream = b"jobterm-cp file %d - sha256\n" % len(payload) + payload
    receiver, done = _receive(tmp_path, stream, piece)
    assert receiver.checksum is not None
    assert receiver.landing is not None
    assert receiver.checksum.value("sha256") == hashlib.sha256(payload).hexdigest()
    assert not receiver.checksum.has("cksum")  # only what the job announced
    assert done == sorted(done)
    assert done[-1] == len(payload)
    receiver.landing.commit()
    assert (tmp_path / "out").read_bytes() == payload


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_the_receiver_any_small_pieces(payload: bytes, piece: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stream = b"jobterm-cp file %d x cksum\n" % len(payload) + payload
        receiver, _ = _receive(Path(folder), stream, piece)
        assert receiver.checksum is not None
        assert receiver.landing is not None
        both = Checksum()
        both.update(payload)
        assert receiver.checksum.value("cksum") == both.sums().cksum
        receiver.landing.commit()
        assert (Path(folder) / "out").read_bytes() == payload
