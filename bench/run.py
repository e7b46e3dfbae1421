"""`make bench`: jobterm measured side by side with its floors and alternatives, in one run.

Prints a table (see bench/README.md for how to read it) and writes bench/results.json.
Everything runs on 127.0.0.1: a sandbox GitLab (`jobterm sandbox`), a throw-away sshd, local
PTYs. Every loop is bounded; a part that cannot run is reported as "n/a (reason)".

    python bench/run.py [--keystrokes N] [--size-mib N] [--paste-mb N] [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import latency
import report
import startup
import startup_vs
import throughput
from ptyrun import PtyProcess
from report import Figures, is_na, na
from sshd import Sshd
from world import BENCH_DIR, Unavailable, World, jobterm_argv

MiB = 1024 * 1024


def guarded(what: str, fn: Callable[[], Figures], debug: bool = False) -> Figures:
    """Run one measurement; any failure becomes n/a with a one-line reason."""
    try:
        return fn()
    except Unavailable as exc:
        return na(str(exc))
    except Exception as exc:
        if debug:
            traceback.print_exc()
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        print(f"  ({what}: {reason})", file=sys.stderr)
        return na(reason)


def has_command(env: dict[str, str], verb: str) -> bool:
    done = subprocess.run([*jobterm_argv(), verb, "--help"], env=env, capture_output=True)
    return done.returncode == 0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.world = World(config=startup_vs.FAN_OUT_CONFIG)
        self.world_error: str | None = None
        self.results: Figures = report.header()
        self.local_env = dict(self.world.env, PS1="$ ", HOME=str(self.world.tmp))

    def jobterm_or_na(self, verb: str) -> str | None:
        if self.world_error:
            return self.world_error
        if not has_command(self.world.env, verb):
            return f"`jobterm {verb}` not available"
        return None

    def attach_argv(self) -> list[str]:
        return [*jobterm_argv(), "attach", self.world.job_url()]

    def exec_argv(self) -> list[str]:
        return [*jobterm_argv(), "exec", self.world.job_url()]

    def spawn_attach(self) -> PtyProcess:
        self.world.wait_terminal_free()
        p = PtyProcess(self.attach_argv(), self.world.env)
        p.expect(b"attached to", 30)
        return p

    # -- sections ---------------------------------------------------------------------------

    def run_latency(self) -> None:
        n = self.args.keystrokes
        lat: Figures = {}
        step = f"latency ({n} keystrokes)"
        print(step, file=sys.stderr)
        lat["floor"] = guarded(
            "floor",
            lambda: latency.measure(
                lambda: PtyProcess(latency.BASH, self.local_env), n, latency.leave_shell
            ),
            self.args.debug,
        )
        missing = self.jobterm_or_na("attach")
        lat["jobterm"] = (
            na(missing)
            if missing
            else guarded(
                "jobterm",
                lambda: latency.measure(self.spawn_attach, n, latency.leave_attach),
                self.args.debug,
            )
        )
        lat["bare_ws"] = (
            na(self.world_error)
            if self.world_error
            else guarded(
                "bare WebSocket",
                lambda: latency.measure_bare_websocket(
                    self._ws_url(), self.world.cookie_header(), n
                ),
                self.args.debug,
            )
        )
        lat["ssh"] = (
            na("--no-ssh")
            if self.args.no_ssh
            else guarded("ssh", lambda: self._ssh(n), self.args.debug)
        )
        lat["goal"] = latency_goal(lat)
        self.results["latency"] = lat

    def _ssh(self, n: int) -> Figures:
        sshd = Sshd()
        try:
            sshd.start()
            argv = sshd.client_argv(" ".join(latency.BASH))
            return latency.measure(lambda: PtyProcess(argv, self.local_env), n, latency.leave_shell)
        finally:
            sshd.close()

    def run_output(self) -> None:
        size = self.args.size_mib * MiB
        print(f"output throughput ({self.args.size_mib} MiB x {self.args.repeat})", file=sys.stderr)
        keys = ("bare_ws", "bare_relay", "attach", "exec", "local_pty")
        runs: dict[str, list[Figures]] = {k: [] for k in keys}
        memory: list[Figures] = []
        pastes: list[Figures] = []
        attach_missing = self.jobterm_or_na("attach")
        exec_missing = self.jobterm_or_na("exec")
        for _ in range(self.args.repeat):
            runs["local_pty"].append(
                guarded("local PTY", lambda: self._local_stream(size), self.args.debug)
            )
            if self.world_error:
                break
            runs["bare_ws"].append(
                guarded("bare WebSocket", lambda: self._bare(size), self.args.debug)
            )
            runs["bare_relay"].append(
                guarded("bare relay", lambda: self._relay(size), self.args.debug)
            )
            if attach_missing is None:
                out, mem, pasted = self._attach_round(size)
                runs["attach"].append(out)
                memory.append(mem)
                pastes.append(pasted)
            if exec_missing is None:
                runs["exec"].append(guarded("exec", lambda: self._exec(size), self.args.debug))
        output: Figures = {"size_mib": self.args.size_mib}
        for key, values in runs.items():
            output[key] = best(values)
        if attach_missing:
            output["attach"] = na(attach_missing)
            pastes, memory = [na(attach_missing)], [na(attach_missing)]
        if exec_missing:
            output["exec"] = na(exec_missing)
        if self.world_error:
            output["bare_ws"] = output["bare_relay"] = na(self.world_error)
        output["goal"] = throughput_goal(output)
        self.results["output"] = output
        self.results["paste"] = best(pastes)
        exec_peaks = [v["peak_rss_kb"] for v in runs["exec"] if not is_na(v)]
        self.results["memory"] = {
            "attach": peak(memory),
            "exec": {"peak_kb": max(exec_peaks), "runs_kb": exec_peaks}
            if exec_peaks
            else output["exec"],
        }
        self.results["memory"]["goal"] = memory_goal(self.results["memory"])

    def run_cp(self) -> None:
        import cp_bench

        print(f"cp throughput ({self.args.cp_mib} MiB)", file=sys.stderr)
        missing = self.jobterm_or_na("cp")
        self.results["cp"] = (
            na(missing)
            if missing
            else guarded(
                "cp",
                lambda: cp_bench.measure(
                    self.world,
                    self.exec_argv(),
                    self.args.cp_mib * MiB,
                    self.world.wait_terminal_free,
                ),
                self.args.debug,
            )
        )

    def _local_stream(self, size: int) -> Figures:
        with PtyProcess(latency.BASH, self.local_env) as p:
            latency.shell_ready(p)
            result = throughput.through_pty(p, size)
            latency.leave_shell(p)
            return result

    def _ws_url(self) -> str:
        self.world.wait_terminal_free()
        return "ws" + self.world.job_url()[len("http") :] + "/terminal.ws"

    def _bare(self, size: int) -> Figures:
        return throughput.bare_websocket(self._ws_url(), self.world.cookie_header(), size)

    def _relay(self, size: int) -> Figures:
        relay = str(BENCH_DIR / "bare_relay.py")
        env = dict(self.world.env, JOBTERM_BENCH_COOKIE=self.world.cookie_header())
        with PtyProcess([sys.executable, relay, self._ws_url()], env) as p:
            p.expect(b"attached to", 30)
            p.write(b"stty rows 50 cols 200\r")  # what jobterm's set-up does
            latency.shell_ready(p)
            result = throughput.through_pty(p, size)
            p.write(b"\x1d")
            p.wait(20)
            return result

    def _exec(self, size: int) -> Figures:
        self.world.wait_terminal_free()
        out = self.world.tmp / "exec.out"
        return throughput.exec_to_file(self.exec_argv(), self.world.env, size, out)

    def _attach_round(self, size: int) -> tuple[Figures, Figures, Figures]:
        """One attach session: stream `size` out, paste in, watching jobterm's memory."""
        out: Figures = na("not run")
        pasted: Figures = na("not run")
        mem: Figures = na("not run")
        try:
            with self.spawn_attach() as p:
                latency.shell_ready(p)
                start_kb = p.vm_hwm_kb()
                out = guarded(
                    "attach output", lambda: throughput.through_pty(p, size), self.args.debug
                )
                after_out = p.vm_hwm_kb()
                data = throughput.paste_text(self.args.paste_mb * 1_000_000)
                pasted = guarded(
                    "paste", lambda: {**throughput.paste(p, data), "intact": True}, self.args.debug
                )
                mem = {"start_kb": start_kb, "after_output_kb": after_out, "peak_kb": p.vm_hwm_kb()}
                latency.leave_attach(p)
                # Not wait4's ru_maxrss: it counts the bench's own pages shared at fork().
        except Exception as exc:
            if self.args.debug:
                traceback.print_exc()
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            out = out if not is_na(out) or out["na"] != "not run" else na(reason)
        return out, mem, pasted

    def run_startup(self) -> None:
        print("start-up", file=sys.stderr)
        runs = self.args.startup_runs
        env = self.world.env
        start: Figures = {
            "python": guarded(
                "python",
                lambda: startup.median_of(
                    runs, lambda: startup.wall([sys.executable, "-c", "pass"], env)
                ),
            ),
            "version": guarded(
                "version",
                lambda: startup.median_of(
                    runs, lambda: startup.wall([*jobterm_argv(), "--version"], env)
                ),
            ),
        }
        start["completion"] = guarded("completion", lambda: self._completion(runs), self.args.debug)
        missing = self.jobterm_or_na("attach")
        start["attach_prompt"] = (
            na(missing)
            if missing
            else guarded(
                "attach prompt",
                lambda: startup.median_of(min(runs, 5), self._attach_prompt_once),
                self.args.debug,
            )
        )
        missing = self.jobterm_or_na("exec")
        start["exec_true"] = (
            na(missing)
            if missing
            else guarded(
                "exec true",
                lambda: startup.median_of(min(runs, 5), self._exec_true_once),
                self.args.debug,
            )
        )
        self.results["startup"] = start
        self.results["startup_vs"] = (
            na(self.world_error)
            if self.world_error
            else guarded("start-up vs the floors", lambda: startup_vs.measure(self.world, runs))
        )

    def run_debug(self) -> None:
        import debugbench

        print("debug and logs -f", file=sys.stderr)
        repeats = 3 if self.args.quick else 9
        found: Figures = {}
        for key, verb, measure in (
            ("debug_attach", "debug", debugbench.measure_debug),
            ("logs_follow", "logs", debugbench.measure_logs),
        ):
            missing = self.jobterm_or_na(verb)
            found[key] = (
                na(missing)
                if missing
                else guarded(key, lambda m=measure: m(repeats), self.args.debug)  # type: ignore[misc]
            )
        self.results["debug"] = found
        import watchbench

        missing = self.jobterm_or_na("watch")
        self.results["watch"] = (
            na(missing)
            if missing
            else guarded("watch", lambda: watchbench.measure_watch(repeats), self.args.debug)
        )

    def _attach_prompt_once(self) -> float:
        self.world.wait_terminal_free()
        return startup.attach_first_prompt(self.attach_argv(), self.world.env)

    def _exec_true_once(self) -> float:
        self.world.wait_terminal_free()
        return startup.wall([*self.exec_argv(), "--", "true"], self.world.env)

    def _completion(self, runs: int) -> Figures:
        import completion_probe

        if self.world_error:
            raise Unavailable(self.world_error)
        return completion_probe.measure(self.world, runs)

    # -- the whole run ----------------------------------------------------------------------

    def run(self) -> Figures:
        try:
            print("starting the sandbox and signing in", file=sys.stderr)
            self.world.start()
        except Exception as exc:
            self.world_error = f"sandbox/sign-in: {str(exc)[:100]}"
        try:
            self.run_startup()
            self.run_latency()
            self.run_output()
            self.run_debug()
            self.run_cp()
        finally:
            self.world.close()
        return self.results


