"""What `jobterm watch` does with each job of a pipeline: a pure state machine.

Theory of operation. A runner holds a job whose script has ended for as long as a terminal
that was connected before that moment stays connected, and writes the job's result only
after the terminal leaves (`common/build.go`: the build, then `waitForTerminal`, then the
trace status). So every job of the user's that can have a terminal is armed the moment it
runs (its terminal opened and kept, nothing typed), and when the runner writes `Terminal is
connected, will time out in …` after the script's sections, the job is held and jobterm
must decide, from the log alone, whether it failed:

    the runner uploaded artifacts "for failed job" / "for successful job"   -> told
    the last `$ command` echoed is not the script's last line (CI lint)     -> failed: the
        script stopped before its end (the runner's shell runs it under `set -e`)
    its last line ran, or its script is unknown                             -> unknown

A failed job is kept for the user (`Failed`: notify, show, hand over); a successful one is
released at once; an unknown one is kept `keep_unknown` seconds (the row says so), then
released: a successful job's runner is never kept busy for its whole timeout, and a job known
to have failed is never released before the user is done with it.

Per job:  WAITING (not running yet) -> ARMING (connecting; at most `max_held` connections)
          -> ARMED (script running) -> HELD (decided as above) -> KEPT (failed, or unknown
          for a while) -> RELEASED -> DONE (finished);  CANT (cannot be held: why) and
          LOST (its connection dropped) on the side.

Events carry what the adapter (term/watch.py) saw: the pipeline's jobs, a handshake's answer,
a drop, a job's log facts, the time, the user being done with a job. `feed()` returns actions:
Connect, Release, Failed, Finish. It keeps no clock: `Tick(now)` moves time on.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from enum import Enum

#: The runner's sections when a job defines artifacts (common/build.go, BuildStage…Artifacts).
ON_FAILURE = "upload_artifacts_on_failure"
ON_SUCCESS = "upload_artifacts_on_success"
FINAL = frozenset({"success", "failed", "canceled", "skipped"})
#: The runner's echo of a script line of several lines ends with this (shells/abstract.go).
COLLAPSED = " # collapsed multi-line command"


class Phase(Enum):
    WAITING = "waiting"
    ARMING = "arming"
    ARMED = "armed"
    KEPT = "kept"
    RELEASED = "released"
    CANT = "can't hold"
    LOST = "lost"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the pipeline's job list shows it."""

    id: int
    name: str
    stage: str
    status: str
    mine: bool
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class LogFacts:
    """What a job's log says so far (core/joblog.py's summary)."""

    executor: str | None = None
    script_ended: bool = False
    held: bool = False
    last_command: str | None = None
    sections: tuple[str, ...] = ()
    timeout: float | None = None  # how long the runner holds it, from its line ("30m0s")


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Jobs:
    now: float
    jobs: tuple[JobView, ...]
    pipeline_status: str = "running"


@dataclass(frozen=True, slots=True)
class Scripts:
    """The script of each job name, from CI lint (empty when it cannot be had)."""

    scripts: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Opened:
    job_id: int


@dataclass(frozen=True, slots=True)
class Refused:
    job_id: int
    why: str
    final: bool = True  # False: try again (the runner's session may not be up yet)


@dataclass(frozen=True, slots=True)
class Dropped:
    job_id: int


@dataclass(frozen=True, slots=True)
class Log:
    job_id: int
    facts: LogFacts


@dataclass(frozen=True, slots=True)
class Tick:
    now: float


@dataclass(frozen=True, slots=True)
class Done:
    """The user is done with a failed job (its shell ended, its command ran)."""

    job_id: int


@dataclass(frozen=True, slots=True)
class Open:
    """The user asks for the newest job kept with an unknown result (a key at the table)."""


@dataclass(frozen=True, slots=True)
class ReleaseUnknown:
    """The user lets every job kept with an unknown result go now."""


# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    job_id: int


@dataclass(frozen=True, slots=True)
class Release:
    job_id: int


@dataclass(frozen=True, slots=True)
class Failed:
    job_id: int
    how: str  # how it was told


@dataclass(frozen=True, slots=True)
class Finish:
    code: int


