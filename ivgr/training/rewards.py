"""TRL adapter of the framework-free scorer: rows + completions in, one reward per completion out.

The trainer calls `BatchRewarder.score` once per generation batch on every process. The
scorer itself (`ivgr.rewards.Scorer`) knows nothing about TRL; this module only

* turns TRL's per-completion inputs into `Rollout`s,
* runs the scorer's two async phases on the judges' shared event loop, so all judge calls of
  a phase run concurrently (async judge calls never serialise the step),
* exchanges grounded archive candidates between processes through an injected
  `gather_object`, so every rank applies the same order-independent `archive.offer_many`
  (docs/training.md#how-the-pieces-fit; docs/method.md#archive), and
* aggregates per-stream, per-term sums for logging.

Reward layout handed to TRL: ONE column, the scorer's `total` per rollout. TRL's advantage is
then (total − group mean) / (group std + eps) per G consecutive rows = per (sample, stream)
group, exactly the authors' per-uid normalisation of `overall` (docs/method.md#advantages),
and the single stream's 1.5 × accuracy weight (docs/method.md#reward-totals) stays inside the scorer
instead of being split across TRL `reward_weights`. Per-term values are logged by us as
`reward/<stream>/<term>`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivgr.rewards.scorer import TERMS  # one list of reward terms, the scorer's

logger = logging.getLogger(__name__)



def completion_text(completion: Any) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": str}].

    >>> completion_text([{"role": "assistant", "content": "<answer>A</answer>"}])
    '<answer>A</answer>'
    >>> completion_text("plain")
    'plain'
    """
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content", "")
        if isinstance(content, list):  # block form
            content = "".join(block.get("text") or "" for block in content if isinstance(block, dict))
        parts.append(content or "")
    return "".join(parts)


def build_rollouts(inputs: Sequence[dict], completions: Sequence[Any], *, step: int) -> list:
    """One `Rollout` per completion, from the dataset columns TRL forwards in `inputs`."""
    from ivgr.rewards import Rollout

    rollouts = []
    for row, completion in zip(inputs, completions, strict=True):
        rollouts.append(
            Rollout(
                sample_id=row["sample_id"],
                stream=row["stream"],
                question=row["question"],
                answer=row["answer"],
                completion=completion_text(completion),
                target_boxes=[tuple(b) for b in (row.get("target_boxes") or [])],
                datasource=row.get("datasource") or "unknown",
                step=step,
            )
        )
    return rollouts


@dataclass
class BatchStats:
    """Sums and counts per metric, merged across processes before logging (exact global means)."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    judge_errors: int = 0
    judge_calls: int = 0
    judge_latency_total_s: float = 0.0
    judge_questions: int = 0  # judge questions the endpoint had to answer (not settled by rules)
    judge_fallbacks: int = 0  # of those, how many fell back after failed calls
    wall_s: float = 0.0

    def add(self, name: str, value: float | None) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.counts[name] = self.counts.get(name, 0) + 1

    @classmethod
    def merge(cls, parts: Sequence[BatchStats]) -> BatchStats:
        out = cls()
        for part in parts:
            for name, value in part.sums.items():
                out.sums[name] = out.sums.get(name, 0.0) + value
                out.counts[name] = out.counts.get(name, 0) + part.counts[name]
            out.judge_errors += part.judge_errors
            out.judge_calls += part.judge_calls
            out.judge_latency_total_s += part.judge_latency_total_s
            out.judge_questions += part.judge_questions
            out.judge_fallbacks += part.judge_fallbacks
            out.wall_s = max(out.wall_s, part.wall_s)  # the slowest rank gates the step
        return out

    @property
    def judge_latency_s(self) -> float:
        """Mean seconds per judge call over all ranks (0 when nothing was asked)."""
        return self.judge_latency_total_s / self.judge_calls if self.judge_calls else 0.0

    @property
    def judge_failed_share(self) -> float:
        """Share of endpoint questions that fell back (0 when none was asked); the circuit breaker's input."""
        return self.judge_fallbacks / self.judge_questions if self.judge_questions else 0.0

    def means(self) -> dict[str, float]:
        return {name: self.sums[name] / self.counts[name] for name in sorted(self.sums)}


def stats_of(scores: Sequence, *, use_consistency: bool = True) -> BatchStats:
    """Per-stream, per-term sums of a list of `RolloutScore` (metric names as in docs/CONTRACTS.md)."""
    stats = BatchStats()
    for score in scores:
        for term in TERMS:
            if term == "consistency" and not use_consistency:
                continue
            stats.add(f"reward/{score.stream}/{term}", getattr(score, term))
        stats.add(f"reward/{score.stream}/total", score.total)
        stats.judge_errors += int(score.judge_errors or 0)
    return stats


