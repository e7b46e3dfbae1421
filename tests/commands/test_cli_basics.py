from __future__ import annotations

import subprocess
import sys

from jobterm import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobterm", *args], capture_output=True, text=True, timeout=60
    )


def test_version_prints_package_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"jobterm {__version__}"


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    result = run("--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No such option" in result.stderr


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Debug a running GitLab CI job" in result.stdout


def test_debug_traceback_goes_through_redaction(capsys) -> None:
    from jobterm import boundary

    try:
        raise RuntimeError("Cookie: _gitlab_session=deadbeefcafe1234")
    except RuntimeError:
        boundary._print_traceback()
    err = capsys.readouterr().err
    assert "RuntimeError" in err
    assert "deadbeefcafe1234" not in err


def test_a_reader_that_goes_away_is_not_an_error() -> None:
    # `jobterm … | head`: when the reader closes the pipe, jobterm exits 0 without a word.
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobterm", "sandbox", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b""
