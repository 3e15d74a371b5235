"""`ivgr ui` at the command line: help, and one red line for a checkpoint or run it cannot use."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _ui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivgr.cli", "ui", *args], capture_output=True, text=True, timeout=600)


def _one_red_line(proc: subprocess.CompletedProcess, expected: str) -> None:
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def test_ui_help_shows_examples_and_the_extra():
    proc = _ui("--help")
    assert proc.returncode == 0
    assert "ivgr ui --model" in proc.stdout and "--run" in proc.stdout and "ivgr[ui]" in proc.stdout


def test_the_installed_gradio_matches_the_ui_extras_pin():
    extra = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["ui"]
    [pin] = [re.fullmatch(r"gradio==([\w.]+)", dep).group(1) for dep in extra if dep.startswith("gradio")]
    assert version("gradio") == pin


@pytest.mark.slow
def test_a_missing_checkpoint_exits_at_start_with_one_line(tmp_path):
    _one_red_line(_ui("--model", str(tmp_path / "nowhere")), "nowhere")


@pytest.mark.slow
def test_a_broken_checkpoint_exits_at_start_with_one_line(tiny_ckpt, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_ckpt, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short
    _one_red_line(_ui("--model", str(broken)), "broken")


@pytest.mark.slow
def test_a_bad_run_directory_exits_before_the_model_loads(tiny_ckpt, tmp_path):
    _one_red_line(_ui("--model", str(tiny_ckpt), "--run", str(tmp_path)), "not an `ivgr train` output directory")
