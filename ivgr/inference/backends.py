"""Generation backends: HF transformers (CPU/GPU, always available) and vLLM (optional).

A backend turns a batch of (user text, images) into completions. Both use the checkpoint's
own chat template through `ivgr.prompts.chat_messages`, so prompts match training.
"""

from __future__ import annotations

import logging
from typing import Any

from ivgr.errors import ConfigError, ModelError

log = logging.getLogger(__name__)


def blocked_vision_tokens(config: Any, *, use_vllm: bool, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Generation kwargs that forbid the model's vision placeholder tokens (image/video pad, vision start/end).

    The policy was trained on rollouts that never sample them (`block_vision_tokens`), so inference
    does not either: a sampled placeholder is decoded away as a special token and would leave a
    hole in the reasoning. HF generate gets `suppress_tokens` (merged with `kwargs`), vLLM `logit_bias`.
    """
    from ivgr.models.tokens import block_tokens, vision_placeholder_ids

    return block_tokens(kwargs, vision_placeholder_ids(config), use_vllm=use_vllm)


class HFBackend:
    """Batched `model.generate` with left padding; greedy unless temperature > 0."""

    def __init__(self, model_path: str, *, min_pixels: int | None, max_pixels: int | None,
                 device: str | None = None, dtype: str = "auto", trust_remote_code: bool = False):
        import torch

        from ivgr.models import load_model_and_processor

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model, self.processor = load_model_and_processor(
            model_path, dtype=dtype, device=device, min_pixels=min_pixels, max_pixels=max_pixels,
            trust_remote_code=trust_remote_code)
        # Decoder-only batching needs left padding so every prompt ends where generation starts.
        self.processor.tokenizer.padding_side = "left"
        from ivgr.models.processor import pixel_limits, resize_factor

        self.min_pixels, self.max_pixels = pixel_limits(self.processor)
        self.factor = resize_factor(self.processor)
        self.config = self.model.config
        own = self.model.generation_config.suppress_tokens
        self.block = blocked_vision_tokens(self.config, use_vllm=False, kwargs={"suppress_tokens": own} if own else None)

    def generate(self, batch: list[tuple[str, list[Any]]], *, max_new_tokens: int, temperature: float,
                 prefixes: list[str] | None = None) -> list[str]:
        """Completions of `batch` ((prompt text, images) pairs); `prefixes[i]`, when given, is forced
        as the start of completion i (not returned), for probes that fix part of the reasoning."""
        import torch

        from ivgr.prompts import chat_messages

        texts = [self.processor.apply_chat_template(chat_messages(text, n_images=len(imgs)),
                                                    add_generation_prompt=True, tokenize=False)
                 for text, imgs in batch]
        if prefixes is not None:
            texts = [text + prefix for text, prefix in zip(texts, prefixes, strict=True)]
        images = [img for _, imgs in batch for img in imgs]
        enc = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        enc = enc.to(self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0, **self.block}
        if temperature > 0:
            kwargs["temperature"] = temperature
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)


class VLLMBackend:
    """vLLM offline engine with `multi_modal_data` (GPU). Imported only when chosen."""

    def __init__(self, model_path: str, *, min_pixels: int | None, max_pixels: int | None,
                 max_images: int = 6, trust_remote_code: bool = False, **engine_kwargs: Any):
        try:
            from vllm import LLM
        except ImportError:
            raise ConfigError("backend 'vllm' needs the vllm package: pip install 'ivgr[vllm]' "
                              "(GPU only); or use --backend hf") from None
        from ivgr.models import load_processor

        self.processor = load_processor(model_path, min_pixels=min_pixels, max_pixels=max_pixels,
                                        trust_remote_code=trust_remote_code)
        from ivgr.models.processor import pixel_limits, resize_factor

        self.min_pixels, self.max_pixels = pixel_limits(self.processor)
        self.factor = resize_factor(self.processor)
        mm_kwargs = {k: v for k, v in (("min_pixels", self.min_pixels), ("max_pixels", self.max_pixels)) if v}
        try:
            self.llm = LLM(model=str(model_path), limit_mm_per_prompt={"image": max_images},
                           mm_processor_kwargs=mm_kwargs, trust_remote_code=trust_remote_code, **engine_kwargs)
        except Exception as err:  # vLLM raises many types at start-up (CUDA, config, memory)
            raise ModelError(f"{model_path}: vLLM could not start ({type(err).__name__}: {err})") from None
        from transformers import AutoConfig

        self.config = AutoConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        self.block = blocked_vision_tokens(self.config, use_vllm=True)

    def generate(self, batch: list[tuple[str, list[Any]]], *, max_new_tokens: int, temperature: float) -> list[str]:
        from vllm import SamplingParams

        from ivgr.prompts import chat_messages

        inputs = []
        for text, imgs in batch:
            prompt = self.processor.apply_chat_template(chat_messages(text, n_images=len(imgs)),
                                                        add_generation_prompt=True, tokenize=False)
            inputs.append({"prompt": prompt, "multi_modal_data": {"image": imgs if len(imgs) != 1 else imgs[0]}})
        params = SamplingParams(temperature=temperature, max_tokens=max_new_tokens, **self.block)
        outs = self.llm.generate(inputs, params, use_tqdm=False)
        return [o.outputs[0].text for o in outs]
