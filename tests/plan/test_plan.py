"""`ivgr plan`: exact parameter counts, the 7B recipe's verdicts, the JSON contract, judge load."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ivgr.errors import ConfigError, ModelError
from ivgr.plan import make_plan
from ivgr.plan.memory import RecipeSettings, judge_load, read_recipe_settings
from ivgr.plan.models import count_parameters, load_model_config, meta_parameter_count, shipped_models

ROOT = Path(__file__).resolve().parents[2]
RECIPE_7B = ROOT / "recipes" / "ivgr_qwen2_5_vl_7b.yaml"
CONTRACT_KEYS = {"weights", "gradients", "optimizer", "reference", "activations", "vllm", "total"}


def test_every_supported_model_has_a_shipped_config():
    assert shipped_models() == ["qwen2.5-vl-32b", "qwen2.5-vl-3b", "qwen2.5-vl-72b", "qwen2.5-vl-7b",
                                "qwen3-vl-4b", "qwen3-vl-8b"]


@pytest.mark.parametrize("name", shipped_models())
def test_parameter_count_matches_the_meta_device_build(name):
    config, _ = load_model_config(name)
    planned, built = count_parameters(config), meta_parameter_count(config)
    assert abs(planned - built) <= 0.01 * built, (planned, built)
    assert planned == built  # the formulas are exact, not just within the 1% the issue allows


def test_a_local_checkpoint_config_is_counted_like_its_model(tmp_path):
    from transformers import Qwen2_5_VLConfig

    # A small config unlike every shipped one: tied embeddings, odd widths, 3 ViT blocks.
    Qwen2_5_VLConfig(
        text_config={"vocab_size": 999, "hidden_size": 96, "intermediate_size": 200, "num_hidden_layers": 3,
                     "num_attention_heads": 6, "num_key_value_heads": 2},
        vision_config={"depth": 3, "hidden_size": 40, "intermediate_size": 72, "num_heads": 4, "out_hidden_size": 96},
        tie_word_embeddings=True,
    ).save_pretrained(tmp_path)
    config, source = load_model_config(str(tmp_path))
    assert source.endswith("config.json")
    assert count_parameters(config) == meta_parameter_count(config)


def test_hub_style_names_resolve_to_the_shipped_config():
    assert load_model_config("Qwen/Qwen2.5-VL-7B-Instruct")[1] == "shipped config qwen2.5-vl-7b"
    assert load_model_config("qwen3_vl_8b")[1] == "shipped config qwen3-vl-8b"


def test_an_unknown_model_name_suggests_close_ones():
    with pytest.raises(ConfigError, match="Did you mean qwen2.5-vl-7b"):
        load_model_config("qwen2.5-vl-9b")


def test_a_directory_without_config_json_is_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_model_config(str(tmp_path))


def test_the_7b_recipe_fits_on_8x80_gib_and_not_on_1x24_gib():
    big = make_plan("qwen2.5-vl-7b", gpus=8, gpu_memory_gib=80, recipe=RECIPE_7B)
    small = make_plan("qwen2.5-vl-7b", gpus=1, gpu_memory_gib=24, recipe=RECIPE_7B)
    assert big["fits"] and big["per_gpu_gib"]["total"] <= 80
    assert not small["fits"] and small["per_gpu_gib"]["total"] > 24


@pytest.mark.parametrize("engine", ["zero3", "fsdp2"])
def test_sharded_states_hold_16_bytes_per_trained_parameter(engine):
    # Both engines keep bf16/fp32 weights + gradients + fp32 Adam m, v; they only split them differently.
    p = make_plan("qwen2.5-vl-7b", gpus=8, gpu_memory_gib=80, recipe=RECIPE_7B, engine=engine)
    gib = p["per_gpu_gib"]
    sharded = gib["gradients"] + gib["optimizer"] + (2 if engine == "zero3" else 4) * p["parameters"] / 8 / 2**30
    assert sharded == pytest.approx(16 * p["parameters"] / 8 / 2**30, rel=1e-3)


def test_fsdp2_reference_forward_gathers_the_whole_reference_model(tmp_path):
    # TRL's prepare_fsdp shards the reference model as one unit, so its forward holds all of it in bf16.
    recipe = tmp_path / "r.yaml"
    recipe.write_text("beta: 0.04\nper_device_train_batch_size: 1\nmax_completion_length: 16\nmax_pixels: 3136\n"
                      "use_vllm: true\n")
    p = make_plan("qwen2.5-vl-72b", gpus=8, gpu_memory_gib=141, recipe=recipe, engine="fsdp2")
    assert p["peak_phase"] == "reference"
    zero3 = make_plan("qwen2.5-vl-72b", gpus=8, gpu_memory_gib=141, recipe=recipe, engine="zero3")
    assert zero3["peak_phase"] != "reference"


def test_json_output_carries_the_contract_keys():
    cmd = [sys.executable, "-m", "ivgr.cli", "plan", "--model", "qwen2.5-vl-3b", "--gpus", "8",
           "--gpu-memory-gib", "80", "--recipe", str(RECIPE_7B), "--json"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert out["parameters"] == 3754622976
    assert CONTRACT_KEYS <= set(out["per_gpu_gib"])
    assert isinstance(out["fits"], bool)


def test_a_missing_recipe_is_one_error_line():
    cmd = [sys.executable, "-m", "ivgr.cli", "plan", "--model", "qwen2.5-vl-7b", "--gpus", "8",
           "--gpu-memory-gib", "80", "--recipe", "no-such.yaml"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "ivgr: error: no-such.yaml: recipe file not found"


def test_planning_imports_neither_torch_nor_trl():
    code = ("import sys; from ivgr.plan import make_plan; make_plan('qwen2.5-vl-7b', gpus=8, gpu_memory_gib=80); "
            "assert not {'torch', 'trl', 'transformers'} & set(sys.modules), 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_judge_load_of_the_7b_recipe_on_8_gpus():
    load = judge_load(read_recipe_settings(RECIPE_7B), gpus=8, step_seconds=100)
    # 512 prompts × 5 = 2560 rollouts; 230 (grounded, textual) pairs -> 1150 textual rollouts.
    assert (load.prompts, load.rollouts, load.consistency_requests) == (512, 2560, 1150)
    assert load.consistency_completions == 1150 * 4
    assert load.requests_per_second == pytest.approx((2560 + 1150) / 100)


def test_the_rules_judge_sends_no_requests():
    load = judge_load(RecipeSettings(judge_kind="rules"), gpus=8, step_seconds=100)
    assert load.requests == 0


def test_recipe_defaults_are_trls():
    from trl import GRPOConfig

    trl_defaults = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}
    ours = RecipeSettings()
    for f in dataclasses.fields(RecipeSettings):
        if f.name in trl_defaults and f.name != "activation_checkpointing":  # ivgr turns it on by default
            assert getattr(ours, f.name) == trl_defaults[f.name], f.name


def test_a_wrongly_typed_recipe_value_is_a_config_error(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("num_generations: many\n")
    with pytest.raises(ConfigError, match="num_generations must be an integer"):
        read_recipe_settings(recipe)


def test_plan_help_shows_examples():
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "plan", "--help"], capture_output=True, text=True,
                          check=True)
    assert "Examples:" in proc.stdout and "--gpu-memory-gib" in proc.stdout


@pytest.mark.parametrize(
    ("lines", "weight_bytes", "optimizer_bytes"),
    [
        ("", 2, 6),  # default bf16_master: kahan = AdamW m, v + Kahan compensation, all bf16
        ("bf16_master: kahan\noptim: adamw_torch_fused\n", 2, 6),
        ("bf16_master: fp32\n", 4, 8),  # the whole model upcast: fp32 weights, gradients, m, v
        ("bf16_master: off\n", 2, 4),
        ("optim: adafactor\n", 2, 4),  # another optimizer is kept: Kahan does not apply
        ("model_dtype: float32\n", 4, 8),
    ],
)
def test_one_gpu_optimizer_states_follow_the_trainers_bf16_master(tmp_path, lines, weight_bytes, optimizer_bytes):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("per_device_train_batch_size: 1\n" + lines)
    p = make_plan("qwen2.5-vl-3b", gpus=1, gpu_memory_gib=141, recipe=recipe, engine="ddp")
    gib = p["per_gpu_gib"]
    psi = p["parameters"] / 2**30
    assert gib["optimizer"] == pytest.approx(optimizer_bytes * psi, rel=1e-3)
    assert gib["weights"] == pytest.approx(weight_bytes * psi, rel=1e-3)
    assert gib["gradients"] == pytest.approx(weight_bytes * psi, rel=1e-3)


def test_an_unknown_bf16_master_in_a_recipe_is_one_config_error(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("bf16_master: fp16\n")
    with pytest.raises(ConfigError, match="bf16_master must be one of kahan, fp32, off, got 'fp16'"):
        read_recipe_settings(recipe)
