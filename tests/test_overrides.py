"""`key=value` overrides: one typed parser for `ivgr train` and `ivgr sft` (ivgr.overrides)."""

from __future__ import annotations

import re
import sys

import pytest
import yaml

from ivgr.errors import ConfigError
from ivgr.overrides import coerce_value, parse_overrides, split_overrides


@pytest.mark.parametrize(
    ("raw", "annotation", "expected"),
    [
        ("1e-6", float, 1e-6),  # YAML 1.1 reads this as text
        ("1E-6", float, 1e-6),
        (".5", float, 0.5),
        ("-3", float, -3.0),
        ("3", int, 3),
        ("true", bool, True),
        ("False", bool | None, False),
        ("null", float | None, None),
        ("none", int | None, None),  # no str member: "none" can only mean null
        ("none", None | str | list[str], ["none"]),  # report_to: none stays a word
        ("grounded,textual", list[str], ["grounded", "textual"]),
        ("[textual]", list[str], ["textual"]),
        ("{suppress_tokens: [5]}", dict | str | None, {"suppress_tokens": [5]}),
        ("runs/x", str, "runs/x"),
        (3, float, 3.0),  # a YAML int in a float field
        (True, str | None, "true"),  # `resume_from_checkpoint: true`
    ],
)
def test_values_are_converted_by_the_field_type(raw, annotation, expected):
    got = coerce_value("key", raw, annotation)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("raw", "annotation", "message"),
    [
        ("abc", float, "key 'learning_rate' must be a number (e.g. 1e-6, .5), got 'abc'"),
        ("3.5", int, "key 'learning_rate' must be an integer, got '3.5'"),
        ("maybe", bool, "key 'learning_rate' must be true or false, got 'maybe'"),
        ("null", float, "key 'learning_rate' must be a number (e.g. 1e-6, .5), got 'null'"),
        (None, int, "key 'learning_rate' may not be null"),
        (True, float, "key 'learning_rate' must be a number"),
        ([1], int, "key 'learning_rate' must be an integer"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(raw, annotation, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        coerce_value("learning_rate", raw, annotation)
    assert "\n" not in str(err.value)


def test_flags_and_dashes():
    assert split_overrides(["--max-steps", "3", "--bf16", "lr=1", "--judge.base_url", "http://h:1/v1?a=b"]) == {
        "max_steps": "3", "bf16": "true", "lr": "1", "judge.base_url": "http://h:1/v1?a=b"}
    with pytest.raises(ConfigError, match="write key=value"):
        split_overrides(["max_steps"])


def test_unknown_keys_are_left_to_the_callers_check():
    assert parse_overrides(["lerning_rate=1e-6", "x=[1, 2]"], {}) == {"lerning_rate": "1e-6", "x": [1, 2]}


def test_train_and_sft_share_one_parser():
    import ivgr.overrides
    import ivgr.training.config as train_config
    import ivgr.training.sft_config as sft_config

    assert train_config.parse_overrides is sft_config.parse_overrides is ivgr.overrides.parse_overrides


def _write(path, values):
    path.write_text(yaml.safe_dump(values))
    return path


def test_train_and_sft_read_the_same_tokens_the_same_way(tmp_path):
    from ivgr.training.config import load_config
    from ivgr.training.sft_config import load_sft_config

    tokens = ["learning_rate=1E-6", "--max_steps", "3", "weight_decay=.5", "--bf16", "false"]
    train = _write(tmp_path / "t.yaml", {"model_path": "tiny", "data_path": "synthetic", "num_generations": 2,
                                         "per_device_train_batch_size": 4, "steps_per_generation": 1,
                                         "use_cpu": True, "output_dir": str(tmp_path / "run")})
    cfg, resolved = load_config(train, tokens)
    data = tmp_path / "sft.jsonl"
    data.write_text("")
    sft = load_sft_config(_write(tmp_path / "s.yaml", {"model_name_or_path": "tiny", "train_file": str(data)}),
                          tokens)
    for c in (cfg, sft):
        assert (c.learning_rate, c.max_steps, c.weight_decay, c.bf16) == (1e-6, 3, 0.5, False)
    assert resolved["learning_rate"] == 1e-6


def test_a_recipe_exponent_without_a_dot_is_a_float(tmp_path):
    from ivgr.training.config import load_config

    recipe = tmp_path / "r.yaml"
    recipe.write_text("model_path: tiny\ndata_path: synthetic\nnum_generations: 2\nper_device_train_batch_size: 4\n"
                      f"steps_per_generation: 1\nuse_cpu: true\noutput_dir: {tmp_path / 'run'}\n"
                      "learning_rate: 1e-6\njudge:\n  temperature: 5e-1\n")
    cfg, _ = load_config(recipe)
    assert cfg.learning_rate == 1e-6 and cfg.judge_config().temperature == 0.5


@pytest.mark.parametrize("command", ["train", "sft"])
def test_cli_bad_override_value_is_one_line_naming_the_key(tmp_path, monkeypatch, capsys, command):
    from ivgr.cli import main

    recipe = {"train": "recipes/tiny_cpu.yaml", "sft": "recipes/sft_tiny_cpu.yaml"}[command]
    monkeypatch.setattr(sys, "argv", ["ivgr", command, "--config", recipe, "learning_rate=fast",
                                      f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("ivgr: error:") and "key 'learning_rate' must be a number" in lines[0]
    assert not (tmp_path / "out").exists()


def test_docstring_examples_of_the_override_module_pass():
    import doctest

    import ivgr.overrides

    result = doctest.testmod(ivgr.overrides)
    assert result.attempted > 0 and result.failed == 0