def best(values: list[Figures]) -> Figures:
    """The fastest of the repeats (the least disturbed by the rest of the machine)."""
    good = [v for v in values if not is_na(v)]
    if not good:
        return values[0] if values else na("not run")
    return {**max(good, key=lambda v: v["mb_s"]), "runs": [round(v["mb_s"], 1) for v in good]}


def peak(values: list[Figures]) -> Figures:
    good = [v for v in values if not is_na(v) and v.get("peak_kb")]
    if not good:
        return values[0] if values else na("not run")
    return {
        "start_kb": min(v["start_kb"] or 0 for v in good),
        "peak_kb": max(v["peak_kb"] for v in good),
        "after_output_kb": max(v["after_output_kb"] or 0 for v in good),
    }


def latency_goal(lat: Figures) -> str:
    floor, ours, ssh = lat.get("floor"), lat.get("jobterm"), lat.get("ssh")
    if is_na(floor) or is_na(ours) or floor is None or ours is None:
        return "not measured"
    added = ours["median_ms"] - floor["median_ms"]
    under = added < 1.0
    verdict = f"jobterm adds {added:.3f} ms ({'< 1 ms' if under else '>= 1 ms'})"
    if ssh is None or is_na(ssh):
        return verdict + "; ssh not measured"
    ssh_added = ssh["median_ms"] - floor["median_ms"]
    ok = under and added <= ssh_added
    text = f"{'MET' if ok else 'NOT MET'}: {verdict}, ssh adds {ssh_added:.3f} ms"
    bare = lat.get("bare_ws")
    if bare is not None and not is_na(bare):
        client = ours["median_ms"] - bare["median_ms"]
        text += f"; of jobterm's, the client's own share is {client:.3f} ms (rest: the sandbox)"
    return text


