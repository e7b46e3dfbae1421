"""In-band set-up of the remote terminal, hidden from the screen.

GitLab has no resize message and the job's PTY starts at 0×0, so jobterm types one line into
the new shell: `stty rows R cols C`, `export TERM=…`, then prints a marker. Output is held
back until the marker arrives and everything before it (the echo of that line and the first
prompt) is dropped, so the user sees just the fresh prompt the shell prints afterwards.

The marker is an OSC sequence (`ESC ] jobterm-ready;NONCE BEL`), which a terminal ignores if
it were ever shown. The typed line names its two halves as separate printf arguments, so the
echo of the line itself never contains the marker.

If the marker does not come (a shell that is not POSIX, a busy job), `timeout()` releases
every held byte: nothing is ever lost, the set-up is merely visible.
"""

from __future__ import annotations

import secrets
import shlex

#: Largest amount held back while waiting for the marker.
MAX_HELD = 256 * 1024


def stty_command(rows: int, cols: int) -> str:
    return f"stty rows {int(rows)} cols {int(cols)}"


class SetupFilter:
    """Build the set-up line and hide its effects from the output stream."""

    def __init__(self, rows: int, cols: int, term: str | None, nonce: str | None = None) -> None:
        self.nonce = nonce or secrets.token_hex(8)
        self.rows = rows
        self.cols = cols
        self.term = term
        self.marker = f"\x1b]jobterm-ready;{self.nonce}\x07".encode()
        self._held = bytearray()
        self.done = False

    def command(self) -> bytes:
        """The line to type into the new shell (leading space: kept out of shell history)."""
        parts = [f"{stty_command(self.rows, self.cols)} 2>/dev/null"]
        if self.term:
            parts.append(f"export TERM={shlex.quote(self.term)}")
        parts.append(f"printf '\\033]%s;%s\\007' jobterm-ready {self.nonce}")
        return (" " + "; ".join(parts) + "\r").encode()

    def feed(self, data: bytes) -> bytes:
        """Output bytes to show now."""
        if self.done:
            return data
        self._held += data
        index = self._held.find(self.marker)
        if index >= 0:
            rest = bytes(self._held[index + len(self.marker) :])
            self._finish()
            return rest
        if len(self._held) > MAX_HELD:
            return self.timeout()
        return b""

    def timeout(self) -> bytes:
        """Give up hiding: return everything held."""
        held = bytes(self._held)
        self._finish()
        return held

    def _finish(self) -> None:
        self.done = True
        self._held = bytearray()
