"""The loader on a (tiny, locally built) Qwen3-VL checkpoint: norm1000 frame, patch-16 processor."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from ivgr.models import load_model_and_processor, model_frame
from ivgr.models.processor import ImageOnlyQwen3VLProcessor, build_processor
from ivgr.models.tiny import build_tokenizer


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory):
    """A random-weight Qwen3-VL (2 LM layers, 2 ViT blocks) with the tiny tokenizer."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out = tmp_path_factory.mktemp("qwen3") / "ckpt"
    tok = build_tokenizer(vocab_size=600)
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                                     "<|vision_end|>", "<|im_end|>", "<|endoftext|>")}
    config = Qwen3VLConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3],
                                         "mrope_interleaved": True},
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "patch_size": 16,
                       "out_hidden_size": 64, "num_position_embeddings": 64, "deepstack_visual_indexes": [1]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    Qwen3VLForConditionalGeneration(config).save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(patch_size=16, min_pixels=32 * 32, max_pixels=128 * 128)
    build_processor(tok, image_processor=image_processor, model_type="qwen3_vl").save_pretrained(out)
    return out


def test_qwen3_vl_checkpoint_is_in_the_norm1000_frame(qwen3_dir):
    assert model_frame(qwen3_dir) == "norm1000"


def test_qwen3_vl_loads_without_torchvision_and_generates(qwen3_dir):
    model, processor = load_model_and_processor(qwen3_dir)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert isinstance(processor, ImageOnlyQwen3VLProcessor) or hasattr(processor, "video_processor")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Where?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(images=[Image.new("RGB", (64, 64), (0, 90, 200))], text=[text], return_tensors="pt")
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == 4  # 64/16 = 4x4 patches, 2x2 merge
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
