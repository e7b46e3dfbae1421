"""A throw-away `sshd` on 127.0.0.1, the everyday alternative jobterm is compared with.

Host key and user key are generated in a temporary directory; the daemon runs in the
foreground (`-D`) on a free port, with PAM, MOTD and last-log off so that nothing but the
shell is measured. If OpenSSH is missing and we are root on a Debian-like system, it is
installed with apt-get (the bench set-up); if anything fails, `start()` raises `Unavailable`
and the ssh column says why.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from world import Unavailable

SSHD = "/usr/sbin/sshd"


def ensure_openssh() -> None:
    if Path(SSHD).exists() and shutil.which("ssh") and shutil.which("ssh-keygen"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("OpenSSH server not installed (apt-get install openssh-server)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "openssh-server", "openssh-client"],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, timeout=600)
        if done.returncode != 0:
            raise Unavailable(f"`{' '.join(argv[:2])}` failed installing OpenSSH")
    if not Path(SSHD).exists():
        raise Unavailable("OpenSSH server still missing after apt-get")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sshd:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jobterm-bench-ssh-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = getpass.getuser()

    def start(self) -> None:
        ensure_openssh()
        d = self.dir
        for name in ("host_key", "user_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                check=True,
                capture_output=True,
            )
        (d / "authorized_keys").write_bytes((d / "user_key.pub").read_bytes())
        os.chmod(d / "authorized_keys", 0o600)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        self.port = free_port()
        config = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {d / 'host_key'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            f"PidFile {d / 'sshd.pid'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin yes",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
        ]
        (d / "sshd_config").write_text("\n".join(config) + "\n")
        log = (d / "sshd.log").open("wb")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (d / "sshd.log").read_text(errors="replace")[-200:]
                raise Unavailable(f"sshd exited: {tail.strip()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            time.sleep(0.05)
        raise Unavailable("sshd did not start listening")

    def client_argv(self, command: str) -> list[str]:
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-tt",
            "-i",
            str(self.dir / "user_key"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            f"UserKnownHostsFile={self.dir / 'known_hosts'}",
            "-o",
            "LogLevel=ERROR",
            *_no_keystroke_obscuring(),
            "-p",
            str(self.port),
            f"{self.user}@127.0.0.1",
            command,
        ]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _no_keystroke_obscuring() -> list[str]:
    """OpenSSH >= 9.5 sends chaff to hide keystroke timing; it would make ssh look slow."""
    probe = subprocess.run(
        ["ssh", "-G", "-o", "ObscureKeystrokeTiming=no", "127.0.0.1"],
        capture_output=True,
        timeout=10,
    )
    return ["-o", "ObscureKeystrokeTiming=no"] if probe.returncode == 0 else []
