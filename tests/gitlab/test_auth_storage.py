"""Config and secret storage in-process: file permissions, damage, and repr hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobterm.env import Environment
from jobterm.errors import ConfigError
from jobterm.gitlab.config import HostConfig, load_config
from jobterm.gitlab.credentials import Secrets, SecretStore


def env_in(tmp_path: Path) -> Environment:
    return Environment(environ={"JOBTERM_CONFIG_DIR": str(tmp_path / "cfg")})


def test_config_round_trip_and_permissions(tmp_path: Path) -> None:
    env = env_in(tmp_path)
    config = load_config(env)
    assert config.hosts == {}
    config.hosts["gitlab.example.com"] = HostConfig("https://gitlab.example.com", "me", 7)
    config.hosts["example.com/gitlab"] = HostConfig("https://example.com/gitlab", "me", 8)
    config.default_host = "gitlab.example.com"
    config.save()
    assert config.path.stat().st_mode & 0o777 == 0o600
    assert config.path.parent.stat().st_mode & 0o777 == 0o700
    again = load_config(env)
    assert again.hosts == config.hosts
    assert [h.name for h in again.known_hosts()] == ["example.com/gitlab", "gitlab.example.com"]
    again.forget("gitlab.example.com")
    assert again.default_host == "example.com/gitlab"


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"hosts": []}',
        '{"hosts": {"h": {"base_url": "ftp://x"}}}',
        '{"hosts": {"h": 1}}',
    ],
)
def test_damaged_config_is_a_config_error(tmp_path: Path, text: str) -> None:
    env = env_in(tmp_path)
    env.config_dir.mkdir(parents=True)
    (env.config_dir / "config.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(env)
    assert info.value.exit_code == 11
    assert "jobterm login" in (info.value.hint or "")


def test_file_secrets_are_private_and_separate_per_host(tmp_path: Path) -> None:
    store = SecretStore(env_in(tmp_path))
    store.save("a.example", Secrets({"_gitlab_session": "s1"}, "glpat-x"), "file")
    store.save("b.example", Secrets({"_gitlab_session": "s2"}), "file")
    assert store.file_path.stat().st_mode & 0o777 == 0o600
    loaded = store.load("a.example", "file")
    assert loaded is not None
    assert (loaded.cookies, loaded.token) == ({"_gitlab_session": "s1"}, "glpat-x")
    store.delete_from("a.example", "file")
    assert store.load("a.example", "file") is None
    assert store.load("b.example", "file") is not None
    store.file_path.write_text(json.dumps({"b.example": {"cookies": {"x": 1}}}))
    with pytest.raises(ConfigError, match="damaged"):
        store.load("b.example", "file")


def test_secrets_repr_shows_no_value() -> None:
    text = repr(Secrets({"_gitlab_session": "topsecret"}, "glpat-hidden"))
    assert "topsecret" not in text
    assert "glpat-hidden" not in text
    assert "_gitlab_session" in text
