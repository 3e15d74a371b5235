"""Batch scorer: the rewards of one training step, for all three streams.

Order inside a step (docs/method.md#archive):

1. score every grounded rollout (format, box validity, box IoU, accuracy);
2. offer the qualifying ones to the rollout archive (order-independent);
3. score textual rollouts (format, accuracy, consistency against the archived reference of
   their question, which may have been stored in this step or an earlier one) and single
   rollouts (format, accuracy).

In a multi-process run, call `score_grounded` on every rank, gather the candidates, apply
them with `archive.offer_many` on every rank, then call `score_rest`; `score_batch` does the
three steps in one process. All judge calls of a phase run concurrently (`asyncio.gather`);
the judge bounds its own concurrency. A failing judge call never raises out of the scorer:
it is counted in the row's `judge_errors` and replaced by the configured fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive, qualifies
from ivgr.errors import DataError
from ivgr.geometry import Box, is_valid_box
from ivgr.parsing import (
    extract_answer,
    extract_think,
    find_box_spans,
    format_ok_normalized,
    normalize_tags,
    parse_box,
)
from ivgr.prompts.streams import STREAMS
from ivgr.rewards.config import ScorerConfig
from ivgr.rewards.terms import (
    box_free_reward,
    box_iou_reward,
    box_valid_reward,
    has_duplicate_boxes,
    judged_reward,
    weighted_total,
)

if TYPE_CHECKING:  # the protocol only; importing ivgr.judges here would tie the two packages
    from ivgr.judges.base import Judge

logger = logging.getLogger(__name__)

TERMS = ("format", "accuracy", "box_valid", "box_iou", "consistency", "box_free")
STREAM_TERMS = {
    "grounded": ("format", "box_valid", "box_iou", "accuracy"),
    "textual": ("format", "accuracy", "consistency", "box_free"),
    "single": ("format", "accuracy"),
}


@dataclass
class Rollout:
    """One completion to score. `target_boxes` are in the model's frame (pixel or norm1000)."""

    sample_id: str
    stream: str
    question: str
    answer: str
    completion: str
    target_boxes: list[Box] = field(default_factory=list)
    datasource: str = "unknown"
    step: int = 0

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise DataError(f"stream must be one of {', '.join(STREAMS)}, got {self.stream!r}")
        self.target_boxes = [tuple(float(v) for v in b) for b in self.target_boxes]  # type: ignore[misc]


