"""Hostile archives from a job: one crafted archive per class, each refused with nothing
written (cp/archive.py, through cp/local.py's Landing as a download uses it)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from jobterm.cp import archive
from jobterm.cp.archive import UnsafeArchive, pack, unpack
from jobterm.cp.local import Landing
from jobterm.errors import ExitCode

Member = Callable[[tarfile.TarFile], None]


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))

    return add


def _special(name: str, kind: bytes, linkname: str = "", mode: int = 0o644) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = kind, linkname, mode
        tar.addfile(info)

    return add


def _dir(name: str) -> Member:
    return _special(name, tarfile.DIRTYPE, mode=0o755)


HOSTILE: dict[str, tuple[list[Member], str]] = {
    "absolute-name": ([_file("/tmp/jobterm-test-abs")], "absolute name"),
    "dot-dot": ([_file("../escaped")], "'..'"),
    "dot-dot-inside": ([_dir("a"), _file("a/../../escaped")], "'..'"),
    "absolute-symlink": ([_special("l", tarfile.SYMTYPE, "/etc/passwd")], "outside the copy"),
    "symlink-out": ([_special("l", tarfile.SYMTYPE, "../../outside")], "outside the copy"),
    "symlink-through-symlink": (
        [_special("l1", tarfile.SYMTYPE, "."), _special("l2", tarfile.SYMTYPE, "l1/../..")],
        "outside the copy",
    ),
    "write-through-symlink": (
        [
            _special("l", tarfile.SYMTYPE, "sub"),
            _dir("sub"),
            _special("sub2", tarfile.SYMTYPE, ".."),
        ],
        "outside the copy",
    ),
    "hardlink-absolute": ([_special("h", tarfile.LNKTYPE, "/etc/passwd")], "outside the copy"),
    "hardlink-out": ([_special("h", tarfile.LNKTYPE, "../x")], "outside the copy"),
    # Each link is inside when it comes; once x is replaced, b leads out of the copy.
    "link-retargeted-later": (
        [
            _dir("d1"),
            _dir("d1/d2"),
            _special("x", tarfile.SYMTYPE, "d1/d2"),
            _special("b", tarfile.SYMTYPE, "x/../../OUTSIDE-target"),
            _special("x", tarfile.SYMTYPE, "d1"),
        ],
        "link",
    ),
    "symlink-replaced-by-a-file": (
        [_special("x", tarfile.SYMTYPE, "d"), _dir("d"), _file("x")],
        "replaces",
    ),
    "hardlink-to-itself": ([_special("h", tarfile.LNKTYPE, "h")], "hard link"),
    "hardlink-ahead": (
        [_special("h", tarfile.LNKTYPE, "later"), _file("later")],
        "hard link",
    ),
    "hardlink-to-a-directory": ([_dir("d"), _special("h", tarfile.LNKTYPE, "d")], "hard link"),
    "char-device": ([_special("null", tarfile.CHRTYPE)], "device file"),
    "block-device": ([_special("disk", tarfile.BLKTYPE)], "device file"),
    "fifo": ([_special("pipe", tarfile.FIFOTYPE)], "fifo"),
    "setuid": ([_file("tool", mode=0o4755)], "setuid"),
    "setgid": ([_file("tool", mode=0o2755)], "setgid"),
}


def craft(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for add in members:
            add(tar)
    return path


@pytest.fixture(params=[True, False], ids=["tarfile-filters", "own-checks-only"])
def filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both guards: with tarfile's data filter, and as a Python without it would run."""
    monkeypatch.setattr(archive, "HAS_FILTERS", request.param and archive.HAS_FILTERS)
    return bool(request.param)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_nothing_is_written(
    tmp_path: Path, case: str, filters: bool
) -> None:
    members, says = HOSTILE[case]
    evil = craft(tmp_path / "evil.tar", members)
    root = tmp_path / "outer" / "copy"
    root.mkdir(parents=True)
    with pytest.raises(UnsafeArchive) as raised:
        unpack(evil, root)
    assert says in raised.value.message
    assert raised.value.exit_code == ExitCode.UNSAFE_ARCHIVE
    assert "\n" not in raised.value.message
    assert sorted(p.name for p in (tmp_path / "outer").iterdir()) == ["copy"]
    assert not Path("/tmp/jobterm-test-abs").exists()


