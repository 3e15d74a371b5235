"""Rewards of the three streams: pure terms, the scorer config and the batch scorer.

Framework-free: nothing here imports torch, transformers or trl, so any trainer backend can
call the scorer.
"""

from __future__ import annotations

from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive
from ivgr.rewards.config import ScorerConfig
from ivgr.rewards.scorer import Rollout, RolloutScore, Scorer, batch_metrics, metrics
from ivgr.rewards.terms import (
    box_iou_reward,
    box_valid_reward,
    format_reward,
    has_duplicate_boxes,
    judged_reward,
    weighted_total,
)

__all__ = [
    "ArchiveCandidate",
    "ArchiveEntry",
    "Rollout",
    "RolloutArchive",
    "RolloutScore",
    "Scorer",
    "ScorerConfig",
    "batch_metrics",
    "box_iou_reward",
    "box_valid_reward",
    "format_reward",
    "has_duplicate_boxes",
    "judged_reward",
    "metrics",
    "weighted_total",
]