@dataclass
class RolloutScore:
    """Reward terms of one rollout; a term that does not apply to the stream is None."""

    sample_id: str
    stream: str
    step: int
    total: float
    format: float | None = None
    accuracy: float | None = None
    box_valid: float | None = None
    box_iou: float | None = None
    consistency: float | None = None
    box_free: float | None = None  # textual stream, with textual_box_free: 0 multiplies the total to 0
    reference: str | None = None
    judge_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The `ivgr score` output object (field order as in docs/scoring.md, `ivgr score`).

        `box_free` is left out: the output keys are a fixed contract (docs/CONTRACTS.md), and
        its effect shows in `total` (0 for a textual row that carries a box).
        """
        out = asdict(self)
        del out["box_free"]
        return out


@dataclass
class _Judged:
    """A judge outcome after validation: the reward value and the failed attempts behind it."""

    score: float
    errors: int = 0
    source: str = "none"  # "none" = no judge call was made


class Scorer:
    """Scores batches of rollouts with the reward terms, a judge and the rollout archive."""

    def __init__(self, *, config: ScorerConfig, judge: Judge, archive: RolloutArchive) -> None:
        self.config = config
        self.judge = judge
        self.archive = archive
        self._calls = 0
        self._latency_s = 0.0
        self._sources: dict[str, int] = {}
        self._stats0 = self._judge_stats()

    # ------------------------------------------------------------------ public, async
    async def ascore_batch(self, rollouts: Sequence[Rollout], *, step: int) -> list[RolloutScore]:
        """Score a mixed batch in one process: grounded, archive update, then textual and single.

        Same result as `ascore_grounded`, `archive.offer_many`, `ascore_rest` in sequence, but
        without a phase barrier: no accuracy question waits for another one's answer (grounded
        ones go first), and a textual rollout's consistency question is asked as soon as the
        grounded rollouts of its own question are scored and offered to the archive. Only
        consistency reads the archive, and the archive keeps the best candidate per sample_id
        whatever the order of offers, so the archive and every score are the same; the judge
        just never idles while the slowest grounded question finishes.
        """
        with gc_paused():
            return await self._score_batch(rollouts, step)

    async def _score_batch(self, rollouts: Sequence[Rollout], step: int) -> list[RolloutScore]:
        grounded_idx = [i for i, r in enumerate(rollouts) if r.stream == "grounded"]
        rest_idx = [i for i, r in enumerate(rollouts) if r.stream != "grounded"]
        grounded = [rollouts[i] for i in grounded_idx]
        rest = [rollouts[i] for i in rest_idx]
        g_texts, r_texts = self._normalized(grounded), self._normalized(rest)
        # Tasks start in creation order: grounded accuracies reach the judge's queue first, then
        # each question's archive step, then (in `_rest_scores`) the consistency questions, so
        # those of questions the rules settled go out at once, and last the textual and single
        # accuracies, which no other row waits for.
        g_acc = [asyncio.ensure_future(self._accuracy(r, t)) for r, t in zip(grounded, g_texts, strict=True)]
        by_question: dict[str, list[int]] = {}
        for k, r in enumerate(grounded):
            by_question.setdefault(r.sample_id, []).append(k)
        g_scores: list[RolloutScore] = [None] * len(grounded)  # type: ignore[list-item]

        async def archive_question(ks: list[int]) -> int:
            """Score one question's grounded rollouts and offer its candidates to the archive."""
            # One await per task, not gather: a finished task returns at once, so a question the
            # rules settled is archived in this same step of the loop.
            accuracies = [await g_acc[k] for k in ks]
            scores, candidates = self._grounded_scores([grounded[k] for k in ks], [g_texts[k] for k in ks],
                                                       accuracies, step)
            for k, score in zip(ks, scores, strict=True):
                g_scores[k] = score
            return self.archive.offer_many(candidates)

        archived = {sid: asyncio.ensure_future(archive_question(ks)) for sid, ks in by_question.items()}
        r_acc = [self._accuracy(r, t) for r, t in zip(rest, r_texts, strict=True)]  # started by _rest_scores
        try:
            r_scores = await self._rest_scores(rest, r_texts, r_acc, step, archived=archived)
            stored = sum(await asyncio.gather(*archived.values()))
            logger.debug("step %d: %d questions offered to the archive, %d stored", step, len(archived), stored)
        finally:
            for task in (*g_acc, *archived.values()):
                task.cancel()  # only unfinished ones, after an error: no orphaned judge calls
        out: list[RolloutScore | None] = [None] * len(rollouts)
        for i, s in zip(grounded_idx, g_scores, strict=True):
            out[i] = s
        for i, s in zip(rest_idx, r_scores, strict=True):
            out[i] = s
        return out  # type: ignore[return-value]

    async def ascore_grounded(
        self, rollouts: Sequence[Rollout], *, step: int
    ) -> tuple[list[RolloutScore], list[ArchiveCandidate]]:
        """Score grounded rollouts; return their scores and the archive candidates they yield.

        Does not touch the archive, so ranks can gather candidates before applying them.
        """
        self._require_streams(rollouts, {"grounded"}, "ascore_grounded")
        with gc_paused():
            texts = self._normalized(rollouts)
            accuracies = await asyncio.gather(*(self._accuracy(r, t) for r, t in zip(rollouts, texts, strict=True)))
            return self._grounded_scores(rollouts, texts, accuracies, step)

    def _normalized(self, rollouts: Sequence[Rollout]) -> list[str]:
        return [normalize_tags(r.completion, mode=self.config.normalize_mode) for r in rollouts]

    def _grounded_scores(
        self, rollouts: Sequence[Rollout], texts: Sequence[str], accuracies: Sequence[_Judged], step: int
    ) -> tuple[list[RolloutScore], list[ArchiveCandidate]]:
        """Scores and archive candidates of grounded rollouts whose accuracy is judged."""
        scores: list[RolloutScore] = []
        candidates: list[ArchiveCandidate] = []
        weights = self.config.weights("grounded")  # once per call: it walks the config's fields
        for r, text, acc in zip(rollouts, texts, accuracies, strict=True):
            fmt = 1.0 if format_ok_normalized(text) else 0.0  # `text` is normalised already
            box_valid, box_iou = self._box_terms(text, r.target_boxes)
            terms = {"format": fmt, "box_valid": box_valid, "box_iou": box_iou, "accuracy": acc.score}
            score = RolloutScore(
                sample_id=r.sample_id, stream="grounded", step=step,
                total=weighted_total(terms, weights),
                format=fmt, accuracy=acc.score, box_valid=box_valid, box_iou=box_iou,
                judge_errors=acc.errors,
            )
            scores.append(score)
            candidate = self._candidate(r, text, score, step)
            if candidate is not None:
                candidates.append(candidate)
        return scores, candidates

    async def ascore_rest(self, rollouts: Sequence[Rollout], *, step: int) -> list[RolloutScore]:
        """Score textual rollouts (against the archive as it is now) and single rollouts."""
        self._require_streams(rollouts, {"textual", "single"}, "ascore_rest")
        with gc_paused():
            texts = self._normalized(rollouts)
            accuracies = [self._accuracy(r, t) for r, t in zip(rollouts, texts, strict=True)]
            return await self._rest_scores(rollouts, texts, accuracies, step)

    async def _rest_scores(
        self,
        rollouts: Sequence[Rollout],
        texts: Sequence[str],
        accuracies: Sequence[Awaitable[_Judged]],
        step: int,
        *,
        archived: Mapping[str, Awaitable[int]] | None = None,
    ) -> list[RolloutScore]:
        """Scores of textual and single rollouts; `accuracies` (one per rollout) may be running already.

        `archived[sample_id]`, when given, completes once that question's grounded rollouts of
        this step are in the archive; a textual rollout reads its reference only after it.
        """
        # A zero consistency weight (the "w/o consistency" ablation) adds nothing to the total,
        # so the judge is not asked: n endpoint calls saved per textual rollout.
        judge_consistency = self.config.textual_consistency_weight > 0
        waits = archived or {}

        async def reference_and_consistency(r: Rollout, text: str) -> tuple[str | None, _Judged | None]:
            if r.sample_id in waits:
                await waits[r.sample_id]  # returns at once when that question is archived already
            ref = self._reference_for(r, text)
            return ref, (await self._consistency(r, text, ref) if judge_consistency else None)

        # Consistency first (a task per textual rollout; a single rollout has no reference), then
        # the accuracies: see `ascore_batch` for why the order matters. The accuracies start
        # `_CHUNK` at a time with a loop step in between, so judge replies that unlock
        # consistency questions are read while they start, not after. Every task is cancelled on
        # the way out, so an error leaves no judge call behind.
        consistency = {k: asyncio.ensure_future(reference_and_consistency(r, text))
                       for k, (r, text) in enumerate(zip(rollouts, texts, strict=True)) if r.stream == "textual"}
        accuracy_tasks: list[asyncio.Future[_Judged]] = []
        try:
            for k, accuracy in enumerate(accuracies):
                if k and k % _CHUNK == 0:
                    await asyncio.sleep(0)
                accuracy_tasks.append(asyncio.ensure_future(accuracy))
            judged = await asyncio.gather(*consistency.values(), *accuracy_tasks)
        finally:
            for task in (*consistency.values(), *accuracy_tasks):
                task.cancel()
            for unstarted in accuracies[len(accuracy_tasks):]:
                if asyncio.iscoroutine(unstarted):
                    unstarted.close()  # cancelled before its turn: never awaited, and no warning
        references = dict(zip(consistency, judged[: len(consistency)], strict=True))
        weights = {stream: self.config.weights(stream) for stream in {r.stream for r in rollouts}}
        check_box_free = self.config.textual_box_free
        scores = []
        for k, (r, text, acc) in enumerate(zip(rollouts, texts, judged[len(consistency):], strict=True)):
            ref, cons = references.get(k, (None, None))
            fmt = 1.0 if format_ok_normalized(text) else 0.0  # `text` is normalised already
            terms = {"format": fmt, "accuracy": acc.score, "consistency": cons.score if cons else None}
            box_free = box_free_reward(text) if check_box_free and r.stream == "textual" else None
            scores.append(
                RolloutScore(
                    sample_id=r.sample_id, stream=r.stream, step=step,
                    total=weighted_total(terms, weights[r.stream]) * (1.0 if box_free is None else box_free),
                    format=fmt, accuracy=acc.score,
                    consistency=cons.score if cons else None,
                    box_free=box_free,
                    reference=ref,
                    judge_errors=acc.errors + (cons.errors if cons else 0),
                )
            )
        return scores

    # ------------------------------------------------------------------ public, sync
    def score_batch(self, rollouts: Sequence[Rollout], *, step: int) -> list[RolloutScore]:
        """Blocking `ascore_batch` (runs on the judges' shared background event loop)."""
        return _run_sync(self.ascore_batch(rollouts, step=step))

    def score_grounded(
        self, rollouts: Sequence[Rollout], *, step: int
    ) -> tuple[list[RolloutScore], list[ArchiveCandidate]]:
        """Blocking `ascore_grounded`."""
        return _run_sync(self.ascore_grounded(rollouts, step=step))

    def score_rest(self, rollouts: Sequence[Rollout], *, step: int) -> list[RolloutScore]:
        """Blocking `ascore_rest`."""
        return _run_sync(self.ascore_rest(rollouts, step=step))

    def metrics(self, scores: Sequence[RolloutScore]) -> dict[str, float]:
        """Batch metrics of `scores` plus archive size and this scorer's judge counters."""
        out = batch_metrics(scores, archive=self.archive)
        out["judge/calls"] = float(self._calls)  # questions put to the judge by this scorer
        out["judge/latency_s"] = self._latency_s / self._calls if self._calls else 0.0  # mean per call
        out["judge/cache_hits"] = float(self._sources.get("cache", 0))
        out["judge/fallbacks"] = float(self._sources.get("fallback", 0))
        out["judge/rules"] = float(self._sources.get("rules", 0))  # settled without the endpoint
        stats = self._judge_stats()
        if stats is not None and self._stats0 is not None:
            # Endpoint requests (retries included), as counted by the judge itself.
            out["judge/endpoint_calls"] = float((stats - self._stats0).calls)
        return out

    def reset_counters(self) -> None:
        """Zero the judge counters (call once per step to get per-step `judge/*` metrics)."""
        self._calls, self._latency_s, self._sources = 0, 0.0, {}
        self._stats0 = self._judge_stats()

    def _judge_stats(self) -> Any:
        """The judge's own counters (`JudgeStats`) if it keeps them, else None."""
        stats = getattr(self.judge, "stats", None)
        if not callable(stats):
            return None
        try:
            snapshot = stats()
        except TypeError:
            return None
        return snapshot if hasattr(snapshot, "calls") and hasattr(snapshot, "__sub__") else None

    # ------------------------------------------------------------------ terms
    def _box_terms(self, text: str, target_boxes: Sequence[Box]) -> tuple[float | None, float | None]:
        """(box_valid, box_iou); both None without ground-truth boxes.

        Without targets the authors zero every box term and skip parsing (docs/method.md#box-validity); we report
        "does not apply" instead, which adds the same 0 to the total.
        """
        # Deviation: without target boxes box_valid/box_iou are null, "does not apply" (the
        # authors report 0.0; the total is the same); option none.
        if not target_boxes:
            return None, None
        cfg = self.config
        spans = find_box_spans(text, max_boxes=cfg.max_boxes)
        box_valid = box_valid_reward(
            spans, duplicate_iou=cfg.box_duplicate_iou, all_pairs=cfg.box_duplicate_all_pairs, syntax=cfg.box_syntax
        )
        parsed = [b for b in (parse_box(s, syntax=cfg.box_syntax) for s in spans) if b is not None]
        preds = [b for b in parsed if is_valid_box(b)]
        box_iou = box_iou_reward(preds, target_boxes)
        if cfg.box_duplicates_zero_iou and has_duplicate_boxes(
            parsed, threshold=cfg.box_duplicate_iou, all_pairs=cfg.box_duplicate_all_pairs, n_tags=len(spans)
        ):
            box_iou = 0.0
        return box_valid, box_iou

    def _candidate(self, r: Rollout, text: str, score: RolloutScore, step: int) -> ArchiveCandidate | None:
        """An archive candidate if the rollout qualifies and has a non-empty `<think>`."""
        if not qualifies(
            format=score.format, accuracy=score.accuracy, box_iou=score.box_iou,
            min_box_iou=self.config.archive_min_box_iou, require_format=self.config.archive_require_format,
        ):
            return None
        think = extract_think(text)
        if not think:
            return None
        entry = ArchiveEntry(
            think=think, box_iou=float(score.box_iou or 0.0), accuracy=float(score.accuracy or 0.0),
            format=float(score.format or 0.0), step=step,
        )
        return ArchiveCandidate(sample_id=r.sample_id, entry=entry)

    def _reference_for(self, r: Rollout, text: str) -> str | None:
        """The archived grounded think a textual rollout is compared with, if it will be compared."""
        if r.stream != "textual":
            return None
        entry = self.archive.get(r.sample_id)
        # No reference yet, or no <think> to compare: consistency 0 and no judge call (docs/method.md#consistency-reward).
        if entry is None or not extract_think(text):
            return None
        return entry.think

    async def _accuracy(self, r: Rollout, text: str) -> _Judged:
        """Accuracy via the judge; 0 without a call when there is no answer or it is too long."""
        answer = extract_answer(text)
        # Deviation: an empty answer scores 0 without a judge call (the authors asked the judge);
        # option none. Over-long answers score 0 as theirs (option max_answer_chars).
        if not answer or len(answer) > self.config.max_answer_chars:
            return _Judged(0.0)
        return await self._ask(
            "accuracy", self.judge.accuracy,
            {"question": _clean_question(r.question), "answer": answer, "reference": r.answer},
            fallback=self.config.accuracy_fallback,
        )

    async def _consistency(self, r: Rollout, text: str, reference: str | None) -> _Judged:
        """Consistency via the judge against `reference`; 0 without a call when there is none."""
        if reference is None:
            return _Judged(0.0)
        candidate = extract_think(text) or ""
        return await self._ask(
            "consistency", self.judge.consistency,
            {"question": _clean_question(r.question), "reference": reference, "candidate": candidate},
            fallback=self.config.consistency_fallback,
        )

    async def _ask(
        self, what: str, method: Callable[..., Awaitable[Any]], kwargs: dict[str, str], *, fallback: float
    ) -> _Judged:
        """Await one judge call; any failure becomes `fallback` plus one counted error."""
        self._calls += 1
        t0 = time.perf_counter()
        try:
            verdict = await method(**kwargs)
        except asyncio.CancelledError:
            raise
        # Deviation: a failed judge call costs only its own term (fallback, counted in
        # judge_errors); the authors' exception zeroed every rollout of the question, docs/method.md#bug-judge-robustness;
        # option accuracy_fallback / consistency_fallback.
        except Exception as err:  # noqa: BLE001 - the judge boundary: counted, logged, never fatal
            logger.warning("judge %s call failed (%s: %s); using fallback %.2f", what, type(err).__name__, err, fallback)
            self._sources["fallback"] = self._sources.get("fallback", 0) + 1
            return _Judged(fallback, 1, "fallback")
        finally:
            self._latency_s += time.perf_counter() - t0
        source = str(getattr(verdict, "source", "unknown"))
        self._sources[source] = self._sources.get(source, 0) + 1
        errors = int(getattr(verdict, "errors", 0) or 0)
        value = judged_reward(getattr(verdict, "score", None))
        if value is None:
            logger.warning("judge %s returned an out-of-range score %r; using fallback %.2f",
                           what, getattr(verdict, "score", None), fallback)
            return _Judged(fallback, errors + 1, "fallback")
        return _Judged(value, errors, source)

    @staticmethod
    def _require_streams(rollouts: Sequence[Rollout], allowed: set[str], where: str) -> None:
        bad = sorted({r.stream for r in rollouts} - allowed)
        if bad:
            raise ValueError(f"{where} takes {sorted(allowed)} rollouts only, got {bad}")


