"""`ivgr data sft-build`: cold-start SFT examples from grounded CoTs (docs/method.md#sft-cold-start).

Input: a JSONL of grounded rollouts with their scores, one object a line:

    {"sample_id": str, "stream": "grounded", "completion": "<think>..</think><answer>..</answer>",
     "accuracy": float, "box_iou": float, "format": float,
     "box_valid": float (optional), "question": str (optional), "image": str (optional),
     "answer": str (optional)}

This is exactly an `ivgr score` input line merged with its output line: pass the score
input as `rollouts` and its output as `scores` and they are joined line by line. Rows of
other streams are counted and skipped.

Selection is per *question* (docs/method.md#sft-cold-start, #bug-sft-scripts): among a sample_id's
grounded rollouts with format = 1, accuracy = 1, box_valid = 1 (when given) and
box_iou >= τ (default 0.3, the archive threshold), the one with the highest box_iou is kept.
For it we write
  * one grounded example: its completion as is (`<think>`/`<answer>` re-assembled);
  * textual examples: its reasoning rewritten without boxes, by an LLM (k rewrites at cycling
    temperatures, deduplicated, each checked to keep every visual statement) or, without an
    LLM, by deterministic box stripping (`ivgr.parsing.strip_boxes`).

Output: the SFT JSONL of docs/CONTRACTS.md (`sample_id, stream, image, prompt, completion`,
plus `question, answer, source, box_iou`), prompts from `ivgr.prompts.stream_prompt`.
Pure python apart from the optional LLM client; memory holds one best rollout per question.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ivgr.errors import ConfigError, DataError
from ivgr.jsonl import iter_jsonl
from ivgr.parsing import extract_answer, extract_think, strip_boxes

logger = logging.getLogger(__name__)

# The authors cycle these temperatures over their 5 rewrites (docs/method.md#sft-cold-start).
REWRITE_TEMPERATURES = (0.3, 0.5, 0.7, 0.8, 0.9)
CONCURRENT_QUESTIONS = 16  # rewrite requests in flight at once (bounded, unlike a thread pool of 32)

_COLOURS = {
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "grey",
    "gray", "silver", "gold", "golden", "beige", "tan", "cyan", "magenta", "violet", "navy", "teal", "maroon",
}
_POSITIONS = {
    "left", "right", "top", "bottom", "above", "below", "under", "beneath", "behind", "front", "center",
    "centre", "middle", "upper", "lower", "near", "far", "next", "between", "inside", "outside",
    "corner", "foreground", "background",
}
_NUMBER_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
    "8": "eight", "9": "nine", "10": "ten", "11": "eleven", "12": "twelve", "20": "twenty",
}
_WORD_RE = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")
_COORDS_RE = re.compile(r"\[\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?){3}\s*\]")


def visual_terms(reasoning: str) -> set[str]:
    """Colour, position and number words of a reasoning text, box coordinates excluded.

    These are the statements a box-free rewrite must keep (the authors' rewrite prompt asks
    to keep every visual observation; we also *check* it).

    >>> sorted(visual_terms("The red ball <box>[1,2,30,40]</box> is left of 2 cubes."))
    ['2', 'left', 'red']
    """
    text = _COORDS_RE.sub(" ", strip_boxes(reasoning)).lower()
    words = _WORD_RE.findall(text)
    return {w for w in words if w in _COLOURS or w in _POSITIONS or w[0].isdigit()}


def keeps_visual_terms(original: str, rewrite: str) -> list[str]:
    """The visual terms of `original` missing from `rewrite` (empty = the rewrite is faithful).

    A number may be written as a digit or a word ("3" or "three"); grey/gray and
    centre/center count as the same word.

    >>> keeps_visual_terms("a red <box>[1,2,3,4]</box> car on the left, 3 wheels", "3 wheels: left, red car")
    []
    >>> keeps_visual_terms("the blue cup", "the cup")
    ['blue']
    """
    have = set(_WORD_RE.findall(rewrite.lower()))
    aliases = {"grey": "gray", "gray": "grey", "centre": "center", "center": "centre"}
    missing = []
    for term in sorted(visual_terms(original)):
        if term in have or aliases.get(term) in have or _NUMBER_WORDS.get(term) in have:
            continue
        missing.append(term)
    return missing


def rule_rewrite(reasoning: str) -> str:
    """Deterministic box-free rewrite: drop every `<box>..</box>` span, tidy spacing.

    >>> rule_rewrite("The cup <box>[1,2,3,4]</box> , left of the plate <box>[5,6,7,8]</box>.")
    'The cup, left of the plate.'
    """
    text = strip_boxes(reasoning)
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class Rewriter(Protocol):
    """An LLM that rewrites grounded reasoning without boxes (`OpenAIJudge.rewrite`)."""

    def rewrite(self, *, question: str, reasoning: str, n: int, temperature: float) -> Any:
        """Up to `n` rewrites (list[str], or an awaitable of it); [] or raising on failure."""
        ...


@dataclass
class SftBuildConfig:
    """Settings of sft-build; defaults follow the authors' scripts (docs/method.md#sft-cold-start) where sound."""

    min_box_iou: float = 0.3
    """A question's best grounded rollout must reach this box_iou (authors: 0.3)."""
    rewrites: int = 5
    """Textual rewrites per selected question with an LLM (authors: 5); rules give 1."""
    max_rounds: int = 3
    """LLM requests per question, each at the next temperature (authors: up to 15 single tries)."""
    frame: str | None = None
    """Frame named in the grounded prompt; None = the dataset manifest's frame, else pixel."""
    include_grounded: bool = True
    """Also write the grounded CoT itself as an example (the 32K grounded part, docs/method.md#sft-cold-start)."""
    textual_max_accuracy: float | None = None
    """Only questions whose textual rollouts' mean accuracy is <= this (authors: 0.4); None = all."""
    unscored_as_correct: bool = False
    """Treat rows without scores (a curated CoT dataset) as correct; format and boxes still checked."""
    pad_with_rules: bool = True
    """When the LLM yields fewer faithful rewrites than asked, add the box-stripped text once."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_box_iou <= 1.0:
            raise ConfigError(f"--min-box-iou must be in [0, 1], got {self.min_box_iou}")
        if self.textual_max_accuracy is not None and not 0.0 <= self.textual_max_accuracy <= 1.0:
            raise ConfigError(f"--textual-max-accuracy must be in [0, 1], got {self.textual_max_accuracy}")
        if self.rewrites < 1:
            raise ConfigError(f"--rewrites must be >= 1, got {self.rewrites}")


@dataclass
class _Best:
    """The best qualifying grounded rollout of one question so far."""

    think: str
    answer: str
    box_iou: float
    question: str | None
    image: str | None
    gt_answer: str | None


@dataclass
class SftBuildSummary:
    """What sft-build did."""

    rollouts: int = 0
    questions_seen: int = 0
    questions_selected: int = 0
    examples: int = 0
    grounded: int = 0
    textual: int = 0
    rejected_rewrites: int = 0
    rewrite_errors: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> rollouts or questions


def _score(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _qualifies(row: dict[str, Any], config: SftBuildConfig, summary: SftBuildSummary) -> float | None:
    """box_iou of a qualifying grounded rollout, else None (the reason is counted)."""
    if row.get("stream", "grounded") != "grounded":
        summary.skipped["not_grounded"] += 1
        return None
    acc, fmt, iou, valid = (_score(row, k) for k in ("accuracy", "format", "box_iou", "box_valid"))
    if acc is None and fmt is None and iou is None:
        if not config.unscored_as_correct:
            summary.skipped["unscored"] += 1
            return None
        return 1.0  # curated CoT: taken as correct and well localised
    if fmt != 1.0:
        summary.skipped["bad_format"] += 1
    elif acc != 1.0:
        summary.skipped["incorrect"] += 1
    elif valid is not None and valid != 1.0:
        summary.skipped["invalid_boxes"] += 1
    elif iou is None or iou < config.min_box_iou:
        summary.skipped["low_box_iou"] += 1
    else:
        return iou
    return None


def iter_scored(rollouts: Path, scores: Path | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rollout rows, each merged with its `ivgr score` output line when `scores` is given.

    `ivgr score` writes one output line per input line, in the same order, so line i of
    `scores` belongs to line i of `rollouts`; a count or sample_id mismatch is a DataError.
    """
    if scores is None:
        for lineno, row in iter_jsonl(rollouts):
            yield f"{rollouts}:{lineno}", row
        return
    score_rows = iter_jsonl(scores)
    for lineno, row in iter_jsonl(rollouts):
        try:
            s_lineno, score = next(score_rows)
        except StopIteration:
            raise DataError(f"{scores} has fewer lines than {rollouts} (first unmatched: line {lineno}); "
                            "pass the scores `ivgr score` wrote for exactly this file") from None
        if score.get("sample_id") != row.get("sample_id"):
            raise DataError(f"{scores}:{s_lineno}: sample_id {score.get('sample_id')!r} does not match "
                            f"{rollouts}:{lineno} ({row.get('sample_id')!r}); the files are not aligned")
        yield f"{rollouts}:{lineno}", {**row, **{k: v for k, v in score.items() if v is not None or k not in row}}
    for s_lineno, _ in score_rows:
        raise DataError(f"{scores} has more lines than {rollouts} (line {s_lineno} is extra)")


