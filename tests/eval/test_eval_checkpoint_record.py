"""`ivgr eval` prompts a checkpoint in the style it records, and says so in results.json."""

from __future__ import annotations

import json
import logging

import pytest
from eval_fixture_builders import write_vstar
from typer.testing import CliRunner

from ivgr.cli import app
from ivgr.models.inference_record import InferenceRecord, write_inference_record
from ivgr.prompts import STREAM_PROMPT_VERSION

pytestmark = pytest.mark.slow

VSTAR = [{"category": "direct_attributes", "question": "What is item 0?", "options": ["red", "blue"], "label": "A"}]


def _eval(model, data, out, *extra):
    return CliRunner().invoke(app, ["eval", "--model", str(model), "--benchmark", "vstar", "--data", str(data),
                                    "--max-new-tokens", "2", "--out", str(out), *extra])


def test_eval_uses_the_recorded_style_by_default_and_a_flag_over_it_warns(tmp_path, caplog):
    from ivgr.models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", seed=0)
    write_inference_record(model, InferenceRecord("compact", "pixel", None, None, STREAM_PROMPT_VERSION, stage="sft"))
    write_vstar(tmp_path / "vstar", VSTAR)
    result = _eval(model, tmp_path / "vstar", tmp_path / "default.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "default.json").read_text())["prompt_style"] == "compact"
    with caplog.at_level(logging.WARNING, logger="ivgr"):
        result = _eval(model, tmp_path / "vstar", tmp_path / "standard.json", "--prompt-style", "standard")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "standard.json").read_text())["prompt_style"] == "standard"
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records if r.levelno >= logging.WARNING] == [
        "the checkpoint was trained with prompt_style=compact; using prompt_style=standard as asked"]
