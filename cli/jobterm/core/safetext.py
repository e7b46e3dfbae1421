"""Text from the server made safe to show on a terminal: the one sanitiser (pure).

Anything GitLab sends (job, stage, ref, runner, project and user names, error messages, page
flashes) is untrusted. Shown raw, `ESC ] 52 ; c ; … BEL` writes the user's clipboard (in
tmux and many terminals), `ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` wipes the
screen, and a C1 code (U+0080-U+009F: U+009B is CSI, U+009D is OSC by itself) does the same
in terminals that honour 8-bit controls. Markup escaping (rich's) leaves all of these in.

`visible(text)` replaces each such character by a harmless visible form, so a hostile string
is shown, not obeyed:

    C0 controls and DEL     caret notation: ESC -> ^[, BEL -> ^G, LF -> ^J, DEL -> ^?
    C1 controls             <9b>, <9d>, ... (their code in hex)
    bidirectional controls  <U+202E>, ... (they reorder what is around them on screen)

With `keep_newlines=True` a line feed stays (for multi-line text such as a log record); with
`one_line=True` runs of whitespace (tabs and line breaks too) become one space, for a table
cell or a menu line. Bytes are decoded as UTF-8 first (`visible_bytes`), undecodable bytes
becoming U+FFFD; a lone surrogate becomes `?`.
"""

from __future__ import annotations

import re
from functools import cache

# Every character visible() rewrites: C0, DEL, C1, and the bidirectional formatting controls.
# All of them are Unicode "other" characters, which str.isprintable() refuses: text that it
# accepts needs no pattern, so the patterns are compiled on first need (compiling both costs
# more at start-up than the rest of this module, and most text never needs them).
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
_UNSAFE_BUT_NEWLINE = "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"


@cache
def _pattern(keep_newlines: bool) -> re.Pattern[str]:
    return re.compile(_UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20 or code == 0x7F:
        return "^" + chr(code ^ 0x40)
    if code < 0xA0:
        return f"<{code:02x}>"
    return f"<U+{code:04X}>"


def visible(text: str, *, keep_newlines: bool = False, one_line: bool = False) -> str:
    """`text` with every control character shown instead of obeyed (see the module comment)."""
    if not text.isascii():  # a lone surrogate (from JSON "\\ud800") cannot be printed at all
        text = text.encode("utf-8", "replace").decode("utf-8")
    if one_line:
        text = " ".join(text.replace("\x00", " ").split())
    if text.isprintable():  # the common case: nothing to do, no copy
        return text
    pattern = _pattern(keep_newlines)
    if pattern.search(text) is None:  # other unprintables (e.g. U+2028) are left as they are
        return text
    return pattern.sub(_shown, text)


def visible_bytes(data: bytes, *, keep_newlines: bool = False) -> str:
    """`visible` of UTF-8 bytes; bytes that are not UTF-8 become U+FFFD."""
    return visible(data.decode("utf-8", "replace"), keep_newlines=keep_newlines)


def is_safe(text: str, *, keep_newlines: bool = False) -> bool:
    """Whether `text` can go to a terminal as it is."""
    return text.isprintable() or _pattern(keep_newlines).search(text) is None
