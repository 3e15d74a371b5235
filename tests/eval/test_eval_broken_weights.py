"""A truncated weights file stops `ivgr infer` and `ivgr eval` with one line, not a traceback.

safetensors raises its own `SafetensorError` (not an OSError) for a file cut short; the shared
loader turns it into a ModelError, so every command that loads a checkpoint reports it alike.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from eval_fixture_builders import write_vstar
from PIL import Image

from ivgr.errors import ModelError


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A tiny checkpoint whose model.safetensors is a copy cut short."""
    from ivgr.models import build_tiny_model

    root = tmp_path_factory.mktemp("broken")
    model = build_tiny_model(root / "tiny", seed=0)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return root, model


def test_the_loader_names_the_checkpoint_in_one_model_error(broken):
    from ivgr.models import load_model_and_processor

    _, model = broken
    with pytest.raises(ModelError, match="the weights cannot be read") as info:
        load_model_and_processor(model)
    assert str(model) in str(info.value) and "\n" not in str(info.value)


def _one_line(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Loading weights" not in line]
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    assert "the weights cannot be read" in lines[0]


@pytest.mark.slow
def test_infer_with_a_truncated_checkpoint_is_one_line(broken):
    root, model = broken
    image = root / "scene.png"
    Image.new("RGB", (64, 64), "red").save(image)
    _one_line(["infer", "--model", str(model), "--image", str(image), "--question", "Q?"])


@pytest.mark.slow
def test_eval_with_a_truncated_checkpoint_is_one_line(broken):
    root, model = broken
    write_vstar(root / "vstar", [{"category": "direct_attributes", "question": "What colour?",
                                  "options": ["red", "blue"], "label": "A"}])
    _one_line(["eval", "--model", str(model), "--benchmark", "vstar", "--data", str(root / "vstar"),
               "--out", str(root / "out.json")])
