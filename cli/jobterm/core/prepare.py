"""Preparing a job terminal's shell: the build directory and the job's predefined variables.

Theory of operation. A GitLab job's terminal is a new shell beside the job's script, and what
it starts with is its executor's doing (docs/protocol.md, "What the terminal's shell gets"):
the shell executor leaves it the runner's own directory and environment, none of the job's;
docker and kubernetes leave it the build container's variables and the image's working
directory. Only the shell can tell which, so jobterm asks it in the lines it types at the first
prompt, hidden like the rest of the set-up (core/setup.py):

1. the probe: does the shell have the job's variables (`$CI_JOB_ID` set) and is it in
   `$CI_PROJECT_DIR` already;
2. with `move` (debug's default, attach's `--prepare`): `cd` to `$CI_PROJECT_DIR` when the
   shell has it, else to the directory the job's log names (git's "Initialized empty Git
   repository in DIR/.git/") when that exists in the job; and in a shell without the job's
   variables, export the predefined ones jobterm knows from the REST API. None of them is a
   secret: the API shows them to anyone who can see the job. The project's own variables,
   masked ones above all, never leave GitLab for jobterm, and so are never set;
3. the report, `ESC ] jobterm-prep ; NONCE ; V W ; PWD BEL`: V is `y` or `n` (had the job's
   variables), W says where the shell now is: `e` moved to $CI_PROJECT_DIR, `l` moved to the
   log's directory, `h` was there already, `n` not in the build directory. `Report.find`
   reads it out of what the shell printed; `describe()` says in one line what holds.

Values typed come from the server: a value with anything but printable text is left out
(a control character would be read by the line editor), the rest single-quoted. busybox sh cuts
a typed line at 1024 bytes, so the exports are split over lines of at most LINE_LIMIT bytes.
Every line holds `__jobterm_` and ends with `__jt_a`, which in bash deletes the line's own
history entry (core/setup.py defines it; before exec's bootstrap it is not defined, harmlessly:
that shell is replaced at once and keeps no history).
"""

from __future__ import annotations

import re
import shlex
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from jobterm.core.safetext import visible

#: Longest line typed (busybox sh's line editor keeps 1024 bytes).
LINE_LIMIT = 900
#: Longest value exported; a longer one is left out rather than cut.
VALUE_LIMIT = 400
#: Bytes of `export` words in all: everything typed must fit the PTY's 4 KiB input buffer,
#: which holds the lines typed ahead while the first one runs.
EXPORTS_LIMIT = 1600
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_REPORT = re.compile(
    rb"\x1b\]jobterm-prep;([0-9a-f]+);([yn])([elhn]);([0-9]{1,3});([^\x07\x1b]{0,4096})\x07"
)
#: git's own line in get_sources: the build directory a client can learn from the log.
_GIT_INIT = re.compile(
    r"^(?:(?:Initialized empty|Reinitialized existing) Git repository in "
    r"(/[^\x00-\x1f\x7f]*)/\.git/"
    r"|Cloning into '(/[^\x00-\x1f\x7f']*)'\.\.\.)$"  # the runner's native git clone
)


class Facts(NamedTuple):
    """What jobterm knows of the job from the REST API and its log."""

    build_dir: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    executor: str | None = None  # as the log names it: what the shell's variables are


class Report(NamedTuple):
    """What the shell said: had it the job's variables, where it is now (see the header)."""

    had_variables: bool
    where: str
    pwd: str
    exported: int = 0  # how many of the export lines ran

    @classmethod
    def find(cls, data: bytes, nonce: str) -> Report | None:
        for found in _REPORT.finditer(data):
            if found.group(1).decode() == nonce:
                pwd = found.group(5).decode("utf-8", "replace")
                lines = int(found.group(4))
                return cls(found.group(2) == b"y", found.group(3).decode(), pwd, lines)
        return None


class ReportScanner:
    """Finds the report in a stream fed in pieces (where nothing else holds the output, as
    before exec's bootstrap); keeps only enough of the stream to hold one report."""

    KEEP = 8192

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self.done = False
        self._seen = bytearray()

    def feed(self, data: bytes) -> Report | None:
        if self.done:
            return None
        self._seen += data
        found = Report.find(bytes(self._seen), self.nonce)
        if found is not None:
            self.done = True
            self._seen.clear()
        elif len(self._seen) > 2 * self.KEEP:
            del self._seen[: -self.KEEP]
        return found


