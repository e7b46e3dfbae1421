"""Keystroke round-trip: a byte typed into a terminal until its echo comes back.

The same bash (no rc files, prompt `$ `) answers in every column, so the columns differ only
in the path between the keyboard and that shell:

* floor:   bench -> PTY -> bash                        (what a local terminal costs)
* jobterm: bench -> PTY -> jobterm -> WebSocket -> sandbox -> PTY -> bash
* ssh:     bench -> PTY -> ssh -> TCP -> sshd -> PTY -> bash

Each keystroke is a lower-case letter typed at the end of the line; readline echoes exactly
that letter. Every `LINE` letters the line is cleared with Ctrl-U (not measured), so the line
never wraps and readline never redraws.
"""

from __future__ import annotations

import contextlib
import os
import select
import statistics
import time
from collections.abc import Callable
from typing import Any

from ptyrun import PtyProcess, PtyTimeout

LINE = 40
LETTERS = b"abcdefghijklmnopqrstuvwxyz"
BASH = ["bash", "--norc", "--noprofile"]


def shell_ready(p: PtyProcess, timeout: float = 30.0) -> None:
    """Set the same prompt everywhere and wait until the shell answers."""
    p.write(b"PS1='$ '; unset PROMPT_COMMAND; echo R$((6*7))Y\r")
    p.expect(b"R42Y", timeout)
    p.drain(0.2)


def round_trips(p: PtyProcess, count: int, timeout: float = 5.0) -> list[float]:
    """`count` keystroke round-trips, in seconds."""
    fd = p.fd
    samples: list[float] = []
    for i in range(count):
        if i % LINE == 0:
            p.write(b"\x15")  # Ctrl-U: an empty line again
            p.drain(0.05)
        letter = LETTERS[i % len(LETTERS)]
        start = time.perf_counter()
        os.write(fd, bytes((letter,)))
        seen = False
        while not seen:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise PtyTimeout(f"no echo of keystroke {i}")
            seen = letter in os.read(fd, 4096)
        samples.append(time.perf_counter() - start)
    p.write(b"\x15")
    p.drain(0.05)
    return samples


def summarize(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "count": len(samples),
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def measure(
    spawn: Callable[[], PtyProcess],
    count: int,
    leave: Callable[[PtyProcess], None],
    warmup: int = 50,
) -> dict[str, Any]:
    """Spawn a terminal program, wait for its shell, measure, and leave it."""
    with spawn() as p:
        shell_ready(p)
        round_trips(p, warmup)
        result = summarize(round_trips(p, count))
        leave(p)
        return result


def leave_shell(p: PtyProcess) -> None:
    p.write(b"exit\r")
    p.wait(20)


def leave_attach(p: PtyProcess) -> None:
    p.write(b"\r~.")
    p.wait(20)


# -- the sandbox alone: a bare WebSocket client in place of jobterm ---------------------------


async def _ws_drain(ws: Any, quiet: float) -> None:
    import asyncio

    with contextlib.suppress(asyncio.TimeoutError):
        while True:
            await asyncio.wait_for(ws.recv(), quiet)


async def _ws_expect(ws: Any, needle: bytes, timeout: float) -> None:
    import asyncio

    seen = b""
    while needle not in seen:
        seen = seen[-len(needle) :] + await asyncio.wait_for(ws.recv(), timeout)


async def _ws_session(ws_url: str, cookie: str, count: int, warmup: int) -> list[float]:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async with connect(
        ws_url,
        subprotocols=[Subprotocol("terminal.gitlab.com")],
        additional_headers={"Cookie": cookie},
        compression=None,
        open_timeout=20,
    ) as ws:
        # What jobterm's set-up does (size), then the same prompt as everywhere else.
        await ws.send(b"stty rows 50 cols 200; PS1='$ '; unset PROMPT_COMMAND; echo R$((6*7))Y\r")
        await _ws_expect(ws, b"R42Y", 30)
        await _ws_drain(ws, 0.2)
        samples: list[float] = []
        for i in range(warmup + count):
            if i % LINE == 0:
                await ws.send(b"\x15")
                await _ws_drain(ws, 0.05)
            letter = LETTERS[i % len(LETTERS)]
            start = time.perf_counter()
            await ws.send(bytes((letter,)))
            await _ws_expect(ws, bytes((letter,)), 5)
            samples.append(time.perf_counter() - start)
        await ws.send(b"\x15exit\r")
        return samples[warmup:]


def measure_bare_websocket(
    ws_url: str, cookie: str, count: int, warmup: int = 50
) -> dict[str, Any]:
    """Round-trips through the sandbox with the thinnest client there is: the server's share."""
    import asyncio

    return summarize(asyncio.run(_ws_session(ws_url, cookie, count, warmup)))
