"""`--record FILE`: the session as an asciicast v2 file, with secrets redacted.

asciicast v2 is a JSON header line, then one JSON array per event: `[seconds, "o"|"i", text]`.
Output is decoded incrementally as UTF-8 (a character split across frames is kept whole) and
redacted line by line: a partial line waits (up to `MAX_PENDING` bytes) so that a token split
across two frames is still recognised.
"""

from __future__ import annotations

import codecs
import json
import time
from pathlib import Path
from typing import IO

from jobterm.core.redact import redact, safe_cut
from jobterm.errors import UsageError
from jobterm.files import open_private

MAX_PENDING = 4096
#: What a cut of a long line leaves pending: longer than any token or cookie value.
KEEP = 1024


class _Stream:
    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""

    def take(self, data: bytes, final: bool = False) -> str:
        self.pending += self.decoder.decode(data, final)
        cut = max(self.pending.rfind("\n"), self.pending.rfind("\r"))
        if final:
            cut = len(self.pending) - 1
        elif len(self.pending) > MAX_PENDING:
            # A long line: write all but its last KEEP characters, cut before any secret that
            # spans the cut, so that redact() sees each secret whole.
            safe = safe_cut(self.pending, len(self.pending) - KEEP)
            cut = max(cut, (safe if safe > 0 else len(self.pending) - KEEP) - 1)
        if cut < 0:
            return ""
        ready, self.pending = self.pending[: cut + 1], self.pending[cut + 1 :]
        return redact(ready)


class Recorder:
    def __init__(
        self, path: Path, rows: int, cols: int, *, record_input: bool, env: dict[str, str]
    ) -> None:
        try:
            self._file: IO[str] = open_private(path)  # what the session showed is private
        except OSError as exc:
            raise UsageError(
                f"cannot write the recording {path}: {exc.strerror or exc}",
                "pass --record a file in a writable directory",
            ) from None
        self._start = time.monotonic()
        self._record_input = record_input
        self._streams = {"o": _Stream(), "i": _Stream()}
        header = {
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": int(time.time()),
            "env": {k: v for k, v in env.items() if k in ("TERM", "SHELL")},
        }
        self._file.write(json.dumps(header) + "\n")

    def output(self, data: bytes) -> None:
        self._event("o", data)

    def input(self, data: bytes) -> None:
        if self._record_input:
            self._event("i", data)

    def _event(self, kind: str, data: bytes, final: bool = False) -> None:
        text = self._streams[kind].take(data, final)
        if text:
            elapsed = round(time.monotonic() - self._start, 6)
            self._file.write(json.dumps([elapsed, kind, text]) + "\n")

    def close(self) -> None:
        for kind in ("o", "i"):
            self._event(kind, b"", final=True)
        self._file.close()