def select_best(path: Path, config: SftBuildConfig, summary: SftBuildSummary,
                progress: Callable[[int], None] | None = None, scores: Path | None = None) -> dict[str, _Best]:
    """Pass 1: the best qualifying grounded rollout per sample_id (ties: the first seen).

    With `config.textual_max_accuracy`, only questions whose textual rollouts' mean accuracy is
    at most that value are kept (the authors built SFT data for questions the textual stream
    got wrong, docs/method.md#sft-cold-start).
    """
    # Deviation: the authors filtered *records* and stopped after the first 200 of them
    # (docs/method.md#bug-sft-scripts); we select per question over the whole log;
    # option min_box_iou.
    best: dict[str, _Best] = {}
    seen: set[str] = set()
    textual: dict[str, list[float]] = {}  # sample_id -> [accuracy sum, count]
    for where, row in iter_scored(path, scores):
        summary.rollouts += 1
        if progress is not None:
            progress(1)
        sample_id = row.get("sample_id")
        if not isinstance(sample_id, str) or not sample_id:
            raise DataError(f"{where}: key 'sample_id' missing or not a string")
        seen.add(sample_id)
        if row.get("stream") == "textual" and config.textual_max_accuracy is not None:
            acc = _score(row, "accuracy")
            if acc is not None:
                tally = textual.setdefault(sample_id, [0.0, 0])
                tally[0] += acc
                tally[1] += 1
        iou = _qualifies(row, config, summary)
        if iou is None:
            continue
        completion = str(row.get("completion", ""))
        think, answer = extract_think(completion), extract_answer(completion)
        if not think or answer is None:
            summary.skipped["no_think_or_answer"] += 1
            continue
        if "<box>" not in think:
            summary.skipped["no_boxes_in_think"] += 1
            continue
        current = best.get(sample_id)
        if current is None or iou > current.box_iou:
            best[sample_id] = _Best(think, answer, iou, row.get("question"), row.get("image"), row.get("answer"))
    summary.questions_seen = len(seen)
    if config.textual_max_accuracy is not None:
        best = _only_textual_failures(best, textual, config.textual_max_accuracy, summary)
    return best


