"""What a benchmark provides: small hooks, in the style of lm-evaluation-harness tasks.

A benchmark module subclasses `Benchmark`, registers it with `@register("name")`, and fills:

- `load(data_path)`   -> iterator of `Item`s, images *not decoded* (a loader callable);
- `prompt(item)`      -> the question text handed to the stream prompt of the chosen mode;
- `extract(item, response, profile)` -> the label a profile reads from the model's answer;
- `score(item, extracted, profile)`  -> 1.0 / 0.0;
- `aggregate(rows, profile)`         -> {"headline": %, "metrics": {...}} (percent, 0–100).

Scores are always recomputed from stored raw outputs (`records`), so every profile can be
applied to one generation run. A record is `Item.to_record()` plus the model's `completion`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.eval.extraction import answer_text, ivgr_choice, ivgr_open, ivgr_yes_no, vk_mcq
from ivgr.eval.metrics import accuracy
from ivgr.eval.profiles import PROFILES

log = logging.getLogger(__name__)


@dataclass
class Item:
    """One benchmark question. `image` is a zero-argument callable returning an RGB PIL image."""

    item_id: str
    question: str  # the question without its options
    answer: str  # gold label: a letter for MCQ, "yes"/"no", or free text
    kind: str = "mcq"  # "mcq" | "yesno" | "open"
    choices: dict[str, str] = field(default_factory=dict)  # letter -> option text, in order
    category: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # benchmark-specific fields
    image: Any = None  # ImageLoader
    where: str = ""  # "file: row N", for error messages

    def to_record(self) -> dict[str, Any]:
        """Everything scoring needs, without the image (stored in the predictions JSONL)."""
        return {
            "item_id": self.item_id, "question": self.question, "answer": self.answer,
            "kind": self.kind, "choices": self.choices, "category": self.category,
            "meta": self.meta, "where": self.where,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Item":
        return cls(**{k: rec[k] for k in ("item_id", "question", "answer", "kind", "choices",
                                           "category", "meta", "where") if k in rec})


@dataclass
class Scored:
    """One scored record under one profile."""

    item: Item
    extracted: str | None
    correct: bool
    judged: bool = False


class Benchmark:
    """Base class; subclasses override the hooks that differ from the MCQ defaults."""

    name: str = ""  # set by @register
    version: str = "1"  # bump when loading, prompting or scoring changes numbers
    column: str = ""  # the paper's column header (Table 1)
    profiles: tuple[str, ...] = PROFILES

    # -- loading --------------------------------------------------------------------------
    def load(self, data_path: Path) -> Iterator[Item]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- prompting ------------------------------------------------------------------------
    def prompt(self, item: Item) -> str:
        """The question with its options as `A. text` lines and a letter instruction."""
        if item.kind == "yesno":
            return f"{item.question.strip()}\nAnswer yes or no."
        if item.kind == "open" or not item.choices:
            return item.question.strip()
        opts = "\n".join(f"{k}. {v}" for k, v in item.choices.items())
        return f"{item.question.strip()}\n{opts}\nAnswer with the option's letter from the given choices."

    # -- extraction and scoring -----------------------------------------------------------
    def extract(self, item: Item, response: str, profile: str) -> str | None:
        """Default: ivgr robust rules for `ivgr`/`official`, VLMEvalKit can_infer otherwise."""
        if profile == "vlmevalkit":
            return vk_mcq(response, item.choices)
        return self.extract_ivgr(item, response)

    def extract_ivgr(self, item: Item, response: str) -> str | None:
        """Our robust extraction, by item kind; None means unparseable (judge may decide)."""
        if item.kind == "yesno":
            return ivgr_yes_no(response)
        if item.kind == "open":
            return ivgr_open(response)
        return ivgr_choice(response, item.choices)

    def score(self, item: Item, extracted: str | None, profile: str) -> bool:
        """Exact match of the extracted label with the gold label."""
        if extracted is None:
            return False
        if item.kind == "open":
            return ivgr_open(item.answer) == extracted
        return extracted.strip().lower() == item.answer.strip().lower()

    def aggregate(self, rows: list[Scored], profile: str) -> dict[str, Any]:
        """Default: micro accuracy overall and per category."""
        metrics = {"overall": accuracy([r.correct for r in rows])}
        for cat in sorted({r.item.category for r in rows if r.item.category}):
            metrics[cat] = accuracy([r.correct for r in rows if r.item.category == cat])
        return {"headline": metrics["overall"], "headline_name": "overall", "metrics": metrics}

    # -- glue -----------------------------------------------------------------------------
    def evaluate(self, records: list[dict[str, Any]], profile: str) -> dict[str, Any]:
        """Extract, score and aggregate stored records under `profile`.

        Under the `ivgr` profile an unparseable answer uses the stored judge verdict, if a
        judge was configured at generation time; every such use is counted.
        """
        rows: list[Scored] = []
        unparsed = judged = 0
        for rec in records:
            item = Item.from_record(rec)
            response = answer_text(rec.get("completion") or "")
            extracted = self.extract(item, response, profile)
            correct = self.score(item, extracted, profile)
            used_judge = False
            if profile == "ivgr" and extracted is None:
                unparsed += 1
                verdict = rec.get("judge")
                if verdict is not None:
                    correct, used_judge = float(verdict.get("score", 0.0)) >= 0.5, True
                    judged += 1
            rows.append(Scored(item, extracted, correct, used_judge))
        out = self.aggregate(rows, profile) if rows else {"headline": None, "headline_name": "", "metrics": {}}
        out["n"] = len(rows)
        if profile == "ivgr":
            out["unparsed"] = unparsed
            out["judge_used"] = judged
        return out
