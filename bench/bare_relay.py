"""The thinnest possible `attach`: a bare `websockets` client relaying a job terminal to the
terminal it runs on (raw mode, stdin -> WebSocket, WebSocket -> stdout, nothing else).

The bench runs it on a PTY exactly as it runs `jobterm attach`, so the difference between
the two rows is jobterm's own cost, and the difference between this row and the bare reader
is the local terminal's.

    JOBTERM_BENCH_COOKIE=... python bench/bare_relay.py WS_URL
"""

from __future__ import annotations

import asyncio
import os
import sys
import termios
import tty


async def relay(ws_url: str, cookie: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    loop = asyncio.get_running_loop()
    async with connect(
        ws_url,
        subprotocols=[Subprotocol("terminal.gitlab.com")],
        additional_headers={"Cookie": cookie},
        compression=None,
        max_size=2**22,
        max_queue=16,
    ) as ws:
        sys.stderr.write("attached to the job (bare relay)\r\n")
        sys.stderr.flush()
        typed: asyncio.Queue[bytes] = asyncio.Queue()
        loop.add_reader(0, lambda: typed.put_nowait(os.read(0, 65536)))

        async def pump_in() -> None:
            while True:
                data = await typed.get()
                if not data or b"\x1d" in data:  # Ctrl-]: leave
                    await ws.close()
                    return
                await ws.send(data)

        sender = asyncio.create_task(pump_in())
        try:
            while True:
                data = await ws.recv()
                view = memoryview(data if isinstance(data, bytes) else data.encode())
                while view:
                    view = view[os.write(1, view) :]
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()


def main() -> int:
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        asyncio.run(relay(sys.argv[1], os.environ["JOBTERM_BENCH_COOKIE"]))
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
