"""cp's pure parts (core/cpscript.py), and its two sh programs run in real shells."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobterm.core.cpscript import (
    ALGORITHMS,
    GET_SCRIPT,
    MAX_HEADER,
    NAME,
    PUT_SCRIPT,
    BadStream,
    Checksum,
    GetStream,
    Header,
    RemoteStatus,
    Sums,
    parse_sum,
    put_argv,
    split_operand,
)

SHELLS = [
    pytest.param(argv, id=argv[0])
    for argv in (["bash"], ["dash"], ["busybox", "sh"])
    if shutil.which(argv[0])
]
AS_ROOT = os.geteuid() == 0


# ------------------------------------------------------------------ operands


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        ("123:report.xml", ("123", "report.xml")),
        ("123:", ("123", "")),
        ("123:/abs/path:with:colons", ("123", "/abs/path:with:colons")),
        ("group/app#45:a b", ("group/app#45", "a b")),
        (
            "https://gl.example:8443/g/p/-/jobs/9:out/x",
            ("https://gl.example:8443/g/p/-/jobs/9", "out/x"),
        ),
        ("123:new\nline", ("123", "new\nline")),
        ("./123:notes", None),
        ("notes:123", None),
        ("report.xml", None),
        ("C:file", None),
        ("", None),
    ],
)
def test_split_operand(operand: str, expected: tuple[str, str] | None) -> None:
    assert split_operand(operand) == expected


# ------------------------------------------------------------------ checksums


def _tool(argv: list[str], data: bytes) -> str:
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout.decode()


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=8))
def test_checksums_match_the_tools(data: bytes, cuts: list[int]) -> None:
    checksum = Checksum()
    pos = 0
    for size in [*cuts, len(data)]:
        checksum.update(data[pos : pos + size])
        pos += size
    sums = checksum.sums()
    assert sums.sha256 == hashlib.sha256(data).hexdigest()
    assert sums.cksum == " ".join(_tool(["cksum"], data).split()[:2])
    assert checksum.size == len(data)


def test_checksum_of_sizes_around_byte_boundaries() -> None:
    for size in (0, 1, 255, 256, 65535, 65536, 70000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        checksum = Checksum()
        checksum.update(data)
        assert checksum.sums().cksum == " ".join(_tool(["cksum"], data).split()[:2]), size


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ALGORITHMS), st.binary(max_size=3000), st.lists(st.integers(1, 500)))
def test_a_checksum_of_one_algorithm_computes_that_one_only(
    algorithm: str, data: bytes, cuts: list[int]
) -> None:
    one, both = Checksum((algorithm,)), Checksum()
    pos = 0
    for size in [*cuts, len(data)]:
        one.update(data[pos : pos + size])
        pos += size
    both.update(data)
    assert one.has(algorithm)
    assert one.value(algorithm) == both.sums().get(algorithm)
    other = next(a for a in ALGORITHMS if a != algorithm)
    assert not one.has(other)
    with pytest.raises(ValueError, match=other):
        one.value(other)


def test_a_checksum_knows_no_other_algorithm() -> None:
    with pytest.raises(ValueError, match="md5"):
        Checksum(("md5",))
    with pytest.raises(ValueError, match="checksums are among"):
        Checksum(())
    assert not Checksum().has("md5")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"sha256 " + b"a" * 64 + b"\n", ("sha256", "a" * 64)),
        (b"cksum 4294967295 0\r\n", ("cksum", "4294967295 0")),
        (b"sha256 " + b"A" * 64, None),
        (b"sha256 abc", None),
        (b"cksum 1", None),
        (b"md5 x", None),
        (b"", None),
    ],
)
def test_parse_sum(line: bytes, parsed: tuple[str, str] | None) -> None:
    assert parse_sum(line) == parsed


# ------------------------------------------------------------------ the download stream


def _stream(header: bytes, payload: bytes) -> bytes:
    return header + b"\n" + payload


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte-by-byte"])
def test_get_stream_splits_header_and_payload(bytewise: bool) -> None:
    data = _stream(b"jobterm-cp file 5 x cksum", b"\n\x00ab\n")
    stream = GetStream()
    pieces = (
        [p for i in range(len(data)) for p in stream.feed(data[i : i + 1])]
        if bytewise
        else stream.feed(data)
    )
    assert pieces[0] == Header("file", 5, executable=True, algorithm="cksum")
    assert b"".join(p for p in pieces[1:] if isinstance(p, bytes)) == b"\n\x00ab\n"
    assert stream.received == 5


@settings(max_examples=200)
@given(
    st.binary(max_size=300),
    st.lists(st.integers(1, 40), max_size=20),
    st.sampled_from(["file", "dir"]),
    st.sampled_from(ALGORITHMS),
)
def test_get_stream_any_chunking(
    payload: bytes, cuts: list[int], kind: str, algorithm: str
) -> None:
    data = _stream(f"jobterm-cp {kind} {len(payload)} - {algorithm}".encode(), payload)
    stream = GetStream()
    pieces: list[Header | bytes] = []
    pos = 0
    for size in [*cuts, len(data)]:
        pieces += stream.feed(data[pos : pos + size])
        pos += size
    headers = [p for p in pieces if isinstance(p, Header)]
    assert headers == [Header(kind, len(payload), False, algorithm)]
    assert pieces[0] == headers[0]
    assert b"".join(p for p in pieces if isinstance(p, bytes)) == payload


@pytest.mark.parametrize(
    "data",
    [
        b"Welcome to the job\n",
        b"jobterm-cp file -1 x sha256\n",
        b"jobterm-cp fifo 1 x sha256\n",
        b"jobterm-cp file 1 sha256\n",
        b"jobterm-cp file 1 x\n",
        b"jobterm-cp file 1 x md5\n",
        b"jobterm-cp file 1 x sha256 \n",
        b"x" * (MAX_HEADER + 1),
    ],
)
def test_get_stream_refuses_what_is_not_our_header(data: bytes) -> None:
    with pytest.raises(BadStream):
        GetStream().feed(data)


# ------------------------------------------------------------------ the programs, in real shells


def _run(  # type: ignore[no-untyped-def]
    shell: list[str],
    script: bytes,
    args: list[bytes],
    build: Path,
    stdin: bytes = b"",
    path: str = os.defpath + ":/usr/local/bin",
):
    env = {
        "PATH": path,
        "CI_PROJECT_DIR": str(build),
        "CI_JOB_ID": "7",
        "TMPDIR": str(build.parent),
    }
    argv = [shutil.which(shell[0]) or shell[0], *shell[1:], "-c", script, NAME, *args]
    return subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=60)


def _sums(data: bytes) -> Sums:
    checksum = Checksum()
    checksum.update(data)
    return checksum.sums()


@pytest.mark.parametrize("shell", SHELLS)
def test_get_program(shell: list[str], tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    data = os.urandom(3000) + b"\r\n\x03"
    (build / "-dash name\n").write_bytes(data)
    done = _run(shell, GET_SCRIPT, [b"-dash name\n"], build)
    assert done.returncode == RemoteStatus.OK, done.stderr
    header, _, payload = done.stdout.partition(b"\n")
    assert header == b"jobterm-cp file %d - sha256" % len(data)
    assert payload == data
    assert parse_sum(done.stderr) == ("sha256", _sums(data).sha256)
    assert [p.name for p in tmp_path.iterdir()] == ["build"]  # its temporary is gone


#: What the programs call besides a sha256 tool.
PROGRAM_TOOLS = ["cat", "wc", "tr", "du", "mktemp", "rm", "mkfifo", "tee", "tar", "chmod", "mv"]
PROGRAM_TOOLS += ["mkdir", "cksum"]


def _tools(folder: Path, extra: list[str]) -> Path:
    folder.mkdir()
    for tool in [*PROGRAM_TOOLS, *extra]:
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return folder


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("tools", "algorithm"),
    [
        ("openssl", "sha256"),
        ("openssl without -r", "sha256"),
        ("sha256sum", "sha256"),
        ("neither", "cksum"),
    ],
)
def test_the_programs_use_the_sha256_tool_that_works(
    shell: list[str], tmp_path: Path, tools: str, algorithm: str
) -> None:
    """openssl where it gives the right digest, else sha256sum, else cksum; the download
    announces which in its header, both programs answer it, and jobterm's value agrees."""
    real = shutil.which("openssl")
    if tools == "openssl" and real is None:
        pytest.skip("no openssl here")
    bindir = _tools(tmp_path / "bin", [] if tools == "neither" else ["sha256sum"])
    calls = tmp_path / "openssl-calls"
    if tools == "openssl":
        _executable(bindir / "openssl", f'#!/bin/sh\necho "$*" >>"{calls}"\nexec "{real}" "$@"\n')
    elif tools == "openssl without -r":
        _executable(bindir / "openssl", "#!/bin/sh\necho \"unknown option '-r'\" >&2\nexit 1\n")
    build = tmp_path / "build"
    build.mkdir()
    data = os.urandom(70_000)
    (build / "f").write_bytes(data)
    expected = (algorithm, _sums(data).get(algorithm))

    got = _run(shell, GET_SCRIPT, [b"f"], build, path=str(bindir))
    assert got.returncode == RemoteStatus.OK, got.stderr
    header, _, payload = got.stdout.partition(b"\n")
    assert header == b"jobterm-cp file 70000 - " + algorithm.encode()
    assert payload == data
    assert parse_sum(got.stderr) == expected

    argv = list(put_argv(b"g", "file", b"g", 0o644, _sums(data))[4:])
    put = _run(shell, PUT_SCRIPT, argv, build, stdin=data, path=str(bindir))
    assert put.returncode == RemoteStatus.OK, put.stderr
    assert parse_sum(put.stdout) == expected
    assert (build / "g").read_bytes() == data
    if tools == "openssl":  # the probe, then the sum, in each program
        assert calls.read_text().splitlines() == ["dgst -sha256 -r"] * 4


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("path", "status"),
    [
        (b"missing", RemoteStatus.NOT_FOUND),
        (b"fifo", RemoteStatus.NOT_REGULAR),
        (b"dangling", RemoteStatus.NOT_FOUND),
    ],
)
def test_get_program_failures(shell: list[str], tmp_path: Path, path: bytes, status: int) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dangling").symlink_to("nowhere")
    done = _run(shell, GET_SCRIPT, [path], tmp_path)
    assert done.returncode == status
    assert done.stdout == b""