def _only_textual_failures(best: dict[str, _Best], textual: dict[str, list[float]], limit: float,
                           summary: SftBuildSummary) -> dict[str, _Best]:
    """Keep questions whose mean textual accuracy is <= limit (counted reasons otherwise)."""
    # Deviation: the authors selected on single records (any textual rollout with accuracy
    # <= 0.4); we use the question's mean textual accuracy; option textual_max_accuracy.
    kept = {}
    for sample_id, entry in best.items():
        tally = textual.get(sample_id)
        if tally is None:
            summary.skipped["question_without_textual_rollouts"] += 1
        elif tally[0] / tally[1] > limit:
            summary.skipped["question_textual_already_correct"] += 1
        else:
            kept[sample_id] = entry
    return kept


class _Rewrites:
    """Produces the textual rewrites of one reasoning text (LLM with checks, or rules)."""

    def __init__(self, rewriter: Rewriter | None, config: SftBuildConfig, summary: SftBuildSummary):
        self.rewriter = rewriter
        self.config = config
        self.summary = summary

    async def make(self, question: str, think: str) -> list[tuple[str, str]]:
        """[(text, source)] with source "llm" or "rules"; deduplicated, in order."""
        fallback = rule_rewrite(think)
        if self.rewriter is None:
            return [(fallback, "rules")] if fallback else []
        out: list[tuple[str, str]] = []
        keys: set[str] = set()
        # Deviation: one request for n samples per round, at most max_rounds rounds (the authors
        # sent up to 15 single requests from 32 threads); option max_rounds.
        for round_ in range(self.config.max_rounds):
            need = self.config.rewrites - len(out)
            if need <= 0:
                break
            temperature = REWRITE_TEMPERATURES[round_ % len(REWRITE_TEMPERATURES)]
            for text in await self._ask(question, think, need, temperature):
                key = " ".join(text.lower().split())
                if key in keys or len(out) >= self.config.rewrites:
                    continue  # exact duplicate (case and spacing aside), as the authors drop them
                # Deviation: each LLM rewrite is checked to keep every colour/position/number word
                # and to carry no coordinates (the authors only asked for it in the prompt);
                # option none (a rejected rewrite is counted in rejected_rewrites).
                if "<box>" in text or _COORDS_RE.search(text) or keeps_visual_terms(think, text):
                    self.summary.rejected_rewrites += 1
                    continue
                keys.add(key)
                out.append((text, "llm"))
        # Deviation: the authors padded a shortfall with copies of the regex-stripped text;
        # we add it at most once (duplicates teach nothing); option pad_with_rules.
        if len(out) < self.config.rewrites and self.config.pad_with_rules and fallback:
            if " ".join(fallback.lower().split()) not in keys:
                out.append((fallback, "rules"))
        return out

    async def _ask(self, question: str, think: str, n: int, temperature: float) -> list[str]:
        """One rewrite request; failures are counted and give [] (never fatal)."""
        assert self.rewriter is not None
        try:
            result = self.rewriter.rewrite(question=question, reasoning=think, n=n, temperature=temperature)
            if inspect.isawaitable(result):
                result = await result
        except Exception as err:  # noqa: BLE001 - any endpoint failure is counted, never fatal
            self.summary.rewrite_errors += 1
            logger.warning("rewrite failed (%s: %s)", type(err).__name__, str(err)[:200])
            return []
        if isinstance(result, str):
            result = [result]
        texts = []
        for item in result or []:
            if not isinstance(item, str) or not item.strip():
                continue
            text = item.strip()
            inner = extract_think(text)  # a model may wrap its reply in think tags
            texts.append(inner if inner else text)
        if not texts:
            self.summary.rewrite_errors += 1
        return texts


