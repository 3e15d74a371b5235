"""Cold-start SFT end to end on the tiny model: masking, learning, saving, reloading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ivgr.errors import DataError
from ivgr.models import build_tiny_model, load_model_and_processor
from ivgr.training.sft import (
    IGNORE_INDEX,
    SFTCollator,
    SFTDataset,
    read_sft_jsonl,
    run_sft,
    weighted_token_loss,
)
from ivgr.training.sft_config import SFTConfig

REPO = Path(__file__).resolve().parents[2]
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}


@pytest.fixture(scope="module")
def sft_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("sft-base") / "tiny", seed=0)


def _write_examples(root: Path, n: int = 6) -> Path:
    """A handful of real PNGs and an SFT JSONL with paths relative to the JSONL's folder."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = list(COLOURS)[i % len(COLOURS)]
        Image.new("RGB", (56, 56), COLOURS[name]).save(root / "img" / f"{i}.png")
        stream = "grounded" if i % 2 == 0 else "textual"
        box = "<box>[0,0,56,56]</box>" if stream == "grounded" else ""
        rows.append({"sample_id": f"s{i}", "stream": stream, "image": f"img/{i}.png",
                     "prompt": "What colour is the square?",
                     "completion": f"<think>The square {box} is {name}.</think><answer>{name}</answer>"})
    rows.append({"sample_id": "m0", "stream": "single", "image": "img/0.png", "prompt": "1+1?",
                 "completion": "<think>1+1=2</think><answer>2</answer>"})
    path = root / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_labels_mask_prompt_and_image_tokens_and_keep_the_completion(tmp_path, sft_model_dir):
    _, processor = load_model_and_processor(sft_model_dir)
    examples = read_sft_jsonl(_write_examples(tmp_path), streams=["grounded"])
    item = SFTDataset(examples, processor, max_length=512)[0]
    labels, ids = item["labels"], item["input_ids"]
    n_prompt = int((labels == IGNORE_INDEX).sum())
    assert (labels[:n_prompt] == IGNORE_INDEX).all() and (labels[n_prompt:] == ids[n_prompt:]).all()
    assert (ids[:n_prompt] == processor.image_token_id).sum() == 4  # 56x56 image -> 2x2 merged patches
    target = processor.tokenizer.decode(ids[n_prompt:])
    assert target == examples[0].completion + "<|im_end|>\n"  # the model learns to close its turn


def test_answer_and_box_spans_carry_their_loss_weights(tmp_path, sft_model_dir):
    _, processor = load_model_and_processor(sft_model_dir)
    examples = read_sft_jsonl(_write_examples(tmp_path), streams=["grounded"])
    item = SFTDataset(examples, processor, max_length=512, answer_loss_weight=5.0, box_loss_weight=0.5)[0]
    weights, ids, labels = item["loss_weights"], item["input_ids"], item["labels"]
    assert weights.shape == ids.shape and (weights[labels == IGNORE_INDEX] == 0).all()
    decode = processor.tokenizer.decode
    assert decode(ids[weights == 5.0]).strip() == "red"  # the <answer> body
    assert decode(ids[weights == 0.5]).replace(" ", "") == "<box>[0,0,56,56]</box>"
    assert "<answer>" in decode(ids[weights == 1.0]) and "</think>" in decode(ids[weights == 1.0])
    batch = SFTCollator(processor.tokenizer.pad_token_id)([item, item])
    assert batch["loss_weights"].shape == batch["input_ids"].shape
    plain = SFTDataset(examples, processor, max_length=512)[0]
    assert "loss_weights" not in plain  # weights 1: the plain HF loss path


def test_weighted_loss_with_unit_weights_is_the_models_own_loss(tmp_path, sft_model_dir):
    model, processor = load_model_and_processor(sft_model_dir)
    examples = read_sft_jsonl(_write_examples(tmp_path), streams=["grounded", "textual"])
    dataset = SFTDataset(examples, processor, max_length=512)
    batch = SFTCollator(processor.tokenizer.pad_token_id)([dataset[0], dataset[1]])
    with torch.no_grad():
        out = model(**batch)
    ones = (batch["labels"] != IGNORE_INDEX).float()
    assert torch.allclose(weighted_token_loss(out.logits, batch["labels"], ones), out.loss, atol=1e-5)
    doubled = weighted_token_loss(out.logits, batch["labels"], 2 * ones)
    assert torch.allclose(doubled, 2 * out.loss, atol=1e-5)


def test_collator_right_pads_and_stacks_image_patches(tmp_path, sft_model_dir):
    _, processor = load_model_and_processor(sft_model_dir)
    dataset = SFTDataset(read_sft_jsonl(_write_examples(tmp_path)), processor, max_length=512)
    items = [dataset[0], dataset[1]]
    batch = SFTCollator(processor.tokenizer.pad_token_id)(items)
    lengths = [it["input_ids"].numel() for it in items]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    short = lengths.index(min(lengths))
    assert (batch["labels"][short, min(lengths):] == IGNORE_INDEX).all()
    assert batch["pixel_values"].shape[0] == sum(it["pixel_values"].shape[0] for it in items)
    assert batch["image_grid_thw"].shape == (2, 3)


def test_long_completion_is_cut_to_max_length(tmp_path, sft_model_dir):
    _, processor = load_model_and_processor(sft_model_dir)
    examples = read_sft_jsonl(_write_examples(tmp_path))
    dataset = SFTDataset(examples, processor, max_length=40)
    assert dataset[0]["input_ids"].numel() == 40 and dataset.truncated == 1
    with pytest.raises(DataError, match="prompt alone"):
        SFTDataset(examples, processor, max_length=10)[0]


