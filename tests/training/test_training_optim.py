"""A model loaded in bf16 keeps its small updates (Kahan-compensated AdamW or fp32 master weights).

Plain torch AdamW on bf16 weights rounds away every update below half a weight's bf16 spacing
(about |w| * 2^-9): at the authors' lr 1e-6 almost no weight ever moves.
"""

from __future__ import annotations

import pytest
import torch

from ivgr.training.optim import KahanAdamW, bf16_update_plan


def _weights(dtype):
    torch.manual_seed(0)
    return torch.nn.Parameter((torch.randn(4096) * 0.02).to(dtype))


def _train(opt_cls, weights, steps, lr=1e-6):
    grads = torch.sign(torch.randn(4096, generator=torch.Generator().manual_seed(1)))  # one direction per weight
    opt = opt_cls([weights], lr=lr, weight_decay=0.0)
    for _ in range(steps):
        weights.grad = grads.to(weights.dtype)
        opt.step()
    return weights.detach()


def test_plain_adamw_on_bf16_weights_loses_small_updates():
    start = _weights(torch.bfloat16).detach().clone()
    after = _train(torch.optim.AdamW, _weights(torch.bfloat16), steps=100)
    assert (after != start).float().mean() < 0.05  # the failure this module exists for


def test_kahan_adamw_on_bf16_weights_follows_fp32_adamw():
    start = _weights(torch.bfloat16).detach().clone()
    kahan = _train(KahanAdamW, _weights(torch.bfloat16), steps=300)  # 300 x 1e-6 = 3e-4 per weight
    exact = _train(torch.optim.AdamW, torch.nn.Parameter(start.float()), steps=300)  # same start, in fp32
    assert (kahan != start).float().mean() > 0.9
    # Within a tenth of the total update plus one bf16 step: the moments are bf16 too (as the authors'),
    # so each step's size is off by a few parts in 2^8; the rounding losses themselves do not pile up.
    spacing = torch.finfo(torch.bfloat16).eps * exact.abs()
    assert ((kahan.float() - exact).abs() <= 0.1 * (exact - start.float()).abs() + spacing).all()


def test_kahan_adamw_on_fp32_weights_is_adamw():
    kahan = _train(KahanAdamW, _weights(torch.float32), steps=20, lr=1e-3)
    exact = _train(torch.optim.AdamW, _weights(torch.float32), steps=20, lr=1e-3)
    torch.testing.assert_close(kahan, exact)


class _Args:
    bf16_master = "kahan"
    optim = "adamw_torch"


@pytest.mark.parametrize(
    ("dtype", "sharded", "mode", "optim", "expected"),
    [
        (torch.bfloat16, False, "kahan", "adamw_torch", "kahan"),
        (torch.bfloat16, False, "fp32", "adamw_torch", "fp32"),
        (torch.bfloat16, False, "off", "adamw_torch", None),
        (torch.bfloat16, True, "kahan", "adamw_torch", None),  # ZeRO/FSDP keep fp32 masters
        (torch.float32, False, "kahan", "adamw_torch", None),
        (torch.bfloat16, False, "kahan", "adafactor", None),  # the user's explicit optimizer is kept
    ],
)
def test_the_plan_applies_only_to_unprotected_bf16_weights(dtype, sharded, mode, optim, expected):
    args = _Args()
    args.bf16_master, args.optim = mode, optim
    params = [torch.nn.Parameter(torch.zeros(2, dtype=dtype))]
    assert bf16_update_plan(args, params, sharded_master=sharded) == expected


def test_unknown_bf16_master_is_a_config_error():
    from ivgr.errors import ConfigError
    from ivgr.training.config import config_from_dict

    with pytest.raises(ConfigError, match="bf16_master='fp16' must be one of kahan, fp32, off"):
        config_from_dict({"model_path": "tiny", "data_path": "synthetic", "num_generations": 2,
                          "per_device_train_batch_size": 4, "steps_per_generation": 1, "use_cpu": True,
                          "bf16_master": "fp16"})


def test_a_recipes_bare_off_is_off_not_false():
    from ivgr.training.config import config_from_dict

    cfg = config_from_dict({"model_path": "tiny", "data_path": "synthetic", "num_generations": 2,
                            "per_device_train_batch_size": 4, "steps_per_generation": 1, "use_cpu": True,
                            "bf16_master": False}, check_data=False)  # YAML 1.1 reads `bf16_master: off` so
    assert cfg.bf16_master == "off"


