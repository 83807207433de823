"""Progress of replications or runs as they finish: a rich bar on a terminal (or in a
notebook), nothing otherwise. The command line and ``sim.run(..., progress=True)``
share it."""

from __future__ import annotations

import sys
from typing import Any, Self


class Progress:
    """Done, rate, ETA and failures of replications or runs. ``start`` says when earlier
    work is picked up; ``force`` shows the bar where stderr is not a terminal (a
    notebook)."""

    def __init__(self, unit: str, enabled: bool, *, force: bool = False,
                 say: Any = None) -> None:
        self.unit = unit
        self.enabled = enabled and (force or sys.stderr.isatty())
        self.say = say or (lambda text: print(text, file=sys.stderr))
        self.bar: Any = None
        self.task: Any = None
        self.failed = 0

    def __enter__(self) -> Self:
        return self

    def start(self, total: int, done: int = 0) -> None:
        if done:
            self.say(f"Resuming: {done} of {total} {self.unit} already stored.")
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn(self.unit), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), TextColumn("[dim]{task.fields[rate]}"),
                       TimeRemainingColumn(), TextColumn("{task.fields[failed]}"),
                       console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.unit, total=total, completed=done, failed="",
                                      rate="")

    def plan(self, total: int) -> None:
        """The work now expected in all: a sequential procedure learns it as it goes."""
        if self.bar is not None:
            self.bar.update(self.task, total=max(total, self.bar.tasks[0].completed))

    def advance(self, failed: bool = False) -> None:
        self.failed += failed
        if self.bar is not None:
            speed = self.bar.tasks[0].speed
            self.bar.update(self.task, advance=1,
                            rate=f"{speed:.1f} {self.unit}/s" if speed else "",
                            failed=f"[red]{self.failed} failed" if self.failed else "")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


class StageProgress:
    """One bar per stage of a long command (a tuning's trials, then its final runs):
    ``start(stage, total, done)`` closes the previous stage's bar and opens the next."""

    def __init__(self, enabled: bool, *, say: Any = None) -> None:
        self.enabled = enabled
        self.say = say
        self.bar: Progress | None = None
        self.stage = ""

    def __enter__(self) -> Self:
        return self

    def start(self, stage: str, total: int, done: int) -> None:
        self.__exit__()
        self.stage = stage
        self.bar = Progress(stage, self.enabled, say=self.say)
        self.bar.start(total, done)

    def advance(self, stage: str, failed: bool = False) -> None:
        if self.bar is not None and stage == self.stage:
            self.bar.advance(failed=failed)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__()
            self.bar = None
