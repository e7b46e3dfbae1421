"""Jobs' scripts, really run: what a GitLab Runner's shell executor does with `script:`.

Theory of operation. A job with `script = [...]` gets, when it becomes running and the runner's
preparation (`prepare_seconds`) is over, one shell
process (bash, else sh) in a new session, in the job's build directory, with all the job's
variables, whatever the executor (executors.py; its terminal's shell gets other ones). The
shell reads a script from its stdin that echoes each command as "$ command" (bold green)
then runs it, under `set -eo pipefail` as the runner's prologue does, so the first failing
command ends the script with its status. Everything it writes (stdout and stderr, in one
stream) is appended to the job's log as it comes, up to OUTPUT_LIMIT. When the shell exits,
its status goes to the job life: `end_script(job, now, success|failed)`, which holds the job
for an attached terminal or finishes it (lifecycle.py).

A job that reaches a final status while its script runs (canceled) has the shell's whole
process group killed; so does stopping the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
from pathlib import Path

from jobterm.sandbox import runnerlog
from jobterm.sandbox.executors import script_place
from jobterm.sandbox.pty import SESSION_MARK, new_session_mark, signal_marked_session
from jobterm.sandbox.state import FINISHED, Job, SandboxState

log = logging.getLogger("jobterm.sandbox.script")

READ_CHUNK = 64 * 1024
OUTPUT_LIMIT = 4 * 1024 * 1024  # the runner's default output_limit (4096 KiB)


class ScriptRunner:
    """Runs the scripts of jobs as they start; see the module docstring."""

    def __init__(self, state: SandboxState, work_dir: Path) -> None:
        self.state = state
        self.work_dir = work_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._marks: dict[int, str] = {}  # job id -> its script's session mark
        state.on_job_change(self._on_change)

    def start(self) -> None:
        """Begin (within the server's event loop): scripts of jobs running now start too."""
        self._loop = asyncio.get_running_loop()
        for job in list(self.state.jobs.values()):
            self._on_change(job)

    async def stop(self) -> None:
        self._loop = None
        for job_id in list(self._processes):
            self._kill(job_id)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _on_change(self, job: Job) -> None:
        if job.status in FINISHED:
            self._kill(job.id)
            return
        starts = job.status == "running" and job.script is not None
        starts = starts and job.script_ended_at is None and job.id not in self._tasks
        if starts and self._loop is not None:
            self._tasks[job.id] = self._loop.create_task(self._run(job))

    def _kill(self, job_id: int) -> None:
        process = self._processes.pop(job_id, None)
        if process is not None:
            signal_marked_session(process.pid, self._marks.pop(job_id, ""), signal.SIGKILL)

    async def _run(self, job: Job) -> None:
        try:
            status = await self._execute(job)
        except OSError as exc:
            log.warning("job %s: cannot run its script: %s", job.id, exc)
            job.trace += runnerlog.soft_error(f"cannot start the shell: {exc}").encode()
            status = 1
        finally:
            self._processes.pop(job.id, None)
            self._marks.pop(job.id, None)
            self._tasks.pop(job.id, None)
        if job.status == "running" and job.script_ended_at is None:
            job.exit_code = status if status >= 0 else 128 - status
            result = "success" if status == 0 else "failed"
            self.state.life.end_script(job, self.state.clock(), result)

    async def _execute(self, job: Job) -> int:
        state = self.state
        # The runner prepares the executor and fetches the sources before the script runs.
        await asyncio.sleep(state.settings.prepare_seconds)
        if job.status != "running":
            return 1
        directory, env = script_place(self.work_dir, state, job)
        mark = self._marks[job.id] = new_session_mark()
        env[SESSION_MARK] = mark
        bash = shutil.which("bash", path=env["PATH"])
        process = await asyncio.create_subprocess_exec(
            bash or "sh",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,
        )
        self._processes[job.id] = process
        assert process.stdin is not None
        assert process.stdout is not None
        script = runnerlog.shell_script(job.script or [], bash=bash is not None)
        with contextlib.suppress(ConnectionError):
            process.stdin.write(script.encode("utf-8", "surrogateescape"))
            await process.stdin.drain()
            process.stdin.close()
        await _collect(job, process.stdout)
        return await process.wait()


async def _collect(job: Job, stream: asyncio.StreamReader) -> None:
    """Append the script's output to the job's log, as the runner does, up to its limit."""
    limited = False
    while chunk := await stream.read(READ_CHUNK):
        room = OUTPUT_LIMIT - len(job.trace)
        if room > 0:
            job.trace += chunk[:room]
        elif not limited:
            limited = True
            message = f"Job's log exceeded limit of {OUTPUT_LIMIT} bytes."
            job.trace += b"\n" + runnerlog.soft_error(message).encode()