# Deviation: examples are written in ivgr's SFT JSONL with our stream prompts (the authors
# wrote LLaMA-Factory ShareGPT whose human turn kept the raw `problem`, and one script fell
# back to a bare question because its template file did not exist, docs/method.md#bug-sft-scripts); option frame.
def _examples_for(sample_id: str, best: _Best, question: str, image: str, gt_answer: str | None,
                  rewrites: list[tuple[str, str]], frame: str, config: SftBuildConfig) -> list[dict[str, Any]]:
    from ivgr.prompts import stream_prompt

    rows = []
    base = {"sample_id": sample_id, "image": image, "question": question,
            "answer": gt_answer if gt_answer is not None else best.answer, "box_iou": best.box_iou}
    if config.include_grounded:
        rows.append({**base, "stream": "grounded", "prompt": stream_prompt("grounded", question, frame=frame),
                     "completion": f"<think>{best.think}</think><answer>{best.answer}</answer>",
                     "source": "rollout"})
    for text, source in rewrites:
        rows.append({**base, "stream": "textual", "prompt": stream_prompt("textual", question, frame=frame),
                     "completion": f"<think>{text}</think><answer>{best.answer}</answer>",
                     "source": f"rewrite-{source}"})
    return rows


def sft_build(
    rollouts: str | Path,
    out: str | Path,
    *,
    dataset: str | Path | None = None,
    config: SftBuildConfig | None = None,
    rewriter: Rewriter | None = None,
    scores: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int | None], None] | None = None,
) -> SftBuildSummary:
    """Select, rewrite and write SFT examples (see module docstring); output written atomically."""
    config = config or SftBuildConfig()
    rollouts, out = Path(rollouts), Path(out)
    summary = SftBuildSummary()
    best = select_best(rollouts, config, summary, progress, Path(scores) if scores else None)
    summary.questions_selected = len(best)
    frame = config.frame or "pixel"
    items = []  # (sample_id, best, question, image, gt_answer), in output order
    if dataset is not None:
        from ivgr.data.prepared import iter_prepared, read_manifest, resolve_image

        frame = config.frame or read_manifest(dataset).get("frame", "pixel")
        root = Path(dataset).resolve()
        remaining = set(best)
        for sample in iter_prepared(root):
            if sample.sample_id in remaining:
                remaining.discard(sample.sample_id)
                items.append((sample.sample_id, best[sample.sample_id], sample.question,
                              str(resolve_image(root, sample).resolve()), sample.answer))
        leftovers = [sid for sid in best if sid in remaining]
    else:
        leftovers = list(best)
    for sid in leftovers:  # not in the dataset: the rollout row must carry question and image
        b = best[sid]
        if b.question and b.image:
            items.append((sid, b, str(b.question), str(b.image), b.gt_answer))
        else:
            summary.skipped["question_or_image_unknown"] += 1
    if on_total is not None:
        on_total(summary.rollouts + len(items))
    _write_examples(out, items, _Rewrites(rewriter, config, summary), frame, config, summary, progress)
    logger.info("sft-build wrote %d examples to %s", summary.examples, out)
    return summary


