"""One completion request, start to end: `jobterm.__main__` sends every request here (the
shell set `_JOBTERM_COMPLETE`) before typer is imported.

Fastest first: `answers.fast_answer()` (the cache, the config file and the cached CLI spec),
else `resolve.slow_answer()` (typer). Completion never prompts, never writes to stderr (fd 2
goes to /dev/null), never fails (any error means no candidates) and always exits 0.
"""

from __future__ import annotations

import os
import sys

from jobterm.completion.answers import fast_answer
from jobterm.completion.protocol import format_items, open_quote, read_request
from jobterm.stdio import to_devnull

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO

    from typer._click import Command


def main(environ: Mapping[str, str], out: IO[str], build_cli: Callable[[], Command]) -> int:
    """Answer the request in `environ` on `out`; `build_cli` gives the click command when
    only the CLI itself can answer."""
    _silence_stderr()
    try:
        request = read_request(environ)
        if request is None:
            return 0
        items = fast_answer(environ, request)
        if items is None:
            from jobterm.completion.resolve import slow_answer

            items = slow_answer(request, build_cli(), environ)
        shell = request[0]
        out.write(format_items(items, shell, open_quote(environ) if shell == "bash" else ("", "")))
        out.flush()
    except Exception:  # noqa: S110 - a failed completion offers nothing; it never shows errors
        pass
    return 0


def _silence_stderr() -> None:
    """Nothing may reach the shell's command line: point fd 2 at /dev/null."""
    to_devnull(2)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
