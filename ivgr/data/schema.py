"""The typed training-row record (`Sample`) shared by prepare, the trainer, SFT and the demo.

Pure python + pydantic: no torch/transformers/trl at module level (a test checks it).

A `Sample` is one question on one image. Its ground-truth boxes are stored *together with the
size of the image they refer to* (`image_size`) and the coordinate `frame`, so a consumer can
check consistency at load time instead of trusting that boxes and pictures still match.
# docs/method.md#bug-multi-image-boxes: the authors rescaled boxes with the width/height of two
# different images on multi-image rows, and an offline resize script could desynchronise boxes
# from the files on disk; recording the size beside the boxes makes both detectable.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ivgr.geometry import FRAMES, Box, to_frame

KINDS = ("paired", "single")
NORM1000_MAX = 1000.0

SAMPLE_ID_HEX_CHARS = 20  # 80 bits: collisions need ~10^12 questions, far beyond any dataset


def make_sample_id(image_bytes: bytes, question: str) -> str:
    """Stable id for a question without one: sha256 over the image bytes and the question text.

    Never a row index: the authors keyed everything (rewards, cache, logs, SFT scripts) by the
    row index after filtering, so re-filtering or re-ordering silently re-labelled questions
    (docs/method.md#streams). Same bytes + same question -> same id on any machine.

    >>> make_sample_id(b"img", "What colour?") == make_sample_id(b"img", "What colour?")
    True
    >>> make_sample_id(b"img", "a") == make_sample_id(b"img", "b")
    False
    """
    return sample_id_from_digest(hashlib.sha256(image_bytes).digest(), question)


def sample_id_from_digest(image_sha256: bytes, question: str) -> str:
    """`make_sample_id` for callers that already hold the sha256 digest of the image bytes.

    >>> sample_id_from_digest(hashlib.sha256(b"img").digest(), "q") == make_sample_id(b"img", "q")
    True
    """
    # Deviation: ids are content hashes (or the data's own id), not the row index after
    # filtering that the authors used; option none (always on).
    digest = hashlib.sha256()
    digest.update(image_sha256)
    digest.update(b"\x00")
    digest.update(question.encode("utf-8"))
    return "sha-" + digest.hexdigest()[:SAMPLE_ID_HEX_CHARS]


class Sample(BaseModel):
    """One prepared training question (what `DIR/samples.jsonl` holds, one per line).

    `kind` says how the trainer uses it: "paired" rows become a grounded *and* a textual
    prompt, "single" rows only a single-stream prompt (docs/method.md#streams).
    """

    model_config = ConfigDict(extra="ignore", frozen=False)

    sample_id: str = Field(min_length=1, description="Stable id from the data, else make_sample_id().")
    image: str = Field(min_length=1, description="Image path, relative to the dataset dir or absolute.")
    question: str = Field(min_length=1, description="The bare question, without any <image> token.")
    answer: str = Field(min_length=1, description="Ground-truth answer.")
    target_boxes: list[Box] = Field(default_factory=list, description="GT boxes in `frame`.")
    frame: str = Field(default="pixel", description="Coordinate frame of target_boxes: pixel | norm1000.")
    image_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the image the model sees; boxes refer to it."
    )
    datasource: str = Field(default="unknown", description="Origin of the row (e.g. treevgr).")
    kind: str = Field(default="paired", description="paired (grounded+textual) | single.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Pass-through columns.")

    @field_validator("frame")
    @classmethod
    def _known_frame(cls, value: str) -> str:
        if value not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {value!r}")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {value!r}")
        return value

    @field_validator("image_size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (value[0] <= 0 or value[1] <= 0):
            raise ValueError(f"image_size must be positive (width, height), got {value}")
        return value

    @field_validator("target_boxes")
    @classmethod
    def _finite_ordered_boxes(cls, boxes: list[Box]) -> list[Box]:
        for box in boxes:
            if not all(math.isfinite(v) for v in box):
                raise ValueError(f"box {list(box)} has a non-finite coordinate")
            if not (box[0] < box[2] and box[1] < box[3]):
                raise ValueError(f"box {list(box)} needs x1<x2 and y1<y2")
        return boxes

    @model_validator(mode="after")
    def _boxes_inside_their_image(self) -> Sample:
        """Boxes must lie inside the image they refer to (docs/method.md#bug-multi-image-boxes)."""
        if not self.target_boxes:
            return self
        if self.frame == "norm1000":
            width, height = NORM1000_MAX, NORM1000_MAX
        elif self.image_size is not None:
            width, height = self.image_size
        else:
            raise ValueError("pixel-frame target_boxes need image_size (the image they refer to)")
        for x1, y1, x2, y2 in self.target_boxes:
            if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
                raise ValueError(
                    f"box {[x1, y1, x2, y2]} lies outside its {self.frame} image {width:g}x{height:g}"
                )
        return self

    @property
    def streams(self) -> tuple[str, ...]:
        """Stream names this sample feeds: ("grounded", "textual") or ("single",)."""
        return ("grounded", "textual") if self.kind == "paired" else ("single",)


def pixel_targets(sample: Sample) -> list[Box]:
    """A sample's target boxes in pixels of its image, the frame the engine reports predicted boxes in."""
    if sample.frame == "pixel":
        return list(sample.target_boxes)
    width, height = sample.image_size
    return [to_frame(b, src=sample.frame, dst="pixel", width=width, height=height) for b in sample.target_boxes]


__all__ = ["Box", "FRAMES", "KINDS", "Sample", "make_sample_id", "pixel_targets", "sample_id_from_digest"]
