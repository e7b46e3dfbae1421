"""The printed table and bench/results.json.

Every figure is either a number or `{"na": "reason"}`; the table prints the latter as
"n/a (reason)" so a missing part never hides the others.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

Figures = dict[str, Any]


def na(reason: str) -> Figures:
    return {"na": reason}


def is_na(value: Any) -> bool:
    return isinstance(value, dict) and "na" in value


def _ms(value: float) -> str:
    return f"{value:8.3f} ms"


def _row(label: str, *cells: str) -> str:
    return f"  {label:<38}" + "".join(f"{c:>16}" for c in cells)


def _na_row(label: str, value: Figures) -> str:
    return f"  {label:<38}  n/a ({value['na']})"


def latency_lines(lat: Figures) -> list[str]:
    lines = ["Keystroke round-trip", _row("", "median", "p99", "added (median)")]
    floor = lat.get("floor")
    base = floor["median_ms"] if floor and not is_na(floor) else None
    for key, label in (
        ("floor", "local PTY + bash (floor)"),
        ("jobterm", "jobterm attach -> sandbox"),
        ("bare_ws", "bare WebSocket client -> sandbox"),
        ("ssh", "ssh -> sshd on 127.0.0.1"),
    ):
        value = lat.get(key)
        if value is None:
            continue
        if is_na(value):
            lines.append(_na_row(label, value))
            continue
        added = "" if base is None or key == "floor" else f"+{value['median_ms'] - base:.3f} ms"
        lines.append(_row(label, _ms(value["median_ms"]), _ms(value["p99_ms"]), added))
    goal = lat.get("goal")
    if goal:
        lines.append(f"  goal (added <= ssh's, < 1 ms median): {goal}")
    return lines


def throughput_lines(out: Figures) -> list[str]:
    lines = [
        f"Output throughput ({out.get('size_mib', '?')} MiB)",
        _row("", "MiB/s", "vs bare WS", "client CPU s"),
    ]
    bare = out.get("bare_ws")
    ceiling = bare["mb_s"] if bare and not is_na(bare) else None
    for key, label in (
        ("bare_ws", "bare WebSocket reader (ceiling)"),
        ("bare_relay", "bare WebSocket relay -> PTY"),
        ("attach", "jobterm attach -> PTY"),
        ("exec", "jobterm exec -> file"),
        ("local_pty", "local PTY + bash (reference)"),
    ):
        value = out.get(key)
        if value is None:
            continue
        if is_na(value):
            lines.append(_na_row(label, value))
            continue
        ratio = "" if ceiling is None or key == "bare_ws" else f"{value['mb_s'] / ceiling:.0%}"
        cpu = f"{value['cpu_s']:.2f}" if key != "local_pty" and "cpu_s" in value else ""
        lines.append(_row(label, f"{value['mb_s']:.1f}", ratio, cpu))
    if out.get("goal"):
        lines.append(f"  goal (>= 90% of the bare reader): {out['goal']}")
    return lines


def paste_lines(paste: Figures) -> list[str]:
    if is_na(paste):
        return ["Paste into attach", _na_row("", paste)]
    return [
        f"Paste into attach ({paste['bytes'] / 1e6:.1f} MB, sha256 checked in the job)",
        _row(
            "jobterm attach",
            f"{paste['mb_s']:.1f} MiB/s",
            "intact" if paste["intact"] else "CORRUPT",
        ),
    ]


def startup_lines(start: Figures) -> list[str]:
    lines = ["Start-up", _row("", "median", "vs python")]
    floor = start.get("python")
    base = floor["median_ms"] if floor and not is_na(floor) else None
    for key, label in (
        ("python", "python -c pass (floor)"),
        ("version", "jobterm --version"),
        ("completion", "completion from the cache"),
        ("attach_prompt", "attach: first byte of the prompt"),
        ("exec_true", "exec -- true: exit status"),
    ):
        value = start.get(key)
        if value is None:
            continue
        if is_na(value):
            lines.append(_na_row(label, value))
            continue
        ratio = "" if base is None or key == "python" else f"x{value['median_ms'] / base:.1f}"
        lines.append(_row(label, _ms(value["median_ms"]), ratio))
    return lines


def startup_vs_lines(vs: Figures) -> list[str]:
    """Each row: ours and its floor (median wall, CPU), the ratios, and the goal."""
    lines = ["Start-up vs the floors (wall/CPU)", _row("", "ours", "floor", "wall x", "CPU x")]
    if is_na(vs):
        return [*lines, _na_row("all", vs)]
    goals = {
        "exec_true": "goal <= 1.4x wall, <= 1.5x CPU",
        "attach_prompt": "goal <= 1.25x",
        "completion": "goal <= python + 100 ms",
    }
    for key, label in (
        ("exec_true", "exec -- true vs baseline_exec"),
        ("exec_typer", "  the same, typer's parser"),
        ("exec_keyring", "  the same, session in a keyring"),
        ("attach_prompt", "attach: first prompt byte vs bare_relay"),
        ("attach_instructions", "  the same in instructions (callgrind)"),
        ("attach_typer", "  the same, typer's parser"),
        ("attach_keyring", "  the same, session in a keyring"),
        ("exec_tls", "exec -- true over wss (TLS)"),
        ("attach_tls", "attach over wss (TLS)"),
        ("help", "--help vs python -c pass"),
        ("exec_help", "exec --help vs python -c pass"),
        ("completion", "completion (cache) vs python"),
        ("fan_out", "exec in 10 jobs: 1 call vs 10 calls"),
    ):
        row = vs.get(key)
        if row is None:
            continue
        if is_na(row):
            lines.append(_na_row(label, row))
            continue
        if key == "attach_instructions":
            lines.append(_instructions_row(label, row))
            continue
        ours, floor = row["ours"], row["floor"]
        cells = [
            f"{ours['wall_ms']:.0f}/{ours['cpu_ms']:.0f} ms",
            f"{floor['wall_ms']:.0f}/{floor['cpu_ms']:.0f} ms",
            f"x{row['wall_x']:.2f}",
            f"x{row['cpu_x']:.2f}" if row.get("cpu_x") else "",
        ]
        lines.append(_row(label, *cells))
        if key in goals:
            lines.append(f"  {_verdict(key, row)}: {goals[key]}{_spread(row)}")
    return lines


def _instructions_row(label: str, row: Figures) -> str:
    cells = [f"{row['ours_m']:.0f} M", f"{row['floor_m']:.0f} M", f"x{row['x']:.3f}"]
    own = row.get("own_x")
    if own is None:
        return _row(label, *cells, "")
    return _row(label, *cells, "") + f" (x{own:.2f} above python's own {row['python_m']:.0f} M)"


def _spread(row: Figures) -> str:
    """The per-pair wall ratios' quartiles: how far the median can be trusted."""
    pair = row.get("pair_x")
    if not pair:
        return ""
    return f"; {row['runs']} pairs, ratio quartiles x{pair['q1']:.2f}-x{pair['q3']:.2f}"


