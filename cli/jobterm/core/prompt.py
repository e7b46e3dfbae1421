"""Where the job's shell waits at a prompt, and the hidden resize line typed there.

Theory of operation. GitLab's terminal has no resize message: the only way to size the job's
PTY is a `stty` line run by its shell, and typing that line is safe only while the shell waits
at an empty prompt (typed into vim or a running `cat`, it would be their data). At start
jobterm installs in the shell a hook that prints an invisible marker just before every prompt,
`ESC ] jobterm-prompt ; NONCE BEL` (see core/setup.py). NONCE is random per session, so a
program that prints a look-alike cannot make it count.

`PromptTracker` sees both directions of the session:

* `feed(output)` strips the markers from the job's output (a partial marker at the end of a
  chunk is held back until the next chunk or `flush()`) and returns `Show` events;
* `typed(keys)` is every key on its way to the job, returned as `Send` events;
* `resize(rows, cols)` records the local size that the job should get.

What the user typed since the last marker tells whether the prompt after a marker is empty:

    AT_PROMPT  a marker came, nothing typed since: the prompt is empty and waits
    TYPING     something typed, no Enter yet; or type-ahead may sit on the new prompt's line
    RUNNING    exactly one line submitted (Enter as the last byte) or Ctrl-C: the next marker
               starts an empty prompt
    DIRTY      more than one line, or keys typed while a command runs (type-ahead): the next
               marker's prompt may hold it, so it counts as TYPING

Keys typed while a program shows the alternate screen (vim, less, htop switch to it) are that
program's own (`:wq`, `q`), not type-ahead: they leave RUNNING as it is, so the size still
comes with the prompt right after the program exits. (The one gap: keys typed within a round
trip after the program's quit key, before its exit reached us, would count as its own too.)

With a size pending, the next marker that starts an empty prompt (or `idle()`, called after a
quiet moment at an empty prompt) makes the tracker *inject*: it sends ` __jobterm_size R C`
and holds back the output. The function prints a second marker once the size is set,
`ESC ] jobterm-sized ; NONCE BEL`; the prompt marker after it ends the injection, and what
was held since the last prompt marker (the prompt, the echo of the line) is dropped. A prompt
marker that comes first belongs to something else the shell ran before our line (keys that
were on their way): what was held is shown, and the injection goes on. Keys typed meanwhile
are queued and sent after the line. The user sees one fresh prompt, drawn by the shell after
the size changed; for an injection at an idle prompt the old prompt is erased first, unless
output came after it (a background job's line, which ends with a newline where a prompt
never does): that output stays, and the fresh prompt goes on the line below it. If the
markers never come, `timeout()` releases the held output and keys: nothing is lost, the line
is merely visible, and automatic resizing stops for the session (`broken`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from jobterm.core.frames import Send

#: What the marker starts with; the nonce and BEL follow.
MARKER_PREFIX = b"\x1b]jobterm-prompt;"
#: What the size function prints once the size is set; the nonce and BEL follow.
SIZED_PREFIX = b"\x1b]jobterm-sized;"
#: The shell function the set-up defines (core/setup.py) and the injected line calls.
SIZE_FUNCTION = "__jobterm_size"
#: Most output held back during one injection before giving up on hiding it.
MAX_HELD = 256 * 1024
#: An idle prompt taller than this is not erased (it is more likely output than a prompt).
MAX_ERASED_LINES = 4


def prompt_marker(nonce: str) -> bytes:
    return MARKER_PREFIX + nonce.encode("ascii") + b"\x07"


def sized_marker(nonce: str) -> bytes:
    return SIZED_PREFIX + nonce.encode("ascii") + b"\x07"


def resize_line(rows: int, cols: int) -> bytes:
    """The hidden line typed at an empty prompt (leading space: the shell's no-history mark)."""
    return f" {SIZE_FUNCTION} {int(rows)} {int(cols)}\r".encode()


def visible_resize_line(rows: int, cols: int) -> bytes:
    """What `~r` types where no marker says the shell is at a prompt: plain `stty`."""
    return f" stty rows {int(rows)} cols {int(cols)}\r".encode()


@dataclass(frozen=True, slots=True)
class Show:
    """Bytes for the local terminal."""

    data: bytes


Event = Show | Send


class Line(Enum):
    AT_PROMPT = "at prompt"
    TYPING = "typing"
    RUNNING = "running"
    DIRTY = "dirty"


_ENTER = b"\r\n"
_INTERRUPT = b"\x03"
#: Switching the alternate screen on and off (xterm's three variants).
_ALT_SCREEN = re.compile(rb"\x1b\[\?(?:1049|1047|47)([hl])")


class PromptTracker:
    """Strip prompt markers from the output and apply a pending size at an empty prompt."""

    def __init__(self, nonce: str, rows: int = 0, cols: int = 0) -> None:
        self.marker = prompt_marker(nonce)
        self.sized = sized_marker(nonce)
        self.line = Line.RUNNING  # the set-up line was just submitted
        self.seen = False  # any marker ever seen: the shell is one jobterm recognises
        self.broken = False  # an injection's marker never came: stop injecting
        self.applied: tuple[int, int] = (rows, cols)
        self.pending: tuple[int, int] | None = None
        self._partial = b""  # a possible start of a marker at the end of the last chunk
        self._injecting: tuple[int, int] | None = None  # the size being applied
        self._size_set = False  # the injected line's function has run (its marker came)
        self._held = bytearray()  # output held during an injection
        self._queued = bytearray()  # keys typed during an injection
        self._erase = b""  # shown before the fresh prompt (an idle injection)
        self._shown_lines = 0  # newlines shown since the last marker
        self._line_ended = False  # what was shown last since the marker ended a line
        self._alt_screen = False  # a full-screen program has the terminal

    @property
    def injecting(self) -> bool:
        return self._injecting is not None

    @property
    def holding(self) -> bool:
        """A possible start of a marker waits for the next chunk (or `flush()`)."""
        return bool(self._partial)

    @property
    def at_prompt(self) -> bool:
        """The shell waits at an empty prompt (a marker came, nothing typed since)."""
        return self.line is Line.AT_PROMPT and not self.injecting

    # -- output ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        """Output from the job: what to show, and anything to send because of it."""
        data = self._partial + data
        self._partial = b""
        events: list[Event] = []
        pos = 0
        while True:
            found, marker = _first_of(data, pos, (self.marker, self.sized))
            if found < 0:
                keep = max(_partial_length(data, pos, m) for m in (self.marker, self.sized))
                self._output(data[pos : len(data) - keep], events)
                self._partial = data[len(data) - keep :]
                return _merge(events)
            self._output(data[pos:found], events)
            pos = found + len(marker)
            if marker == self.marker:
                self._on_marker(events)
            elif self.injecting:
                self._size_set = True

    def flush(self) -> list[Event]:
        """Release a partial marker held at the end of the last chunk (no more came)."""
        data, self._partial = self._partial, b""
        events: list[Event] = []
        self._output(data, events)
        return events

    def _output(self, data: bytes, events: list[Event]) -> None:
        if not data:
            return
        switches = _ALT_SCREEN.findall(data)
        if switches:
            self._alt_screen = switches[-1] == b"h"
        if self.injecting:
            self._held += data
            if len(self._held) > MAX_HELD:
                events += self.timeout()
            return
        self._shown_lines += data.count(b"\n")
        self._line_ended = data.endswith(b"\n")
        events.append(Show(data))

    def _on_marker(self, events: list[Event]) -> None:
        self.seen = True
        self._shown_lines = 0
        self._line_ended = False
        if self._injecting is not None:
            if self._size_set:
                self._finish_injection(events)
            elif self._held:  # the prompt after something that ran before our line
                events.append(Show(bytes(self._held)))
                self._held.clear()
            return
        empty = self.line in (Line.AT_PROMPT, Line.RUNNING)
        self.line = Line.AT_PROMPT if empty else Line.TYPING
        if empty:
            self._inject(events, erase=b"")

    def _finish_injection(self, events: list[Event]) -> None:
        assert self._injecting is not None
        self.applied = self._injecting
        self._injecting = None
        self._size_set = False
        self._held.clear()
        if self._erase:
            events.append(Show(self._erase))
            self._erase = b""
        self.line = Line.AT_PROMPT
        if self.pending == self.applied:
            self.pending = None
        keys = bytes(self._queued)
        self._queued.clear()
        if keys:
            events += self.typed(keys)
        else:
            self._inject(events, erase=b"")  # the window changed again meanwhile

    # -- input ----------------------------------------------------------------------------
    def typed(self, keys: bytes) -> list[Event]:
        """Keys on their way to the job: sent now, or queued while a line is injected."""
        if not keys:
            return []
        if self.injecting:
            self._queued += keys
            return []
        self._note_input(keys)
        return [Send(keys)]

    def _note_input(self, keys: bytes) -> None:
        interrupt = keys.rfind(_INTERRUPT)
        if interrupt >= 0:  # Ctrl-C drops the line being edited, or what a program had
            self.line = Line.RUNNING
            keys = keys[interrupt + 1 :]
            if not keys:
                return
        enters = keys.count(b"\r") + keys.count(b"\n")
        if self.line is Line.RUNNING and self._alt_screen:
            return  # keys for the full-screen program, not type-ahead
        if self.line in (Line.RUNNING, Line.DIRTY):
            self.line = Line.DIRTY
        elif enters == 0:
            self.line = Line.TYPING
        elif enters == 1 and keys[-1] in _ENTER:
            self.line = Line.RUNNING
        else:
            self.line = Line.DIRTY

    # -- size -----------------------------------------------------------------------------
    def resize(self, rows: int, cols: int) -> None:
        """The local window is now rows x cols: apply it at the next empty prompt."""
        target = self._injecting or self.applied
        self.pending = None if (rows, cols) == target else (rows, cols)

    def idle(self) -> list[Event]:
        """A quiet moment after a resize: if the shell waits at an empty prompt, inject now."""
        events: list[Event] = []
        if self.at_prompt:
            lines = self._shown_lines
            erase = b"\r" + (f"\x1b[{lines}A".encode() if lines else b"") + b"\x1b[J"
            if self._line_ended:  # output after the prompt: keep it, the cursor starts a line
                erase = b""
            elif lines > MAX_ERASED_LINES:
                erase = b"\r\n"
            self._inject(events, erase=erase)
        return events

    def force(self, rows: int, cols: int) -> list[Event]:
        """`~r`: apply rows x cols now; hidden at an empty prompt, else a visible `stty`."""
        self.resize(rows, cols)
        if self.at_prompt or self.injecting:
            return self.idle()
        self.pending = None
        self.applied = (rows, cols)
        return self.typed(visible_resize_line(rows, cols))

    def _inject(self, events: list[Event], *, erase: bytes) -> None:
        if self.pending is None or self.broken or self.injecting:
            return
        self._injecting = self.pending
        self.pending = None
        self._erase = erase
        self.line = Line.RUNNING
        events.append(Send(resize_line(*self._injecting)))

    def timeout(self) -> list[Event]:
        """The marker after an injected line did not come: release everything, stop injecting."""
        if self._injecting is None:
            return []
        self.applied = self._injecting
        self._injecting = None
        self._size_set = False
        self.broken = True
        self._erase = b""
        events: list[Event] = []
        if self._held:
            events.append(Show(bytes(self._held)))
            self._held.clear()
        self.line = Line.DIRTY  # where the shell is now is anyone's guess
        keys = bytes(self._queued)
        self._queued.clear()
        events += self.typed(keys)
        return events


def _first_of(data: bytes, start: int, markers: tuple[bytes, ...]) -> tuple[int, bytes]:
    """The earliest of `markers` in `data[start:]`: (index, marker), or (-1, b"")."""
    best = (-1, b"")
    for marker in markers:
        found = data.find(marker, start)
        if found >= 0 and (best[0] < 0 or found < best[0]):
            best = (found, marker)
    return best


def _partial_length(data: bytes, start: int, marker: bytes) -> int:
    """Length of the longest proper prefix of `marker` that `data[start:]` ends with."""
    tail = data.rfind(b"\x1b", max(start, len(data) - len(marker) + 1))
    if tail < 0:
        return 0
    candidate = data[tail:]
    return len(candidate) if marker.startswith(candidate) else 0


def _merge(events: list[Event]) -> list[Event]:
    merged: list[Event] = []
    for event in events:
        if merged and type(merged[-1]) is type(event):
            merged[-1] = type(event)(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged
