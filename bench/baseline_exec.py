"""The baseline of `jobterm exec JOB -- true`: the least any client does to run `true` in a
job's terminal. websockets and the stored session cookie, nothing of jobterm's: connect,
type `true; exit`, read until the job's shell ends the connection.

    JOBTERM_BENCH_COOKIE='_gitlab_session=…' python bench/baseline_exec.py WS_URL
"""

from __future__ import annotations

import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol


async def run(ws_url: str, cookie: str) -> None:
    async with connect(
        ws_url,
        subprotocols=[Subprotocol("terminal.gitlab.com")],
        additional_headers={"Cookie": cookie},
        compression=None,
    ) as ws:
        await ws.send(b"true; exit\r")
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            pass


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], os.environ["JOBTERM_BENCH_COOKIE"]))
