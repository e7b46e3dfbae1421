"""jobterm ends without tearing the interpreter down (stdio.leave), and loses nothing by it:
what a normal exit does that anyone could see still happens, in every case that matters:

* buffered output, however large, reaches a pipe and a file;
* atexit functions run (logging's flush, `weakref.finalize` of temporary directories);
* a thread still running is waited for, as a normal exit waits;
* the exit status is the one given.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = """
import atexit, sys, tempfile, threading, time
from pathlib import Path
from jobterm.stdio import leave
out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
kept = tempfile.TemporaryDirectory(dir=out)  # its finalizer removes it at exit
(out / "tempdir").write_text(kept.name)
if sys.argv[2] == "thread":
    def late() -> None:
        time.sleep(0.3)
        (out / "thread").write_text("done")
    threading.Thread(target=late).start()
sys.stdout.write("x" * 3_000_000 + "end")
sys.stderr.write("last words")
leave(int(sys.argv[3]))
"""


@pytest.mark.parametrize("thread", ["thread", "alone"])
@pytest.mark.parametrize("code", [0, 3])
@pytest.mark.parametrize("to_file", [False, True])
def test_leaving_loses_nothing(tmp_path: Path, thread: str, code: int, to_file: bool) -> None:
    argv = [sys.executable, "-c", PROGRAM, str(tmp_path), thread, str(code)]
    if to_file:
        with (tmp_path / "stdout").open("wb") as sink:
            done = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, timeout=60)
        output = (tmp_path / "stdout").read_bytes()
    else:
        done = subprocess.run(argv, capture_output=True, timeout=60)
        output = done.stdout
    assert done.returncode == code, done.stderr
    assert output == b"x" * 3_000_000 + b"end"
    assert done.stderr == b"last words"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not Path((tmp_path / "tempdir").read_text()).exists()
    assert (tmp_path / "thread").exists() == (thread == "thread")
