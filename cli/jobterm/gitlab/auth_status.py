"""What `jobterm auth status` reports for each configured host: where its secrets are, and
whether its session and token still work (checked over the network, never raising).

Apart from `gitlab/session.py` because nothing else needs it: `exec` and `attach` import the
session module on every start, and leave this one out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobterm.errors import JobtermError
from jobterm.gitlab.credentials import SecretStore
from jobterm.gitlab.session import check_session, signed_in

if TYPE_CHECKING:
    from jobterm.env import Environment
    from jobterm.gitlab.api import GitLab
    from jobterm.gitlab.config import Config


@dataclass
class HostStatus:
    name: str
    base_url: str
    username: str | None
    default: bool
    session: str  # "valid", "renewed", "expired", "none", or "unknown: <error>"
    token: str  # "valid", "rejected", "none", "from GITLAB_TOKEN: valid", ...
    storage: str  # where the secrets are (never the secrets)

    @property
    def ok(self) -> bool:
        return self.session in ("valid", "renewed") or self.token.endswith("valid")


def host_status(env: Environment, config: Config, name: str) -> HostStatus:
    """Check one configured host for `jobterm auth status`, without raising."""
    entry = config.hosts[name]
    host = entry.host
    store = SecretStore(env)
    status = HostStatus(
        name,
        host.base_url,
        entry.username,
        name == config.default_host,
        "none",
        "none",
        store.describe(entry.secrets),
    )
    try:
        gitlab = signed_in(env, host, entry, None)
    except JobtermError as exc:
        status.session = f"unknown: {exc.message}"
        return status
    with gitlab:
        try:
            status.session = _session_state(gitlab)
            status.token = _token_state(gitlab)
        except JobtermError as exc:
            status.session = f"unknown: {exc.message}"
    return status


def _session_state(gitlab: GitLab) -> str:
    if not gitlab.has_web_session:
        return "none"
    before = gitlab.cookies.session_header()
    if check_session(gitlab) is None:
        return "expired"
    return "valid" if gitlab.cookies.session_header() == before else "renewed"


def _token_state(gitlab: GitLab) -> str:
    if not gitlab.token:
        return "none"
    return "valid" if gitlab.token_user() is not None else "rejected"
