"""The tiny model builder writes a real, reloadable Qwen2.5-VL checkpoint with a usable tokenizer."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from ivgr.models import build_tiny_model, load_model_and_processor
from ivgr.models.tiny import SPECIAL_TOKENS, TAG_TOKENS


def _chat_inputs(processor, question: str, size=(112, 112)):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    image = Image.new("RGB", size, (200, 30, 30))
    return text, processor(images=[image], text=[text], return_tensors="pt")


def test_tiny_checkpoint_directory_has_the_usual_files(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "preprocessor_config.json", "chat_template.jinja", "generation_config.json"} <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    assert config["vision_config"]["patch_size"] == 14 and config["vision_config"]["spatial_merge_size"] == 2


def test_tiny_model_reloads_and_generates_from_an_image_and_chat_prompt(tiny_model_dir):
    model, processor = load_model_and_processor(tiny_model_dir)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    _, inputs = _chat_inputs(processor, "What colour is the circle?")
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], model.config.text_config.vocab_size)
    assert torch.isfinite(logits).all()
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    # generation stops at <|im_end|>, the eos in generation_config
    assert model.generation_config.eos_token_id == processor.tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_processor_expands_image_pad_to_one_token_per_merged_patch(tiny_model_dir):
    _, processor = load_model_and_processor(tiny_model_dir)
    text, inputs = _chat_inputs(processor, "Where is it?", size=(224, 112))
    t, h, w = inputs["image_grid_thw"][0].tolist()
    n_pad = int((inputs["input_ids"] == processor.image_token_id).sum())
    assert text.count("<|image_pad|>") == 1
    assert n_pad == t * h * w // 4  # 2x2 spatial merge
    assert (h, w) == (8, 16)  # 112x224 image, 14-pixel patches


def test_chat_template_follows_the_qwen_layout_with_default_system_prompt(tiny_model_dir):
    _, processor = load_model_and_processor(tiny_model_dir)
    text, _ = _chat_inputs(processor, "Q?")
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                    "<|vision_start|><|image_pad|><|vision_end|>Q?<|im_end|>\n<|im_start|>assistant\n")


def test_tokenizer_keeps_tags_and_digits_as_single_tokens(tiny_model_dir):
    _, processor = load_model_and_processor(tiny_model_dir)
    tok = processor.tokenizer
    for tag in TAG_TOKENS + SPECIAL_TOKENS:
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1, tag
    pieces = tok.convert_ids_to_tokens(tok("[120,34,5,6789]", add_special_tokens=False)["input_ids"])
    digits = [p for p in pieces if p.isdigit()]
    assert digits == list("1203456789")  # every digit its own token, none merged


def test_decode_skipping_special_tokens_keeps_think_answer_and_box_tags(tiny_model_dir):
    _, processor = load_model_and_processor(tiny_model_dir)
    text = "<think>the ball <box>[1,2,30,40]</box> is red</think><answer>red</answer>"
    ids = processor.tokenizer(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert processor.tokenizer.decode(ids, skip_special_tokens=True) == text


def test_same_seed_builds_identical_weights_and_other_seed_differs(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)
    ref = load_file(tiny_model_dir / "model.safetensors")
    same = load_file(again / "model.safetensors")
    diff = load_file(other / "model.safetensors")
    assert all(torch.equal(ref[k], same[k]) for k in ref)
    assert any(not torch.equal(ref[k], diff[k]) for k in ref)
    assert (again / "tokenizer.json").read_text() == (tiny_model_dir / "tokenizer.json").read_text()


def test_size_knobs_shape_the_model_and_bad_knobs_fail_clearly(tmp_path):
    from ivgr.errors import ConfigError

    path = build_tiny_model(tmp_path / "wide", hidden_size=64, layers=3, vision_depth=1)
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["text_config"]["hidden_size"] == 64 and cfg["text_config"]["num_hidden_layers"] == 3
    assert cfg["vision_config"]["depth"] == 1 and cfg["vision_config"]["out_hidden_size"] == 64
    with pytest.raises(ConfigError, match="hidden_size"):
        build_tiny_model(tmp_path / "bad", hidden_size=66)
    with pytest.raises(ConfigError, match="unknown key 'hiden_size'; did you mean 'hidden_size'"):
        build_tiny_model(tmp_path / "bad2", hiden_size=64)
    with pytest.raises(ConfigError, match="rope_theta"):
        build_tiny_model(tmp_path / "bad3", rope_theta=0.5)


def test_rope_theta_knob_reaches_the_text_config(tmp_path):
    path = build_tiny_model(tmp_path / "t10", hidden_size=64, layers=1, vision_depth=1, rope_theta=10.0)
    assert json.loads((path / "config.json").read_text())["text_config"]["rope_parameters"]["rope_theta"] == 10.0


def test_qwen3_vl_family_builds_a_norm1000_model_whose_vision_tokens_know_where_they_are(tmp_path):
    from ivgr.models import model_frame

    path = build_tiny_model(tmp_path / "q3", family="qwen3_vl", min_pixels=128 * 128, max_pixels=128 * 128)
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl" and config["vision_config"]["patch_size"] == 16
    # one learned position per 16-px patch of a 128x128 image: what lets boxes follow the target
    assert config["vision_config"]["num_position_embeddings"] == (128 // 16) ** 2
    model, processor = load_model_and_processor(path)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration" and model_frame(model.config) == "norm1000"
    _, inputs = _chat_inputs(processor, "What colour is the leftmost object?", size=(128, 128))
    assert int((inputs["input_ids"] == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum()) == 16
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()
    with pytest.raises(Exception, match="family must be one of"):
        build_tiny_model(tmp_path / "bad", family="llava")