def _optimizer_view(tmp_path, data, monkeypatch, mode: str) -> tuple[float, float]:
    """4 CPU bf16 GRPO steps at the authors' lr 1e-6 with nonzero advantages, in one `bf16_master` mode.

    Returns, over the weights that received a nonzero gradient, the share whose value as the
    optimizer holds it moved (`off`: the bf16 weight; `kahan`: weight + compensation; `fp32`: the
    fp32 master), and the share whose bf16 value (what the forward pass uses) moved.
    """
    from ivgr.models import build_tiny_model
    from ivgr.training.config import config_from_dict
    from ivgr.training.rewards import BatchRewarder
    from ivgr.training.train import train
    from ivgr.training.trainer import IvgrGRPOTrainer

    score = BatchRewarder.score

    def alternating(self, rollouts, *, step):  # 0, 1 in every group of 2: advantages +-1, never 0
        _, stats, scores = score(self, rollouts, step=step)
        return [float(i % 2) for i in range(len(rollouts))], stats, scores

    create = IvgrGRPOTrainer.create_optimizer
    made: dict = {}

    def recording(self, model=None):  # the optimizer the trainer built, and its weights before step 1
        optimizer = create(self, model)
        made["optimizer"] = optimizer
        made["start"] = [p.detach().clone() for group in optimizer.param_groups for p in group["params"]]
        return optimizer

    monkeypatch.setattr(BatchRewarder, "score", alternating)
    monkeypatch.setattr(IvgrGRPOTrainer, "create_optimizer", recording)
    model = build_tiny_model(tmp_path / "model", seed=0)
    cfg = config_from_dict({
        "model_path": str(model), "data_path": str(data), "output_dir": str(tmp_path / mode),
        "num_generations": 2, "per_device_train_batch_size": 4, "steps_per_generation": 1, "max_steps": 4,
        "max_completion_length": 8, "learning_rate": 1e-6, "beta": 0.0, "use_cpu": True, "bf16": True,
        "model_dtype": "bfloat16", "bf16_master": mode, "activation_checkpointing": False, "report_to": ["none"],
        "save_steps": 100, "seed": 11, "judge": {"kind": "rules"},
    })
    assert train(cfg).global_step == 4
    optimizer = made["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]  # the state's keys
    graded = held = stored = 0
    for param, start in zip(params, made["start"]):
        state, p = optimizer.state[param], param.detach()
        if "exp_avg" not in state:  # never had a gradient
            continue
        got = state["exp_avg"] != 0  # a weight whose gradient was 0 at every step (an unused embedding row)
        value = p.float() + state["compensation"].float() if "compensation" in state else p.float()
        graded += int(got.sum())
        held += int((got & (value != start.float())).sum())
        stored += int((got & (p.to(torch.bfloat16) != start.to(torch.bfloat16))).sum())
    return held / graded, stored / graded


@pytest.mark.slow
def test_cpu_bf16_training_keeps_every_update_plain_bf16_adamw_rounds_away(tmp_path, synthetic_data, monkeypatch):
    # Measured (docs/training.md): held 100% with Kahan and fp32 masters, 2.1% with plain bf16 AdamW.
    # The bf16 value itself moves for only 2.6% with Kahan and with fp32 masters alike: 4 steps of
    # lr 1e-6 add up to less than half the bf16 spacing of most weights (|w| * 2^-9, 2.6e-5 at the
    # tiny model's median |w| 0.013). Kahan keeps the rest in its compensation, as fp32 masters do,
    # and the weight moves once the sum passes that spacing (the optimizer tests above: 300 steps).
    plain, _ = _optimizer_view(tmp_path, synthetic_data, monkeypatch, "off")
    kahan, kahan_stored = _optimizer_view(tmp_path, synthetic_data, monkeypatch, "kahan")
    fp32, fp32_stored = _optimizer_view(tmp_path, synthetic_data, monkeypatch, "fp32")
    assert kahan > 0.9 and fp32 > 0.9  # most weights change
    assert plain < 0.1  # the failure: plain bf16 AdamW drops almost every update
    assert kahan_stored >= 0.9 * fp32_stored  # what the forward sees moves as with fp32 masters