def build_dir_in_log(line: str) -> str | None:
    """The build directory, if this (plain) log line is git's init line."""
    found = _GIT_INIT.match(line)
    directory = (found.group(1) or found.group(2)) if found else None
    return directory if directory and _typeable(directory) else None


def predefined(
    job: dict[str, Any], project: str, build_dir: str | None, executor: str | None = None
) -> Facts:
    """The predefined variables the REST API's job JSON gives (GitLab's names); the build
    directory from the log becomes CI_PROJECT_DIR only where the shell gets there."""
    web_url = str(job.get("web_url", ""))
    # The job's URL spells the project as GitLab does (the user may have typed it otherwise).
    at = web_url.lower().rfind(f"/{project.lower()}/-/jobs/")
    base = web_url[:at] if at > 0 else ""
    project = web_url[at + 1 : at + 1 + len(project)] if at > 0 else project
    pipeline, commit = job.get("pipeline") or {}, job.get("commit") or {}
    namespace, _, name = project.rpartition("/")
    pairs = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_JOB_ID": job.get("id"),
        "CI_JOB_NAME": job.get("name"),
        "CI_JOB_STAGE": job.get("stage"),
        "CI_JOB_URL": web_url,
        "CI_COMMIT_REF_NAME": job.get("ref"),
        "CI_COMMIT_SHA": commit.get("id") or pipeline.get("sha"),
        "CI_COMMIT_SHORT_SHA": commit.get("short_id"),
        "CI_PIPELINE_ID": pipeline.get("id"),
        "CI_PIPELINE_URL": pipeline.get("web_url"),
        "CI_PROJECT_ID": pipeline.get("project_id"),
        "CI_PROJECT_PATH": project,
        "CI_PROJECT_NAME": name,
        "CI_PROJECT_NAMESPACE": namespace,
        "CI_PROJECT_URL": f"{base}/{project}" if base else None,
        "CI_SERVER_URL": base or None,
        "CI_SERVER_HOST": urlsplit(base).hostname if base else None,
        "CI_API_V4_URL": f"{base}/api/v4" if base else None,
        "GITLAB_USER_LOGIN": (job.get("user") or {}).get("username"),
    }
    kept: list[tuple[str, str]] = []
    room = EXPORTS_LIMIT
    for key, raw in pairs.items():
        value = "" if raw is None else str(raw)
        cost = len(key) + len(value) + 4  # ` KEY='value'`
        if value and _typeable(value) and _NAME.fullmatch(key) and cost <= room:
            kept.append((key, value))
            room -= cost
    return Facts(build_dir if build_dir and _typeable(build_dir) else None, tuple(kept), executor)


def _typeable(value: str) -> bool:
    """Safe to type in single quotes into any shell's line editor, in as many bytes as
    characters: printable ASCII without a quote. Anything else is left out, never cut (a cut
    line could leave a quote open, and what follows would run as a command)."""
    return (
        len(value) <= VALUE_LIMIT and value.isascii() and value.isprintable() and "'" not in value
    )


def lines(facts: Facts | None, nonce: str, *, move: bool) -> list[str]:
    """The lines to type (without line ends), ending in the report; see the header."""
    facts = facts or Facts()
    probe = (
        'if [ -n "${CI_JOB_ID-}" ]; then __jobterm_v=y; else __jobterm_v=n; fi; __jobterm_w=n; '
        "__jobterm_e=0; "
        '[ -n "${CI_PROJECT_DIR-}" ] && [ "$PWD" = "$CI_PROJECT_DIR" ] && __jobterm_w=h'
    )
    out = [probe]
    if move:
        out[0] += (
            '; [ $__jobterm_w = n ] && [ -n "${CI_PROJECT_DIR-}" ] && cd -- "$CI_PROJECT_DIR" '
            "2>/dev/null && __jobterm_w=e"
        )
        if facts.build_dir:
            where = shlex.quote(facts.build_dir)
            out[0] += (
                f"; [ $__jobterm_w = n ] && cd -- {where} 2>/dev/null && __jobterm_w=l && "
                f"{{ [ $__jobterm_v = y ] || export CI_PROJECT_DIR={where}; }}"
            )
        out += _exports(facts.variables)
    report = (
        f"printf '\\033]jobterm-prep;%s;%s%s;%s;%s\\007' {nonce} \"$__jobterm_v\" "
        '"$__jobterm_w" "$__jobterm_e" "$PWD"; unset __jobterm_v __jobterm_w __jobterm_e'
    )
    out.append(report)
    return [f" {line}; __jt_a 2>/dev/null" for line in out]


