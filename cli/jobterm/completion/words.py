"""The command line as the shell sent it, read back into words.

bash and zsh send the words as typed (`COMP_WORDS`, joined by spaces): quotes, backslashes and
ANSI-C `$'...'` strings are read the way those shells read them, and a word may end inside a
quote the user opened (the word being completed usually does). fish sends each word already
unquoted by fish and then percent-encoded (`string escape --style=url`), which needs only
decoding.

`scan()` also says, for the last word, which quote is still open and what the word holds
before it: bash replaces only the text after that quote with the candidate (`quoting.py`).

A small scanner by hand: shlex knows neither `$'...'` nor unfinished quotes, and costs an
import of `re` on every Tab.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    # the words; the quote still open at the end ("", "'", '"' or "$'"), and the last word's
    # text before that quote opened
    Scan = tuple[list[str], str, str]

# `$'...'`: the escapes bash and zsh read inside it
ANSI_C = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
          "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}  # fmt: skip
OCTAL = "01234567"
HEX = "0123456789abcdefABCDEF"


class _Word:
    """One word being built: text, and raw bytes from `\\ooo`/`\\xHH` escapes (a UTF-8
    character may come as several of them)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.raw = bytearray()

    def add(self, text: str) -> None:
        self.flush()
        self.parts.append(text)

    def add_byte(self, value: int) -> None:
        self.raw.append(value & 0xFF)

    def flush(self) -> None:
        if self.raw:
            self.parts.append(self.raw.decode("utf-8", "replace"))
            self.raw.clear()

    def text(self) -> str:
        self.flush()
        return "".join(self.parts)


def _ansi_c_escape(line: str, i: int, word: _Word) -> int:
    """Read the escape whose backslash is at `i` inside `$'...'`; the index after it."""
    char = line[i + 1] if i + 1 < len(line) else ""
    if char in OCTAL and char:
        end = i + 1
        while end < len(line) and end < i + 4 and line[end] in OCTAL:
            end += 1
        word.add_byte(int(line[i + 1 : end], 8))
        return end
    if char == "x":
        end = i + 2
        while end < len(line) and end < i + 4 and line[end] in HEX:
            end += 1
        if end > i + 2:
            word.add_byte(int(line[i + 2 : end], 16))
            return end
    word.add(ANSI_C.get(char, "\\" + char))
    return i + 2


def scan(line: str) -> Scan:
    """Split like bash or zsh: quotes, backslashes, `$'...'`; an unfinished quote keeps the
    partial word."""
    words: list[str] = []
    word, in_word, quote, before_quote = _Word(), False, "", ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote == "$'" and char == "\\":
            i = _ansi_c_escape(line, i, word)
            continue
        if quote:
            if char == quote[-1]:
                quote = ""
            elif char == "\\" and quote == '"' and i + 1 < len(line) and line[i + 1] in '"\\$`':
                i += 1
                word.add(line[i])
            else:
                word.add(char)
        elif char == "$" and line[i + 1 : i + 2] == "'":
            before_quote, quote, in_word = word.text(), "$'", True
            i += 1
        elif char in "'\"":
            before_quote, quote, in_word = word.text(), char, True
        elif char == "\\":
            i += 1
            word.add(line[i] if i < len(line) else "")
            in_word = True
        elif char.isspace():
            if in_word:
                words.append(word.text())
                word, in_word = _Word(), False
        else:
            word.add(char)
            in_word = True
        i += 1
    if in_word:
        words.append(word.text())
    return words, quote, before_quote if quote else ""


def split_words(line: str) -> list[str]:
    return scan(line)[0]


def url_words(line: str) -> list[str]:
    """fish's words: percent-encoded UTF-8, separated by single spaces (a word may be empty)."""
    return [_percent_decode(word) for word in line.split(" ")] if line else []


def _percent_decode(text: str) -> str:
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        pair = text[i + 1 : i + 3]
        if text[i] == "%" and len(pair) == 2 and all(c in HEX for c in pair):
            out.append(int(pair, 16))
            i += 3
        else:
            out += text[i].encode("utf-8", "surrogateescape")
            i += 1
    return out.decode("utf-8", "replace")