_CHUNK = 64  # accuracy tasks started per event-loop step in `_rest_scores`

_gc_lock = threading.Lock()
_gc_pauses = 0  # scoring calls in progress, on any loop or thread
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a step is scored; back as it was when the last one ends.

    A step creates some 100 000 short-lived tasks, futures, coroutines and dicts, all on one
    event-loop thread that also sends the judge requests; each 700 allocations start a
    collection, and now and then one walks the whole heap (a trainer's: the model, torch).
    That cost 45-60 ms of a 0.3 s step's CPU at 10 judge endpoints (docs/PERFORMANCE.md).
    Paused, objects still go as soon as nothing refers to them; only cycles wait for the next
    collection after the step, which frees them as before. Calls may overlap (a count).
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def _clean_question(question: str) -> str:
    """The question as the judge sees it: image placeholders removed (docs/method.md#response-normalisation)."""
    return question.replace("<image>", "").strip()


def _run_sync(coro: Any) -> Any:
    """Run a coroutine from sync code on the judges' shared loop (keeps HTTP pools alive)."""
    from ivgr.judges.base import run_sync

    return run_sync(coro)


def batch_metrics(scores: Sequence[RolloutScore], *, archive: RolloutArchive | None = None) -> dict[str, float]:
    """Means of every term per stream (`reward/<stream>/<term>`), counts, judge errors, archive size.

    A term's mean is over the rows where it applies (not None). Also
    `reward/textual/consistency_judged`: mean consistency over textual rows that had a reference.
    """
    out: dict[str, float] = {}
    for stream in STREAMS:
        rows = [s for s in scores if s.stream == stream]
        out[f"batch/num_{stream}"] = float(len(rows))
        if not rows:
            continue
        out[f"reward/{stream}/total"] = sum(s.total for s in rows) / len(rows)
        for term in STREAM_TERMS[stream]:
            values = [getattr(s, term) for s in rows if getattr(s, term) is not None]
            if values:
                out[f"reward/{stream}/{term}"] = sum(values) / len(values)
        if stream == "textual":
            judged = [s.consistency for s in rows if s.reference is not None and s.consistency is not None]
            out["reward/textual/has_reference"] = sum(1 for s in rows if s.reference is not None) / len(rows)
            if judged:
                out["reward/textual/consistency_judged"] = sum(judged) / len(judged)
    out["judge/errors"] = float(sum(s.judge_errors for s in scores))
    if archive is not None:
        out["archive/size"] = float(len(archive))
        mean = archive.mean_box_iou()
        if mean is not None:
            out["archive/mean_box_iou"] = mean
    return out


def metrics(scores: Sequence[RolloutScore], *, archive: RolloutArchive | None = None) -> dict[str, float]:
    """Alias of `batch_metrics`, the name used in the task contracts."""
    return batch_metrics(scores, archive=archive)


__all__ = [
    "ArchiveCandidate",
    "Rollout",
    "RolloutScore",
    "Scorer",
    "STREAM_TERMS",
    "TERMS",
    "batch_metrics",
    "metrics",
]