def test_the_symlink_case_writes_nothing_through_the_link(tmp_path: Path) -> None:
    """A link inside the tree, then a file "through" another link pointing outside."""
    evil = craft(
        tmp_path / "evil.tar",
        [_special("out", tarfile.SYMTYPE, "../.."), _file("out/planted")],
    )
    root = tmp_path / "a" / "copy"
    root.mkdir(parents=True)
    with pytest.raises(UnsafeArchive):
        unpack(evil, root)
    assert not (tmp_path / "planted").exists()


def test_a_refused_download_leaves_the_destination_and_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    landing = Landing(dest, "dir")
    fd = landing.open()
    evil = craft(tmp_path / "evil.tar", HOSTILE["dot-dot"][0])
    os.write(fd, evil.read_bytes())
    evil.unlink()
    with pytest.raises(UnsafeArchive):
        landing.commit()
    landing.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_fair_tree_round_trips_through_pack_and_unpack(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "empty").mkdir(parents=True)
    (src / "sub dir").mkdir()
    (src / "sub dir" / "new\nline").write_bytes(b"n")
    (src / "x").write_bytes(b"x")
    (src / "x").chmod(0o600)
    (src / "link").symlink_to("sub dir/new\nline")
    spool = io.BytesIO()
    pack(src, spool)
    (tmp_path / "t.tar").write_bytes(spool.getvalue())
    with tarfile.open(tmp_path / "t.tar") as tar:  # who we are is not sent to the job
        assert {(m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()} == {(0, 0, "", "")}
    root = tmp_path / "out"
    root.mkdir()
    unpack(tmp_path / "t.tar", root)
    assert (root / "empty").is_dir()
    assert (root / "sub dir" / "new\nline").read_bytes() == b"n"
    assert stat.S_IMODE((root / "x").stat().st_mode) == 0o600
    assert os.readlink(root / "link") == "sub dir/new\nline"


def test_owners_from_the_job_are_not_kept(tmp_path: Path, filters: bool) -> None:
    def foreign(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("f")
        info.size, info.uid, info.gid, info.uname = 1, 12345, 12345, "nobody"
        tar.addfile(info, io.BytesIO(b"x"))

    root = tmp_path / "copy"
    root.mkdir()
    unpack(craft(tmp_path / "t.tar", [foreign]), root)
    assert (root / "f").stat().st_uid == os.getuid()


def test_modes_are_the_data_filters_with_or_without_it(tmp_path: Path, filters: bool) -> None:
    """Both paths give the same modes: a read-only directory from the job does not stop the
    files inside it (directories get the default mode), files keep at most rwxr-xr-x."""
    members = [
        _special("ro", tarfile.DIRTYPE, mode=0o555),
        _file("ro/f", mode=0o444),
        _file("open", mode=0o777),
        _file("none", mode=0o000),
    ]
    root = tmp_path / "copy"
    root.mkdir()
    unpack(craft(tmp_path / "t.tar", members), root)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [*root.iterdir(), root / "ro" / "f"]}
    assert mode == {"ro": 0o777 & ~archive.umask(), "f": 0o644, "open": 0o755, "none": 0o600}


def test_the_final_tree_is_checked_even_if_an_earlier_guard_let_it_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: bool
) -> None:
    """Defence in depth: with the order check gone, the retargeted link is still refused by
    the look at the tree as it ended, and the caller removes it."""
    monkeypatch.setattr(archive, "check_order", lambda members: None)
    evil = craft(tmp_path / "evil.tar", HOSTILE["link-retargeted-later"][0])
    root = tmp_path / "outer" / "copy"
    root.mkdir(parents=True)
    with pytest.raises(UnsafeArchive, match="leads outside the copy"):
        unpack(evil, root)


def test_check_tree_refuses_any_link_out_and_keeps_links_in(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    (root / "a" / "b").mkdir(parents=True)
    (root / "in").symlink_to("a/b")
    (root / "a" / "up").symlink_to("..")
    archive.check_tree(root)  # both resolve inside
    (root / "a" / "b" / "out").symlink_to("../../../elsewhere")
    with pytest.raises(UnsafeArchive, match="'a/b/out' is a link that leads outside"):
        archive.check_tree(root)
