"""Logging set-up: silent by default, a redacted debug log on stderr with --debug."""

from __future__ import annotations

import logging
import sys

from jobterm.core.redact import redact
from jobterm.core.safetext import visible


class RedactingFormatter(logging.Formatter):
    """Secrets masked, and the server's bytes (headers, frames) unable to drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(redact(super().format(record)), keep_newlines=True)


def setup_logging(debug: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("jobterm: debug: %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # Libraries log headers at DEBUG; they pass through the same redaction, but keep the noise
    # of the event loop and the HTTP internals down unless asked for.
    for noisy in ("asyncio", "hpack", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)
