"""Judge circuit breaker: a training step whose judge mostly failed is retried, never trained on.

A failed judge question never raises: it gets its documented fallback reward and is counted
(`ivgr.judges.openai_judge`, `judge_errors`). That keeps one flaky request from costing a step,
but during an outage every accuracy and consistency reward the rules cannot settle becomes a
fallback, and a run without a guard would train on them for as long as the outage lasts.

Per generation batch, over all ranks:

    failed share = judge questions that fell back / judge questions the endpoint had to answer

(questions the rules decided are not counted; cache hits count as answered).

* share <= `judge_max_failed_share` (default 0.2): the batch is used; its failures stay
  counted in `judge/errors` and `judge/failed_share`.
* above: a warning, a wait (`judge_outage_backoff_s`, doubling, at most `BACKOFF_MAX_S`), and
  the same rollouts are scored again, with the rollout archive first put back as it was
  before the step.
* still above once `judge_outage_wait_s` is spent: the archive is put back, a checkpoint of
  the state before the step is saved (weights, optimizer, `archive.json`), and
  `JudgeOutageError` (exit status 75) says how to resume.

The step is never applied: the error is raised while its rewards are computed, before any
loss. Every rank reaches the same decision (the share is the merged one, the time waited is
the maximum over ranks), so the collectives inside scoring and saving stay matched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError, JudgeOutageError

logger = logging.getLogger(__name__)

BACKOFF_MAX_S = 120.0  # a judge server restart takes minutes; polling faster only adds load


@dataclass(frozen=True)
class BreakerSettings:
    """When a step's judge counts as failing, and how long to wait for it (see the module doc)."""

    max_failed_share: float = 0.2
    wait_s: float = 900.0
    backoff_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failed_share <= 1.0:
            raise ConfigError(
                f"judge_max_failed_share must be in [0, 1] (1 turns the circuit breaker off), got {self.max_failed_share}"
            )
        if self.wait_s < 0:
            raise ConfigError(f"judge_outage_wait_s must be >= 0 (0 = stop at the first failing step), got {self.wait_s}")
        if self.backoff_s <= 0:
            raise ConfigError(f"judge_outage_backoff_s must be > 0, got {self.backoff_s}")

    @classmethod
    def from_config(cls, cfg: Any) -> BreakerSettings:
        """From the `judge_max_failed_share`, `judge_outage_wait_s`, `judge_outage_backoff_s` keys."""
        defaults = cls()
        return cls(
            max_failed_share=getattr(cfg, "judge_max_failed_share", defaults.max_failed_share),
            wait_s=getattr(cfg, "judge_outage_wait_s", defaults.wait_s),
            backoff_s=getattr(cfg, "judge_outage_backoff_s", defaults.backoff_s),
        )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (0-based): doubling from backoff_s, capped.

        >>> [BreakerSettings(backoff_s=10).delay(i) for i in range(6)]
        [10.0, 20.0, 40.0, 80.0, 120.0, 120.0]
        """
        return float(min(BACKOFF_MAX_S, self.backoff_s * 2**retry))


class JudgeCircuitBreaker:
    """Wraps one `BatchRewarder.score` call per generation batch (the trainer's reward hook).

    `sleep` and `clock` are injectable so tests drive the waits without waiting.
    """

    def __init__(
        self,
        settings: BreakerSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock

    def score(
        self, rewarder: Any, rollouts: Sequence, *, step: int, save_checkpoint: Callable[[], Path]
    ) -> tuple[list[float], Any, list]:
        """`rewarder.score(rollouts, step=step)`, retried while the judge fails (see the module doc).

        `step` is the number of optimizer steps done; `save_checkpoint` saves the state before
        this step and returns its directory (called on every rank, once, before giving up).
        """
        archive = rewarder.archive
        before = _snapshot(archive)
        started = self.clock()
        retry = 0
        while True:
            totals, stats, scores = rewarder.score(rollouts, step=step)
            share = stats.judge_failed_share
            stats.add("judge/failed_share", share)
            stats.add("judge/step_retries", float(retry))
            if share <= self.settings.max_failed_share:
                if retry:
                    logger.warning("judge recovered at step %d after %d retr%s", step + 1, retry,
                                   "y" if retry == 1 else "ies")
                return totals, stats, scores
            _restore(archive, before)  # the failed scoring's archive offers are not kept
            waited = max(rewarder.gather_object(self.clock() - started))  # every rank decides alike
            delay = self.settings.delay(retry)
            failing = (f"{stats.judge_fallbacks} of {stats.judge_questions} judge questions ({share:.0%}) "
                       f"fell back after failed calls at step {step + 1} "
                       f"(judge_max_failed_share={self.settings.max_failed_share:g})")
            if waited + delay > self.settings.wait_s:
                checkpoint = save_checkpoint()
                raise JudgeOutageError(
                    f"judge outage: {failing}, still after {retry} retr{'y' if retry == 1 else 'ies'} over "
                    f"{waited:.0f}s (judge_outage_wait_s={self.settings.wait_s:g}); step {step + 1} was not trained "
                    f"on; saved {checkpoint} with its archive; once the judge answers again, rerun the same "
                    f"`ivgr train` command with --resume"
                )
            logger.warning("%s; retrying this step's judge calls in %.0fs (%.0fs of judge_outage_wait_s=%gs used)",
                           failing, delay, waited, self.settings.wait_s)
            self.sleep(delay)
            retry += 1


def save_checkpoint_now(trainer: Any) -> Path:
    """Save `trainer`'s current state as `checkpoint-<global_step>` (ivgr's hook adds the archive)."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    trainer._save_checkpoint(trainer.model, trial=None)
    return Path(trainer._get_output_dir(trial=None)) / f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}"


def _snapshot(archive: Any) -> Any:
    """A shallow copy of the archive (entries are immutable; `offer` replaces, never edits)."""
    copy = type(archive)()
    copy.merge(archive)
    return copy


def _restore(archive: Any, snapshot: Any) -> None:
    archive.clear()
    archive.merge(snapshot)


__all__ = ["BACKOFF_MAX_S", "BreakerSettings", "JudgeCircuitBreaker", "save_checkpoint_now"]
