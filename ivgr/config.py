"""Typed configuration shared by the framework-free parts of ivgr.

The scorer and judge settings live beside the code they configure; this module gathers them
so recipes and the CLI have one import. Trainer settings (a `GRPOConfig` subclass) live in
`ivgr.training.config` because they need TRL.
"""

from __future__ import annotations

from ivgr.judges.config import JudgeConfig
from ivgr.rewards.config import ScorerConfig

__all__ = ["JudgeConfig", "ScorerConfig"]
