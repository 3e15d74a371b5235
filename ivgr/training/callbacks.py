"""Trainer callbacks: metrics history, one summary line per logged step, rich progress.

Library code does not print: the summary line goes to an injected `sink` (the CLI passes a
rich console printer; the Python API leaves it to logging), and the progress bar is only
created when the CLI asks for it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger(__name__)


def summary_line(step: int, max_steps: int, logs: dict[str, Any]) -> str:
    """One readable line: per-stream reward totals, loss, KL, archive size, judge health.

    >>> summary_line(3, 10, {"reward/grounded/total": 1.5, "reward/textual/total": 0.25,
    ...                      "archive/size": 4.0, "judge/errors": 0.0, "judge/latency_s": 0.012, "loss": 0.1})
    'step 3/10 | grounded 1.500 textual 0.250 | loss 0.1 | archive 4 | judge errors 0 latency 0.01s'
    """
    parts = [f"step {step}/{max_steps}"]
    streams = [
        f"{s} {logs[f'reward/{s}/total']:.3f}"
        for s in ("grounded", "textual", "single")
        if _finite(logs.get(f"reward/{s}/total"))
    ]
    if streams:
        parts.append(" ".join(streams))
    extras = [f"{key} {logs[key]:.4g}" for key in ("loss", "kl") if _finite(logs.get(key))]
    if extras:
        parts.append(" ".join(extras))
    if _finite(logs.get("archive/size")):
        parts.append(f"archive {int(logs['archive/size'])}")
    if _finite(logs.get("judge/errors")):
        latency = logs.get("judge/latency_s")
        lat = f" latency {latency:.2f}s" if _finite(latency) else ""
        parts.append(f"judge errors {int(logs['judge/errors'])}{lat}")
    return " | ".join(parts)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


class MetricsHistory(TrainerCallback):
    """Keeps every training log dict (with its step) and emits the summary line."""

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self.history: list[dict[str, Any]] = []
        self.sink = sink

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ARG002
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, **logs}
        self.history.append(record)
        if "loss" in logs or any(k.startswith("reward/") for k in logs):
            line = summary_line(state.global_step, state.max_steps, logs)
            logger.info(line)
            if self.sink is not None:
                self.sink(line)


class RichProgress(TrainerCallback):
    """A rich progress bar over optimizer steps (replaces transformers' tqdm bar in the CLI)."""

    replaces_progress = True  # train() removes transformers' tqdm/printer callbacks when present

    def __init__(self, console: Any = None) -> None:
        self.console = console
        self.progress = None
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ARG002
        if not state.is_world_process_zero:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ARG002
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ARG002
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()
            self.progress = None


def drop_hf_progress(trainer, callbacks) -> None:
    """Remove transformers' tqdm bar and log printer when a callback (`replaces_progress`) draws its own."""
    if any(getattr(cb, "replaces_progress", False) for cb in callbacks or ()):
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)


__all__ = ["MetricsHistory", "RichProgress", "drop_hf_progress", "summary_line"]
