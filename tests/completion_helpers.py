"""Helpers for the completion and `jobterm jobs` tests: an isolated user, a seeded config and
cache, and the completion protocol driven the way the generated scripts drive it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fixtures_auth import auth_env_for
from util import scaled

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("httpx", "websockets", "aiohttp", "prompt_toolkit", "keyring")


def isolated_env(root: Path) -> dict[str, str]:
    """A jobterm user of its own under `root`: config, cache and a file keyring (so a
    background refresher never touches the machine's keyring), no GITLAB_* of the machine."""
    env = auth_env_for(root)
    for name in [k for k in env if k.startswith(("_JOBTERM", "COMP_"))]:
        del env[name]
    return env


def host_name(url: str) -> str:
    return urlsplit(url).netloc


def seed_config(env: dict[str, str], url: str, username: str = "demo") -> str:
    """Write a config that says we are signed in to `url` (what `jobterm login` writes)."""
    name = host_name(url)
    config = {
        "default_host": name,
        "hosts": {name: {"base_url": url, "username": username, "secrets": "keyring"}},
    }
    path = Path(env["JOBTERM_CONFIG_DIR"]) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return name


def cache_file(env: dict[str, str]) -> Path:
    return Path(env["JOBTERM_CACHE_DIR"]) / "completion.json"


def read_cache(env: dict[str, str]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(cache_file(env).read_text())
    except (OSError, ValueError):
        return {}
    return data


def seed_cache(
    env: dict[str, str],
    host: str,
    jobs: dict[str, list[list[Any]]] | None = None,
    projects: list[list[str]] | None = None,
    age: float = 0.0,
) -> None:
    stamp = time.time() - age
    part: dict[str, Any] = {}
    if jobs is not None:
        part["jobs"] = {p: {"t": stamp, "items": rows} for p, rows in jobs.items()}
    if projects is not None:
        part["projects"] = {"t": stamp, "items": projects}
    path = cache_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "hosts": {host: part}}))


def complete(
    env: dict[str, str], shell: str, line: str, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """Ask `jobterm` for completions of `line` (the cursor at its end) as `shell`'s script
    does: COMP_WORDS holds the words as typed, COMP_CWORD the index of the word under the
    cursor (one past the last word after a space)."""
    words = shlex.split(line)
    index = len(words) if line.endswith(" ") else len(words) - 1
    run_env = dict(env)
    run_env.update(_JOBTERM_COMPLETE=f"complete_{shell}", COMP_WORDS=line, COMP_CWORD=str(index))
    return subprocess.run(
        [sys.executable, "-m", "jobterm"],
        capture_output=True,
        text=True,
        env=run_env,
        cwd=cwd,
        timeout=scaled(30),
    )


def candidates(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    """(type, value, help) of each answer line."""
    rows = []
    for line in result.stdout.splitlines():
        kind, value, help_text = line.split("\t")
        rows.append((kind, value, help_text))
    return rows


def values(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [value for _, value, _ in candidates(result)]


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def imported_modules(env: dict[str, str], args: list[str]) -> set[str]:
    """Top-level packages in sys.modules after `jobterm ARGS` ran in a fresh interpreter."""
    code = (
        "import sys\n"
        "from jobterm.__main__ import main\n"
        "try:\n"
        "    main(sys.argv[2:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "with open(sys.argv[1], 'w') as f:\n"
        "    f.write('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = Path(env["JOBTERM_CACHE_DIR"]).parent / "modules.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", code, str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=scaled(30),
        check=False,
    )
    return set(out.read_text().split())
