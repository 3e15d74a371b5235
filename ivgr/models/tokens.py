"""Token ids of a model family that a policy must never sample (pure python: reads a config object)."""

from __future__ import annotations

from typing import Any

# Where transformers' VLM configs keep their placeholder ids: Qwen2-VL, Qwen2.5-VL and Qwen3-VL use
# `*_token_id` (top level, some also in text_config); LLaVA-style configs use `*_token_index`.
VISION_TOKEN_KEYS = (
    "image_token_id",
    "video_token_id",
    "vision_start_token_id",
    "vision_end_token_id",
    "image_token_index",
    "video_token_index",
)


def vision_placeholder_ids(config: Any) -> tuple[int, ...]:
    """The image pad, video pad and vision start/end ids of a loaded model's config, sorted.

    Each stands for pixels the processor inserted: a sampled `<|image_pad|>` makes the next
    forward pass find more image tokens than image features and raise
    ("Image features and image tokens do not match").

    >>> from types import SimpleNamespace
    >>> qwen25 = SimpleNamespace(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
    ...                          vision_end_token_id=151653, text_config=SimpleNamespace(image_token_id=151655))
    >>> vision_placeholder_ids(qwen25)
    (151652, 151653, 151655, 151656)
    """
    ids: set[int] = set()
    for source in (config, getattr(config, "text_config", None)):
        for key in VISION_TOKEN_KEYS:
            value = getattr(source, key, None)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                ids.add(value)
    return tuple(sorted(ids))


__all__ = ["VISION_TOKEN_KEYS", "vision_placeholder_ids"]
