"""`ScorerConfig`: reward weights, archive rule and parsing options of the scorer.

Defaults reproduce the authors' recipe (docs/method.md#reward-totals: every weight 1 except
single-stream accuracy 1.5; archive threshold τ = 0.3, #archive; answers over 1000 characters
score 0, #accuracy-reward). Options that differ from the authors' code are tagged `Deviation` below and
listed in docs/scoring.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ivgr.errors import ConfigError
from ivgr.parsing import MAX_BOXES


@dataclass
class ScorerConfig:
    """Everything the batch scorer needs besides the judge and the archive."""

    # --- grounded stream: R = format + box_valid + box_iou + accuracy (docs/method.md#reward-totals) ---
    grounded_format_weight: float = field(default=1.0, metadata={"help": "Weight of the format term, grounded stream."})
    grounded_box_valid_weight: float = field(default=1.0, metadata={"help": "Weight of box validity, grounded stream."})
    grounded_box_iou_weight: float = field(default=1.0, metadata={"help": "Weight of the dual box IoU, grounded stream."})
    grounded_accuracy_weight: float = field(default=1.0, metadata={"help": "Weight of accuracy, grounded stream."})
    # --- textual stream: R = format + accuracy + consistency ---
    textual_format_weight: float = field(default=1.0, metadata={"help": "Weight of the format term, textual stream."})
    textual_accuracy_weight: float = field(default=1.0, metadata={"help": "Weight of accuracy, textual stream."})
    textual_consistency_weight: float = field(
        default=1.0, metadata={"help": "Weight of consistency with the archived grounded reasoning."}
    )
    # Deviation: a textual rollout whose text carries a box (a tag, a fragment of one, or an
    # [x1,y1,x2,y2] list) scores 0; the authors do not check, and a policy trained on both streams
    # can answer "textually" through the grounded stream's boxes (docs/scoring.md#box-free-textual-reasoning);
    # option textual_box_free.
    textual_box_free: bool = field(
        default=True,
        metadata={"help": "Score a textual rollout 0 when its text carries a box or box fragment (authors: no check)."},
    )
    # --- single stream: R = format + 1.5 * accuracy ---
    single_format_weight: float = field(default=1.0, metadata={"help": "Weight of the format term, single stream."})
    single_accuracy_weight: float = field(default=1.5, metadata={"help": "Weight of accuracy, single stream (authors: 1.5)."})

    # --- rollout archive (docs/method.md#archive) ---
    archive_min_box_iou: float = field(
        default=0.3, metadata={"help": "τ: a correct grounded rollout needs box IoU >= τ to become a reference."}
    )
    # Deviation: a reference must also have format == 1 (the authors only require accuracy and
    # box IoU, so a badly formatted rollout could become the teacher); option archive_require_format.
    archive_require_format: bool = field(
        default=True, metadata={"help": "Require format == 1 for a grounded rollout to enter the archive."}
    )

    # --- box terms (docs/method.md#box-validity, #box-iou) ---
    box_duplicate_iou: float = field(
        default=0.9, metadata={"help": "Two predicted boxes with IoU above this are duplicates: box_valid = 0."}
    )
    # Deviation: the duplicate check compares all pairs (the authors only pair the first half of
    # the boxes with the others, so boxes 3 and 4 of 4 are never compared); option box_duplicate_all_pairs.
    box_duplicate_all_pairs: bool = field(
        default=True, metadata={"help": "Compare all box pairs in the duplicate check (False: the authors' first-half rule)."}
    )
    box_duplicates_zero_iou: bool = field(
        default=False, metadata={"help": "Also zero box_iou when boxes duplicate each other (authors: no)."}
    )
    box_syntax: str = field(
        default="lenient",
        metadata={"help": "lenient: ints/decimals, spaces allowed; authors: only [int,int,int,int]."},
    )
    max_boxes: int = field(
        default=MAX_BOXES, metadata={"help": "Box spans read per completion; later ones are ignored (bounds the work)."}
    )
    normalize_mode: str = field(
        default="tags",
        metadata={"help": "tags: strip whitespace around tags only; authors: around every '<', '>', '/'."},
    )

    # --- accuracy and judge ---
    max_answer_chars: int = field(
        default=1000, metadata={"help": "Answers longer than this score accuracy 0 with no judge call (authors: 1000)."}
    )
    accuracy_fallback: float = field(
        default=0.0, metadata={"help": "Accuracy given when the judge call raises; counted in judge_errors."}
    )
    consistency_fallback: float = field(
        default=0.0, metadata={"help": "Consistency given when the judge call raises; counted in judge_errors."}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_weight"):
                value = getattr(self, f.name)
                if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                    raise ConfigError(f"scorer.{f.name} must be a finite number >= 0, got {value!r}")
        for name in ("archive_min_box_iou", "box_duplicate_iou", "accuracy_fallback", "consistency_fallback"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"scorer.{name} must be in [0, 1], got {value!r}")
        if self.box_syntax not in ("lenient", "authors"):
            raise ConfigError(f"scorer.box_syntax must be 'lenient' or 'authors', got {self.box_syntax!r}")
        if self.normalize_mode not in ("tags", "authors"):
            raise ConfigError(f"scorer.normalize_mode must be 'tags' or 'authors', got {self.normalize_mode!r}")
        if not isinstance(self.max_boxes, int) or not 1 <= self.max_boxes <= 10_000:
            raise ConfigError(f"scorer.max_boxes must be an integer in [1, 10000], got {self.max_boxes!r}")
        if not isinstance(self.max_answer_chars, int) or self.max_answer_chars < 1:
            raise ConfigError(f"scorer.max_answer_chars must be an integer >= 1, got {self.max_answer_chars!r}")

    def weights(self, stream: str) -> dict[str, float]:
        """Term weights of one stream, keyed by term name (the keys of `RolloutScore`)."""
        prefix = f"{stream}_"
        out = {f.name[len(prefix) : -len("_weight")]: getattr(self, f.name)
               for f in fields(self) if f.name.startswith(prefix) and f.name.endswith("_weight")}
        if not out:
            raise ValueError(f"unknown stream {stream!r}; use grounded, textual or single")
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, where: str = "the scorer settings") -> ScorerConfig:
        """Build from a recipe mapping (`ivgr.recipes.build`: keys checked, values converted by type)."""
        from ivgr.recipes import build

        return build(cls, values, where=where, see="docs/scoring.md")

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping, for saving the resolved config beside a checkpoint."""
        return asdict(self)


__all__ = ["ScorerConfig"]