def _verdict(key: str, row: Figures) -> str:
    if key == "exec_true":
        met = row["wall_x"] <= 1.4 and (row.get("cpu_x") or 0) <= 1.5
    elif key == "attach_prompt":
        met = row["wall_x"] <= 1.25
    else:
        added = row["ours"]["wall_ms"] - row["floor"]["wall_ms"]
        return f"{'MET' if added <= 100 else 'NOT MET'} (adds {added:.0f} ms)"
    return "MET" if met else "NOT MET"


def memory_lines(mem: Figures, size_mib: Any = "?") -> list[str]:
    lines = ["Peak RSS of jobterm (VmHWM)", _row("", "at prompt", "peak", "")]
    for key, label in (
        ("attach", f"attach: {size_mib} MiB out + the paste"),
        ("exec", f"exec: {size_mib} MiB out"),
    ):
        value = mem.get(key)
        if value is None:
            continue
        if is_na(value):
            lines.append(_na_row(label, value))
            continue
        start = f"{value['start_kb'] / 1024:.1f} MiB" if value.get("start_kb") else ""
        lines.append(_row(label, start, f"{value['peak_kb'] / 1024:.1f} MiB"))
    if mem.get("goal"):
        lines.append(f"  goal (flat, well under 100 MiB): {mem['goal']}")
    return lines


def render(results: Figures) -> str:
    parts: list[list[str]] = [
        [f"jobterm benchmarks, {results['when']}, {results['machine']}"],
        latency_lines(results.get("latency", {})),
        throughput_lines(results.get("output", {})),
        paste_lines(results.get("paste", na("not run"))),
        startup_lines(results.get("startup", {})),
        startup_vs_lines(results.get("startup_vs", na("not run"))),
        memory_lines(results.get("memory", {}), results.get("output", {}).get("size_mib", "?")),
    ]
    if "debug" in results:
        import debugbench

        parts.append(debugbench.lines(results["debug"]))
    if "watch" in results:
        import watchbench

        parts.append(watchbench.lines(results["watch"]))
    if "cp" in results:
        import cp_bench

        parts.append(cp_bench.lines(results["cp"], _row))
    return "\n\n".join("\n".join(p) for p in parts)


def header() -> Figures:
    import os

    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}",
    }


def write_json(results: Figures, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n")
