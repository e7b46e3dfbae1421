"""Escape keys typed into an attached session, as ssh has them.

Theory of operation: the escape character (default `~`) is special only as the first
character of a line, i.e. at the very start of the session or right after a CR or LF that
the user typed. There it is held back and the next byte decides:

    ~.  disconnect          ~?  help            ~#  session status
    ~r  apply local size    ~^Z suspend jobterm ~~  send one ~
    ~<anything else>  send both bytes
    ~s  switch to the shell (only where the caller enables it: `jobterm debug`'s log view)

Everything else passes through unchanged and in order. The parser is a pure state machine:
`feed(bytes)` returns a list of events (`Data` to send to the job, `Command` for jobterm). A
held escape character waits for the next byte, however long that takes, so no byte is lost
at a chunk boundary. Large pastes are scanned with `bytes.find`, not byte by byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from jobterm.errors import UsageError


class Action(Enum):
    DISCONNECT = "."
    HELP = "?"
    STATUS = "#"
    RESIZE = "r"
    SUSPEND = "\x1a"
    SHELL = "s"


@dataclass(frozen=True, slots=True)
class Data:
    data: bytes


@dataclass(frozen=True, slots=True)
class Command:
    action: Action


Event = Data | Command

ATTACH_ACTIONS = frozenset(
    {Action.DISCONNECT, Action.HELP, Action.STATUS, Action.RESIZE, Action.SUSPEND}
)
_NEWLINES = b"\r\n"

HELP_TEXT = """\
Supported escape sequences (type them at the start of a line):
 {c}.   disconnect
 {c}#   session status (job, runner, time attached, whether the job is held for you)
 {c}r   apply this terminal's size now (jobterm applies it by itself at the next
      prompt of bash, zsh, dash or busybox sh; use this elsewhere, at a prompt)
 {c}^Z  suspend jobterm (`fg` resumes it)
 {c}?   this help
 {c}{c}   send one {c}
"""


def shown(escape_char: bytes) -> str:
    """The escape character as a user reads and types it: `~`, or `^]` for a control key."""
    byte = escape_char[0]
    return f"^{chr(byte ^ 0x40)}" if byte < 0x20 or byte == 0x7F else chr(byte)


class EscapeParser:
    """Split typed input into data for the job and escape commands for jobterm."""

    def __init__(
        self, escape_char: bytes | None = b"~", actions: frozenset[Action] = ATTACH_ACTIONS
    ) -> None:
        if escape_char is not None and len(escape_char) != 1:
            raise ValueError("the escape character must be one byte")
        self.escape = escape_char
        self._actions = {ord(a.value): a for a in actions}
        self._line_start = True  # the next byte is the first of a line
        self._held = False  # an escape character is held back

    def feed(self, data: bytes) -> list[Event]:
        if self.escape is None or not data:
            if data:
                self._line_start = data[-1] in _NEWLINES
            return [Data(data)] if data else []
        events: list[Event] = []
        out = bytearray()
        pos = 0
        if self._held:
            pos = self._resolve(data[0], out, events)
        while pos < len(data):
            found = self._next_escape(data, pos)
            if found < 0:
                out += data[pos:]
                self._line_start = data[-1] in _NEWLINES
                break
            out += data[pos:found]
            if found + 1 == len(data):
                self._held = True
                break
            pos = self._resolve(data[found + 1], out, events, at=found + 1)
        if out:
            events.append(Data(bytes(out)))
        return _merge(events)

    def _next_escape(self, data: bytes, pos: int) -> int:
        """Index of the next escape character that starts a line, or -1."""
        assert self.escape is not None
        while True:
            found = data.find(self.escape, pos)
            if found < 0:
                return -1
            line_start = self._line_start if found == pos else data[found - 1] in _NEWLINES
            if line_start:
                return found
            pos = found + 1
            self._line_start = False

    def _resolve(self, byte: int, out: bytearray, events: list[Event], at: int = 0) -> int:
        """Decide a held escape by the byte after it; return the position after that byte."""
        assert self.escape is not None
        self._held = False
        action = self._actions.get(byte)
        if action is not None:
            if out:
                events.append(Data(bytes(out)))
                out.clear()
            events.append(Command(action))
            # After a command the line is still "fresh": `~#` then `~.` works, as in ssh.
            self._line_start = True
            return at + 1
        if byte == self.escape[0]:
            out += self.escape
            self._line_start = False
            return at + 1
        out += self.escape
        self._line_start = False
        return at  # the byte is ordinary input: let the scan handle it (it may be a newline)

    @property
    def holding(self) -> bool:
        """True while an escape character waits for the byte after it."""
        return self._held


def _merge(events: list[Event]) -> list[Event]:
    merged: list[Event] = []
    for event in events:
        if isinstance(event, Data) and merged and isinstance(merged[-1], Data):
            merged[-1] = Data(merged[-1].data + event.data)
        elif not (isinstance(event, Data) and not event.data):
            merged.append(event)
    return merged


_CARET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_?"


def parse_escape_char(text: str) -> bytes | None:
    """The escape character `--escape-char TEXT` names: one character, `^X` for a control
    character, or None for `none` (no escapes)."""
    if text.lower() == "none":
        return None
    if text.startswith("^") and len(text) == 2 and text[1].upper() in _CARET_CHARS:
        return bytes([ord(text[1].upper()) ^ 0x40])  # ^A is 0x01, ^] is 0x1d, ^? is DEL
    data = text.encode()
    if len(data) != 1:
        raise UsageError(f"--escape-char {text!r} is not one character", "use e.g. ~, ^], or none")
    return data
