"""Code paths that only run on a CUDA device; bench/gpu_check.sh runs these on the device machine.

They live outside tests/ on purpose: CI has no GPU, and a test that skips itself there would pass
without checking anything. Collected on a machine without CUDA, this module fails loudly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

assert torch.cuda.is_available(), "bench/gpu_tests needs a CUDA device: run bench/gpu_check.sh on the GPU machine"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    from ivgr.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_trls_fused_lm_head_matches_log_softmax_on_cuda(tiny_model_dir):
    # On CUDA, TRL scores tokens with a Triton kernel that CPU CI never runs; GRPO's ratios rest on it.
    from trl.trainer.utils import add_fused_lm_head

    from ivgr.models import load_model_and_processor

    model, _ = load_model_and_processor(tiny_model_dir, dtype="float32", device="cuda")
    vocab = model.config.get_text_config().vocab_size
    gen = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, vocab, (3, 40), device="cuda", generator=gen)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        expected = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        add_fused_lm_head(model)
        fused = model(input_ids=ids, attention_mask=mask, labels=ids, fused_lm_head=True).log_probs
    torch.testing.assert_close(fused[:, : expected.shape[1]].float(), expected, atol=2e-3, rtol=1e-3)


def test_a_grpo_step_trains_in_bf16_on_cuda(tiny_model_dir, tmp_path):
    from ivgr.data.synthetic import generate
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    generate(tmp_path / "data", n=16, seed=0, split="train")
    cfg = config_from_dict({
        "model_path": str(tiny_model_dir), "data_path": str(tmp_path / "data"), "output_dir": str(tmp_path / "run"),
        "num_generations": 4, "per_device_train_batch_size": 16, "steps_per_generation": 1, "max_steps": 1,
        "max_completion_length": 16, "beta": 0.01, "bf16": True, "model_dtype": "bfloat16",
        "activation_checkpointing": True, "use_cpu": False, "logging_steps": 1, "save_strategy": "no",
        "report_to": ["none"], "judge": {"kind": "rules"},
    }, source="gpu_tests")
    torch.cuda.reset_peak_memory_stats()
    result = train(cfg)
    logged = [h for h in result.history if "loss" in h]
    assert logged and all(math.isfinite(h["loss"]) for h in logged)
    assert torch.cuda.max_memory_allocated() > 0  # the step ran on the GPU, not silently on the CPU