def _single_process_gather(obj: Any) -> list:
    return [obj]


class BatchRewarder:
    """Scores one generation batch per call; holds the event loop the async judge runs on.

    Args:
        scorer: an `ivgr.rewards.Scorer` (owns the judge and the archive).
        archive: the scorer's `RolloutArchive` (the only state shared across steps and ranks).
        gather_object: collective that returns every rank's object in rank order
            (`accelerate.utils.gather_object` wrapped to take one object); identity on one process.
        use_consistency: False stops logging the (zero-weighted) consistency term (ablation).
        archive_persistent: False = the paper's "consistency without archive" ablation (docs/method.md
            #ablations): the reference is the best qualifying grounded rollout of the current batch only.
    """

    def __init__(
        self,
        *,
        scorer: Any,
        archive: Any,
        gather_object: Callable[[Any], list] | None = None,
        use_consistency: bool = True,
        archive_persistent: bool = True,
    ) -> None:
        self.scorer = scorer
        self.archive = archive
        self.gather_object = gather_object or _single_process_gather
        self.use_consistency = use_consistency
        self.archive_persistent = archive_persistent

    def score(self, rollouts: Sequence, *, step: int) -> tuple[list[float], BatchStats, list]:
        """Totals (in input order), merged global stats, and the per-rollout `RolloutScore`s.

        Every rank must call this the same number of times: it contains two collectives.
        """
        start = time.perf_counter()
        grounded_pos = [i for i, r in enumerate(rollouts) if r.stream == "grounded"]
        rest_pos = [i for i, r in enumerate(rollouts) if r.stream != "grounded"]
        grounded = [rollouts[i] for i in grounded_pos]
        # Phase 1 (local): score grounded rollouts; the scorer proposes archive candidates.
        g_scores, candidates = self._run(self.scorer.ascore_grounded(grounded, step=step)) if grounded else ([], [])
        # Exchange candidates so a textual row on any rank sees the best reference from any rank.
        # Deviation: the authors' archive lived in one reward process; under data parallelism every
        # rank holds a replica kept identical by this gather + order-independent update; option: none.
        all_candidates = [c for part in self.gather_object(list(candidates)) for c in part]
        if not self.archive_persistent:
            self.archive.clear()
        self.archive.offer_many(all_candidates)  # order-independent: all ranks end identical
        # Phase 2 (local): textual rows read the archive; single rows need no reference.
        rest = [rollouts[i] for i in rest_pos]
        r_scores = self._run(self.scorer.ascore_rest(rest, step=step)) if rest else []
        scores: list = [None] * len(rollouts)
        for pos, sc in zip(grounded_pos, g_scores, strict=True):
            scores[pos] = sc
        for pos, sc in zip(rest_pos, r_scores, strict=True):
            scores[pos] = sc
        totals = [self._total(sc) for sc in scores]
        local = stats_of(scores, use_consistency=self.use_consistency)
        local.wall_s = time.perf_counter() - start
        self._read_judge_counters(local)
        merged = BatchStats.merge(self.gather_object(local))
        return totals, merged, scores

    def _read_judge_counters(self, stats: BatchStats) -> None:
        """Judge counters since the last batch into `stats`, read from and then reset on the scorer."""
        if not hasattr(self.scorer, "metrics"):
            return
        m = self.scorer.metrics([])
        stats.judge_calls = int(m.get("judge/calls", 0))
        stats.judge_latency_total_s = float(m.get("judge/latency_s", 0.0)) * stats.judge_calls
        stats.judge_questions = stats.judge_calls - int(m.get("judge/rules", 0))
        stats.judge_fallbacks = int(m.get("judge/fallbacks", 0))
        self.scorer.reset_counters()

    @staticmethod
    def _total(score: Any) -> float:
        # The "w/o consistency" ablation is applied in the ScorerConfig (textual_consistency_weight=0),
        # so the scorer's total is always the reward.
        return float(score.total)

    @staticmethod
    def _run(coro):
        # The judges' shared background loop (ivgr.judges.base.run_sync): HTTP pools stay bound
        # to one loop for the whole run, and all judge calls of a phase run concurrently on it.
        from ivgr.judges.base import run_sync

        return run_sync(coro)


__all__ = ["BatchRewarder", "BatchStats", "build_rollouts", "completion_text", "stats_of"]
