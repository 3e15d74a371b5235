"""The one recipe loader (ivgr.recipes) behind train, sft, the demo, the scorer config and the tiny-model knobs.

One YAML reader, one typed `key=value` parser, one unknown-key message: each caller is checked here
through its real entry point, with the same input giving the same message.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest
import yaml

from ivgr.errors import ConfigError
from ivgr.recipes import BARE, coerce_value, parse_overrides, split_overrides


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
        "max_steps": "3", "bf16": BARE, "lr": "1", "judge.base_url": "http://h:1/v1?a=b"}
    with pytest.raises(ConfigError, match="write key=value"):
        split_overrides(["max_steps"])


def test_unknown_keys_are_left_to_the_callers_check():
    assert parse_overrides(["lerning_rate=1e-6", "x=[1, 2]"], {}) == {"lerning_rate": "1e-6", "x": [1, 2]}


def test_train_and_sft_share_one_parser():
    import ivgr.recipes
    import ivgr.training.config as train_config
    import ivgr.training.sft_config as sft_config

    assert train_config.parse_overrides is sft_config.parse_overrides is ivgr.recipes.parse_overrides


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
    sft = load_sft_config(_write(tmp_path / "s.yaml", {"model_path": "tiny", "data_path": str(data)}),
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

    import ivgr.recipes

    result = doctest.testmod(ivgr.recipes)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- every caller, one loader
TRAIN_RECIPE = {"model_path": "tiny", "data_path": "synthetic", "num_generations": 2, "per_device_train_batch_size": 4,
                "steps_per_generation": 1, "use_cpu": True}


def _callers(tmp_path):
    """name -> function(recipe path or None, override tokens): each loader through its real entry point."""
    from ivgr.commands.score_cmd import _load_scorer_config
    from ivgr.demo import load_settings
    from ivgr.plan.memory import read_recipe_settings
    from ivgr.training.config import load_config
    from ivgr.training.sft_config import load_sft_config

    data = tmp_path / "sft.jsonl"
    data.write_text("")
    train = _write(tmp_path / "train.yaml", {**TRAIN_RECIPE, "output_dir": str(tmp_path / "run")})
    sft = _write(tmp_path / "sft.yaml", {"model_path": "tiny", "data_path": str(data)})
    return {
        "train": lambda path, tokens=(): load_config(path or train, list(tokens)),
        "sft": lambda path, tokens=(): load_sft_config(path or sft, list(tokens)),
        "demo": lambda path, tokens=(): load_settings(path, overrides=list(tokens)),
        "scorer": lambda path, tokens=(): _load_scorer_config(path),
        "plan": lambda path, tokens=(): read_recipe_settings(path),
    }


def _message(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


@pytest.mark.parametrize(("caller", "typo", "suggestion"), [
    ("train", "lerning_rate", "learning_rate"),
    ("sft", "lerning_rate", "learning_rate"),
    ("demo", "sft_scene", "sft_scenes"),
    ("scorer", "archive_min_box_iuo", "archive_min_box_iou"),
])
def test_every_caller_names_an_unknown_recipe_key_the_same_way(tmp_path, caller, typo, suggestion):
    base = {"train": {**TRAIN_RECIPE, "output_dir": str(tmp_path / "run")},
            "sft": {"model_path": "tiny", "synthetic_scenes": 4}}.get(caller, {})
    path = _write(tmp_path / "r.yaml", {**base, typo: 1})
    assert _message(lambda: _callers(tmp_path)[caller](path)) == (
        f"{path}: unknown key '{typo}'; did you mean '{suggestion}'?")


@pytest.mark.parametrize(("caller", "token", "typo", "suggestion"), [
    ("train", "max_stepz=3", "max_stepz", "max_steps"),
    ("train", "judge.kinds=rules", "judge.kinds", "judge.kind"),
    ("sft", "max_stepz=3", "max_stepz", "max_steps"),
    ("demo", "sft_scene=10", "sft_scene", "sft_scenes"),
    ("demo", "rl.lerning_rate=1e-4", "rl.lerning_rate", "rl.learning_rate"),
    ("demo", "model.hiden_size=64", "model.hiden_size", "model.hidden_size"),
])
def test_every_caller_names_an_unknown_override_key_the_same_way(tmp_path, caller, token, typo, suggestion):
    assert _message(lambda: _callers(tmp_path)[caller](None, [token])) == (
        f"the command line: unknown key '{typo}'; did you mean '{suggestion}'?")


def test_nested_sections_are_checked_with_the_same_message(tmp_path):
    from ivgr.demo import load_settings
    from ivgr.models.tiny import build_tiny_model
    from ivgr.training.sft_config import load_sft_config

    demo = _write(tmp_path / "demo.yaml", {"sft": {"lerning_rate": 1e-4}})
    assert _message(lambda: load_settings(demo)) == (
        f"{demo}: unknown key 'sft.lerning_rate'; did you mean 'sft.learning_rate'?")
    sft = _write(tmp_path / "sft.yaml", {"model_path": "tiny", "synthetic_scenes": 4, "tiny_model": {"hiden_size": 8}})
    assert _message(lambda: load_sft_config(sft)) == (
        f"{sft}: unknown key 'tiny_model.hiden_size'; did you mean 'tiny_model.hidden_size'?")
    assert _message(lambda: build_tiny_model(tmp_path / "m", hiden_size=8)) == (
        "the tiny-model knobs: unknown key 'hiden_size'; did you mean 'hidden_size'?")
    assert not (tmp_path / "m").exists()


def test_a_key_with_nothing_close_points_at_where_the_keys_are_listed(tmp_path):
    path = _write(tmp_path / "r.yaml", {"zzzz": 1})
    messages = {name: _message(lambda c=call: c(path)) for name, call in _callers(tmp_path).items() if name != "plan"}
    assert messages["sft"] == f"{path}: unknown key 'zzzz'; known keys: `ivgr sft --help-config` (other HF " \
                              "TrainingArguments go under trainer_args:)"
    assert messages["demo"] == f"{path}: unknown key 'zzzz'; known keys: ivgr/demo.yaml (the defaults list every key)"
    assert all(m.startswith(f"{path}: unknown key 'zzzz'; known keys: ") for m in messages.values()), messages


@pytest.mark.parametrize(("text", "problem"), [
    ("a: 1\nb: [1,\n", r"{path}:3: invalid YAML \(.+\)"),
    ("- a\n- b\n", r"{path}: a .+ must be a mapping of keys to values, not a list"),
])
def test_yaml_errors_read_the_same_everywhere(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for name, call in _callers(tmp_path).items():
        assert re.fullmatch(problem.format(path=re.escape(str(path))), _message(lambda c=call: c(path))), name
    missing = tmp_path / "none.yaml"
    for name, call in _callers(tmp_path).items():
        assert re.fullmatch(rf"{re.escape(str(missing))}: .+ file not found", _message(lambda c=call: c(missing))), name


def test_a_bare_flag_is_true_for_a_true_false_key_and_an_error_for_any_other_everywhere(tmp_path):
    callers = _callers(tmp_path)
    train, _ = callers["train"](None, ["--archive_persistent", "--max_steps=2"])
    sft = callers["sft"](None, ["--bf16", "--max_steps=2"])
    demo = callers["demo"](None, ["--rl.use_consistency", "--sft_scenes=8"])
    assert train.archive_persistent is True and sft.bf16 is True and demo.rl["use_consistency"] is True
    for name, key in (("train", "max_steps"), ("sft", "max_steps"), ("demo", "sft.max_steps")):
        assert _message(lambda c=callers[name], k=key: c(None, [f"--{k}"])) == (
            f"the command line: --{key} needs a value (--{key} VALUE or {key}=VALUE); only a true/false key may be "
            "given bare"), name


def test_train_sft_and_demo_share_one_parser():
    import ivgr.demo
    import ivgr.recipes
    import ivgr.training.config as train_config
    import ivgr.training.sft_config as sft_config

    assert train_config.parse_overrides is sft_config.parse_overrides is ivgr.recipes.parse_overrides
    assert "parse_overrides" in inspect.getsource(ivgr.demo.load_settings)
    for module in (train_config, sft_config, ivgr.demo):  # no loader of their own
        assert "yaml.safe_load" not in inspect.getsource(module) and "difflib" not in inspect.getsource(module)


# ----------------------------------------------------------------------------- one name for one thing
def test_sft_uses_the_train_key_names_and_still_reads_the_old_ones(tmp_path, caplog):
    from ivgr.training.config import IvgrTrainConfig
    from ivgr.training.sft_config import RENAMED, SFTConfig, load_sft_config

    from ivgr.recipes import field_types

    assert set(RENAMED.values()) <= set(field_types(SFTConfig)) & set(field_types(IvgrTrainConfig))
    data = tmp_path / "sft.jsonl"
    data.write_text("")
    new = load_sft_config(_write(tmp_path / "new.yaml", {"model_path": "tiny", "data_path": str(data)}))
    with caplog.at_level("WARNING", logger="ivgr.training.sft_config"):
        old = load_sft_config(_write(tmp_path / "old.yaml", {"model_name_or_path": "tiny"}), [f"train_file={data}"])
    assert old == new and (new.model_path, new.data_path) == ("tiny", str(data))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert "key 'model_name_or_path' is now 'model_path'" in warnings[0]
    assert "key 'train_file' is now 'data_path'" in warnings[1]
    both = _write(tmp_path / "both.yaml", {"model_path": "tiny", "model_name_or_path": "tiny"})
    assert _message(lambda: load_sft_config(both)) == f"{both}: give model_path only (model_name_or_path is its old name)"


def test_sft_help_advice_names_a_key_train_accepts():
    from ivgr.commands.sft_cmd import HELP
    from ivgr.recipes import field_types
    from ivgr.training.config import IvgrTrainConfig

    advice = re.search(r"usable as (\w+) of `ivgr train`", HELP)
    assert advice and advice.group(1) in field_types(IvgrTrainConfig)
    for old in ("model_name_or_path", "train_file"):
        assert old not in HELP


# ----------------------------------------------------------------------------- the demo's defaults
def test_demo_defaults_are_the_shipped_yaml_and_nothing_else():
    import dataclasses
    import glob
    from pathlib import Path

    import ivgr
    from ivgr.demo import DEFAULTS, DemoSettings

    shipped = yaml.safe_load(DEFAULTS.read_text())
    fields = dataclasses.fields(DemoSettings)
    assert {f.name for f in fields} == set(shipped)  # every field has its default in the yaml, and only there
    assert all(f.default is dataclasses.MISSING for f in fields), "a literal default would repeat the yaml"
    assert dataclasses.asdict(DemoSettings()) == shipped
    # The yaml is package data, so a wheel install has the defaults too.
    package = Path(ivgr.__file__).parent
    assert DEFAULTS.parent == package
    table = re.search(r"\[tool\.setuptools\.package-data\]\s*ivgr = \[([^\]]*)\]",
                      (package.parent / "pyproject.toml").read_text())
    patterns = re.findall(r'"([^"]+)"', table.group(1))
    assert any(DEFAULTS.name in glob.glob(p, root_dir=package, recursive=True) for p in patterns), patterns


def test_demo_yaml_and_overrides_change_only_the_keys_they_name(tmp_path):
    from ivgr.demo import DemoSettings, load_settings

    path = _write(tmp_path / "mine.yaml", {"rl": {"max_steps": 7}, "sft_scenes": 500})
    settings = load_settings(path, overrides=["rl.learning_rate=1e-4", "--seed", "3", "world.noise=2"])
    default = DemoSettings()
    assert (settings.sft_scenes, settings.seed, settings.rl["max_steps"]) == (500, 3, 7)
    assert settings.rl["learning_rate"] == 1e-4 and type(settings.rl["learning_rate"]) is float  # not the text "1e-4"
    assert settings.world == {**default.world, "noise": 2}
    assert {k: v for k, v in settings.rl.items() if k not in ("max_steps", "learning_rate")} == {
        k: v for k, v in default.rl.items() if k not in ("max_steps", "learning_rate")}


def test_shipped_and_quick_rl_sections_use_only_train_keys():
    from ivgr.demo import DemoSettings
    from ivgr.recipes import coerce_mapping, field_types
    from ivgr.training.config import IvgrTrainConfig

    for settings in (DemoSettings(), DemoSettings.quick()):  # not re-checked at load: checking imports TRL
        assert coerce_mapping(settings.rl, field_types(IvgrTrainConfig), where="rl") == settings.rl


def test_a_demo_settings_error_outside_rl_imports_no_trl(tmp_path):
    bad = _write(tmp_path / "demo.yaml", {"sft": {"lerning_rate": 1e-4}})
    code = ("import sys\nfrom ivgr.demo import load_settings\nfrom ivgr.errors import ConfigError\n"
            f"try:\n    load_settings({str(bad)!r})\nexcept ConfigError as err:\n    print(err)\n"
            "print('trl' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == [f"{bad}: unknown key 'sft.lerning_rate'; did you mean 'sft.learning_rate'?",
                                        "False"]
