"""A quick reading of the plain command lines that scripts repeat (pure).

Theory of operation
-------------------
typer turns each option declaration into a click parameter. Importing it and building even
one command costs about 30 ms, a fifth of a whole `jobterm exec JOB -- true`, and a script
pays that on every call. Yet what scripts type is nearly always plain: options spelled out
in full, positional words, `--`, the command. `scan` reads exactly that subset, given the
verb's table of options, and answers None for everything else:

* help (`-h`, `--help`) and any option not in the table, or misspelt;
* bundled short flags (`-it`) and values glued to a short option (`-cLINE`);
* a flag given a value (`--wait=1`), an option missing its value, or a value that starts
  with `-` (click would take it; whether the user meant that is typer's to report);
* a lone `-`, or no positional word before `--` (no JOB).

None means "ask typer": the full parser then runs as it always did, with its help and its
usage errors. So the quick reading never has to word an error, and it can only be narrower
than typer's, never different: tests hold each table to its click command and compare the
two parsers' readings of generated command lines.

Like click, options may come before, between and after the positional words up to `--`;
after `--` every word is positional; an option given twice keeps its last value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


# A NamedTuple: every start creates this class (see ARCHITECTURE.md, "Start-up").
class Option(NamedTuple):
    """One option of a verb: its spellings, the key its value is stored under, and whether
    it takes a value (else it is a flag, stored as True)."""

    names: tuple[str, ...]
    key: str
    takes_value: bool = False


class Scan(NamedTuple):
    """A command line read: option values by key, the positional words, and how many of them
    followed `--` (None when there was no `--`)."""

    values: dict[str, str | bool]
    words: tuple[str, ...]
    after_dashes: int | None


def scan(args: Sequence[str], options: Sequence[Option]) -> Scan | None:
    """The reading of `args` (the words after the verb), or None when it is not plain."""
    by_name = {name: option for option in options for name in option.names}
    values: dict[str, str | bool] = {}
    words: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word == "--":
            rest = args[index:]
            return _done(values, [*words, *rest], len(rest))
        if not word.startswith("-"):
            words.append(word)
            continue
        name, glued, value = word.partition("=") if word.startswith("--") else (word, "", "")
        option = by_name.get(name)
        if option is None or (glued and not option.takes_value):
            return None
        if not option.takes_value:
            values[option.key] = True
            continue
        if not glued:
            if index == len(args) or args[index].startswith("-"):
                return None
            value = args[index]
            index += 1
        values[option.key] = value
    return _done(values, words, None)


def _done(values: dict[str, str | bool], words: list[str], after: int | None) -> Scan | None:
    if not words or (after is not None and len(words) == after):  # no JOB before `--`
        return None
    return Scan(values, tuple(words), after)
