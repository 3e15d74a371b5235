"""`load_model_and_processor`, the torchvision-free processor, and `model_frame`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from ivgr.errors import ModelError
from ivgr.models import load_model_and_processor, model_frame
from ivgr.models.loader import load_processor
from ivgr.models.processor import ImageOnlyQwenVLProcessor, processor_from_pretrained


def test_missing_path_raises_model_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ModelError, match="does not exist") as info:
        load_model_and_processor(missing)
    assert str(missing) in str(info.value)


def test_directory_without_config_is_not_a_checkpoint(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ModelError, match="config.json is missing"):
        load_model_and_processor(tmp_path)


def test_config_without_weights_is_rejected(tmp_path, tiny_model_dir):
    (tmp_path / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    with pytest.raises(ModelError, match="no weights"):
        load_model_and_processor(tmp_path)


def test_a_file_instead_of_a_directory_is_rejected(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        load_model_and_processor(f)


def test_bad_dtype_is_a_model_error(tiny_model_dir):
    with pytest.raises(ModelError, match="dtype"):
        load_model_and_processor(tiny_model_dir, dtype="float8")


def test_bfloat16_dtype_is_honoured(tiny_model_dir):
    import torch

    model, _ = load_model_and_processor(tiny_model_dir, dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16


def test_processor_falls_back_to_image_only_when_autoprocessor_fails(tiny_model_dir, monkeypatch):
    import transformers

    def no_video_processor(*args, **kwargs):
        raise ImportError("Qwen2VLVideoProcessor requires the Torchvision library")

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", no_video_processor)
    processor = load_processor(tiny_model_dir, min_pixels=3136, max_pixels=12544)
    assert isinstance(processor, ImageOnlyQwenVLProcessor)
    assert getattr(processor, "video_processor", None) is None
    assert processor.image_processor.size["longest_edge"] == 12544


def _checkpoint_copy(src, dst, *, image_processor_type=None, drop=()):
    import shutil

    shutil.copytree(src, dst)
    for name in drop:
        (dst / name).unlink()
    if image_processor_type:
        cfg = json.loads((dst / "preprocessor_config.json").read_text())
        (dst / "preprocessor_config.json").write_text(json.dumps({**cfg, "image_processor_type": image_processor_type}))
    return dst


def test_an_unknown_image_processor_is_a_model_error_not_a_silent_fallback(tiny_model_dir, tmp_path):
    # The catch of 7 exception types used to swap in the Qwen2-VL image processor here.
    ckpt = _checkpoint_copy(tiny_model_dir, tmp_path / "c", image_processor_type="NoSuchImageProcessor")
    with pytest.raises(ModelError, match=r"AutoProcessor cannot load this checkpoint's processor \(ValueError: Unrecognized"):
        load_processor(ckpt)


def test_a_fast_image_processor_without_torchvision_falls_back_to_image_only(tiny_model_dir, tmp_path):
    import importlib.util

    ckpt = _checkpoint_copy(tiny_model_dir, tmp_path / "c", image_processor_type="Qwen2VLImageProcessorFast")
    processor = load_processor(ckpt)  # transformers: ValueError "... requires `torchvision`"
    assert isinstance(processor, ImageOnlyQwenVLProcessor) == (importlib.util.find_spec("torchvision") is None)


def test_a_checkpoint_without_preprocessor_config_gets_the_default_image_processor(tiny_model_dir, tmp_path):
    ckpt = _checkpoint_copy(tiny_model_dir, tmp_path / "c", drop=["preprocessor_config.json"])
    assert isinstance(load_processor(ckpt), ImageOnlyQwenVLProcessor)


@pytest.mark.parametrize("error", [RuntimeError("bug in a processor class"), KeyError("size")])
def test_a_bug_inside_autoprocessor_is_not_hidden(tiny_model_dir, monkeypatch, error):
    import transformers

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", broken)
    with pytest.raises((type(error), ModelError)):
        load_processor(tiny_model_dir)


@pytest.mark.slow  # a fresh interpreter importing transformers: ~4 s, more on a busy machine
def test_image_only_processor_needs_no_torchvision(tiny_model_dir):
    # A fresh interpreter where importing torchvision is impossible, as on the CPU machines.
    code = (
        "import sys; sys.modules['torchvision'] = None\n"
        "from PIL import Image\n"
        "from ivgr.models.processor import processor_from_pretrained\n"
        f"p = processor_from_pretrained({str(tiny_model_dir)!r})\n"
        "msgs = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'q'}]}]\n"
        "t = p.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)\n"
        "out = p(images=[Image.new('RGB', (56, 56))], text=[t], return_tensors='pt')\n"
        "print(int((out['input_ids'] == p.image_token_id).sum()))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "4"  # 56x56 -> 4x4 patches -> 2x2 merged


def test_image_only_processor_refuses_videos_with_a_clear_error(tiny_model_dir):
    processor = processor_from_pretrained(tiny_model_dir)
    with pytest.raises(ModelError, match="video"):
        processor(text=["<|video_pad|>"], videos=[[0]])


def test_saved_processor_config_names_the_stock_class(tiny_model_dir):
    cfg = json.loads((tiny_model_dir / "processor_config.json").read_text())
    assert cfg["processor_class"] == "Qwen2_5_VLProcessor"


@pytest.mark.parametrize(
    ("model_type", "frame"),
    [("qwen2_vl", "pixel"), ("qwen2_5_vl", "pixel"), ("qwen3_vl", "norm1000"), ("qwen3_vl_moe", "norm1000")],
)
def test_model_frame_by_model_type(model_type, frame):
    assert model_frame({"model_type": model_type}) == frame


def test_model_frame_reads_a_checkpoint_directory_and_a_config_object(tiny_model_dir):
    from transformers import AutoConfig

    assert model_frame(tiny_model_dir) == "pixel"
    assert model_frame(str(tiny_model_dir)) == "pixel"
    assert model_frame(AutoConfig.from_pretrained(tiny_model_dir)) == "pixel"


def test_model_frame_of_unknown_model_warns_and_assumes_pixel(caplog):
    with caplog.at_level(logging.WARNING, logger="ivgr.models.loader"):
        assert model_frame({"model_type": "llava"}) == "pixel"
    assert "llava" in caplog.text


def test_model_frame_of_missing_path_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        model_frame(tmp_path / "absent")


def test_importing_ivgr_models_does_not_import_torch():
    code = "import sys, ivgr.models; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_image_only_processor_save_pretrained_round_trips(tmp_path, tiny_model_dir):
    # Trainers (HF, TRL) call processing_class.save_pretrained on every checkpoint.
    processor = processor_from_pretrained(tiny_model_dir, max_pixels=12544)
    processor.save_pretrained(tmp_path)
    again = processor_from_pretrained(tmp_path)
    assert again.image_processor.size["longest_edge"] == 12544
    assert again.chat_template == processor.chat_template
    assert json.loads((tmp_path / "processor_config.json").read_text())["processor_class"] == "Qwen2_5_VLProcessor"