def throughput_goal(out: Figures) -> str:
    bare = out.get("bare_ws")
    if bare is None or is_na(bare):
        return "not measured"
    verdicts = []
    for key in ("attach", "exec"):
        value = out.get(key)
        if value is None or is_na(value):
            verdicts.append(f"{key} n/a")
            continue
        ratio = value["mb_s"] / bare["mb_s"]
        verdicts.append(f"{key} {ratio:.0%} {'met' if ratio >= 0.9 else 'NOT met'}")
    relay, attach = out.get("bare_relay"), out.get("attach")
    if relay and attach and not is_na(relay) and not is_na(attach):
        verdicts.append(
            f"attach is {attach['mb_s'] / relay['mb_s']:.0%} of the bare relay to a PTY "
            "(the same terminal stage without jobterm)"
        )
    return ", ".join(verdicts)


def memory_goal(mem: Figures) -> str:
    attach = mem.get("attach")
    if attach is None or is_na(attach):
        return "not measured"
    growth = (attach["peak_kb"] - attach["start_kb"]) / 1024
    peaks = [attach["peak_kb"] / 1024]
    text = f"attach grew {growth:.1f} MiB from its prompt to its peak"
    exec_mem = mem.get("exec")
    if exec_mem is not None and not is_na(exec_mem):
        peaks.append(exec_mem["peak_kb"] / 1024)
        text += f"; exec peaked at {peaks[-1]:.1f} MiB"
    ok = max(peaks) < 100 and growth < 20
    return f"{'MET' if ok else 'NOT MET'}: {text}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keystrokes", type=int, default=1000)
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--paste-mb", type=int, default=10)
    parser.add_argument("--cp-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--no-ssh", action="store_true", help="skip the ssh column")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test of the bench"
    )
    parser.add_argument("--debug", action="store_true", help="tracebacks of failed parts")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.keystrokes, args.size_mib, args.paste_mb, args.repeat, args.startup_runs = (
            100,
            10,
            1,
            1,
            3,
        )
        args.cp_mib = 10
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    results = Bench(args).run()
    print(report.render(results))
    report.write_json(results, args.json)
    print(f"\n(written to {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
