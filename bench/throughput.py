"""Output and paste throughput, and jobterm's memory while it moves the bytes.

Output: the job's shell runs `head -c N /dev/zero` and then prints an end marker. The same
stream is read by
* a bare WebSocket reader (the `websockets` client, the same session cookie): the ceiling;
* `jobterm attach` writing to a PTY that the bench drains;
* `jobterm exec` writing to a file;
* a shell in a plain local PTY (the floor of what a terminal can take, for reference).
/dev/zero rather than /dev/urandom: the kernel's random generator would be the bottleneck.

Paste: lines of base64 text (what people paste) typed into `attach` with the remote echo
off; `sha256sum` in the job checks that every byte arrived.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import random
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from ptyrun import PtyProcess, PtyTimeout

MiB = 1024 * 1024
END = b"TP-42-END"  # printed as `echo TP-$((6*7))-END`, so the typed line never matches


def stream_command(size: int) -> bytes:
    return f"head -c {size} /dev/zero; echo TP-$((6*7))-END\r".encode()


def mb_per_s(size: int, seconds: float) -> float:
    return size / MiB / seconds


# -- output -----------------------------------------------------------------------------------


def through_pty(p: PtyProcess, size: int, timeout: float = 300.0) -> dict[str, Any]:
    """Run the stream in the shell behind `p` (ready at a prompt) and drain it."""
    start = time.perf_counter()
    p.write(stream_command(size))
    count = p.sink_until(END, timeout)
    elapsed = time.perf_counter() - start
    p.drain(0.1)
    if count < size:
        raise PtyTimeout(f"only {count} of {size} bytes arrived")
    return {"bytes": count, "seconds": elapsed, "mb_s": mb_per_s(size, elapsed)}


async def _bare_reader(ws_url: str, cookie: str, size: int, timeout: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async with connect(
        ws_url,
        subprotocols=[Subprotocol("terminal.gitlab.com")],
        additional_headers={"Cookie": cookie},
        compression=None,
        max_size=2**22,
        open_timeout=20,
    ) as ws:
        start = time.perf_counter()
        await ws.send(stream_command(size))
        count = 0
        tail = b""
        while True:
            message = await asyncio.wait_for(ws.recv(), timeout)
            assert isinstance(message, bytes)
            window = tail + message
            index = window.find(END)
            if index >= 0:
                count += index - len(tail)
                break
            count += len(message)
            tail = window[-len(END) :]
        elapsed = time.perf_counter() - start
    return {"bytes": count, "seconds": elapsed, "mb_s": mb_per_s(size, elapsed)}


def bare_websocket(ws_url: str, cookie: str, size: int, timeout: float = 300.0) -> dict[str, Any]:
    return asyncio.run(_bare_reader(ws_url, cookie, size, timeout))


def exec_to_file(
    argv: list[str], env: dict[str, str], size: int, out: Path, timeout: float = 300.0
) -> dict[str, Any]:
    """`jobterm exec JOB -- head -c N /dev/zero > out`; also the process's peak RSS."""
    cmd = [*argv, "--", "head", "-c", str(size), "/dev/zero"]
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, env=env)
        code, maxrss = wait_with_rusage(proc, timeout)
        elapsed = time.perf_counter() - start
    got = out.stat().st_size
    out.unlink()
    if code != 0 or got != size:
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise RuntimeError(f"exec exited {code} with {got} of {size} bytes: {err[-200:]}")
    return {
        "bytes": got,
        "seconds": elapsed,
        "mb_s": mb_per_s(size, elapsed),
        "peak_rss_kb": maxrss,
    }


def wait_with_rusage(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int]:
    """Exit status and peak RSS (KiB) of a child, from wait4()."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            return code, usage.ru_maxrss
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the command did not end in time")
        time.sleep(0.01)


# -- paste ------------------------------------------------------------------------------------


def paste_text(size: int, seed: int = 7) -> bytes:
    """About `size` bytes of 76-column base64 lines (what people paste), newline-terminated."""
    data = base64.encodebytes(random.Random(seed).randbytes(size * 3 // 4))[:size]
    return data[: data.rfind(b"\n") + 1]


def paste(p: PtyProcess, data: bytes, timeout: float = 300.0) -> dict[str, Any]:
    """Paste `data` into the shell behind `p`; the job checksums it."""
    digest = hashlib.sha256(data).hexdigest().encode()
    p.write(f"stty -echo; head -c {len(data)} | sha256sum; stty echo\r".encode())
    time.sleep(0.3)  # let the shell run stty before the paste arrives
    p.drain(0.05)
    start = time.perf_counter()
    _write_while_draining(p, data, timeout)
    p.expect(digest, timeout)
    elapsed = time.perf_counter() - start
    p.drain(0.1)
    return {"bytes": len(data), "seconds": elapsed, "mb_s": mb_per_s(len(data), elapsed)}


def _write_while_draining(p: PtyProcess, data: bytes, timeout: float) -> None:
    """Type `data` as fast as the program takes it, reading its output meanwhile."""
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        if time.monotonic() > deadline:
            raise PtyTimeout(f"paste stalled with {len(view)} bytes left")
        readable, writable, _ = select.select([p.fd], [p.fd], [], 1.0)
        if readable:
            with contextlib.suppress(BlockingIOError):
                p.buffer += os.read(p.fd, 1 << 16)
            if len(p.buffer) > MiB:
                del p.buffer[: -64 * 1024]  # keep the tail: the digest comes last
        if writable:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(p.fd, view[: 1 << 16]) :]
