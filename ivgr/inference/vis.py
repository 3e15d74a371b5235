"""Draw an inference result on its image: predicted boxes (green), tool crops (orange), union (blue)."""

from __future__ import annotations

from typing import Any

from ivgr.inference.types import InferenceResult


def draw_result(image: Any, result: InferenceResult) -> Any:
    """A copy of `image` (original pixels) with the result's boxes and crop regions drawn."""
    from PIL import ImageDraw

    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 200))  # visible on 8K images too
    for region in result.crops:
        draw.rectangle(region, outline=(255, 140, 0), width=width)
    if result.union is not None:
        draw.rectangle(result.union, outline=(30, 110, 255), width=width)
    for i, box in enumerate(result.boxes):
        draw.rectangle(box, outline=(0, 200, 0), width=width)
        draw.text((box[0] + width, box[1] + width), str(i + 1), fill=(0, 200, 0))
    return out
