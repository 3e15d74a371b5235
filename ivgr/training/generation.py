"""Rollout sampling settings that ivgr adds to TRL's `generation_kwargs` (pure python)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


__all__ = ["BLOCK_LOGIT_BIAS", "block_tokens"]
