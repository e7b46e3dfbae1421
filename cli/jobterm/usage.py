"""Usage errors of the command line, shown without the secrets a user may have typed.

click (vendored by typer) quotes what it could not place: `jobterm login HOST
--password-stdin hunter2` says "Got unexpected extra argument(s) (hunter2)". A secret typed
where it does not belong must not come back on the screen (or in a terminal's scrollback,
or a CI log). So before a usage error is shown, the words that may be secrets are masked:

* the word after an option whose name says it is secret (pass[word], token, cookie, secret,
  otp: the real ones and mistyped ones alike), and the value glued to one with `=`;
* for a verb that takes secrets (one with such an option), every word typed after the verb
  that is not an option name: a misplaced secret is a positional there.

The masked message still says what was wrong and where to look (`-h`).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from jobterm.core.redact import MASK, redact
from jobterm.core.safetext import visible

if TYPE_CHECKING:
    from typer._click import Command

SECRET_HINTS = ("pass", "token", "cookie", "secret", "otp")


def is_secret_option(word: str) -> bool:
    name = word.split("=", 1)[0].lower()
    return name.startswith("-") and any(hint in name for hint in SECRET_HINTS)


def secret_options(command: Any) -> list[str]:
    """The option names of a click command that carry or announce a secret."""
    names: list[str] = []
    for param in getattr(command, "params", []):
        names.extend(name for name in param.opts if is_secret_option(name))
    return names


def words_to_mask(args: list[str], root: Command) -> set[str]:
    """The words of `args` (before any `--`) that may be secrets (see the module comment)."""
    head = args[: args.index("--")] if "--" in args else list(args)
    masked: set[str] = set()
    for index, word in enumerate(head):
        if not is_secret_option(word):
            continue
        if "=" in word:
            masked.add(word.split("=", 1)[1])
        elif index + 1 < len(head) and not head[index + 1].startswith("-"):
            masked.add(head[index + 1])
    verbs = getattr(root, "commands", {})
    for index, word in enumerate(head):
        if word in verbs:
            if secret_options(verbs[word]):
                masked.update(w.split("=", 1)[-1] for w in head[index + 1 :])
            break
    return {word for word in masked if word and not word.startswith("-")}


def mask(text: str, words: set[str]) -> str:
    """`text` with each of `words`, where it stands as a word of its own, replaced by MASK."""
    for word in sorted(words, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", MASK, text)
    return redact(text)


def show_usage_error(exc: Any, args: list[str], root: Command, stream: Any) -> None:
    """What click's `exc.show()` prints, with the possible secrets of `args` masked."""
    buffer = io.StringIO()
    show = getattr(exc, "show", None)
    if show is not None:
        show(file=buffer)
    else:
        buffer.write(f"jobterm: {getattr(exc, 'message', exc)}\n")
    text = mask(buffer.getvalue(), words_to_mask(args, root))
    stream.write(visible(text, keep_newlines=True))
