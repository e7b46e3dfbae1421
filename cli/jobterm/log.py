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


class TerminalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, with CRLF line ends while the terminal is raw (no output translation there:
    a bare LF would leave each line starting where the last one ended)."""

    raw = False

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\n", "\r\n") if self.raw else text

    def emit(self, record: logging.LogRecord) -> None:
        self.terminator = "\r\n" if self.raw else "\n"
        super().emit(record)


def set_raw_terminal(raw: bool) -> None:
    """Tell jobterm's log handler whether the terminal is in raw mode now."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, TerminalHandler):
            handler.raw = raw and _isatty(handler.stream)


def setup_logging(debug: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = TerminalHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("jobterm: debug: %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # Libraries log headers at DEBUG; they pass through the same redaction, but keep the noise
    # of the event loop and the HTTP internals down unless asked for.
    for noisy in ("asyncio", "hpack", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False
