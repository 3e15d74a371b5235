"""`ivgr train`: bad recipes fail with exit 1 and one clear line; --help carries examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

GOOD = {
    "model_path": "tiny",
    "data_path": "synthetic",
    "num_generations": 2,
    "per_device_train_batch_size": 4,
    "steps_per_generation": 1,
    "use_cpu": True,
    "bf16": False,
}


def _main(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    from ivgr.cli import main

    monkeypatch.setattr(sys, "argv", ["ivgr", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def _recipe(tmp_path: Path, **changes) -> Path:
    values = {**GOOD, "output_dir": str(tmp_path / "run"), **changes}
    values = {k: v for k, v in values.items() if v is not None}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize(
    ("changes", "overrides", "expected"),
    [
        ({"lerning_rate": 1e-6}, [], "unknown key 'lerning_rate'; did you mean 'learning_rate'?"),
        ({}, ["max_stepz=3"], "the command line: unknown key 'max_stepz'; did you mean 'max_steps'?"),
        ({"per_device_train_batch_size": 6}, [], "must be a multiple of 2 × num_generations = 4"),
        ({"data_path": "/nonexistent/prepared"}, [], "key 'data_path': /nonexistent/prepared/samples.jsonl not found"),
        ({}, ["judge.kinds=rules"], "the command line: unknown key 'judge.kinds'; did you mean 'judge.kind'?"),
    ],
)
def test_bad_recipe_fails_with_exit_1_and_one_line(tmp_path, monkeypatch, capsys, changes, overrides, expected):
    recipe = _recipe(tmp_path, **changes)
    code, err = _main(monkeypatch, capsys, ["train", "--config", str(recipe), *overrides])
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ivgr: error:") and expected in lines[0]
    assert (str(recipe) if not overrides else "the command line") in lines[0]  # names where the mistake is
    assert not (tmp_path / "run").exists()  # failed before any work


def test_missing_recipe_file_is_one_line(tmp_path, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, ["train", "--config", str(tmp_path / "nope.yaml")])
    assert code == 1 and "recipe file not found" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_subprocess_reports_misalignment_in_one_red_line(tmp_path):
    recipe = _recipe(tmp_path, per_device_train_batch_size=6)
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "train", "--config", str(recipe)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("ivgr: error:")]


def test_train_help_shows_examples():
    from typer.testing import CliRunner

    from ivgr.cli import app

    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert "ivgr train --config recipes/tiny_cpu.yaml" in result.output and "--resume" in result.output
