"""The judge interface: `Verdict`, the `Judge` protocol, counters, and a sync bridge.

A judge answers two questions (docs/method.md#accuracy-reward, #consistency-reward):
  * accuracy: does a model answer mean the same as the reference answer? (0 or 1)
  * consistency: do the image descriptions of a textual `<think>` agree with the archived
    grounded `<think>`? (0.0 / 0.3 / 0.7 / 1.0 rubric, or a mean of several samples)

Judges are async first, because the trainer asks thousands of questions per step and wants
them concurrent (docs/method.md#bug-judge-robustness). Sync callers use `run_sync` or the
`*_sync` methods of `SyncJudgeMixin`, which run the coroutine on one long-lived background
event loop, so an HTTP connection pool is reused across calls and sync calls work even
from inside a running event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

SOURCES = ("rules", "llm", "fallback", "cache")


@dataclass(frozen=True)
class Verdict:
    """One judge decision.

    score:  accuracy in {0, 1}; consistency in [0, 1] (a rubric level or a mean of levels).
    errors: failed judge attempts behind this verdict (HTTP errors, timeouts, unparseable
            replies). Counted into `judge_errors` of the scored row.
    source: who decided: "rules" (deterministic rules), "llm" (the endpoint), "fallback"
            (the endpoint failed; the documented fallback score), "cache" (a cached verdict).
    """

    score: float
    errors: int = 0
    source: str = "rules"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Verdict.source must be one of {SOURCES}, got {self.source!r}")


@runtime_checkable
class Judge(Protocol):
    """What the scorer needs from a judge. Both methods never raise on endpoint failure."""

    async def accuracy(self, *, question: str, answer: str, reference: str) -> Verdict:
        """Does `answer` match the ground-truth `reference` for `question`? Score 0 or 1."""
        ...

    async def consistency(self, *, question: str, reference: str, candidate: str) -> Verdict:
        """How well does `candidate` reasoning agree with `reference` reasoning? Score in [0, 1]."""
        ...


@dataclass
class JudgeStats:
    """Counters a judge keeps since it was built; subtract two snapshots for one step.

    calls: requests sent to an endpoint (every attempt, retries included);
    errors: failed attempts; cache_hits: verdicts served from the cache or from an
    identical request already in flight; latency_s: summed wall time of requests;
    fallbacks: verdicts that fell back after the endpoint failed; rules: verdicts the
    rules decided without an endpoint.
    """

    calls: int = 0
    errors: int = 0
    cache_hits: int = 0
    latency_s: float = 0.0
    fallbacks: int = 0
    rules: int = 0

    def __sub__(self, other: JudgeStats) -> JudgeStats:
        return JudgeStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    def as_metrics(self) -> dict[str, float]:
        """Metric names as in docs/CONTRACTS.md (`judge/calls`, `judge/errors`, ...)."""
        return {
            "judge/calls": float(self.calls),
            "judge/errors": float(self.errors),
            "judge/cache_hits": float(self.cache_hits),
            "judge/latency_s": float(self.latency_s),
            "judge/fallbacks": float(self.fallbacks),
            "judge/rules": float(self.rules),
        }


class _BackgroundLoop:
    """One daemon thread running an event loop forever; the target of `run_sync`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="ivgr-judge-loop", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop


_BACKGROUND = _BackgroundLoop()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a judge coroutine to completion from synchronous code and return its result.

    Why a shared background loop rather than `asyncio.run`: a fresh loop per call would
    strand the HTTP connection pool of the previous loop, and `asyncio.run` refuses to run
    inside a running loop (Jupyter, an async trainer). Exceptions propagate unchanged.
    """
    loop = _BACKGROUND.loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("run_sync was called from a judge coroutine; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


class SyncJudgeMixin:
    """Adds blocking `accuracy_sync` and `consistency_sync` to an async judge."""

    def accuracy_sync(self, *, question: str, answer: str, reference: str) -> Verdict:
        """Blocking `accuracy` (see `run_sync`)."""
        return run_sync(self.accuracy(question=question, answer=answer, reference=reference))  # type: ignore[attr-defined]

    def consistency_sync(self, *, question: str, reference: str, candidate: str) -> Verdict:
        """Blocking `consistency` (see `run_sync`)."""
        return run_sync(
            self.consistency(question=question, reference=reference, candidate=candidate)  # type: ignore[attr-defined]
        )


__all__ = ["Verdict", "Judge", "JudgeStats", "SyncJudgeMixin", "run_sync", "SOURCES"]
