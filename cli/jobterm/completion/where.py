"""Where completion looks, without the imports of jobterm.gitlab (see answers.py): the
config and cache directories, the hosts in the config file and the one a command would use,
and the projects of this directory's git remotes.

The directories are the commands' own (`jobterm.dirs`); the rest mirrors what the commands
do (`gitlab.config.load_config`, `gitlab.session.resolve_host`, `jobs.locate.git_remote_projects`);
`tests/completion/test_completion_protocol.py` checks they agree.
"""

from __future__ import annotations

import os

from jobterm.dirs import user_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    HostEntry = tuple[str, str]  # base URL, username
    Config = tuple[str | None, dict[str, HostEntry]]  # default host, hosts by name


def config_dir(environ: Mapping[str, str]) -> str:
    return user_dir(environ, "config")


def cache_dir(environ: Mapping[str, str]) -> str:
    return user_dir(environ, "cache")


def read_config(environ: Mapping[str, str]) -> Config | None:
    """(default host, {host name: (base URL, username)}), or None when unreadable."""

    try:
        from jobterm.files import load_json, read_back

        data = load_json(read_back(os.path.join(config_dir(environ), "config.json")))
        hosts = {
            str(name): (str(entry["base_url"]), str(entry.get("username") or ""))
            for name, entry in data.get("hosts", {}).items()
        }
    except FileNotFoundError:
        return None, {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    default = data.get("default_host")
    return (default if isinstance(default, str) else None), hosts


def host_key(text: str) -> str:
    """A host as typed (`gitlab.example.com`, `https://gitlab.example.com:443/`) in the form
    the config keys it (`Host.name`): host[:port][/root], lower case, no default port."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "https", text.strip()
    netloc, _, root = rest.partition("/")
    netloc = netloc.lower()
    default = {"https": ":443", "http": ":80"}.get(scheme.lower())
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    root = "/".join(part for part in root.split("/") if part)
    return netloc + ("/" + root if root else "")


def signed_in_host(
    environ: Mapping[str, str], config: Config | None, host: str | None
) -> str | None:
    """The name of the host a command would use (`--host`, GITLAB_HOST, the default host, else
    the only one: as `gitlab.session.resolve_host`), or None when not signed in to it."""
    if config is None:
        return None
    default, hosts = config
    text = host or environ.get("GITLAB_HOST") or default
    if not text and len(hosts) == 1:
        text = next(iter(hosts))
    if not text:
        return None
    key = host_key(text)
    for name, (base_url, _) in hosts.items():
        if key in (host_key(name), host_key(base_url)):
            return name
    return key if environ.get("GITLAB_TOKEN") else None


def remote_projects(hosts: dict[str, HostEntry], host_name: str) -> list[str]:
    """Projects of this directory's git remotes on `host_name` (as `jobterm attach` finds them)."""
    from urllib.parse import urlsplit

    from jobterm.core.jobs import project_from_remote

    base_url = hosts[host_name][0] if host_name in hosts else "https://" + host_name
    hostname = urlsplit(base_url).hostname or ""
    urls = _remote_urls_from_config(os.getcwd())
    if urls is None:
        urls = _remote_urls_from_git()
    found: list[str] = []
    for url in urls:
        pair = project_from_remote(url)
        if pair and pair[0] == hostname and pair[1] not in found:
            found.append(pair[1])
    return found


def _remote_urls_from_config(start: str) -> list[str] | None:
    """The remotes' URLs from `.git/config` of the repository around `start`, read directly
    (running git costs a fork and an import of subprocess on every Tab); None when only git
    can tell (a worktree or submodule, GIT_DIR, url.insteadOf rewriting)."""
    if "GIT_DIR" in os.environ:
        return None
    path = os.path.abspath(start)
    while not os.path.exists(os.path.join(path, ".git")):
        parent = os.path.dirname(path)
        if parent == path:
            return []  # not in a repository
        path = parent
    config = os.path.join(path, ".git", "config")
    if not os.path.isdir(os.path.join(path, ".git")):
        return None
    try:
        with open(config, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    if "insteadof" in text.lower() or "[include" in text.lower():
        return None
    urls, in_remote = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_remote = line.startswith('[remote "')
        elif in_remote:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "url":
                urls.append(value.strip().strip('"'))
    return urls


def _remote_urls_from_git() -> list[str]:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "remote", "-v"],
            capture_output=True,
            text=True,
            timeout=0.3,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [parts[1] for parts in (line.split() for line in out.splitlines()) if len(parts) >= 2]