Event = Jobs | Scripts | Opened | Refused | Dropped | Log | Tick | Done | Open | ReleaseUnknown
Action = Connect | Release | Failed | Finish


@dataclass(frozen=True, slots=True)
class Settings:
    patterns: tuple[str, ...] = ()  # --jobs: globs on the job's name; () = every job
    max_held: int = 8
    keep_unknown: float = 10.0


@dataclass
class Track:
    view: JobView
    phase: Phase = Phase.WAITING
    note: str = ""
    facts: LogFacts = field(default_factory=LogFacts)
    held_until: float | None = None  # when the runner's own timeout releases it
    keep_until: float | None = None
    told: bool = False  # its failure was announced


def cannot_hold(executor: str | None) -> str:
    """Why a job on this executor cannot be held ("" where it can): docker's terminal ends
    with its build container, and most executors have no terminal (docs/protocol.md)."""
    if executor is None or executor in ("shell", "kubernetes"):
        return ""
    if executor.startswith("docker"):
        return f"{executor} executor (the terminal ends with the build container)"
    return f"{executor} executor (GitLab Runner gives it no terminal)"


def go_seconds(text: str) -> float | None:
    """Seconds of a Go duration as the runner prints it ("30m0s", "1h0m0s", "45s")."""
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            return None
    return total if not number and text else None


def verdict(facts: LogFacts, script: tuple[str, ...] | None) -> tuple[bool | None, str]:
    """Whether a held job failed (None: cannot be told), and how that was decided."""
    if ON_FAILURE in facts.sections:
        return True, "failed: the runner uploaded artifacts for a failed job"
    if ON_SUCCESS in facts.sections:
        return False, "succeeded: the runner uploaded artifacts for a successful job"
    if not script:
        return None, "result unknown: its script could not be read (CI lint)"
    last = script[-1].strip().split("\n", 1)[0].strip()
    echoed = facts.last_command
    if echoed is not None:  # the runner echoes a command of several lines by its first
        echoed = echoed.strip().removesuffix(COLLAPSED.strip()).strip()
    if echoed is not None and echoed != last:
        return True, "failed: the script stopped before its last line"
    return None, "result unknown: its last line ran, and only the runner knows how it ended"


