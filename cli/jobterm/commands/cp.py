"""`jobterm cp`: copy files and directories between this machine and a running job."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import typer

from jobterm.commands.common import HostOption, ProjectOption, duration_option, environment
from jobterm.completion.answers import complete_job

HELP = """\
Copy a file or directory out of a running job, or into it, like scp or kubectl cp.

  jobterm cp JOB:REMOTE_PATH LOCAL_PATH     download
  jobterm cp LOCAL_PATH JOB:REMOTE_PATH     upload

JOB is a job id (the project comes from --project or this directory's git remote),
PROJECT#ID, or the job's web URL. A relative REMOTE_PATH starts in the job's build
directory ($CI_PROJECT_DIR). Directories are copied whole, with or without -r (modes,
empty directories and symbolic links kept). Into an existing directory, the copy gets the
source's name; otherwise the destination path is the copy's name.

Every byte arrives as sent: a checksum is computed on both sides (sha256, or POSIX cksum
where the job has no sha256sum; -v says which) and a difference is an error. Nothing is
half written: the copy goes to a temporary name beside the destination and is renamed
only once verified; on any failure the destination is untouched.
"""


def register(app: typer.Typer) -> None:
    app.command("cp", help=HELP, no_args_is_help=True)(cp_command)


@dataclass(frozen=True)
class Candidate:
    """What click's completion reads of an item (value, help, type): `file` asks the shell
    to complete paths itself when nothing else matches."""

    value: str
    help: str = ""
    type: str = "plain"


def complete_operand(ctx: object, param: object, incomplete: str) -> list[Candidate]:
    """Job references (as `JOB:`) for the remote side, local paths from the shell."""
    if ":" in incomplete:
        return []  # a remote path: listing it would need a session in the job
    jobs = [Candidate(f"{value}:", help_) for value, help_ in complete_job(ctx, incomplete)]
    return [*[c for c in jobs if c.value.startswith(incomplete)], Candidate("", type="file")]


# click reads only `value`, `help` and `type` of each item: a Candidate serves without
# importing click's CompletionItem, which typer keeps in a private module.
_OPERAND_COMPLETION: Any = complete_operand


def cp_command(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., metavar="SOURCE", show_default=False, shell_complete=_OPERAND_COMPLETION
    ),
    destination: str = typer.Argument(
        ..., metavar="DEST", show_default=False, shell_complete=_OPERAND_COMPLETION
    ),
    recursive: bool = typer.Option(
        False, "--recursive", "-r", help="Accepted for habit: directories are always copied whole."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Say which checksum verified the copy, and the size."
    ),
    timeout: float | None = duration_option(
        None, "--timeout", "Give up after this long, counted from connecting (e.g. 90s, 10m)."
    ),
    project: str | None = ProjectOption,
    host: str | None = HostOption,
) -> None:
    from jobterm.cp.progress import Bar
    from jobterm.cp.run import CopyRequest, run_copy

    env = environment(ctx)
    request = CopyRequest.from_operands(source, destination, project=project, host=host)
    request = dataclasses.replace(request, timeout=timeout)
    show_bar = not quiet and env.stderr.isatty()
    with Bar(show_bar, "upload" if request.upload else "download") as bar:
        outcome = run_copy(env, request, bar)
    if verbose:
        env.stderr.write(
            f"jobterm: copied {outcome.size} bytes to {outcome.destination}; "
            f"{outcome.algorithm} matches on both sides ({outcome.checksum})\n"
        )
