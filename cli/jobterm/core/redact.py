"""Remove secrets from text before it is logged, recorded or shown.

Used by --debug logging, by `--record`, by every error message (the boundary passes them
through it), and by anything that echoes server text. The patterns
err on the side of hiding: a false positive costs a few characters of a log line.
"""

from __future__ import annotations

import functools
import re

MASK = "[REDACTED]"

#: The patterns, compiled on first use: a run that never logs nor fails never needs them.
_SOURCES: tuple[str, ...] = (
    # Cookies and form fields whose value is a secret: name=value up to a separator.
    (
        r"(?i)((?:_gitlab_session\w*|remember_user_token|known_sign_in|authenticity_token"
        r"|csrf[-_]token|user%5Bpassword%5D|user\[password\]|password|private[-_]token"
        r"|user%5Botp_attempt%5D|user\[otp_attempt\]|otp_attempt|access_token|token)"
        r"[\"']?\s*[=:]\s*[\"']?)([^\s;&,\"'<>]+)"
    ),
    # Header lines carrying credentials.
    r"(?i)((?:cookie|set-cookie|private-token|x-csrf-token)\s*:\s*)([^\r\n]+)",
    r"(?i)(authorization\s*:\s*(?:bearer|basic|token)?\s*)([^\s\r\n]+)",
    # GitLab token formats: glpat-, glrt-, gldt-, glcbt-, glptt-, ... and runner tokens.
    r"()\b(gl[a-z]{1,6}-[A-Za-z0-9_\-]{16,})",
    # The user:password@ (or token@) of a URL: everything between "scheme://" and "@" that
    # cannot be part of a host name.
    r"(?i)(\b[a-z][a-z0-9+.\-]*://)([^\s/?#@\\\"'<>]+)(?=@)",
    # Meta tag: <meta name="csrf-token" content="...">
    r"(?i)(name=\"csrf-token\"\s+content=\")([^\"]+)",
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(source) for source in _SOURCES)


def redact(text: str) -> str:
    """Return `text` with every secret-looking value replaced by MASK."""
    for pattern in _patterns():
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def safe_cut(text: str, cut: int) -> int:
    """`cut`, or an earlier index, such that no secret `redact` finds in `text` spans it."""
    moved = True
    while moved:
        moved = False
        for pattern in _patterns():
            for match in pattern.finditer(text, 0, len(text)):
                if match.start() < cut < match.end():
                    cut, moved = match.start(), True
    return cut
