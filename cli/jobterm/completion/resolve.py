"""The slow path: the CLI itself resolves the command line.

Taken when neither `protocol.classify()` nor the cached CLI spec can place the word: in
practice the first Tab after jobterm is installed or upgraded (this path also writes the spec,
so the next Tab need not come here), or a line only click can read (`--`, joined options).
It imports typer and builds the whole command tree, a few hundred milliseconds.

The click command is handed in by the caller (`jobterm.__main__` builds it from
`jobterm.app`): nothing in this package imports the application, so the application may
import the package (its `--install-completion` options, its parameters' `autocompletion`)
without a cycle.
"""

from __future__ import annotations

from jobterm.completion import spec as cli_spec
from jobterm.completion.protocol import COMPLETE_VAR, PROG
from jobterm.completion.where import cache_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from typer._click import Command
    from typer._click.shell_completion import ShellComplete

    from jobterm.completion.protocol import Item, Request


def slow_answer(
    request: Request, cli: Command, environ: Mapping[str, str] | None = None
) -> list[Item]:
    """The answer from the spec of `cli` (written to the cache for the next Tab when
    `environ` is given), else from click's resolution of the line."""
    _, args, incomplete = request
    spec = cli_spec.build(cli)
    if environ is not None:
        cli_spec.save(cache_dir(environ), spec)
    decided = cli_spec.answer(spec, args, incomplete)
    if decided is not None:
        return decided
    return click_answer(cli, args, incomplete)


def click_answer(cli: Command, args: list[str], incomplete: str) -> list[Item]:
    """What click's completion offers for `incomplete` after `args`: verbs, option names, and
    the values of parameters that complete themselves (JOB, --project, --host call
    `answers.py` through their `autocompletion`)."""
    import contextlib
    import io

    resolver = _resolver_class()(cli, {}, PROG, COMPLETE_VAR)
    # Eager options' callbacks (e.g. --version) may print while the line is parsed.
    with contextlib.redirect_stdout(io.StringIO()):
        found = resolver.get_completions(list(args), incomplete)
    return [(str(c.value), str(c.help or ""), str(c.type or "plain")) for c in found]


def _resolver_class() -> type[ShellComplete]:
    """click's `ShellComplete`, the public base class click documents for adding a shell,
    with only the resolution we use (`get_completions`). typer vendors click, so the one
    place this class can be imported from is `typer._click.shell_completion`; if typer moves
    it, `tests/completion/test_completion_spec.py` (`test_click_resolves_through_typer`)
    fails before any user sees a silent Tab."""
    from typer._click.shell_completion import ShellComplete

    class Resolver(ShellComplete):
        name = PROG
        source_template = ""

        def source_vars(self) -> dict[str, object]:
            return {}

        def get_completion_args(self) -> tuple[list[str], str]:
            return [], ""  # the caller passes args and incomplete to get_completions

        def format_completion(self, item: object) -> str:
            return str(getattr(item, "value", ""))

    return Resolver
