"""Geometry of the tool-assisted mode: model boxes -> original pixels -> crop regions.

Pure python (PIL only for the actual crop), so it is testable without a model.
"""

from __future__ import annotations

from typing import Any

from ivgr.geometry import clip_box, is_valid_box, scale_box, to_frame
from ivgr.inference.types import Box, ToolOptions


def to_original(box: Box, *, frame: str, model_size: tuple[int, int], image_size: tuple[int, int]) -> Box | None:
    """A model box in `frame` -> original-image pixels, clipped; None if degenerate.

    pixel frame: coordinates of the smart-resized image (w', h'): x · W/w', y · H/h'.
    norm1000 frame: x/1000 · W, y/1000 · H.

    >>> to_original((14, 28, 56, 56), frame="pixel", model_size=(112, 56), image_size=(224, 112))
    (28.0, 56.0, 112.0, 112.0)
    >>> to_original((0, 0, 500, 1000), frame="norm1000", model_size=(112, 56), image_size=(200, 100))
    (0.0, 0.0, 100.0, 100.0)
    """
    (w, h), (W, H) = model_size, image_size
    if frame == "norm1000":
        out = to_frame(box, src="norm1000", dst="pixel", width=W, height=H)
    else:
        out = scale_box(box, W / w, H / h)
    out = clip_box(out, W, H)
    return out if is_valid_box(out) else None


def expand(box: Box, *, margin: float, min_margin_px: int, width: int, height: int) -> Box:
    """Grow a box by `margin` × its size on each side (at least `min_margin_px`), clipped.

    >>> expand((10, 10, 20, 20), margin=0.5, min_margin_px=0, width=100, height=100)
    (5.0, 5.0, 25.0, 25.0)
    """
    x1, y1, x2, y2 = box
    mx = max(margin * (x2 - x1), min_margin_px)
    my = max(margin * (y2 - y1), min_margin_px)
    return clip_box((x1 - mx, y1 - my, x2 + mx, y2 + my), width, height)


def union_box(boxes: list[Box]) -> Box:
    """Smallest box covering all `boxes` (keeps their relative layout, docs/method.md#tool-assisted-inference).

    >>> union_box([(0, 0, 10, 10), (5, 20, 30, 25)])
    (0, 0, 30, 25)
    """
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def crop_regions(boxes: list[Box], *, image_size: tuple[int, int], opts: ToolOptions) -> tuple[list[Box], Box | None]:
    """(local crop regions, union region) in original pixels, per the tool options.

    Duplicate boxes are dropped before `max_crops` is applied; the union covers *all*
    predicted boxes (not only the kept crops) and is omitted when it would equal the only crop.
    """
    W, H = image_size
    unique: list[Box] = []
    for b in boxes:
        if b not in unique:
            unique.append(b)
    if not unique:
        return [], None
    local = [expand(b, margin=opts.margin, min_margin_px=opts.min_margin_px, width=W, height=H)
             for b in unique[: opts.max_crops]]
    uni = expand(union_box(unique), margin=opts.margin, min_margin_px=opts.min_margin_px, width=W, height=H)
    crops = local if opts.style in ("crops", "crops+union") else []
    want_union = opts.style in ("union", "crops+union")
    if want_union and opts.style == "crops+union" and len(unique) == 1:
        # Deviation: the union of one box is that box, so it is not fed twice (the paper's
        # crops+union variant is unspecified here, docs/method.md#tool-assisted-inference); option --crops
        want_union = False
    return crops, (uni if want_union else None)


def cut(image: Any, region: Box, *, min_side: int) -> Any:
    """Crop `region` (original pixels) from a PIL image; upscale so the short side >= min_side."""
    from PIL import Image

    x1, y1, x2, y2 = (int(round(v)) for v in region)
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    crop = image.crop((x1, y1, x2, y2))
    crop.info.pop("ivgr_original_size", None)  # PIL copies info: the crop is its own original
    short = min(crop.size)
    if short < min_side:
        s = min_side / short
        crop = crop.resize((max(1, round(crop.width * s)), max(1, round(crop.height * s))), Image.BICUBIC)
    return crop
