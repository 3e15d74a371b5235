"""`ivgr sft` configuration: typed keys, overrides, and one-line errors at the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ivgr.errors import ConfigError
from ivgr.training.sft_config import SFTConfig, load_sft_config

REPO = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, **keys) -> Path:
    data = tmp_path / "sft.jsonl"
    data.write_text("")
    body = {"model_path": "tiny", "data_path": str(data), **keys}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_overrides_accept_key_value_and_dashed_flags(tmp_path):
    cfg = load_sft_config(_recipe(tmp_path), ["learning_rate=2.0e-5", "--max_steps", "3", "--bf16",
                                              "--streams=grounded,textual"])
    assert (cfg.learning_rate, cfg.max_steps, cfg.bf16, cfg.streams) == (2e-5, 3, True, ["grounded", "textual"])


def test_exponent_without_dot_still_reads_as_a_float(tmp_path):
    # YAML 1.1 parses "2e-5" as a string; a float field must still accept it.
    assert load_sft_config(_recipe(tmp_path), ["learning_rate=2e-5"]).learning_rate == 2e-5


def test_override_beats_recipe_and_list_values_split_on_commas(tmp_path):
    cfg = load_sft_config(_recipe(tmp_path, max_steps=10), ["max_steps=2", "streams=grounded,textual"])
    assert cfg.max_steps == 2 and cfg.streams == ["grounded", "textual"]


def test_unknown_key_suggests_the_close_field_name(tmp_path):
    with pytest.raises(ConfigError, match="recipe.yaml: unknown key 'lerning_rate'; did you mean 'learning_rate'\\?"):
        load_sft_config(_recipe(tmp_path, lerning_rate=1e-5))


def test_wrong_type_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="key 'max_steps' must be an integer, got 'soon'"):
        load_sft_config(_recipe(tmp_path), ["max_steps=soon"])


def test_missing_data_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.jsonl does not exist"):
        load_sft_config(_recipe(tmp_path), [f"data_path={tmp_path / 'nope.jsonl'}"])


def test_unknown_stream_and_missing_model_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="streams"):
        load_sft_config(_recipe(tmp_path), ["streams=visual"])
    with pytest.raises(ConfigError, match="model_path is required"):
        SFTConfig(synthetic_scenes=4)
    with pytest.raises(ConfigError, match="never downloads"):
        SFTConfig(model_path="Qwen/Qwen2.5-VL-7B-Instruct", synthetic_scenes=4)


def test_invalid_yaml_reports_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model_path: tiny\nmax_steps: [1,\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_sft_config(path)


def test_shipped_recipes_use_only_known_keys(tmp_path):
    tiny = load_sft_config(REPO / "recipes/sft_tiny_cpu.yaml")
    assert tiny.model_path == "tiny" and tiny.synthetic_scenes > 0
    data = tmp_path / "sft.jsonl"
    data.write_text("")
    big = load_sft_config(REPO / "recipes/sft_qwen2_5_vl_7b.yaml", [f"data_path={data}",
                                                                   f"model_path={tmp_path}"])
    assert big.bf16 and big.gradient_checkpointing and big.max_pixels == 3211264


@pytest.mark.parametrize(
    ("override", "expected"),
    [("lerning_rate=1", "unknown key 'lerning_rate'"), ("data_path=/no/such/sft.jsonl", "does not exist")],
)
def test_cli_bad_config_fails_in_one_clear_line(tmp_path, override, expected):
    res = subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "sft", "--config", str(REPO / "recipes/sft_tiny_cpu.yaml"), override,
         f"output_dir={tmp_path / 'out'}"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("ivgr: error:") and expected in lines[0]
    assert not (tmp_path / "out").exists()  # nothing was started
