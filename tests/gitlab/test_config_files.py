"""The files jobterm keeps: updates by parallel processes, and files it cannot read.

Class (lost update): N processes each writing their own keys into one file at the same time
lose none of them, and a reader polling meanwhile always finds a whole, parseable file.
Checked for the config (`update_config`, what `login` and `logout` use), the
`--insecure-storage` secrets file and the completion cache (refreshers and `jobterm jobs`).

Class (undecodable file): a byte that is not UTF-8 in any file jobterm reads as text gives
one line naming the file, the line and what is wrong, the config-error exit code, and no
traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_auth import auth_env_for, jobterm
from util import scaled

WRITERS = 6
KEYS_EACH = 5

CONFIG_WRITER = """
import sys
from pathlib import Path
from jobterm.env import Environment
from jobterm.gitlab.config import HostConfig, update_config
env = Environment(environ={"JOBTERM_CONFIG_DIR": sys.argv[1]})
for key in range(int(sys.argv[3])):
    name = f"w{sys.argv[2]}-k{key}.example.com"
    update_config(env, lambda c: c.put(name, HostConfig(base_url="https://" + name)))
"""

SECRETS_WRITER = """
import sys
from jobterm.env import Environment
from jobterm.gitlab.credentials import FILE, Secrets, SecretStore
store = SecretStore(Environment(environ={"JOBTERM_CONFIG_DIR": sys.argv[1]}))
for key in range(int(sys.argv[3])):
    name = f"w{sys.argv[2]}-k{key}.example.com"
    store.save(name, Secrets(cookies={"_gitlab_session": name}), FILE)
"""

CACHE_WRITER = """
import sys
from jobterm.completion.cache import remember_jobs
for key in range(int(sys.argv[3])):
    name = f"w{sys.argv[2]}-k{key}.example.com"
    remember_jobs(sys.argv[1], name, "g/p", [{"id": key, "name": "build"}])
"""

READER = """
import json, sys, time
from pathlib import Path
path = Path(sys.argv[1])
bad = 0
while not Path(sys.argv[2]).exists():
    try:
        json.loads(path.read_text())
    except FileNotFoundError:
        pass
    except ValueError:
        bad += 1
print(bad)
"""


def run_writers(script: str, directory: Path, watched: Path) -> tuple[dict[str, object], int]:
    """Start the writers and a reader together; the file's data and the reader's failures."""
    done = directory / "writers-done"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(watched), str(done)], stdout=subprocess.PIPE, text=True
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(directory), str(n), str(KEYS_EACH)])
        for n in range(WRITERS)
    ]
    codes = [w.wait(timeout=scaled(60)) for w in writers]
    done.touch()
    out, _ = reader.communicate(timeout=scaled(30))
    assert codes == [0] * WRITERS
    return json.loads(watched.read_text()), int(out)


def expected_names() -> set[str]:
    return {f"w{n}-k{k}.example.com" for n in range(WRITERS) for k in range(KEYS_EACH)}


def test_lost_update_class_config(tmp_path):
    data, unparseable = run_writers(CONFIG_WRITER, tmp_path, tmp_path / "config.json")
    assert set(data["hosts"]) == expected_names()  # type: ignore[arg-type]
    assert unparseable == 0


def test_lost_update_class_secrets_file(tmp_path):
    data, unparseable = run_writers(SECRETS_WRITER, tmp_path, tmp_path / "secrets.json")
    assert set(data) == expected_names()
    assert unparseable == 0
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_lost_update_class_completion_cache(tmp_path):
    data, unparseable = run_writers(CACHE_WRITER, tmp_path, tmp_path / "completion.json")
    assert set(data["hosts"]) == expected_names()  # type: ignore[arg-type]
    assert unparseable == 0


# -- files that are not UTF-8 -------------------------------------------------------------

BAD_JSON = b'{\n  "default_host": "caf\xe9",\n  "hosts": {}\n}\n'


def assert_one_config_line(result: subprocess.CompletedProcess[str], path: Path, where: str):
    assert result.returncode == 11, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert where in lines[0]
    assert "not UTF-8" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["auth", "status"], ["jobs", "--host", "h.example.com"]])
def test_undecodable_file_class_config(tmp_path, args):
    env = auth_env_for(tmp_path)
    path = Path(env["JOBTERM_CONFIG_DIR"]) / "config.json"
    path.write_bytes(BAD_JSON)
    assert_one_config_line(jobterm(args, env), path, "line 2, column 23")


def test_undecodable_file_class_secrets(tmp_path):
    env = auth_env_for(tmp_path)
    config = Path(env["JOBTERM_CONFIG_DIR"])
    entry = {"base_url": "https://h.example.com", "username": "me", "secrets": "file"}
    (config / "config.json").write_text(json.dumps({"hosts": {"h.example.com": entry}}))
    secrets = config / "secrets.json"
    secrets.write_bytes(b'{"h.example.com": {"cookies": {"_gitlab_session": "\xff\xfe"}}}')
    result = jobterm(["jobs", "--host", "h.example.com"], env)
    assert_one_config_line(result, secrets, "line 1, column 52")


def test_undecodable_file_class_sandbox_config(tmp_path):
    path = tmp_path / "world.toml"
    path.write_bytes(b"[settings]\nsession_timeout = 60\n# caf\xc3\n")
    result = jobterm(["sandbox", "--port", "0", "--config", str(path)], auth_env_for(tmp_path))
    assert_one_config_line(result, path, "line 3, column 6")


def test_a_damaged_config_says_where(tmp_path):
    env = auth_env_for(tmp_path)
    path = Path(env["JOBTERM_CONFIG_DIR"]) / "config.json"
    path.write_text('{"hosts": {\n  "a": 1,\n}')
    result = jobterm(["auth", "status"], env)
    assert result.returncode == 11
    assert f"{path}: line 3" in result.stderr
    assert "Traceback" not in result.stderr
