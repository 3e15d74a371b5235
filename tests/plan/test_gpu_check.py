"""bench/gpu_check.sh and bench/gpu_check.py on a CPU: the dry run CI can do, and the measurement code on a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_check_dry_run_prints_every_step_and_the_plan(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for step in ("nvidia-smi", "pip install", "bench/gpu_tests", "bench/gpu_check.py --steps 3"):
        assert step in out, step
    assert "qwen2.5-vl-3b (shipped config qwen2.5-vl-3b): 3,754,622,976 parameters" in out
    assert "FITS:" in out
    assert not list(tmp_path.iterdir())  # a dry run writes nothing


def test_the_gpu_check_rejects_an_unknown_option():
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--fast"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown option '--fast'" in proc.stderr


@pytest.mark.slow
def test_the_measurement_path_runs_end_to_end_on_the_tiny_model(tmp_path):
    # --tiny swaps the 3B model for the tiny one on the CPU: every line of the measurement and
    # the plan comparison runs, so the GPU call does not meet them for the first time.
    out = tmp_path / "fig.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--tiny", "--steps", "2",
                           "--work", str(tmp_path / "work"), "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fig = json.loads(out.read_text())
    assert [s["step"] for s in fig["steps"]] == [1, 2]
    assert all(s["generate_s"] > 0 and s["update_s"] > 0 for s in fig["steps"])
    assert 0 < fig["steps"][0]["completion_tokens"] <= 20 * 8  # 20 rollouts of at most 8 tokens (--tiny)
    assert fig["plan_total_gib"] > 0 and fig["plan"]["engine"] == "ddp"
    assert "update MFU" in proc.stdout and "ivgr plan estimate" in proc.stdout