def export_groups(variables: tuple[tuple[str, str], ...]) -> list[list[tuple[str, str]]]:
    """The variables as they go out, one group a line, each line short enough."""
    groups: list[list[tuple[str, str]]] = []
    size = LINE_LIMIT
    for key, value in variables:
        word = len(key) + len(value) + 4
        if size + word > LINE_LIMIT - 100:
            groups.append([])
            size = 0
        groups[-1].append((key, value))
        size += word
    return groups


def _exports(variables: tuple[tuple[str, str], ...]) -> list[str]:
    """`export` lines, run only in a shell without the job's variables; each one that ran
    counts itself in __jobterm_e (the report says how many did)."""
    out = []
    for group in export_groups(variables):
        words = "".join(f" {key}={shlex.quote(value)}" for key, value in group)
        out.append(f"[ $__jobterm_v = y ] || {{ export{words}; __jobterm_e=$((__jobterm_e+1)); }}")
    return out


class Prepare(NamedTuple):
    """What to do with a new shell: probe it, or also `move` it; `hint` follows the line
    when the shell was left as it was and is not in the build directory with the variables."""

    facts: Facts | None = None
    move: bool = False
    hint: str = ""

    def lines(self, nonce: str) -> list[str]:
        return lines(self.facts, nonce, move=self.move)

    def announce(self, report: Report | None) -> bytes:
        """jobterm's line about the shell, for a terminal in raw mode (b"": none)."""
        text = describe(report, self.facts, moved=self.move)
        if text is None:
            return b""
        if self.hint and not self.move and report is not None:
            has = report.had_variables  # then only the directory is amiss
            text += '; `cd "$CI_PROJECT_DIR"` moves it there' if has else f"; {self.hint}"
        return f"[jobterm] {text}\r\n".encode()  # inside the session: as its notices


def _theirs(executor: str | None) -> str:
    """What a shell that has the job's variables has, by its executor (docs/protocol.md)."""
    if executor == "kubernetes":
        return (
            "the shell has the job's variables as the kubernetes executor gives them: the "
            "predefined and the job's own, not the project's CI/CD variables"
        )
    if executor == "docker":
        return "the shell has all the job's variables, as the docker executor gives them"
    return "the shell has the job's variables, as its runner gave them"


def describe(report: Report | None, facts: Facts | None, *, moved: bool) -> str | None:
    """The one line that says what holds in the shell now (None: nothing worth saying)."""
    if report is None:
        return None
    if not moved and report.where == "h" and report.had_variables:
        return None  # already where a user expects to be
    facts = facts or Facts()
    pwd = visible(report.pwd, one_line=True)
    if report.where == "e":
        place = f"in {pwd} ($CI_PROJECT_DIR)"
    elif report.where == "l":
        place = f"in {pwd} (the build directory, from the job's log)"
    elif report.where == "h":
        place = f"in {pwd}, the build directory"
    elif moved and facts.build_dir:
        shown = visible(facts.build_dir, one_line=True)
        place = f"in {pwd}: the build directory the job's log names, {shown}, is not in this shell"
    elif moved:
        place = f"in {pwd}: neither $CI_PROJECT_DIR nor the job's log names the build directory"
    else:
        place = f"in {pwd}, not the build directory"
    if report.had_variables:
        return f"{place}; {_theirs(facts.executor)}"
    count = sum(len(g) for g in export_groups(facts.variables)[: report.exported])
    count += report.where == "l"  # CI_PROJECT_DIR, set with the move
    if moved and count:
        return (
            f"{place}; the runner gave this shell none of the job's variables: {count} "
            "predefined ones are set, the project's own and masked ones are not"
        )
    return f"{place}; the runner gave this shell none of the job's variables"