@pytest.mark.parametrize("shell", SHELLS)
def test_put_program_writes_verified_bytes_only(shell: list[str], tmp_path: Path) -> None:
    data = os.urandom(2000)
    argv = list(put_argv(b"f", "file", b"f", 0o640, _sums(data))[4:])
    done = _run(shell, PUT_SCRIPT, argv, tmp_path, stdin=data)
    assert done.returncode == RemoteStatus.OK, done.stderr
    assert (tmp_path / "f").read_bytes() == data
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640
    assert parse_sum(done.stdout) == ("sha256", _sums(data).sha256)
    bad = _run(shell, PUT_SCRIPT, argv, tmp_path, stdin=data[:-1] + bytes([data[-1] ^ 1]))
    assert bad.returncode == RemoteStatus.MISMATCH
    assert (tmp_path / "f").read_bytes() == data  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("dest", "kind", "status"),
    [
        (b"nowhere/f", "file", RemoteStatus.NOT_FOUND),
        (b"newdir/", "file", RemoteStatus.NOT_FOUND),
        (b"adir", "dir", RemoteStatus.NAME_TAKEN),  # adir/x exists
        (b"adir/", "dir", RemoteStatus.NAME_TAKEN),
        (b"adir", "file", RemoteStatus.NAME_TAKEN),  # adir/x is a directory
        (b"afile", "dir", RemoteStatus.IN_THE_WAY),
    ],
)
def test_put_program_refusals(
    shell: list[str], tmp_path: Path, dest: bytes, kind: str, status: int
) -> None:
    (tmp_path / "adir" / "x").mkdir(parents=True)
    (tmp_path / "afile").write_bytes(b"keep")
    argv = put_argv(dest, kind, b"x", 0o755, _sums(b""))[4:]
    done = _run(shell, PUT_SCRIPT, list(argv), tmp_path)
    assert done.returncode == status
    assert (tmp_path / "afile").read_bytes() == b"keep"
    assert not any(p.name.startswith(".jobterm-cp") for p in tmp_path.rglob("*"))


