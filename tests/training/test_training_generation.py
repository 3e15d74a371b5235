"""Rollouts never sample a vision placeholder token (image/video pad, vision start/end).

One sampled `<|image_pad|>` makes the log-prob forward raise "Image features and image tokens do
not match" and kills the run. The tiny model's lm_head is biased toward the placeholders, so
without the block nearly every sampled token would be one.
"""

from __future__ import annotations

import pytest

from ivgr.models.tokens import BLOCK_LOGIT_BIAS, block_tokens

PLACEHOLDERS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def test_hf_backend_gets_the_union_of_suppressed_tokens():
    got = block_tokens({"suppress_tokens": [2], "top_k": 5}, [5, 3], use_vllm=False)
    assert got == {"suppress_tokens": [2, 3, 5], "top_k": 5} and "logit_bias" not in got


def test_vllm_backend_gets_the_authors_logit_bias():
    got = block_tokens({"logit_bias": {"5": 3.0, "9": -1.0}}, [5, 6], use_vllm=True)
    assert got == {"logit_bias": {5: BLOCK_LOGIT_BIAS, 6: BLOCK_LOGIT_BIAS, 9: -1.0}}
    assert "suppress_tokens" not in got  # vllm.SamplingParams rejects unknown keys


@pytest.mark.parametrize("use_vllm", [False, True])
def test_trainer_blocks_every_placeholder_of_the_loaded_family(tmp_path, use_vllm):
    from transformers import AutoConfig

    from ivgr.models import build_tiny_model
    from ivgr.training.trainer import block_vision_tokens

    model_dir = build_tiny_model(tmp_path / "m", seed=0)
    config = AutoConfig.from_pretrained(model_dir)
    ids = sorted(getattr(config, name) for name in PLACEHOLDERS)

    class Args:  # the two fields block_vision_tokens reads, plus the switch
        block_vision_tokens = True
        generation_kwargs = None

    Args.use_vllm = use_vllm
    block_vision_tokens(Args, str(model_dir))
    if use_vllm:
        assert Args.generation_kwargs == {"logit_bias": dict.fromkeys(ids, BLOCK_LOGIT_BIAS)}
    else:
        assert Args.generation_kwargs == {"suppress_tokens": ids}


def test_trl_hands_generation_kwargs_to_both_backends():
    # The block reaches generation only through GRPOConfig.generation_kwargs; pin TRL's plumbing.
    import inspect

    from trl import GRPOTrainer
    from trl.generation.vllm_generation import VLLMGeneration

    assert "generation_kwargs.update(args.generation_kwargs)" in inspect.getsource(GRPOTrainer.__init__)
    vllm_source = inspect.getsource(VLLMGeneration.generate)
    assert "generation_kwargs.update(self.generation_kwargs)" in vllm_source  # colocate -> SamplingParams
    assert '"generation_kwargs": self.generation_kwargs' in vllm_source  # server -> completions request


def _biased_train(tmp_path, data, monkeypatch, **overrides):
    """Train a tiny model whose lm_head bias is +30 on every placeholder; returns the sampled ids."""
    import torch

    import ivgr.training.train as train_module
    from ivgr.models import build_tiny_model
    from ivgr.training.config import config_from_dict
    from ivgr.training.trainer import IvgrGRPOTrainer

    load_policy = train_module.load_policy

    def biased_policy(cfg, model_path):
        model, processor = load_policy(cfg, model_path)
        bias = torch.zeros(model.lm_head.out_features)
        bias[[getattr(model.config, name) for name in PLACEHOLDERS]] = 30.0
        model.lm_head.bias = torch.nn.Parameter(bias, requires_grad=False)
        return model, processor

    sampled: list[list[int]] = []
    calculate = IvgrGRPOTrainer._calculate_rewards

    def recording(self, inputs, prompts, completions, completion_ids_list):
        sampled.extend(list(map(int, ids)) for ids in completion_ids_list)
        return calculate(self, inputs, prompts, completions, completion_ids_list)

    monkeypatch.setattr(train_module, "load_policy", biased_policy)
    monkeypatch.setattr(IvgrGRPOTrainer, "_calculate_rewards", recording)
    values = {
        "model_path": str(build_tiny_model(tmp_path / "model", seed=0)), "data_path": str(data),
        "output_dir": str(tmp_path / "run"), "num_generations": 2, "per_device_train_batch_size": 4,
        "steps_per_generation": 1, "max_steps": 2, "max_completion_length": 12, "use_cpu": True, "bf16": False,
        "activation_checkpointing": False, "report_to": ["none"], "save_steps": 100, "judge": {"kind": "rules"},
        **overrides,
    }
    result = train_module.train(config_from_dict(values))
    return result, sampled


@pytest.mark.slow
@pytest.mark.parametrize(
    "generation_kwargs",
    [None, {"suppress_tokens": [2]}],  # 2 = <|im_start|>: a user's own list replaced TRL's image-pad block
    ids=["default", "user_suppress_tokens"],
)
def test_training_goes_on_when_the_head_prefers_placeholders(tmp_path, synthetic_data, monkeypatch,
                                                             generation_kwargs):
    from transformers import AutoConfig

    result, sampled = _biased_train(tmp_path, synthetic_data, monkeypatch, generation_kwargs=generation_kwargs)
    assert result.global_step == 2
    config = AutoConfig.from_pretrained(tmp_path / "model")
    blocked = {getattr(config, name) for name in PLACEHOLDERS}
    assert sampled and all(len(ids) == 12 for ids in sampled)  # the bias held: nothing ended early
    assert not blocked & {t for ids in sampled for t in ids}
    if generation_kwargs:
        assert not {2} & {t for ids in sampled for t in ids}  # the user's own block still holds
