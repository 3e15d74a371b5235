"""`ivgr train` checkpoints (intermediate and final) record how inference must prompt them."""

from __future__ import annotations

import json
import shutil

import pytest

from ivgr.models.inference_record import RECORD_FILE
from ivgr.prompts import STREAM_PROMPT_VERSION

pytestmark = pytest.mark.slow


def test_grpo_checkpoints_record_the_trained_prompt_style_frame_and_pixel_budget(tmp_path, primed_model, synthetic_data):
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    model = tmp_path / "model"
    shutil.copytree(primed_model, model)
    cfg = config_from_dict({
        "model_path": str(model), "data_path": str(synthetic_data), "output_dir": str(tmp_path / "run"),
        "prompt_style": "compact",  # the non-default style, as the demo trains
        "max_pixels": 56 * 56 * 2, "num_generations": 2, "per_device_train_batch_size": 4,
        "steps_per_generation": 1, "max_steps": 1, "max_completion_length": 8, "use_cpu": True, "bf16": False,
        "activation_checkpointing": False, "save_steps": 1, "report_to": "none", "judge": {"kind": "rules"},
    })
    result = train(cfg)
    for folder in (result.checkpoint, tmp_path / "run" / "checkpoint-1"):
        record = json.loads((folder / RECORD_FILE).read_text())
        assert {k: record[k] for k in ("prompt_style", "frame", "min_pixels", "max_pixels", "stream_prompt_version",
                                       "stage")} == {
            "prompt_style": "compact", "frame": "pixel", "min_pixels": 56 * 56, "max_pixels": 56 * 56 * 2,
            "stream_prompt_version": STREAM_PROMPT_VERSION, "stage": "train"}, folder
