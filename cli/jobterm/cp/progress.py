"""The progress bar of `jobterm cp`: bytes, rate and time left, on a terminal only.

Shown on stderr when it is a terminal, -q was not given and the copy is over `THRESHOLD`
bytes (known for an upload, announced by the job for a download); otherwise nothing, so a
script that runs cp sees stderr only when something went wrong.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress

#: Copies smaller than this finish before a bar says anything useful.
THRESHOLD = 1 << 20


class Bar:
    """Callable with (bytes so far, total); a context manager that clears up the display."""

    def __init__(self, enabled: bool, label: str) -> None:
        self._enabled = enabled
        self._label = label
        self._progress: Progress | None = None
        self._task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._progress is None:
            if not self._enabled or total is None or total < THRESHOLD:
                return
            self._start(total)
        assert self._progress is not None
        self._progress.update(self._task, completed=done, total=max(total or 0, done))

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(self._label, total=total)
        self._progress.start()

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