@pytest.fixture
def unprivileged() -> Iterator[tuple[list[str], Path]]:
    """A prefix that runs a command as a user without privileges, and a folder it may use
    (as root, permission bits would not stop anything)."""
    if not AS_ROOT:
        folder = Path(tempfile.mkdtemp(prefix="jobterm-cp-perm-"))
        yield [], folder
    elif shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    else:
        folder = Path(tempfile.mkdtemp(prefix="jobterm-cp-perm-"))
        os.chown(folder, 65534, 65534)
        yield ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], folder
    for path in folder.iterdir():
        path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_permission_denied_both_programs(
    shell: list[str], unprivileged: tuple[list[str], Path]
) -> None:
    prefix, folder = unprivileged
    (folder / "locked").mkdir()
    (folder / "locked" / "f").write_bytes(b"x")
    (folder / "unreadable").write_bytes(b"x")
    (folder / "unreadable").chmod(0)
    (folder / "ro").mkdir(mode=0o555)
    for path in (folder / "locked", folder / "unreadable", folder / "ro"):
        os.chown(path, os.getuid(), os.getgid())  # not the user's own
    (folder / "locked").chmod(0o700)
    argv = [*prefix, *shell]
    assert _run(argv, GET_SCRIPT, [b"unreadable"], folder).returncode == RemoteStatus.DENIED
    assert _run(argv, GET_SCRIPT, [b"locked"], folder).returncode == RemoteStatus.DENIED
    put = put_argv(b"ro/f", "file", b"f", 0o644, _sums(b""))[4:]
    assert _run(argv, PUT_SCRIPT, list(put), folder).returncode == RemoteStatus.DENIED
    assert list((folder / "ro").iterdir()) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_leftovers_of_this_job_are_swept_and_no_others(shell: list[str], tmp_path: Path) -> None:
    """What a killed session of this job left is removed; another job's copy (a shared
    folder such as /tmp) is left alone, and so are the user's own files."""
    (tmp_path / ".jobterm-cp.7.AbCdEf").write_bytes(b"stale")
    (tmp_path / ".jobterm-cp.7.XyZwVu.d").mkdir()
    (tmp_path / ".jobterm-cp.8.AbCdEf").write_bytes(b"another job's, in flight")
    (tmp_path / ".jobterm-cp.7").write_bytes(b"not ours: no random part")
    argv = put_argv(b"f", "file", b"f", 0o644, _sums(b"x"))[4:]
    assert _run(shell, PUT_SCRIPT, list(argv), tmp_path, stdin=b"x").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".jobterm-cp.7",
        ".jobterm-cp.8.AbCdEf",
        "f",
    ]
