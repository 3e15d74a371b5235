"""Small helpers shared by the CLI command modules (stdlib only at import: `ivgr --help` imports them)."""

from __future__ import annotations

import os
from typing import Any


def is_main_process() -> bool:
    """True on rank 0 (or without a launcher), so only one process of a multi-process run prints."""
    return os.environ.get("RANK", "0") == "0"


class LazyProgress:
    """A rich `Progress` on stderr that draws nothing until `live()` is first called.

    A bar started before the input is checked prints its empty frame (a blank line, or `0/3`)
    ahead of the `ivgr: error:` line when the input is rejected; started on the first real
    progress, a rejected command prints the error line alone.

        with LazyProgress(BarColumn(), MofNCompleteColumn()) as bar:
            task = bar.progress.add_task("rows", total=3)   # adds a task, draws nothing
            bar.live().advance(task)                        # the first draw
    """

    def __init__(self, *columns: Any) -> None:
        from rich.console import Console
        from rich.progress import Progress

        # soft_wrap: lines stay whole when piped or in a narrow terminal (greppable logs)
        self.progress = Progress(*columns, console=Console(stderr=True, soft_wrap=True), transient=False)
        self.started = False

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.progress.stop()

    def live(self) -> Any:
        """The `Progress`, started (drawn) on the first call."""
        if not self.started:
            self.progress.start()
            self.started = True
        return self.progress
