"""In-band set-up of the remote terminal, hidden from the screen.

GitLab has no resize message and the job's PTY starts at 0×0, so jobterm types one line into
the new shell: `stty rows R cols C`, `export TERM=…`, the prompt hook and the size function
of core/prompt.py, then prints a marker. Output is held back until the marker arrives and
everything before it (the echo of that line and the first prompt) is dropped, so the user
sees just the fresh prompt the shell prints afterwards.

The prompt hook goes where each shell runs code before its prompt, after the user's own:
bash's PROMPT_COMMAND (appended on a new line, keeping `$?` for anything after it), zsh's
precmd_functions, and for dash, busybox sh and other POSIX shells a command substitution in
front of PS1. Where the user's set-up exports PROMPT_COMMAND or PS1, a shell started inside
the job inherits the hook but not its function: the hook's errors go to /dev/null, so that
shell's prompt stays clean. Shell-specific code is passed to `eval` as a quoted string, so
the one line parses in every shell. History: every line starts with a space, and bash
deletes each one's own history entry (`history -d`, only if the entry is there); in zsh a
`zshaddhistory` hook keeps every later line of jobterm's out (the preparation's, the resizes:
each holds `__jobterm_`), but zsh cannot delete the set-up line's own entry (no GitLab runner
starts zsh, so that case arises only in a sandbox configured for it).

The marker is an OSC sequence (`ESC ] jobterm-ready;NONCE BEL`), which a terminal ignores if
it were ever shown. The typed line names its two halves as separate printf arguments, so the
echo of the line itself never contains the marker.

With a `Prepare` (core/prepare.py) its lines follow the set-up line, typed ahead in the same
send, and the last of them prints the marker instead; the shell's report among the held output
becomes jobterm's one line about the shell, shown just before the fresh prompt.

If the marker does not come (a shell that is not POSIX, a busy job), `timeout()` releases
every held byte: nothing is ever lost, the set-up is merely visible.

The first prompt without waiting (`early=True`, a shell that has printed nothing yet): the
session types the line only once the shell's prompt has come (`awaits_prompt` turns false)
or it has waited long enough, and says so (`typed()`). Until then, output that keeps the
screen to one short line is shown at once, as a bare prompt is: printable characters and
SGR or mode sequences (`ESC [ … m/h/l`: colours, bracketed paste), no line break, carriage
return, tab or other control, narrower than the window in all, so that erasing the line
erases all of it. Anything else, and everything once the line is typed, is held as above;
with the marker, the line is erased (`CR`, `ESC [ K`) before the fresh prompt is drawn in
its place. So the prompt appears as soon as the shell prints it, and the screen ends as it
would have without it: the fresh prompt alone.
"""

from __future__ import annotations

import re
import secrets
import shlex

from jobterm.core.prepare import Prepare, Report
from jobterm.core.prompt import MARKER_PREFIX, SIZE_FUNCTION, SIZED_PREFIX

#: Largest amount held back while waiting for the marker.
MAX_HELD = 256 * 1024
#: Goes back to the start of the line and erases it: the early first prompt's line.
ERASE_LINE = b"\r\x1b[K"
#: Output that stays on one line: printable bytes, and CSI sequences that move nothing.
_ONE_LINE = re.compile(rb"(?:\x1b\[[0-9;?]*[hlm]|[\x20-\x7e\x80-\xff])*")
_SEQUENCE = re.compile(rb"\x1b\[[0-9;?]*[hlm]")


def stty_command(rows: int, cols: int) -> str:
    return f"stty rows {int(rows)} cols {int(cols)}"


