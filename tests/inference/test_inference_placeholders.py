"""Inference never generates a vision placeholder token (image/video pad, vision start/end).

The rollouts block them (tests/training/test_training_generation.py); the inference backends use
the same ids. The tiny model's lm_head is biased toward the placeholders, so without the block
nearly every generated token would be one (and be decoded away as a special token).
"""

from __future__ import annotations

import sys
import types

import pytest
from PIL import Image

from ivgr.models.tokens import BLOCK_LOGIT_BIAS

PLACEHOLDERS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ivgr.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("ph") / "tiny", seed=0)


@pytest.mark.slow
def test_hf_backend_never_generates_a_placeholder_the_head_prefers(tiny):
    import torch

    from ivgr.inference.backends import HFBackend

    backend = HFBackend(str(tiny), min_pixels=None, max_pixels=None, device="cpu")
    blocked = {getattr(backend.config, name) for name in PLACEHOLDERS}
    bias = torch.zeros(backend.model.lm_head.out_features)
    bias[sorted(blocked)] = 30.0
    backend.model.lm_head.bias = torch.nn.Parameter(bias, requires_grad=False)
    generated = []
    generate = backend.model.generate

    def recording(**kwargs):
        out = generate(**kwargs)
        generated.append(out[:, kwargs["input_ids"].shape[1]:])
        return out

    backend.model.generate = recording
    image = Image.new("RGB", (112, 112), "red")
    for temperature in (0.0, 1.0):
        texts = backend.generate([("What colour is it?", [image])] * 2, max_new_tokens=6, temperature=temperature)
        assert all(texts)  # without the block: six placeholders each, decoded to ""
    ids = torch.cat(generated).flatten().tolist()
    assert len(ids) == 2 * 2 * 6 and not blocked & set(ids)


def test_vllm_backend_passes_the_authors_logit_bias(tiny, monkeypatch):
    from transformers import AutoConfig

    from ivgr.inference.backends import VLLMBackend, blocked_vision_tokens

    seen = {}

    class SamplingParams:  # what vLLM receives; the real one needs a GPU build
        def __init__(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(SamplingParams=SamplingParams))
    config = AutoConfig.from_pretrained(tiny)
    backend = object.__new__(VLLMBackend)  # no engine start: only the request is under test
    backend.processor = types.SimpleNamespace(apply_chat_template=lambda *a, **k: "prompt")
    backend.block = blocked_vision_tokens(config, use_vllm=True)
    output = types.SimpleNamespace(outputs=[types.SimpleNamespace(text="ok")])
    backend.llm = types.SimpleNamespace(generate=lambda inputs, params, use_tqdm: [output] * len(inputs))
    assert backend.generate([("Q?", [Image.new("RGB", (8, 8))])], max_new_tokens=4, temperature=0.0) == ["ok"]
    ids = sorted(getattr(config, name) for name in PLACEHOLDERS)
    assert seen["logit_bias"] == dict.fromkeys(ids, BLOCK_LOGIT_BIAS) and seen["max_tokens"] == 4
