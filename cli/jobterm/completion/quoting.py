"""Candidates made safe for the shell that asked.

A candidate comes from the server (a project path, a host name): it may hold `;`, `$( )`,
quotes, spaces, newlines or escape sequences. It must reach the command line as one literal
word, never as shell syntax, and its help text must reach the screen as text, never as
terminal control.

* bash inserts a candidate exactly as given (its own filename quoting leaves `)` bare), so
  jobterm quotes it, for the quote the user opened if any (`bash_word` says how readline
  treats that quote).
  Control characters (and `!`, which history expansion reads even in double quotes) go
  inside `$'...'` as octal escapes of their UTF-8 bytes.
* zsh and fish quote a candidate themselves when they insert it, whatever quote the user
  opened: jobterm sends the value itself, with backslashes and control characters escaped
  as `printf %b` reads them, so that each record stays on one line; the scripts decode it.
  fish cannot carry a tab in a candidate (it separates the help): those are left out.
* Help text: one line, control characters shown in caret notation (ESC as `^[`).
"""

from __future__ import annotations

# shlex.quote's safe characters: a word made only of these needs no quoting
SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")


def is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def _octal_bytes(char: str) -> str:
    return "".join(f"\\{byte:03o}" for byte in char.encode("utf-8"))


def ansi_c(text: str) -> str:
    """The inside of a `$'...'` string that bash reads as `text`."""
    out = []
    for char in text:
        if char in "\\'":
            out.append("\\" + char)
        elif char == "!" or is_control(char):
            out.append(_octal_bytes(char))
        else:
            out.append(char)
    return "".join(out)


def bash_word(value: str, opened: str = "", before: str = "") -> str:
    """What bash must insert so that the word reads as `value`.

    `opened` is the quote the word being completed is still inside (`'`, `"`, `$'` or "" for
    none) and `before` what the word held before that quote. readline keeps the text before
    the quote and replaces the rest; a candidate that starts with the open quote replaces the
    quote too, and one that does not end with it gets it appended. So each answer starts and
    ends with that quote (empty `''` or `""` pairs around a `$'...'` part where needed) and
    carries `value` without `before`.
    """
    rest = value[len(before) :] if opened else value
    special = any(is_control(c) for c in rest)
    if opened == "$'":
        # readline sees the quote `'`: an answer not starting with it keeps the `$'`; with
        # nothing left to add, `''` replaces that quote and closes the empty `$''`
        return ansi_c(rest) + "'" if rest else "''"
    if opened == "'":
        if special:
            return "''$'" + ansi_c(rest) + "'''"
        return "'" + rest.replace("'", "'\\''") + "'"
    if opened == '"':
        if special or "!" in rest:
            return '""$\'' + ansi_c(rest) + '\'""'
        return '"' + "".join("\\" + c if c in '\\"$`' else c for c in rest) + '"'
    if rest and all(c in SAFE for c in rest):
        return rest
    if special or "!" in rest:
        return "$'" + ansi_c(rest) + "'"
    return "'" + rest.replace("'", "'\\''") + "'"


def for_printf_b(value: str) -> str:
    """`value` as `printf %b` reads it back, on one line: backslashes doubled, control
    characters as `\\0ooo` octal escapes of their UTF-8 bytes."""
    if "\\" not in value and not any(is_control(c) for c in value):
        return value
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif is_control(char):
            out.append("".join(f"\\0{b:03o}" for b in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def visible(text: str) -> str:
    """Help text for one line of the completion menu: whitespace runs as one space, other
    control characters in caret notation (C1 ones as `<9b>`), so none reaches the terminal.
    The one sanitiser of server text, `core.safetext`, does it."""
    from jobterm.core.safetext import visible as shown

    return shown(text, one_line=True)


def encode(shell: str, value: str, opened: str = "", before: str = "") -> str | None:
    """The VALUE field of a candidate for `shell`; None when that shell cannot carry it."""
    if "\x00" in value:
        return None  # no word on a command line can hold a NUL
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None  # a lone surrogate from JSON: not text any shell can be given
    if shell == "bash":
        return bash_word(value, opened, before)
    if shell == "fish" and "\t" in value:
        return None
    return for_printf_b(value)
