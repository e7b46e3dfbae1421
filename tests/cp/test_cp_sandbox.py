"""`jobterm cp` against the real sandbox: real shells (bash -l, dash, busybox sh) in PTYs.

Each job has its own build directory here, so a test can look at the job's side directly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from fixtures_auth import auth_env_for, jobterm, login_stdin
from fixtures_sandbox import launch_sandbox, running_job
from util import scaled

HAVE_BUSYBOX = shutil.which("busybox") is not None
SHELLS = [
    "bash",
    "dash",
    pytest.param("busybox", marks=pytest.mark.skipif(not HAVE_BUSYBOX, reason="no busybox")),
]
SHELL_ARGV = {"bash": ["bash", "-l"], "dash": ["dash"], "busybox": ["busybox", "sh"]}
JOBS = {
    "bash": 301,
    "dash": 302,
    "busybox": 303,
    "nosha": 304,
    "victim": 305,
    "hostile": 306,
    "done": 307,
    "noterm": 308,
    "liar": 309,
}
#: What the exec and cp programs call; the "nosha" job gets these and nothing more.
EXEC_TOOLS = ["sh", "stty", "cat", "sed", "base64", "mktemp", "rm"]
CP_TOOLS = ["tar", "tee", "mkfifo", "du", "wc", "tr", "chmod", "mv", "mkdir", "cksum"]
TOOLS = [*EXEC_TOOLS, *CP_TOOLS]


def _job(job_id: int, name: str, shell: list[str], build: Path) -> dict[str, Any]:
    build.mkdir(parents=True, exist_ok=True)
    return running_job(job_id, name, shell, build_dir=str(build))


def _restricted_bin(root: Path, without: str = "sha256sum") -> Path:
    bindir = root / "bin"
    bindir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found and tool != without:
            (bindir / tool).symlink_to(found)
    return bindir


def _hostile_bin(root: Path) -> Path:
    """A `tar` that sends an archive with an absolute name, whatever it is asked."""
    evil = root / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("/tmp/jobterm-cp-escaped")
        tar.addfile(info)
    bindir = root / "hostile-bin"
    bindir.mkdir()
    fake = bindir / "tar"
    fake.write_text(f"#!/bin/sh\ncat '{evil}'\n")
    fake.chmod(0o755)
    return bindir


def _liar_bin(root: Path) -> Path:
    """An `openssl` that gives the right digest of nothing (so the programs choose it) and
    a wrong one of anything else: the job's checksum then differs from jobterm's."""
    bindir = root / "liar-bin"
    bindir.mkdir()
    fake = bindir / "openssl"
    nothing = hashlib.sha256(b"").hexdigest()
    fake.write_text(
        "#!/bin/sh\n"
        f"if [ \"$(wc -c | tr -d ' ')\" = 0 ]; then d={nothing}; else d={'0' * 64}; fi\n"
        'echo "$d *stdin"\n'
    )
    fake.chmod(0o755)
    return bindir


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("cp")
    builds = {name: root / "builds" / name for name in JOBS if name not in ("done", "noterm")}
    dash = shutil.which("dash") or "dash"
    nosha = ["env", f"PATH={_restricted_bin(root)}", dash]
    hostile = ["env", f"PATH={_hostile_bin(root)}:{os.defpath}", dash]
    liar = ["env", f"PATH={_liar_bin(root)}:{os.defpath}", dash]
    shells = {**SHELL_ARGV, "nosha": nosha, "victim": ["dash"], "hostile": hostile, "liar": liar}
    jobs = [
        _job(job_id, name, shells[name], builds[name])
        for name, job_id in JOBS.items()
        if name in builds and (name != "busybox" or HAVE_BUSYBOX)
    ]
    jobs.append(running_job(JOBS["done"], "done", ["dash"], status="success"))
    jobs.append(running_job(JOBS["noterm"], "noterm", ["dash"], runner=2))  # no session server
    sandbox = launch_sandbox({"jobs": jobs}, (), root)
    try:
        env = auth_env_for(root / "auth", sandbox.url)
        login = jobterm(
            ["login", sandbox.url, "--username", "demo", "--password-stdin"],
            env,
            stdin=login_stdin(sandbox, "demo"),
        )
        assert login.returncode == 0, login.stderr
        yield {"sandbox": sandbox, "env": env, "builds": builds, "root": root}
    finally:
        assert sandbox.stop() == 0, sandbox.stderr()


def cp(world: dict[str, Any], *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "jobterm", "cp", "-p", "demo/webapp", *map(str, args)]
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=world["env"],
        timeout=scaled(180),
    )


def failed(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == code, err
    assert err.count("\n") == 1, err
    assert err.startswith("jobterm: ")
    assert "Traceback" not in err
    return err


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".jobterm-cp")]


# ------------------------------------------------------------------ files


@pytest.mark.parametrize("shell", SHELLS)
def test_random_binary_both_ways_exact(world: dict[str, Any], tmp_path: Path, shell: str) -> None:
    data = os.urandom(5 * 1024 * 1024) + b"\r\n\x03\x04\x1b\x00\xff"
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    job = JOBS[shell]
    up = cp(world, src, f"{job}:blob.bin")
    assert up.returncode == 0, up.stderr
    assert up.stderr == b""  # not a terminal: no progress bar, nothing said
    remote = world["builds"][shell] / "blob.bin"
    assert remote.read_bytes() == data
    down = cp(world, "-v", f"{job}:blob.bin", tmp_path / "back.bin")
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    assert b"sha256 matches on both sides" in down.stderr
    assert leftovers(tmp_path) == []
    assert leftovers(world["builds"][shell]) == []


def test_without_sha256sum_cksum_verifies(world: dict[str, Any], tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "f").write_bytes(data)
    up = cp(world, "-v", tmp_path / "f", f"{JOBS['nosha']}:f")
    assert up.returncode == 0, up.stderr
    assert b"cksum matches" in up.stderr
    down = cp(world, "-v", f"{JOBS['nosha']}:f", tmp_path / "g")
    assert down.returncode == 0, down.stderr
    assert b"cksum matches" in down.stderr
    assert (tmp_path / "g").read_bytes() == data


def test_a_checksum_that_differs_is_an_error_both_ways(
    world: dict[str, Any], tmp_path: Path
) -> None:
    build = world["builds"]["liar"]
    (build / "f").write_bytes(b"the job's bytes")
    (tmp_path / "f").write_bytes(b"old")
    err = failed(cp(world, f"{JOBS['liar']}:f", tmp_path / "f"), 33)
    assert "sha256 checksum differs" in err
    assert (tmp_path / "f").read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    (tmp_path / "g").write_bytes(b"our bytes")
    failed(cp(world, tmp_path / "g", f"{JOBS['liar']}:g"), 33)
    assert not (build / "g").exists()
    assert leftovers(build) == []


def test_into_an_existing_directory_keeps_the_name(world: dict[str, Any], tmp_path: Path) -> None:
    builds = world["builds"]["dash"]
    (builds / "sub").mkdir(exist_ok=True)
    (tmp_path / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (tmp_path / "tool").chmod(0o755)
    assert cp(world, tmp_path / "tool", f"{JOBS['dash']}:sub").returncode == 0
    assert stat.S_IMODE((builds / "sub" / "tool").stat().st_mode) == 0o755
    down_dir = tmp_path / "down"
    down_dir.mkdir()
    assert cp(world, f"{JOBS['dash']}:sub/tool", down_dir).returncode == 0
    assert (down_dir / "tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.access(down_dir / "tool", os.X_OK)


# ------------------------------------------------------------------ directories


def make_tree(root: Path) -> None:
    root.mkdir()
    (root / "secret").write_bytes(b"only me\n")
    (root / "secret").chmod(0o600)
    (root / "run.sh").write_bytes(b"#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "empty").mkdir()
    (root / "sub dir").mkdir()
    (root / "sub dir" / "with space.txt").write_bytes(b"space\n")
    (root / "sub dir" / "new\nline").write_bytes(b"newline\n")
    (root / "link").symlink_to("sub dir/with space.txt")
    os.link(root / "run.sh", root / "sub dir" / "hard link")


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry below root: kind, permission bits (files), content or link target."""
    seen: dict[str, tuple[str, int, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = ("link", 0, os.readlink(path).encode())
            elif path.is_dir():
                seen[rel] = ("dir", 0, b"")
            else:
                seen[rel] = ("file", stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    return seen


@pytest.mark.parametrize("shell", SHELLS)
def test_tree_round_trips(world: dict[str, Any], tmp_path: Path, shell: str) -> None:
    make_tree(tmp_path / "tree")
    job = JOBS[shell]
    up = cp(world, "-r", tmp_path / "tree", f"{job}:tree-{shell}")
    assert up.returncode == 0, up.stderr
    remote = world["builds"][shell] / f"tree-{shell}"
    assert snapshot(remote) == snapshot(tmp_path / "tree")
    down = cp(world, f"{job}:tree-{shell}", tmp_path / "back")
    assert down.returncode == 0, down.stderr
    assert down.stderr == b""
    assert snapshot(tmp_path / "back") == snapshot(tmp_path / "tree")
    assert leftovers(tmp_path) == []


def test_a_directory_by_a_link_or_as_dot_is_named_as_given(
    world: dict[str, Any], tmp_path: Path
) -> None:
    make_tree(tmp_path / "tree")
    (tmp_path / "latest").symlink_to("tree")
    build = world["builds"]["dash"]
    (build / "named").mkdir(exist_ok=True)
    assert cp(world, tmp_path / "latest", f"{JOBS['dash']}:named").returncode == 0
    assert cp(world, tmp_path / "tree" / ".", f"{JOBS['dash']}:named/").returncode == 0
    assert sorted(p.name for p in (build / "named").iterdir()) == ["latest", "tree"]
    assert snapshot(build / "named" / "latest") == snapshot(tmp_path / "tree")


def test_a_directory_will_not_replace_a_file(world: dict[str, Any], tmp_path: Path) -> None:
    (world["builds"]["dash"] / "adir").mkdir(exist_ok=True)
    (tmp_path / "adir").write_bytes(b"mine")
    err = failed(cp(world, f"{JOBS['dash']}:adir", tmp_path / "adir"), 32)
    assert "not a directory" in err
    assert (tmp_path / "adir").read_bytes() == b"mine"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_an_upload_whose_name_is_taken_names_that_path(
    world: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    """Not the destination folder, which is fine, but the path in it that is in the way."""
    build = world["builds"]["dash"]
    (build / "into" / f"taken-{kind}").mkdir(parents=True, exist_ok=True)
    source = tmp_path / f"taken-{kind}"
    source.mkdir() if kind == "dir" else source.write_bytes(b"x")
    err = failed(cp(world, source, f"{JOBS['dash']}:into"), 32)
    assert f"'into/taken-{kind}' already exists in the job" in err
    assert list((build / "into" / f"taken-{kind}").iterdir()) == []
    assert leftovers(build / "into") == []


def test_a_hostile_archive_is_refused(world: dict[str, Any], tmp_path: Path) -> None:
    (world["builds"]["hostile"] / "d").mkdir(exist_ok=True)
    err = failed(cp(world, f"{JOBS['hostile']}:d", tmp_path / "d"), 34)
    assert "absolute name" in err
    assert not (tmp_path / "d").exists()
    assert not Path("/tmp/jobterm-cp-escaped").exists()
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ failures


def test_missing_remote_file_creates_nothing(world: dict[str, Any], tmp_path: Path) -> None:
    err = failed(cp(world, f"{JOBS['dash']}:no/such/file", tmp_path / "x"), 30)
    assert "no such file or directory in the job" in err
    assert list(tmp_path.iterdir()) == []


def test_upload_into_a_missing_remote_folder(world: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    failed(cp(world, tmp_path / "f", f"{JOBS['dash']}:nowhere/f"), 30)
    assert not (world["builds"]["dash"] / "nowhere").exists()


def test_missing_local_source(world: dict[str, Any], tmp_path: Path) -> None:
    failed(cp(world, tmp_path / "absent", f"{JOBS['dash']}:x"), 30)


def _faults(world: dict[str, Any], **settings: Any) -> None:
    world["sandbox"].admin("PUT", f"/jobs/{JOBS['victim']}/terminal/faults", **settings)


def test_connection_killed_mid_download(world: dict[str, Any], tmp_path: Path) -> None:
    (world["builds"]["victim"] / "big").write_bytes(os.urandom(4 * 1024 * 1024))
    (tmp_path / "big").write_bytes(b"old")
    _faults(world, drop_after_bytes=1024 * 1024)
    try:
        failed(cp(world, f"{JOBS['victim']}:big", tmp_path / "big"), 10)
    finally:
        world["sandbox"].admin("DELETE", "/terminal/faults")
    assert (tmp_path / "big").read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_connection_killed_mid_upload(world: dict[str, Any], tmp_path: Path) -> None:
    build = world["builds"]["victim"]
    (build / "up").write_bytes(b"old")
    (tmp_path / "up").write_bytes(os.urandom(4 * 1024 * 1024))
    _faults(world, drop_after_input_bytes=1024 * 1024)
    try:
        failed(cp(world, tmp_path / "up", f"{JOBS['victim']}:up"), 10)
    finally:
        world["sandbox"].admin("DELETE", "/terminal/faults")
    assert (build / "up").read_bytes() == b"old"
    # The hang-up's trap removes the temporary, or, if the session was killed outright
    # first, the next copy into the folder does (one session per job: none other uses it).
    (tmp_path / "small").write_bytes(b"new")
    assert cp(world, tmp_path / "small", f"{JOBS['victim']}:small").returncode == 0
    assert leftovers(build) == []


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [
        (signal.SIGINT, 130, b"jobterm: interrupted\n"),
        (signal.SIGTERM, 143, b"jobterm: killed by SIGTERM\n"),
        (signal.SIGHUP, 129, b"jobterm: killed by SIGHUP\n"),
    ],
)
def test_a_signal_mid_download_leaves_nothing(
    world: dict[str, Any], tmp_path: Path, sig: signal.Signals, code: int, said: bytes
) -> None:
    with (world["builds"]["dash"] / "huge").open("wb") as huge:
        huge.truncate(4 << 30)  # sparse: costs no disk in the job, long enough to interrupt
    argv = [sys.executable, "-m", "jobterm", "cp", "-p", "demo/webapp"]
    proc = subprocess.Popen(
        [*argv, f"{JOBS['dash']}:huge", str(tmp_path / "huge")],
        env=world["env"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + scaled(60)
    while not any(p.stat().st_size for p in tmp_path.iterdir()):  # the copy is under way
        assert time.monotonic() < deadline
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=scaled(60))
    assert proc.returncode == code, err
    assert err == said
    assert list(tmp_path.iterdir()) == []
    (world["builds"]["dash"] / "huge").unlink()


@pytest.mark.parametrize("quiet", [False, True], ids=["bar", "quiet"])
def test_progress_bar_on_a_terminal_only(
    world: dict[str, Any], tmp_path: Path, quiet: bool
) -> None:
    (world["builds"]["dash"] / "two-mb").write_bytes(os.urandom(2 << 20))
    args = ["-m", "jobterm", "cp", "-p", "demo/webapp", *(["-q"] if quiet else [])]
    args += [f"{JOBS['dash']}:two-mb", str(tmp_path / "two-mb")]
    child = pexpect.spawn(sys.executable, args, env=world["env"], timeout=scaled(120))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    shown = child.before.decode("utf-8", "replace")
    if quiet:
        assert shown == ""
    else:
        assert "download" in shown
        assert "2.1 MB" in shown  # rich counts decimal megabytes
    assert (tmp_path / "two-mb").stat().st_size == 2 << 20


def test_a_job_that_is_not_running(world: dict[str, Any], tmp_path: Path) -> None:
    err = failed(cp(world, f"{JOBS['done']}:x", tmp_path / "x"), 5)
    assert "jobterm debug" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("upload", [False, True], ids=["download", "upload"])
def test_no_terminal_or_not_signed_in_write_nothing(
    world: dict[str, Any], tmp_path: Path, upload: bool
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    ends = (
        [tmp_path / "f", f"{JOBS['noterm']}:f"]
        if upload
        else [f"{JOBS['noterm']}:f", tmp_path / "new"]
    )
    failed(cp(world, *ends), 6)
    signed_out = {**world, "env": auth_env_for(tmp_path / "nobody", world["sandbox"].url)}
    ends[1 if upload else 0] = f"{JOBS['dash']}:f"
    assert "jobterm login" in failed(cp(signed_out, *ends), 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "nobody"]