class WatchFlow:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.tracks: dict[int, Track] = {}
        self.scripts: dict[str, tuple[str, ...]] = {}
        self.now = 0.0
        self.status = "running"  # the pipeline's
        self.finished = False
        self.ended = False

    # -- what the table shows ------------------------------------------------------------
    def rows(self) -> list[Track]:
        return sorted(self.tracks.values(), key=lambda t: t.view.id)

    # -- events --------------------------------------------------------------------------
    def feed(self, event: Event) -> list[Action]:
        actions: list[Action] = []
        if isinstance(event, Jobs):
            self.now, self.status = event.now, event.pipeline_status
            self.finished = event.pipeline_status in FINAL
            for view in event.jobs:
                actions += self._seen(view)
        elif isinstance(event, Scripts):
            self.scripts = dict(event.scripts)
        elif isinstance(event, Tick):
            self.now = event.now
        elif isinstance(event, Open | ReleaseUnknown):
            return self._by_user(event) + self._more()
        else:
            return self._on_job(event) + self._more()
        return actions + self._expire() + self._more()

    def _by_user(self, event: Open | ReleaseUnknown) -> list[Action]:
        unknown = [t for t in self.rows() if t.phase is Phase.KEPT and t.keep_until is not None]
        if not unknown:
            return []
        if isinstance(event, Open):
            track = unknown[-1]
            track.keep_until, track.note = None, "held: opened by you"
            return [Failed(track.view.id, "held for you (its result could not be told)")]
        for track in unknown:
            track.phase, track.keep_until, track.note = Phase.RELEASED, None, "released by you"
        return [Release(t.view.id) for t in unknown]

    def _on_job(self, event: Opened | Refused | Dropped | Log | Done) -> list[Action]:
        track = self.tracks.get(event.job_id)
        if track is None:
            return []
        if isinstance(event, Opened):
            if track.phase is Phase.ARMING:
                track.phase, track.note = Phase.ARMED, "armed"
            return []
        if isinstance(event, Refused):
            if event.final:
                track.phase, track.note = Phase.CANT, f"can't hold: {event.why}"
            else:
                track.phase = Phase.WAITING  # asked again at the next look
            return []
        if isinstance(event, Dropped):
            return self._dropped(track)
        if isinstance(event, Log):
            return self._log(track, event.facts)
        track.phase, track.note = Phase.RELEASED, "released"
        return [Release(track.view.id)]

    def _seen(self, view: JobView) -> list[Action]:
        track = self.tracks.setdefault(view.id, Track(view))
        track.view = view
        if view.status in FINAL:
            if track.phase is Phase.KEPT:
                return []  # ours until the user is done (the REST status lags the hold)
            connected = track.phase in (Phase.ARMING, Phase.ARMED)
            if connected:
                track.note = "ended before its terminal could hold it"
            if track.phase is not Phase.CANT:
                track.phase = Phase.DONE
            return [Release(view.id)] if connected else []  # its connection goes too
        if track.phase is Phase.WAITING and view.status == "running":
            why = self._why_not(view)
            if why:
                track.phase, track.note = Phase.CANT, f"can't hold: {why}"
        return []

    def _why_not(self, view: JobView) -> str:
        if self.s.patterns and not any(fnmatch.fnmatchcase(view.name, p) for p in self.s.patterns):
            return "not in --jobs"
        if not view.mine:
            return "another user's job (only the user who started it can open its terminal)"
        return ""

    def _more(self) -> list[Action]:
        """Connect the running jobs waiting to be armed, within max_held; finish when all is
        over."""
        actions: list[Action] = []
        busy = sum(t.phase in (Phase.ARMING, Phase.ARMED, Phase.KEPT) for t in self.tracks.values())
        for track in self.rows():
            if track.phase is Phase.WAITING and track.view.status == "running":
                if busy >= self.s.max_held:
                    track.note = f"waiting for a free connection (--max-held {self.s.max_held})"
                    continue
                track.phase, track.note = Phase.ARMING, "arming"
                busy += 1
                actions.append(Connect(track.view.id))
        if self.finished and not self.ended and not busy:
            self.ended = True
            actions.append(Finish(0 if self.status == "success" else 1))
        return actions

    def _dropped(self, track: Track) -> list[Action]:
        if track.phase not in (Phase.ARMED, Phase.ARMING, Phase.KEPT):
            return []
        why = cannot_hold(track.facts.executor)
        if why:
            track.phase, track.note = Phase.CANT, f"can't hold: {why}"
        else:
            track.phase, track.note = Phase.LOST, "lost: its terminal connection dropped"
        return [Release(track.view.id)]  # what is left of the connection goes

    def _log(self, track: Track, facts: LogFacts) -> list[Action]:
        track.facts = facts
        why = cannot_hold(facts.executor)
        if why and track.phase in (Phase.ARMING, Phase.ARMED):
            track.phase, track.note = Phase.CANT, f"can't hold: {why}"
            return [Release(track.view.id)]
        # The runner's line only counts after the script's sections: a script can print it.
        if track.phase is not Phase.ARMED or not (facts.held and facts.script_ended):
            return []
        if facts.timeout is not None:
            track.held_until = self.now + facts.timeout
        failed, how = verdict(facts, self.scripts.get(track.view.name))
        if failed is False:
            track.phase, track.note = Phase.RELEASED, f"released at once ({how})"
            return [Release(track.view.id)]
        track.phase = Phase.KEPT
        if failed:
            track.note, track.told = f"held: {how}", True
            return [Failed(track.view.id, how)]
        track.keep_until = self.now + self.s.keep_unknown
        track.note = f"held {self.s.keep_unknown:g} s: {how}; o opens it, r lets it go"
        return []

    def _expire(self) -> list[Action]:
        actions: list[Action] = []
        for track in self.rows():
            keep = track.keep_until
            if track.phase is Phase.KEPT and keep is not None and self.now >= keep:
                track.phase, track.keep_until = Phase.RELEASED, None
                track.note = "released: its result could not be told in time"
                actions.append(Release(track.view.id))
        return actions