def test_bad_jsonl_line_is_a_data_error_with_its_line_number(tmp_path):
    path = _write_examples(tmp_path)
    with path.open("a") as handle:
        handle.write('{"sample_id": "x", "image": "img/0.png", "prompt": "q"}\n')
    with pytest.raises(DataError, match=r"sft.jsonl:8: missing or empty key 'completion'"):
        read_sft_jsonl(path)


def test_invalid_json_line_and_missing_file_are_data_errors_naming_them(tmp_path):
    path = _write_examples(tmp_path)
    with path.open("a") as handle:
        handle.write("\n{broken\n")
    with pytest.raises(DataError, match=r"sft.jsonl:9: invalid JSON"):
        read_sft_jsonl(path)
    with pytest.raises(DataError, match=r"none.jsonl: no such file"):
        read_sft_jsonl(tmp_path / "none.jsonl")


def test_missing_image_is_a_data_error_naming_the_file(tmp_path):
    path = _write_examples(tmp_path)
    (tmp_path / "img" / "3.png").unlink()
    with pytest.raises(DataError, match=r"sft.jsonl:4: image .*3.png not found"):
        read_sft_jsonl(path)


@pytest.mark.slow
def test_sft_lowers_loss_changes_weights_and_saves_a_loadable_checkpoint(tmp_path, sft_model_dir):
    train_file = _write_examples(tmp_path / "data")
    cfg = SFTConfig(model_path=str(sft_model_dir), data_path=str(train_file), output_dir=str(tmp_path / "run"),
                    max_steps=16, per_device_train_batch_size=4, learning_rate=3e-3, warmup_ratio=0.0,
                    lr_scheduler_type="constant", report_to=["none"], streams=["grounded", "textual"])
    final = run_sft(cfg)

    history = [h["loss"] for h in json.loads((tmp_path / "run" / "log_history.json").read_text()) if "loss" in h]
    assert len(history) == 16 and history[-1] < 0.5 * history[0]
    before, after = load_file(sft_model_dir / "model.safetensors"), load_file(final / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    run = json.loads((final / "ivgr_run.json").read_text())
    assert run["streams"] == {"grounded": 3, "textual": 3} and run["stage"] == "sft"  # single row filtered out
    assert "max_steps: 16" in (final / "sft_config.yaml").read_text()

    model, processor = load_model_and_processor(final)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is the square?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(images=[Image.new("RGB", (56, 56), COLOURS["red"])], text=[text], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=40, do_sample=False)
    completion = processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
    assert completion.startswith("<think>")  # the format was learned in 16 steps


@pytest.mark.slow
def test_sft_with_weighted_answer_and_box_spans_trains_and_saves(tmp_path, sft_model_dir):
    cfg = SFTConfig(model_path=str(sft_model_dir), data_path=str(_write_examples(tmp_path / "data")),
                    output_dir=str(tmp_path / "run"), max_steps=8, per_device_train_batch_size=4, learning_rate=3e-3,
                    warmup_ratio=0.0, lr_scheduler_type="constant", report_to=[], answer_loss_weight=5.0,
                    box_loss_weight=0.5, gradient_accumulation_steps=2)
    final = run_sft(cfg)
    history = [h["loss"] for h in json.loads((tmp_path / "run" / "log_history.json").read_text()) if "loss" in h]
    assert len(history) == 8 and history[-1] < 0.5 * history[0]
    assert "answer_loss_weight: 5.0" in (final / "sft_config.yaml").read_text()


@pytest.mark.slow
def test_freezing_the_vision_tower_trains_only_the_language_side(tmp_path, sft_model_dir):
    cfg = SFTConfig(model_path=str(sft_model_dir), data_path=str(_write_examples(tmp_path / "data")),
                    output_dir=str(tmp_path / "run"), max_steps=2, learning_rate=1e-3, report_to=[],
                    freeze_vision_tower=True, save_steps=1, save_total_limit=1)
    after = load_file(run_sft(cfg) / "model.safetensors")
    # intermediate checkpoints carry the processor too, so each one loads on its own
    model, processor = load_model_and_processor(tmp_path / "run" / "checkpoint-2")
    assert processor.image_token_id == model.config.image_token_id
    before = load_file(sft_model_dir / "model.safetensors")
    visual = [k for k in before if ".visual." in k or k.startswith("visual.")]
    assert visual and all(torch.equal(before[k], after[k]) for k in visual)
    assert any(not torch.equal(before[k], after[k]) for k in before if k not in visual)


@pytest.mark.slow
def test_cli_runs_the_tiny_recipe_under_torchrun_with_two_processes(tmp_path):
    # The shipped recipe through the real CLI, as two gloo ranks on CPU: only the main rank
    # generates the scenes and the tiny model, the other waits and reads them; DDP trains and
    # rank 0 alone writes OUTPUT_DIR/final and the TensorBoard events (on by default).
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    res = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port),
         "-m", "ivgr.cli", "sft", "--config", str(REPO / "recipes/sft_tiny_cpu.yaml"), f"output_dir={out}",
         "max_steps=2", "synthetic_scenes=4", "--per_device_train_batch_size", "2"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stderr.count("done: SFT checkpoint") == 1  # only rank 0 reports
    run = json.loads((out / "final" / "ivgr_run.json").read_text())
    assert run["global_step"] == 2 and run["streams"]["grounded"] == 4
    assert len((out / "data" / "sft.jsonl").read_text().splitlines()) == sum(run["streams"].values())
    assert list((out / "runs").rglob("events.out.tfevents.*"))
    assert (out / "final" / "chat_template.jinja").is_file()
    load_model_and_processor(out / "final")
