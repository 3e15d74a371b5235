"""Evaluation harness: benchmark registry, loaders, extraction, profiles, runner, report.

Importing this package is light (no torch): scoring can be recomputed from stored outputs
on any machine. The runner imports the inference engine only when it generates.
"""

from ivgr.eval.base import Benchmark, Item
from ivgr.eval.profiles import DEFAULT_PROFILE, PROFILES
from ivgr.eval.registry import get_benchmark, list_benchmarks, register

__all__ = ["Benchmark", "Item", "PROFILES", "DEFAULT_PROFILE", "get_benchmark", "list_benchmarks", "register"]
