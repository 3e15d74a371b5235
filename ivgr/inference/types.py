"""Requests, results and tool options of the inference engine (pure python, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ivgr.errors import ConfigError

Box = tuple[float, float, float, float]
MODES = ("textual", "grounded", "tool")
CROP_STYLES = ("crops", "union", "crops+union")


@dataclass
class InferenceRequest:
    """One question about one image.

    `image` is a PIL image, a path, or a zero-argument callable returning a PIL image: the
    engine decodes it only when its batch runs, so a benchmark of 8K images never holds more
    than one batch of decoded images.
    """

    image: Any  # PIL.Image.Image | str | os.PathLike | Callable[[], PIL.Image.Image]
    question: str
    request_id: str = ""


@dataclass
class InferenceResult:
    """What one request produced. Boxes are in ORIGINAL-image pixels, whatever the model frame."""

    mode: str
    completion: str  # raw text of the final pass
    reasoning: str | None  # <think> content of the final pass
    answer: str | None  # <answer> content of the final pass
    boxes: list[Box] = field(default_factory=list)  # grounded / tool: boxes of the grounded pass
    crops: list[Box] = field(default_factory=list)  # tool: regions fed back as local crops
    union: Box | None = None  # tool: the union crop region, if used
    grounded_completion: str | None = None  # tool: raw text of the grounded pass
    tool_fallback: bool = False  # tool: no box was predicted, the textual pass ran alone
    image_size: tuple[int, int] = (0, 0)  # original (width, height)
    model_size: tuple[int, int] = (0, 0)  # (width, height) after smart-resize
    request_id: str = ""


@dataclass
class ToolOptions:
    """Crop settings of the tool-assisted mode (open in the paper: docs/method.md#tool-assisted-inference)."""

    style: str = "crops+union"  # the paper's best variant (docs/method.md#tool-assisted-inference)
    margin: float = 0.1  # fraction of the box's width/height added on each side
    min_margin_px: int = 8  # so a tiny box keeps some context
    max_crops: int = 4  # local crops kept (first boxes in reading order); union always allowed
    min_side: int = 112  # a crop whose short side is below this is upscaled to it

    def __post_init__(self) -> None:
        if self.style not in CROP_STYLES:
            raise ConfigError(f"tool crop style must be one of {', '.join(CROP_STYLES)}, got {self.style!r}")
        if not 0 <= self.margin <= 2:
            raise ConfigError(f"tool crop margin must be within [0, 2] (a fraction of the box), got {self.margin}")
        if self.max_crops < 1:
            raise ConfigError(f"tool max_crops must be >= 1, got {self.max_crops}")
        if self.min_side < 1:
            raise ConfigError(f"tool min_side must be >= 1, got {self.min_side}")

