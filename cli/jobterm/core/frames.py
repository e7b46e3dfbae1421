"""The terminal frame codec: GitLab's two subprotocols, and input chunking; and `Send`, the
event by which the core machines ask for input to the job.

`terminal.gitlab.com` carries raw PTY bytes in binary frames both ways. Its variant
`base64.terminal.gitlab.com` carries standard base64 in text frames both ways. A server that
negotiates no subprotocol talks the binary form ("unwrapped", as Workhorse does).

Workhorse silently truncates input frames over 32 KiB, so input is cut into frames of at most
16 KiB of *decoded* bytes (half the limit, the size the spec observed arriving intact).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from jobterm.errors import ProtocolError

BINARY: Final = "terminal.gitlab.com"
BASE64: Final = "base64.terminal.gitlab.com"
#: What we offer, in GitLab's order of preference.
SUBPROTOCOLS: Final[tuple[str, str]] = (BINARY, BASE64)
#: Largest input frame jobterm sends (decoded bytes).
MAX_INPUT_FRAME: Final = 16 * 1024
#: What Workhorse delivers of a larger frame.
SERVER_INPUT_LIMIT: Final = 32 * 1024

Frame = bytes | str


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes for the job's terminal, in this order: what the core machines that type into the
    job (core/prompt.py, core/execrun.py) ask their adapter to send. With `within`, the
    adapter gives up after that long and ignores a failure (a last word on the way out)."""

    data: bytes
    within: float | None = None


class TerminalCodec:
    """Encode input and decode output for one negotiated subprotocol (None = unwrapped)."""

    def __init__(self, subprotocol: str | None, max_frame: int = MAX_INPUT_FRAME) -> None:
        if subprotocol not in (None, BINARY, BASE64):
            raise ProtocolError(
                f"the server chose an unknown terminal subprotocol {subprotocol!r}",
                "this GitLab speaks a terminal protocol jobterm does not know; please report it",
            )
        if not 0 < max_frame <= SERVER_INPUT_LIMIT:
            raise ValueError("max_frame must be between 1 and 32 KiB")
        self.subprotocol = subprotocol
        self.max_frame = max_frame
        self.is_base64 = subprotocol == BASE64

    def encode_input(self, data: bytes) -> list[Frame]:
        """Cut `data` into frames of at most `max_frame` decoded bytes, encoded for the wire."""
        view = memoryview(data)
        size = self.max_frame
        chunks = [bytes(view[i : i + size]) for i in range(0, len(data), size)]
        if self.is_base64:
            return [base64.b64encode(chunk).decode("ascii") for chunk in chunks]
        return list(chunks)

    def decode_output(self, message: Frame) -> bytes:
        """Return the PTY bytes carried by one server message."""
        if self.is_base64:
            if isinstance(message, bytes):
                message = message.decode("ascii", "replace")
            try:
                return base64.b64decode(message, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(
                    "the server sent a terminal frame that is not valid base64",
                    "try again; if it persists, report it to the GitLab administrators",
                ) from exc
        if isinstance(message, str):
            raise ProtocolError(
                "the server sent a text frame on the binary terminal protocol",
                "try again; if it persists, report it to the GitLab administrators",
            )
        return message
