"""`jobterm cp` throughput, side by side with the bare WebSocket reader of the same job.

Download: a file of random bytes made in the job with `head -c N /dev/urandom`, copied to a
local file. Upload: a local file of random bytes copied into the job. Each rate counts from
the first byte landing in the copy's temporary file (here for a download, in the job's
build directory for an upload) to cp's exit, which includes the checksum comparison and the
rename; start-up (sign-in check, REST pre-checks, the shell) is start-up's row. The bare
reader is `throughput.bare_websocket` on a stream of the same size, in the same minute.

What bounds an upload: the input side. jobterm sends base64 lines (4/3 of the bytes) in
frames of at most 16 KiB, the job's PTY takes them through its line discipline, and
`sed | base64 -d` decode them before `cat` writes the file; then the job checksums it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import throughput
from report import Figures, is_na, na

MiB = 1024 * 1024
REMOTE_DOWN = ".bench-cp-down.bin"
REMOTE_UP = ".bench-cp-up.bin"


def _run(argv: list[str], env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[-3:]} exited {done.returncode}: {done.stderr[-200:]!r}")
    return done.stdout.decode()


def _timed_until_exit(argv: list[str], env: dict[str, str], folder: Path) -> tuple[float, float]:
    """(seconds from the first byte in a `.jobterm-cp` temporary in `folder` to the exit,
    seconds from start to exit)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first: float | None = None
    while proc.poll() is None:
        if first is None and _temp_has_bytes(folder):
            first = time.perf_counter()
        time.sleep(0.002 if first is None else 0.01)
    end = time.perf_counter()
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"cp exited {proc.returncode}: {err.strip()[-200:]}")
    return end - (first if first is not None else start), end - start


def _temp_has_bytes(folder: Path) -> bool:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if entry.name.startswith(".jobterm-cp"):
            try:
                if entry.stat().st_size > 0:
                    return True
            except OSError:
                continue
    return False


def measure(world: Any, exec_argv: list[str], size: int, wait_free: Callable[[], None]) -> Figures:
    """Bare reader, cp download and cp upload of `size` bytes; rates in MiB/s."""
    from world import jobterm_argv

    env = world.env
    job = world.job_url()
    cp = [*jobterm_argv(), "cp", "-q"]
    wait_free()
    build = Path(_run([*exec_argv, "-c", 'printf %s "$CI_PROJECT_DIR"'], env))
    wait_free()
    _run([*exec_argv, "-c", f"head -c {size} /dev/urandom > {REMOTE_DOWN}"], env)
    local = world.tmp / "cp-bench"
    local.mkdir(exist_ok=True)
    results: Figures = {"size_mib": round(size / MiB)}
    wait_free()
    ws_url = "ws" + job[len("http") :] + "/terminal.ws"
    results["bare_ws"] = throughput.bare_websocket(ws_url, world.cookie_header(), size)
    wait_free()
    down = local / "down.bin"
    streaming, total = _timed_until_exit([*cp, f"{job}:{REMOTE_DOWN}", str(down)], env, local)
    got = down.stat().st_size
    down.unlink()
    if got != size:
        raise RuntimeError(f"download has {got} of {size} bytes")
    results["download"] = _rates(size, streaming, total)
    up = local / "up.bin"
    up.write_bytes(os.urandom(size))
    wait_free()
    streaming, total = _timed_until_exit([*cp, str(up), f"{job}:{REMOTE_UP}"], env, build)
    results["upload"] = _rates(size, streaming, total)
    up.unlink()
    wait_free()
    _run([*exec_argv, "--", "rm", "-f", REMOTE_DOWN, REMOTE_UP], env)
    results["goal"] = goal(results)
    return results


def _rates(size: int, streaming: float, total: float) -> Figures:
    return {
        "mb_s": size / MiB / streaming,
        "seconds": streaming,
        "total_seconds": total,
        "total_mb_s": size / MiB / total,
    }


def goal(results: Figures) -> str:
    bare, down, up = results.get("bare_ws"), results.get("download"), results.get("upload")
    if not bare or is_na(bare) or not down or is_na(down):
        return "not measured"
    ratio = down["mb_s"] / bare["mb_s"]
    text = f"download {ratio:.0%} of the bare reader ({'met' if ratio >= 0.8 else 'NOT met'})"
    if up and not is_na(up):
        text += (
            f"; upload {up['mb_s']:.1f} MiB/s, bound by the input side "
            "(base64 in frames of at most 16 KiB, the PTY, sed | base64 -d in the job)"
        )
    return text


def lines(results: Figures, row: Callable[..., str]) -> list[str]:
    if is_na(results):
        return ["cp throughput", f"  n/a ({results['na']})"]
    head = [
        f"cp throughput ({results.get('size_mib', '?')} MiB, random bytes, sha256 both sides)",
        row("", "MiB/s", "vs bare WS", "with start-up"),
    ]
    bare = results.get("bare_ws") or na("not run")
    for key, label in (
        ("bare_ws", "bare WebSocket reader (ceiling)"),
        ("download", "jobterm cp JOB:file -> file"),
        ("upload", "jobterm cp file -> JOB:file"),
    ):
        value = results.get(key)
        if value is None or is_na(value):
            head.append(f"  {label:<38}  n/a")
            continue
        ratio = "" if key == "bare_ws" or is_na(bare) else f"{value['mb_s'] / bare['mb_s']:.0%}"
        with_start = f"{value['total_mb_s']:.1f}" if "total_mb_s" in value else ""
        head.append(row(label, f"{value['mb_s']:.1f}", ratio, with_start))
    head.append(f"  goal (download >= 80% of the bare reader): {results.get('goal')}")
    return head


def main() -> int:
    """Only the cp row, `--repeat` times: `python bench/cp_bench.py [--size-mib N] [--repeat N]`."""
    import argparse
    import statistics

    from world import World, jobterm_argv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"bare_ws": [], "download": [], "upload": []}
    with World() as world:
        world.start()
        exec_argv = [*jobterm_argv(), "exec", world.job_url()]
        for n in range(args.repeat):
            results = measure(world, exec_argv, args.size_mib * MiB, world.wait_terminal_free)
            for key, values in runs.items():
                values.append(results[key]["mb_s"])
            print(f"run {n + 1}: " + _row({k: v[-1] for k, v in runs.items()}), flush=True)
    print("medians: " + _row({k: statistics.median(v) for k, v in runs.items()}))
    return 0


def _row(rates: dict[str, float]) -> str:
    ratio = rates["download"] / rates["bare_ws"]
    return (
        f"bare {rates['bare_ws']:.1f}  download {rates['download']:.1f} ({ratio:.0%} of bare)  "
        f"upload {rates['upload']:.1f} MiB/s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
