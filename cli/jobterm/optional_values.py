"""Options whose value may be left out: `--from-browser` alone, or `--from-browser=chromium`.

The command-line parser under typer has no optional option values, so before parsing, a bare
`--from-browser` that ends the command line or is followed by another option becomes
`--from-browser=` (empty: "any browser"). A word after it is read as its value; `login`
turns a value that names no browser back into HOST (`jobterm login --from-browser HOST`).
Kept free of imports: it runs before every command.
"""

from __future__ import annotations

OPTIONAL = frozenset({"--from-browser"})


def fill_optional_values(args: list[str]) -> list[str]:
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            return out + args[index:]
        following = args[index + 1] if index + 1 < len(args) else None
        if arg in OPTIONAL and (following is None or following.startswith("-")):
            out.append(f"{arg}=")
        else:
            out.append(arg)
    return out