def _write_examples(out: Path, items: list, rewrites: _Rewrites, frame: str, config: SftBuildConfig,
                    summary: SftBuildSummary, progress: Callable[[int], None] | None) -> None:
    """Pass 2: rewrite in bounded concurrent chunks and append examples; atomic rename at the end."""
    import os

    from ivgr.judges.base import run_sync

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")

    async def chunk_rewrites(chunk: list) -> list[list[tuple[str, str]]]:
        return list(await asyncio.gather(*(rewrites.make(q, b.think) for _, b, q, _, _ in chunk)))

    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for start in range(0, len(items), CONCURRENT_QUESTIONS):
                chunk = items[start:start + CONCURRENT_QUESTIONS]
                for (sid, b, question, image, gt), texts in zip(chunk, run_sync(chunk_rewrites(chunk)), strict=True):
                    for row in _examples_for(sid, b, question, image, gt, texts, frame, config):
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                        summary.examples += 1
                        summary.grounded += row["stream"] == "grounded"
                        summary.textual += row["stream"] == "textual"
                    if progress is not None:
                        progress(1)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def build_rewriter(kind: str, *, base_url: str | None = None, model: str | None = None) -> Rewriter | None:
    """None for `rules`; for `openai`, the configured judge (it must offer `rewrite`)."""
    if kind == "rules":
        return None
    if kind != "openai":
        raise ConfigError(f"--judge must be rules or openai, got {kind!r}")
    from ivgr.judges import build_judge
    from ivgr.judges.config import JudgeConfig

    judge = build_judge(JudgeConfig(kind="openai", base_url=base_url, model=model))
    if not callable(getattr(judge, "rewrite", None)):
        raise ConfigError("the openai judge of this ivgr has no rewrite(); use --judge rules")
    return judge


__all__ = [
    "REWRITE_TEMPERATURES",
    "Rewriter",
    "SftBuildConfig",
    "SftBuildSummary",
    "build_rewriter",
    "keeps_visual_terms",
    "rule_rewrite",
    "select_best",
    "sft_build",
    "visual_terms",
]
