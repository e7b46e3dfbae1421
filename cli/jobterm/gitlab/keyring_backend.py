"""Which keyring backend holds jobterm's secrets: found once, then remembered.

On every run, keyring finds its backend by importing each backend it knows and asking each
one how well it would do. That means macOS, Windows, KWallet, Secret Service, libsecret, the
chainer, and the backends of any installed plugin. On the bench machine this costs about
50 ms before the first secret is read, which is longer than the WebSocket handshake. So
jobterm asks keyring the same question once and remembers the answer:

* The user's own choice comes first, in keyring's order: PYTHON_KEYRING_BACKEND, then
  keyring's config file (keyringrc.cfg).
* Otherwise, the backend remembered in `<cache dir>/keyring-backend` is loaded by name.
  This file holds only a class name, no secret. Loading it imports that one backend and
  checks that it is still viable, as keyring does for a backend named in its config. As a
  name is imported, only a file of the user's own that no one else may write, naming a
  class in `keyring.` or a `keyrings.` plugin, is believed.
* Otherwise (nothing is remembered, or the remembered backend no longer loads or is no
  longer viable), keyring searches as it always does. The answer is remembered if it is a
  backend that keeps secrets.

`jobterm login` always searches afresh (`fresh=True`). So the secrets are written where
later runs will read them, and a backend installed or removed since then counts.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

FILE = "keyring-backend"

_chosen: Any = None  # this process's answer: keyring is asked at most once per run


def chosen_backend(cache_dir: Path, *, fresh: bool = False) -> Any:
    """The keyring backend to keep and read secrets with (see the module comment)."""
    global _chosen
    import keyring
    from keyring import core

    if _chosen is not None and not fresh:
        return _chosen
    chosen = core.load_env() or core.load_config()
    if chosen is None and not fresh:
        chosen = _remembered(cache_dir)
    if chosen is None:
        core.init_backend()
        chosen = keyring.get_keyring()
        if keeps_secrets(chosen):
            _remember(cache_dir, chosen)
    keyring.set_keyring(chosen)
    _chosen = chosen
    return chosen


def keeps_secrets(backend: Any) -> bool:
    """Whether `backend` really keeps what it is given: not keyring's `fail` (no backend),
    `null` (set to disable keyring, as pip's docs suggest) or a chainer of nothing. Told by
    name: importing the chainer to ask would import what the search imports."""
    name = backend_name(backend)
    if name in ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"):
        return False
    return name != "keyring.backends.chainer.ChainerBackend" or bool(backend.backends)


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _remembered(cache_dir: Path) -> Any:
    from keyring import core

    name = _remembered_name(cache_dir / FILE)
    if name is None:
        return None
    try:
        backend = core.load_keyring(name)
    except Exception:  # uninstalled, renamed, or no longer viable: keyring searches again
        return None
    return backend if keeps_secrets(backend) else None


def _remembered_name(path: Path) -> str | None:
    """The class name in the file, if it can be trusted: a file of the user's own that no one
    else may write (loading the name imports its module), naming a class of keyring's or of
    a `keyrings.` plugin. Anything else is searched for as keyring does."""
    from jobterm.files import read_back

    try:  # the user's, no one else's to write, no link, no FIFO: see files.read_back
        text = read_back(path, limit=200).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split(".")
    if parts[0] not in ("keyring", "keyrings") or not all(p.isidentifier() for p in parts):
        return None
    return text


def _remember(cache_dir: Path, backend: Any) -> None:
    from jobterm.files import write_private

    with contextlib.suppress(OSError):  # a cache: without it the next run searches again
        write_private(cache_dir / FILE, backend_name(backend) + "\n")
