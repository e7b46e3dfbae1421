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
    """Run the stream in the shell behind `p` (ready at a prompt) and drain it; also the CPU
    time the program on the PTY (jobterm) spent on it."""
    cpu_before = cpu_seconds(p.pid)
    start = time.perf_counter()
    p.write(stream_command(size))
    count = p.sink_until(END, timeout)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(p.pid) - cpu_before
    p.drain(0.1)
    if count < size:
        raise PtyTimeout(f"only {count} of {size} bytes arrived")
    return {"bytes": count, "seconds": elapsed, "mb_s": mb_per_s(size, elapsed), "cpu_s": cpu}


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """The ceiling: the `websockets` client in this process; its CPU time is ours."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(_bare_reader(ws_url, cookie, size, timeout))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def exec_to_file(
    argv: list[str], env: dict[str, str], size: int, out: Path, timeout: float = 300.0
) -> dict[str, Any]:
    """`jobterm exec JOB -- head -c N /dev/zero > out`. The rate counts from the first byte in
    the file (start-up is its own row); also peak RSS and CPU time, from wait4()."""
    cmd = [*argv, "--", "head", "-c", str(size), "/dev/zero"]
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, env=env)
        first: float | None = None
        hwm = 0
        deadline = time.monotonic() + timeout
        while True:
            # VmHWM, not wait4's ru_maxrss: that counts the pages the child shared with this
            # (big) process between fork() and exec().
            hwm = _vm_hwm_kb(proc.pid) or hwm
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            now = time.perf_counter()
            if pid:
                break
            if first is None and os.fstat(sink.fileno()).st_size > 0:
                first = now
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError("exec did not end in time")
            time.sleep(0.001 if first is None else 0.005)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    got = out.stat().st_size
    out.unlink()
    if code != 0 or got != size:
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise RuntimeError(f"exec exited {code} with {got} of {size} bytes: {err[-200:]}")
    streaming = now - (first if first is not None else start)
    return {
        "bytes": got,
        "seconds": streaming,
        "mb_s": mb_per_s(size, streaming),
        "total_seconds": now - start,
        "peak_rss_kb": hwm,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


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
