"""A job log (GitLab Runner's trace) made safe to show, and the facts read from it.

Theory of operation. The log is untrusted bytes: a job's script may print any escape
sequence, and a terminal obeys them (retitle the window, move the cursor, rewrite the
screen, answer queries into the input). `JobLogReader.feed(bytes)` returns events:

* `Text`: bytes to show. Complete lines only (a line waits for its newline, or for
  `finish()` at the end of the log; a line longer than MAX_LINE is cut and shown in
  parts). In each line:
  - the runner's section markers `section_start:<time>:<name>[options]\\r ESC[0K` and
    `section_end:…` are removed wherever they are (they start lines, and follow each
    other without a newline); a line left empty by that is dropped;
  - SGR sequences (`ESC [ digits;… m`, the colours) are kept, or removed with colour=False;
  - every other escape or control sequence (CSI, OSC, DCS/APC/PM/SOS, two-byte ESC codes, C0
    controls but tab, CR and LF, DEL, C1 controls) is removed;
  - bytes that are not UTF-8 become U+FFFD.
* facts, as they appear: `Executor` ("docker", "shell", "kubernetes", … from
  `Preparing the "docker" executor` / `Using Docker executor …` / `Using Shell (bash)
  executor...`), `ScriptCommand` (each `$ command` line the runner echoes in bold green),
  `ScriptEnded` (the `step_script` section ended), `TerminalHeld` (`Terminal is connected,
  will time out in 30m0s...`), `JobFinished` (`Job succeeded`, `ERROR: Job failed: exit
  code N` or another failure reason).

The reader also keeps a `Summary` of what it saw: the executor, the last command, the last
line of output after it (the shell's own error, usually), and the end. Facts are read from
the text with the colours removed; a script can print lines that look like the runner's, so
the facts are hints for messages, never for decisions about the user's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jobterm.core.prepare import build_dir_in_log

MAX_LINE = 64 * 1024
MAX_SECTIONS = 1000  # a hostile log cannot grow the summary without bound

# The runner's own words and colours, which this reader looks for and the sandbox writes
# (sandbox/runnerlog.py): GitLab Runner's build logger colours Infoln bold green and
# SoftErrorln bold red, clears the line before Println, and resets at each line's end.
BOLD_GREEN = "\x1b[32;1m"
BOLD_RED = "\x1b[31;1m"
BOLD_CYAN = "\x1b[36;1m"
RESET = "\x1b[0;m"
CLEAR = "\x1b[0K"
#: What the runner writes while a terminal holds a job whose script has ended.
HELD_LINE = "Terminal is connected, will time out in"
SUCCEEDED_LINE = "Job succeeded"

_SECTION = re.compile(r"section_(start|end):\d*:([A-Za-z0-9_.-]*)(\[[^\]\r\n]*\])?\r\x1b\[0?K")
# Any escape sequence: CSI (with its parameter and intermediate bytes), OSC and the string
# commands up to their terminator (or the end of the line), or a two-byte escape.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\|$)"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\|$)"
    r"|\x1b[ -~]?"
)
_SGR = re.compile(r"\x1b\[[0-9;:]{0,32}m")
_RESETS = frozenset({"\x1b[m", "\x1b[0m", "\x1b[0;m"})
# After the escape sequences are gone, every ESC left starts a kept SGR sequence.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
# Bidirectional formatting controls reorder what is around them on screen (a log line, or
# jobterm's own line that quotes it): shown, not obeyed (core/safetext.py's set).
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_EXECUTOR = re.compile(r'^Preparing the "([^"]+)" executor')
_USING = re.compile(r"^Using (Docker|Shell|Kubernetes|Docker Machine|Custom)\b")
_HELD = re.compile(rf"^{re.escape(HELD_LINE)} (\S+?)\.*$")
_FAILED = re.compile(r"^ERROR: Job failed(?: \(system failure\))?: (.*)$")
_EXIT_CODE = re.compile(r"^exit code (\d{1,9})$")
_COMMAND_PREFIX = BOLD_GREEN + "$ "  # the runner's echo of a script line


@dataclass(frozen=True, slots=True)
class Text:
    data: bytes


@dataclass(frozen=True, slots=True)
class Executor:
    kind: str  # as the runner names it: docker, shell, kubernetes, docker+machine, ...


@dataclass(frozen=True, slots=True)
class ScriptCommand:
    command: str  # shown as the runner echoed it, made safe


@dataclass(frozen=True, slots=True)
class ScriptEnded:
    pass


@dataclass(frozen=True, slots=True)
class TerminalHeld:
    timeout: str  # as the runner wrote it, e.g. "30m0s"


@dataclass(frozen=True, slots=True)
class JobFinished:
    succeeded: bool
    exit_code: int | None = None  # the script's, when the runner says so
    reason: str = ""  # the runner's words after "Job failed: "


Event = Text | Executor | ScriptCommand | ScriptEnded | TerminalHeld | JobFinished


@dataclass
class Summary:
    executor: str | None = None
    last_command: str | None = None
    last_output: str | None = None  # the last line of output after the last command
    script_ended: bool = False
    terminal_held: str | None = None  # the timeout, once the runner said it holds the job
    finished: JobFinished | None = None
    commands: list[str] = field(default_factory=list)
    build_dir: str | None = None  # as git's line in get_sources names it
    sections: list[str] = field(default_factory=list)  # the names of the sections begun


class JobLogReader:
    """Turn raw log bytes into safe text and facts; see the module docstring."""

    def __init__(self, colour: bool = True) -> None:
        self.colour = colour
        self.summary = Summary()
        self._tail = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        self._tail += data
        events: list[Event] = []
        start = 0
        while True:
            end = self._tail.find(b"\n", start)
            if end < 0:
                break
            self._line(bytes(self._tail[start : end + 1]), events)
            start = end + 1
        del self._tail[:start]
        while len(self._tail) > MAX_LINE:
            self._line(bytes(self._tail[:MAX_LINE]), events)
            del self._tail[:MAX_LINE]
        return events

    def finish(self) -> list[Event]:
        """The end of the log: what is left of an unfinished last line."""
        events: list[Event] = []
        if self._tail:
            self._line(bytes(self._tail), events)
            self._tail.clear()
        return events

    def _line(self, raw: bytes, events: list[Event]) -> None:
        decoded = raw.decode("utf-8", "replace")
        # Sections the runner starts after the script's (artifacts, cleanup) are facts; one
        # the script prints itself is not.
        text, ended = _remove_sections(decoded, self.summary.sections, self.summary.script_ended)
        safe = _neutralise(text)
        shown = safe if self.colour else _SGR.sub("", safe)
        if self.colour and "\x1b" in shown:  # its colours end with it (see _reset_at_end)
            shown = _reset_at_end(shown)
        # A line that held only section markers is no line at all.
        if shown and (text == decoded or shown.strip("\r\n")):
            events.append(Text(shown.encode("utf-8")))
        if ended and not self.summary.script_ended:  # the marker starts the line
            self.summary.script_ended = True
            events.append(ScriptEnded())
        self._facts(safe, _SGR.sub("", safe).strip(), events)

    def _facts(self, safe: str, stripped: str, events: list[Event]) -> None:
        summary = self.summary
        kind = _executor(stripped)
        if kind is not None and kind != summary.executor:
            summary.executor = kind
            events.append(Executor(kind))
        elif safe.startswith(_COMMAND_PREFIX) and not summary.script_ended:
            command = stripped[2:]
            summary.last_command, summary.last_output = command, None
            summary.commands.append(command)
            events.append(ScriptCommand(command))
        elif summary.script_ended and (held := _HELD.match(stripped)) is not None:
            # The runner writes it after the script's sections; a script can print it too.
            summary.terminal_held = held.group(1)
            events.append(TerminalHeld(held.group(1)))
        elif stripped == SUCCEEDED_LINE:
            summary.finished = JobFinished(True)
            events.append(summary.finished)
        elif (failed := _FAILED.match(stripped)) is not None:
            code = _EXIT_CODE.match(failed.group(1))
            exit_code = int(code.group(1)) if code else None
            summary.finished = JobFinished(False, exit_code, failed.group(1))
            events.append(summary.finished)
        elif summary.last_command is None and (found := build_dir_in_log(stripped)) is not None:
            summary.build_dir = found
        elif stripped and summary.last_command is not None and not summary.script_ended:
            summary.last_output = stripped


def _executor(line: str) -> str | None:
    found = _EXECUTOR.match(line)
    if found is not None:
        return found.group(1)
    using = _USING.match(line)
    if using is None:
        return None
    return {"Docker Machine": "docker+machine"}.get(using.group(1), using.group(1).lower())


def _remove_sections(text: str, begun: list[str], after: bool) -> tuple[str, bool]:
    """The line without section markers, and whether the script's section ended in it; the
    names of the sections begun after the script's end (`after`: it ended before this line)
    are added to `begun`. The runner writes its markers without line breaks between them."""
    ended = False

    def drop(match: re.Match[str]) -> str:
        nonlocal ended
        if match.group(1) == "end" and match.group(2) == "step_script":
            ended = True
        elif match.group(1) == "start" and (after or ended) and len(begun) < MAX_SECTIONS:
            begun.append(match.group(2))
        return ""

    return _SECTION.sub(drop, text), ended


def _neutralise(text: str) -> str:
    """Keep SGR sequences; remove every other escape and control sequence."""

    def keep_colours(match: re.Match[str]) -> str:
        sequence = match.group(0)
        return sequence if _SGR.fullmatch(sequence) else ""

    return _BIDI.sub(_shown_bidi, _CONTROLS.sub("", _ESCAPE.sub(keep_colours, text)))


def _reset_at_end(line: str) -> str:
    """The line with the attributes reset before its end: a log that leaves concealed or
    black-on-black text set must not hide what follows (the next line, jobterm's own lines,
    the user's prompt after `jobterm logs`)."""
    body = line.rstrip("\r\n")
    ends = [m for m in _SGR.finditer(body) if m.end() == len(body)]
    if ends and ends[-1].group() in _RESETS:
        return line  # it ends reset already (the runner's own lines do)
    return body + RESET + line[len(body) :]


def _shown_bidi(match: re.Match[str]) -> str:
    """A bidirectional control made visible, as core.safetext shows them everywhere."""
    return f"<U+{ord(match.group()):04X}>"


def one_line(text: str, limit: int = 200) -> str:
    """Any text from the server (a job name, a line of its log) as one short, plain line:
    no escape or control sequence, whitespace collapsed, cut at `limit` characters."""
    flat = " ".join(_SGR.sub("", _neutralise(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
