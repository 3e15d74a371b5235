"""A checkpoint remembers how to talk to it: `ivgr infer` / `InferenceEngine` read ivgr_inference.json.

The module fixture is a tiny model cold-started (`run_sft`, as `ivgr sft` and the demo run it) on
grounded examples written in the non-default `compact` prompt style.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from ivgr.cli import app
from ivgr.inference import InferenceEngine
from ivgr.models.inference_record import RECORD_FILE, InferenceRecord, write_inference_record
from ivgr.prompts import STREAM_PROMPT_VERSION, stream_prompt

pytestmark = pytest.mark.slow

QUESTION = "What colour is the square?"
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}


@pytest.fixture(scope="module")
def compact_run(tmp_path_factory) -> Path:
    """OUTPUT_DIR of an SFT run on compact grounded prompts (final/ and checkpoint-10/)."""
    from ivgr.models import build_tiny_model
    from ivgr.training.sft import run_sft
    from ivgr.training.sft_config import SFTConfig

    root = tmp_path_factory.mktemp("compact")
    base = build_tiny_model(root / "base", seed=0)
    rows = []
    for i, (name, rgb) in enumerate(COLOURS.items()):
        Image.new("RGB", (56, 56), rgb).save(root / f"{i}.png")
        rows.append({"sample_id": f"s{i}", "stream": "grounded", "image": f"{i}.png",
                     "prompt": stream_prompt("grounded", QUESTION, style="compact"),
                     "completion": f"<think>the square <box>[0,0,56,56]</box> is {name} .</think><answer>{name}</answer>"})
    (root / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = SFTConfig(model_path=str(base), data_path=str(root / "sft.jsonl"), output_dir=str(root / "run"),
                    max_steps=20, per_device_train_batch_size=3, learning_rate=3e-3, warmup_ratio=0.0,
                    lr_scheduler_type="constant", report_to=["none"], save_steps=10, save_total_limit=None)
    run_sft(cfg)
    return root


def _infer(model: Path, image: Path, *extra: str):
    return CliRunner().invoke(app, ["infer", "--model", str(model), "--image", str(image), "--question", QUESTION,
                                    "--mode", "grounded", "--max-new-tokens", "40", *extra])


def test_sft_checkpoints_record_the_compact_style_frame_and_pixel_budget(compact_run):
    for folder in ("final", "checkpoint-10"):
        record = json.loads((compact_run / "run" / folder / RECORD_FILE).read_text())
        assert record == {"format": "ivgr-inference", "version": 1, "prompt_style": "compact", "frame": "pixel",
                          "min_pixels": 56 * 56, "max_pixels": 224 * 224,
                          "stream_prompt_version": STREAM_PROMPT_VERSION, "stage": "sft",
                          "ivgr_version": record["ivgr_version"]}, folder


def test_infer_with_no_flags_answers_a_compact_model_in_its_trained_format(compact_run, caplog):
    with caplog.at_level(logging.WARNING, logger="ivgr"):
        result = _infer(compact_run / "run" / "final", compact_run / "0.png")
    assert result.exit_code == 0, result.output
    assert "(pixel frame, compact prompts)" in result.output
    # the trained format: a box in the reasoning, then a tagged answer (a standard prompt gets
    # "the square ." with no box from this model: the symptom)
    assert "box 1: [0, 0, 56, 56]" in result.output and "(no <answer> tag)" not in result.output, result.output
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_explicit_style_that_differs_from_the_record_wins_with_one_warning_line(compact_run, caplog):
    with caplog.at_level(logging.WARNING, logger="ivgr"):
        result = _infer(compact_run / "run" / "final", compact_run / "0.png", "--prompt-style", "standard")
    assert result.exit_code == 0, result.output
    assert "(pixel frame, standard prompts)" in result.output
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "trained with prompt_style=compact; using prompt_style=standard as asked" in warnings[0]


def test_a_stock_checkpoint_keeps_the_standard_style_and_its_processors_budget(compact_run, caplog):
    stock = compact_run / "stock"
    shutil.copytree(compact_run / "run" / "final", stock)
    (stock / RECORD_FILE).unlink()
    with caplog.at_level(logging.WARNING, logger="ivgr"):
        engine = InferenceEngine(stock, max_new_tokens=2)
    assert engine.record is None and engine.prompt_style == "standard" and engine.frame == "pixel"
    assert (engine.min_pixels, engine.max_pixels) == (56 * 56, 224 * 224)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_recorded_pixel_budget_and_frame_reach_the_engine(compact_run):
    edited = compact_run / "edited"
    shutil.copytree(compact_run / "run" / "final", edited)
    write_inference_record(edited, InferenceRecord("compact", "norm1000", 28 * 28, 112 * 112, STREAM_PROMPT_VERSION))
    engine = InferenceEngine(edited, max_new_tokens=2)
    assert (engine.min_pixels, engine.max_pixels, engine.frame) == (28 * 28, 112 * 112, "norm1000")
    assert engine.target_size((448, 448)) == (112, 112)  # the recorded budget, not the processor file's
    explicit = InferenceEngine(edited, max_new_tokens=2, max_pixels=224 * 224, frame="pixel")
    assert (explicit.max_pixels, explicit.frame) == (224 * 224, "pixel")
