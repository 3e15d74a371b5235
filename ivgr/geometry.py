"""Boxes, IoU, coordinate frames and Qwen's smart-resize. Pure python, no numpy/torch.

A box is `(x1, y1, x2, y2)` in a named frame:

- `pixel`: absolute pixels of the image the model sees (after smart-resize; Qwen2.5-VL);
- `norm1000`: coordinates scaled to 0..1000 of the image (Qwen3-VL).

Ground-truth boxes are converted into the model's frame once, at data preparation
(docs/method.md#box-frame), so reward code compares like with like.
"""

from __future__ import annotations

import math

from ivgr.errors import DataError

Box = tuple[float, float, float, float]
FRAMES = ("pixel", "norm1000")

# Coordinates beyond this are treated as garbage, not as a huge image: no real image the
# model sees is a million pixels wide, and rejecting them keeps areas far from float overflow.
MAX_ABS_COORD = 1e6

# Qwen rejects images whose long side is more than 200x the short side
# (qwen-vl-utils smart_resize; docs/method.md#box-frame).
MAX_ASPECT_RATIO = 200


def area(b: Box) -> float:
    """Area of a box; 0 for an inverted or degenerate box (so IoU never goes negative).

    >>> area((0, 0, 2, 3))
    6.0
    >>> area((5, 5, 1, 1))
    0.0
    """
    return float(max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes, always a float in [0, 1].

    IoU = |a ∩ b| / (|a| + |b| - |a ∩ b|); 0.0 when the union is empty (the authors'
    helper returned a bool there, docs/method.md#bug-iou-bool).

    >>> iou((0, 0, 10, 10), (0, 0, 10, 10))
    1.0
    >>> iou((0, 0, 10, 10), (5, 0, 15, 10))
    0.3333333333333333
    >>> iou((0, 0, 0, 0), (0, 0, 0, 0))
    0.0
    """
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = area(a) + area(b) - inter
    # Deviation: always a float, 0.0 on an empty union (the authors' helper could return a
    # bool, docs/method.md#bug-iou-bool); option none (bug fix).
    if not union > 0 or not math.isfinite(union):
        return 0.0
    # min() guards against float rounding pushing the ratio a hair above 1.
    return float(min(1.0, max(0.0, inter / union)))


def is_valid_box(b: Box) -> bool:
    """True if `b` has 4 finite coordinates, x1 < x2, y1 < y2 and |coord| <= MAX_ABS_COORD.

    >>> is_valid_box((0, 0, 1, 1)), is_valid_box((1, 0, 1, 1)), is_valid_box((0, 0, float("nan"), 1))
    (True, False, False)
    """
    if len(b) != 4:
        return False
    try:
        x1, y1, x2, y2 = (float(v) for v in b)
    except (TypeError, ValueError):
        return False
    coords = (x1, y1, x2, y2)
    if not all(math.isfinite(v) and abs(v) <= MAX_ABS_COORD for v in coords):
        return False
    return x1 < x2 and y1 < y2


def clip_box(b: Box, width: float, height: float) -> Box:
    """Clamp a box into the image `[0, width] x [0, height]`.

    >>> clip_box((-5, 2, 120, 50), 100, 40)
    (0.0, 2.0, 100.0, 40.0)
    """
    x1, y1, x2, y2 = b
    return (
        float(min(max(x1, 0.0), width)),
        float(min(max(y1, 0.0), height)),
        float(min(max(x2, 0.0), width)),
        float(min(max(y2, 0.0), height)),
    )


def scale_box(b: Box, sx: float, sy: float) -> Box:
    """Scale x by `sx` and y by `sy` (e.g. original image pixels -> resized image pixels).

    >>> scale_box((10, 20, 30, 40), 0.5, 2)
    (5.0, 40.0, 15.0, 80.0)
    """
    x1, y1, x2, y2 = b
    return (float(x1 * sx), float(y1 * sy), float(x2 * sx), float(y2 * sy))


def to_frame(b: Box, *, src: str, dst: str, width: int, height: int) -> Box:
    """Convert a box between the `pixel` and `norm1000` frames.

    `width`/`height` are the size of the image the pixel frame refers to.
    norm = pixel / size * 1000, pixel = norm / 1000 * size. No rounding: callers that need
    integers round once, at the end.

    >>> to_frame((50, 25, 100, 50), src="pixel", dst="norm1000", width=200, height=100)
    (250.0, 250.0, 500.0, 500.0)
    """
    for name in (src, dst):
        if name not in FRAMES:
            raise ValueError(f"unknown box frame {name!r}; use one of {FRAMES}")
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if src == dst:
        return tuple(float(v) for v in b)  # type: ignore[return-value]
    if src == "pixel":
        return scale_box(b, 1000.0 / width, 1000.0 / height)
    return scale_box(b, width / 1000.0, height / 1000.0)


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int = 28,
    min_pixels: int = 3136,
    max_pixels: int = 3211264,
) -> tuple[int, int]:
    """Qwen-VL's resize rule: sides become multiples of `factor`, pixel count within bounds.

    docs/method.md#box-frame (qwen-vl-utils 0.0.11):
    h' = max(f, round(h/f)·f) (Python's banker's rounding), same for w; if h'·w' > max_pixels,
    β = sqrt(h·w/max_pixels), h' = floor(h/β/f)·f; if h'·w' < min_pixels,
    β = sqrt(min_pixels/(h·w)), h' = ceil(h·β/f)·f. Returns (h', w').

    >>> smart_resize(480, 640)
    (476, 644)
    >>> smart_resize(10, 10)
    (56, 56)
    """
    if height <= 0 or width <= 0:
        raise DataError(f"image size must be positive, got height={height} width={width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise DataError(
            f"image aspect ratio {max(height, width) / min(height, width):.1f} exceeds "
            f"{MAX_ASPECT_RATIO} (height={height}, width={width}); crop or pad the image"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        # Deviation: max(factor, ...) keeps a side >= factor where Qwen's rule would return 0
        # (extreme aspect ratio with a small max_pixels); option none (bug fix).
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


__all__ = [
    "Box",
    "FRAMES",
    "MAX_ABS_COORD",
    "area",
    "clip_box",
    "iou",
    "is_valid_box",
    "scale_box",
    "smart_resize",
    "to_frame",
]
