"""The fast-moving dependencies are pinned, and the TRL internals ivgr relies on still exist.

ivgr overrides two private GRPOTrainer hooks and a Trainer hook (docs/training.md#how-the-pieces-fit:
pin trl, keep a test that the hooks exist); a TRL upgrade that renames them must fail here, loudly,
rather than silently train with stock behaviour.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _pinned(name: str) -> str:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for dep in deps:
        match = re.fullmatch(rf"{re.escape(name)}==([\w.]+)", dep.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned with == in pyproject.toml")


def test_installed_trl_matches_the_pin():
    assert version("trl") == _pinned("trl")


def test_installed_transformers_matches_the_pin():
    assert version("transformers") == _pinned("transformers")


def test_overridden_grpo_hooks_exist_in_the_pinned_trl():
    from trl import GRPOTrainer

    assert {"_get_train_sampler", "_calculate_rewards", "_save_checkpoint"} <= set(vars(GRPOTrainer))


def test_overridden_trainer_hooks_exist_in_the_pinned_transformers():
    from transformers import Trainer

    assert {"_load_from_checkpoint", "_save_checkpoint", "_get_output_dir", "_run_epoch"} <= set(vars(Trainer))


def test_grpo_config_fields_we_set_exist():
    from trl import GRPOConfig

    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    needed = {"epsilon", "epsilon_high", "delta", "beta", "loss_type", "num_generations", "steps_per_generation",
              "generation_batch_size", "num_iterations", "scale_rewards", "temperature", "top_p",
              "max_completion_length", "vllm_importance_sampling_correction", "activation_checkpointing"}
    assert needed <= fields, needed - fields


def test_trainer_reads_the_attributes_the_sampler_uses():
    import inspect

    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._get_train_sampler)
    for name in ("self.num_generations", "self.num_iterations", "self.shuffle_dataset", "steps_per_generation"):
        assert name in source, name
    # Groups are G consecutive rows: the whole pairing design relies on this reshape.
    assert "view(-1, num_generations)" in inspect.getsource(GRPOTrainer._generate_and_score_completions)
