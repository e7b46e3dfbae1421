"""What `jobterm watch` shows: the pipeline's table, redrawn in place on a terminal, or one
plain line per change when the output is not a terminal (a log, a pipe, CI).

Every name and status comes from the server: shown through `visible()`, one line each. The
table is drawn below whatever is on the screen and redrawn by moving up over its own lines
(`ESC [ n F`) and erasing to the end of the screen (`ESC [ J`), so nothing above it is
touched; `forget()` leaves the drawn table where it is (a shell takes the screen over).
"""

from __future__ import annotations

import os
import time

from jobterm.core.safetext import visible
from jobterm.core.watchflow import Phase, Track
from jobterm.term.tty import terminal_size, write_all

RED, GREEN, DIM, RESET = "\x1b[31m", "\x1b[32m", "\x1b[2m", "\x1b[0m"


def _duration(track: Track) -> str:
    seconds = track.view.duration
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def row_text(track: Track, now: float | None = None) -> str:
    view = track.view
    note = track.note if track.phase is not Phase.WAITING else ""
    if track.phase is Phase.KEPT and track.held_until is not None and now is not None:
        left = max(int(track.held_until - now), 0)
        note += f" (the runner releases it in {left // 60}m{left % 60:02d}s)"
    cells = [
        visible(view.stage, one_line=True)[:12].ljust(12),
        visible(view.name, one_line=True)[:24].ljust(24),
        visible(view.status, one_line=True)[:9].ljust(9),
        _duration(track).rjust(6),
        note,
    ]
    return f"{view.id:>6}  " + "  ".join(cells).rstrip()


class View:
    def __init__(self, fd: int, title: str) -> None:
        self.fd = fd
        self.tty = os.isatty(fd)
        self.title = title
        self.drawn = 0  # lines of the table on the screen now
        self.last: dict[int, str] = {}  # plain mode: what each job's line said last
        self.paused = False  # a shell has the screen: the table and lines wait
        self.waiting: list[str] = []

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        """The screen is the table's again: what was said meanwhile first."""
        self.paused = False
        waiting, self.waiting = self.waiting, []
        for text in waiting:
            self.say(text)

    def show(self, rows: list[Track]) -> None:
        if self.paused:
            return
        if self.tty:
            self._draw(rows)
        else:
            self._lines(rows)

    def _draw(self, rows: list[Track]) -> None:
        cols = terminal_size(self.fd)[1] or 80
        now = time.monotonic()
        title = self.title[: cols - 1]
        lines = [title] + [self._coloured(t, row_text(t, now)[: cols - 1]) for t in rows]
        up = f"\x1b[{self.drawn}F" if self.drawn else "\r"
        text = up + "\x1b[J" + "\r\n".join(lines) + "\r\n"
        write_all(self.fd, text.encode("utf-8", "replace"))
        self.drawn = len(lines)

    @staticmethod
    def _coloured(track: Track, text: str) -> str:
        if track.view.status == "failed" or track.note.startswith("held: failed"):
            return RED + text + RESET
        if track.view.status == "success":
            return GREEN + text + RESET
        if track.phase in (Phase.CANT, Phase.DONE):
            return DIM + text + RESET
        return text

    def _lines(self, rows: list[Track]) -> None:
        out = []
        for track in rows:
            seen = (track.view.status, track.phase, track.note)  # not the running time
            key = repr(seen)
            if self.last.get(track.view.id) != key:
                self.last[track.view.id] = key
                out.append(f"{time.strftime('%H:%M:%S')} {row_text(track)}\n")
        if out:
            write_all(self.fd, "".join(out).encode("utf-8", "replace"))

    def say(self, text: str) -> None:
        """A line of jobterm's own, above the table (which is drawn again below it)."""
        if self.paused:
            self.waiting.append(text)
            return
        if self.tty and self.drawn:
            write_all(self.fd, f"\x1b[{self.drawn}F\x1b[J".encode())
            self.drawn = 0
        end = "\r\n" if self.tty else "\n"
        for line in text.split("\n"):
            write_all(self.fd, f"jobterm: {line}{end}".encode("utf-8", "replace"))

    def forget(self) -> None:
        """The table stays on the screen as it is; the next one is drawn below it."""
        self.drawn = 0