class SetupFilter:
    """Build the set-up line and hide its effects from the output stream."""

    def __init__(
        self,
        rows: int,
        cols: int,
        term: str | None,
        nonce: str | None = None,
        *,
        early: bool = False,
        prepare: Prepare | None = None,
    ) -> None:
        self.nonce = nonce or secrets.token_hex(8)
        self.prepare = prepare  # more lines typed after the set-up (core/prepare.py)
        self.rows = rows
        self.cols = cols
        self.term = term
        self.marker = f"\x1b]jobterm-ready;{self.nonce}\x07".encode()
        self._held = bytearray()
        self.done = False
        self.early = early  # output may still be shown at once (see the module comment)
        self.shown_early = False
        self._early_width = 0  # printable bytes shown early (UTF-8: never fewer than cells)

    def command(self) -> bytes:
        """The lines to type into the new shell (leading space: kept out of shell history):
        the set-up, then the preparation's, the last one printing the marker."""
        parts = [f"{stty_command(self.rows, self.cols)} 2>/dev/null"]
        if self.term:
            parts.append(f"export TERM={shlex.quote(self.term)}")
        parts += shell_hooks(self.nonce)
        lines = [" " + "; ".join(parts)]
        if self.prepare is not None:
            lines += self.prepare.lines(self.nonce)
        lines[-1] += "; __jt_p jobterm-ready"
        return "".join(line + "\r" for line in lines).encode()

    def feed(self, data: bytes) -> bytes:
        """Output bytes to show now."""
        if self.done:
            return data
        if self.early and data:
            if self._one_short_line(data):
                self.shown_early = True
                return data
            self.early = False
        self._held += data
        index = self._held.find(self.marker)
        if index >= 0:
            rest = bytes(self._held[index + len(self.marker) :])
            if self.prepare is not None:  # what the shell said of itself, then its prompt
                found = Report.find(bytes(self._held[:index]), self.nonce)
                rest = self.prepare.announce(found) + rest
            self._finish()
            return ERASE_LINE + rest if self.shown_early else rest
        if len(self._held) > MAX_HELD:
            return self.timeout()
        return b""

    @property
    def awaits_prompt(self) -> bool:
        """Whether the line should wait: early, and nothing printable has come yet."""
        return self.early and self._early_width == 0

    def typed(self) -> None:
        """The line has been typed: from now on everything waits for the marker."""
        self.early = False

    def _one_short_line(self, data: bytes) -> bool:
        if _ONE_LINE.fullmatch(data) is None:
            return False
        width = self._early_width + len(_SEQUENCE.sub(b"", data))
        if width >= self.cols:
            return False
        self._early_width = width
        return True

    def timeout(self) -> bytes:
        """Give up hiding: return everything held."""
        held = bytes(self._held)
        self._finish()
        return held

    def _finish(self) -> None:
        self.done = True
        self._held = bytearray()


def shell_hooks(nonce: str) -> list[str]:
    """Commands that define the size function and print the prompt marker before each
    prompt, whichever of bash, zsh or a POSIX sh reads them (see the header). Kept short:
    busybox sh cuts a typed line at 1024 bytes, and the whole set-up is one line.

    `__jt_p WORD` prints the marker WORD with the nonce, `__jt_h` is the prompt hook (it
    keeps `$?`), `__jt_a` runs after each resize: bash forgets the line's history entry,
    zsh re-reads the size (SIGWINCH), other shells do nothing."""
    name = MARKER_PREFIX[2:-1].decode()
    sized = SIZED_PREFIX[2:-1].decode()
    bash = (
        '__jt_a() { case "$(HISTTIMEFORMAT= history 1)" in *__jobterm_*) history -d $HISTCMD;; '
        'esac; }; printf -v __jt_n "\\n"; '
        'PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$__jt_n}__jt_h 2>/dev/null"'
    )
    zsh = (
        "precmd_functions+=(__jt_h); __jt_n() { [[ $1 != *__jobterm_* ]]; }; "
        "zshaddhistory_functions+=(__jt_n); __jt_a() { kill -WINCH $$; }"
    )
    return [
        f"__jt_p() {{ printf '\\033]%s;%s\\007' \"$1\" {nonce}; }}",
        f"__jt_h() {{ local s=$?; __jt_p {name}; return $s; }}",
        "__jt_a() { :; }",
        f'{SIZE_FUNCTION}() {{ stty rows "$1" cols "$2" 2>/dev/null; __jt_a; __jt_p {sized}; }}',
        f"if [ -n \"${{ZSH_VERSION-}}\" ]; then eval '{zsh}'; "
        f"elif [ -n \"${{BASH_VERSION-}}\" ]; then eval '{bash}'; "
        """else PS1='$(__jt_h 2>/dev/null)'"$PS1"; fi""",
        "__jt_a",
    ]
