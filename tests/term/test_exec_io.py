"""exec's local streams on real pipes and files: order, backpressure, errors, end of input."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobterm.term.exec_io import InputSource, OutputSink
from util import scaled


def _drain_pipe(fd: int, into: bytearray, delay: float = 0.0) -> threading.Thread:
    def run() -> None:
        while chunk := os.read(fd, 65536):
            into.extend(chunk)
            time.sleep(delay)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _through_a_pipe(
    feed: Callable[[OutputSink], Awaitable[None]], limit: int, delay: float = 0.0
) -> bytes:
    """What a reader at the other end of a pipe gets (sleeping `delay` after each read) when
    `feed` writes to an OutputSink on it, which is then drained and closed."""
    read_fd, write_fd = os.pipe()
    got = bytearray()
    reader = _drain_pipe(read_fd, got, delay)

    async def main() -> None:
        sink = OutputSink(write_fd, limit=limit)
        await feed(sink)
        await sink.drain()
        sink.close()

    asyncio.run(asyncio.wait_for(main(), scaled(60)))
    os.close(write_fd)
    reader.join(scaled(10))
    os.close(read_fd)
    return bytes(got)


def test_sink_writes_everything_in_order_through_a_pipe() -> None:
    chunks = [bytes([i % 256]) * (i * 37 % 5000 + 1) for i in range(500)]

    async def feed(sink: OutputSink) -> None:
        for chunk in chunks:
            await sink.write(chunk)

    assert _through_a_pipe(feed, limit=10_000) == b"".join(chunks)


def test_sink_bounds_what_waits_for_a_slow_reader() -> None:
    limit = 64 * 1024
    worst = 0

    async def feed(sink: OutputSink) -> None:
        nonlocal worst
        for _ in range(200):
            await sink.write(b"x" * 16384)
            worst = max(worst, sink._pending)

    assert len(_through_a_pipe(feed, limit, delay=0.002)) == 200 * 16384
    assert worst <= limit + 16384  # one chunk over the limit at most, then write() waits


def test_sink_reports_a_closed_reader() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)

    async def write_until_error(sink: OutputSink) -> None:
        for _ in range(100):
            await sink.write(b"data" * 1000)
            await asyncio.sleep(0.01)
        await sink.drain()

    async def main() -> None:
        sink = OutputSink(write_fd)
        with pytest.raises(BrokenPipeError):
            await write_until_error(sink)
        sink.close()

    asyncio.run(asyncio.wait_for(main(), scaled(30)))
    os.close(write_fd)


def test_sink_to_a_regular_file_writes_directly(tmp_path: Path) -> None:
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)

    async def main() -> None:
        sink = OutputSink(fd)
        await sink.write(b"abc")
        await sink.write(b"def")
        await sink.drain()
        sink.close()

    asyncio.run(main())
    os.close(fd)
    assert path.read_bytes() == b"abcdef"
    assert not [t for t in threading.enumerate() if t.name == f"jobterm-fd{fd}"]


def test_source_reads_until_end_of_input() -> None:
    read_fd, write_fd = os.pipe()
    data = os.urandom(300_000)

    def feed() -> None:
        os.write(write_fd, data)
        os.close(write_fd)

    threading.Thread(target=feed, daemon=True).start()

    async def main() -> bytes:
        source = InputSource(read_fd)
        out = b""
        while chunk := await source.read():
            out += chunk
        return out

    assert asyncio.run(asyncio.wait_for(main(), scaled(30))) == data
    os.close(read_fd)


def test_a_blocked_source_does_not_hold_the_loop() -> None:
    read_fd, write_fd = os.pipe()  # nobody ever writes

    async def main() -> None:
        InputSource(read_fd)
        await asyncio.sleep(0.05)

    started = time.monotonic()
    asyncio.run(main())  # returns although the reader thread is still blocked in read()
    assert time.monotonic() - started < scaled(5)
    os.close(write_fd)  # the reader sees EOF and its thread ends
