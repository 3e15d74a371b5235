"""Token ids of a model family that a policy must never sample, and how a generation backend blocks them.

Pure python (reads a config object); training rollouts and inference use the same block.
"""

from __future__ import annotations

from collections.abc import Iterable
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


BLOCK_LOGIT_BIAS = -100.0  # the authors' value (vLLM logit_bias on <|image_pad|>)


def block_tokens(generation_kwargs: dict[str, Any] | None, token_ids: Iterable[int], *, use_vllm: bool) -> dict:
    """`generation_kwargs` plus what forbids sampling `token_ids`, in the backend's own terms.

    TRL hands `generation_kwargs` to `transformers.GenerationConfig` (HF generate) or to
    `vllm.SamplingParams` / the vLLM server's completions request, and each rejects the other's
    key, so the backend picks it: HF gets `suppress_tokens` (logit -inf), vLLM `logit_bias` -100.
    Entries the user set are kept; TRL's own HF default (`suppress_tokens=[image pad]`) is replaced
    by any user value, which is why the union is built here and not left to TRL.

    >>> block_tokens({"suppress_tokens": [7]}, [5, 6], use_vllm=False)
    {'suppress_tokens': [5, 6, 7]}
    >>> block_tokens({"logit_bias": {5: 2.0, 9: 1.0}}, [5], use_vllm=True)
    {'logit_bias': {5: -100.0, 9: 1.0}}
    """
    out = dict(generation_kwargs or {})
    ids = sorted(set(token_ids))
    if not ids:
        return out
    if use_vllm:
        bias = {int(k): float(v) for k, v in (out.get("logit_bias") or {}).items()}
        bias.update({i: min(bias.get(i, 0.0), BLOCK_LOGIT_BIAS) for i in ids})
        out["logit_bias"] = dict(sorted(bias.items()))
    else:
        out["suppress_tokens"] = sorted(set(out.get("suppress_tokens") or ()) | set(ids))
    return out


__all__ = ["BLOCK_LOGIT_BIAS", "VISION_TOKEN_KEYS", "block_tokens", "vision_placeholder_ids"]
