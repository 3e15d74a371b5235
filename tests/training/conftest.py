"""Shared fixtures of the trainer tests: a synthetic prepared dataset and a format-primed tiny model.

A random tiny model never writes `<think>..</think><answer>..</answer>`, so every reward is 0,
every GRPO advantage is 0 and nothing can be learned or archived. The fixture gives the tiny
model a few seconds of teacher forcing on the synthetic world's reference CoTs (grounded and
textual), which is what the cold-start SFT does for the real model (docs/method.md#sft-cold-start). Sampling
at temperature 1 then yields a mix of good and bad rollouts: non-zero advantages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PRIME_STEPS = 60
PRIME_LR = 3e-3
N_SCENES = 16


def prime_tiny_model(
    model_dir: Path, data_dir: Path | None, *, steps: int = PRIME_STEPS, seed: int = 0, cots: list[str] | None = None
) -> None:
    """Teacher-force the reference CoTs of `data_dir` into the tiny model at `model_dir` (in place).

    Text only, after the assistant header: cheap (no image tokens) and enough to teach the format,
    the tags and plausible boxes; the answers stay near chance, so rewards vary within a group.
    """
    import torch

    from ivgr.data.prepared import read_prepared
    from ivgr.data.synthetic import grounded_cot, scenes_of, textual_cot
    from ivgr.models import load_model_and_processor

    torch.manual_seed(seed)
    model, processor = load_model_and_processor(model_dir, dtype="float32")
    tok = processor.tokenizer
    header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    if cots is None:
        cots = [cot for scene in scenes_of(read_prepared(data_dir)) for cot in (grounded_cot(scene), textual_cot(scene))]
    rows = [header + tok(cot + "<|im_end|>", add_special_tokens=False)["input_ids"] for cot in cots]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, len(header) : len(row)] = ids[i, len(header) : len(row)]
        mask[i, : len(row)] = 1
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=PRIME_LR)
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(model_dir)
    (model_dir / "primed.json").write_text(json.dumps({"steps": steps, "final_loss": loss.item()}))


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> Path:
    """16 synthetic scenes (paired samples, 112x112 images) as a prepared dataset."""
    from ivgr.data.synthetic import generate

    path = tmp_path_factory.mktemp("data") / "synthetic"
    generate(path, n=N_SCENES, seed=3, split="train")
    return path


@pytest.fixture(scope="session")
def primed_model(tmp_path_factory, synthetic_data) -> Path:
    """A tiny Qwen2.5-VL that has seen the answer format (read-only for tests: copy before training)."""
    from ivgr.models import build_tiny_model

    path = tmp_path_factory.mktemp("model") / "tiny-primed"
    build_tiny_model(path, seed=0)
    prime_tiny_model(path, synthetic_data)
    return path


EXACT_GROUNDED = "<think>the square <box>[10,10,40,40]</box> is red .</think><answer>red</answer>"


@pytest.fixture(scope="session")
def two_question_data(tmp_path_factory, synthetic_data) -> Path:
    """Two paired questions whose correct, well-boxed answer is EXACT_GROUNDED."""
    from ivgr.data.prepared import read_prepared, resolve_image, write_prepared

    samples = read_prepared(synthetic_data)[:2]
    for sample in samples:
        sample.question, sample.answer = "What colour is the square?", "red"
        sample.target_boxes = [(10.0, 10.0, 40.0, 40.0)]
    path = tmp_path_factory.mktemp("data") / "two"
    write_prepared(path, samples, {s.image: resolve_image(synthetic_data, s) for s in samples}, {"frame": "pixel"})
    return path


def prime_on_prompts(model_dir: Path, data_dir: Path, completion: str, *, steps: int = 60, seed: int = 0) -> None:
    """Teacher-force `completion` after the real (image + stream) prompts of every row of `data_dir`."""
    import torch
    from PIL import Image

    from ivgr.data.prepared import read_prepared, resolve_image
    from ivgr.models import load_model_and_processor
    from ivgr.prompts import chat_messages, stream_prompt

    torch.manual_seed(seed)
    model, processor = load_model_and_processor(model_dir, dtype="float32")
    prompts, images = [], []
    for sample in read_prepared(data_dir):
        image = Image.open(resolve_image(data_dir, sample)).convert("RGB")
        for stream in ("grounded", "textual"):
            msgs = chat_messages(stream_prompt(stream, sample.question, frame="pixel"), n_images=1)
            prompts.append(processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))
            images.append(image)
    processor.tokenizer.padding_side = "right"
    batch = processor(text=[p + completion + "<|im_end|>" for p in prompts], images=images, return_tensors="pt",
                      padding=True)
    labels = batch["input_ids"].clone()
    for i, ids in enumerate(processor(text=prompts, images=images)["input_ids"]):
        labels[i, : len(ids)] = -100
    labels[batch["attention_mask"] == 0] = -100
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=PRIME_LR)
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(model_dir)
    (model_dir / "primed.json").write_text(json.dumps({"steps": steps, "final_loss": loss.item()}))


@pytest.fixture(scope="session")
def exact_model(tmp_path_factory, two_question_data) -> Path:
    """A tiny model that answers EXACT_GROUNDED to both questions: its grounded rollouts qualify for the archive."""
    from ivgr.models import build_tiny_model

    path = tmp_path_factory.mktemp("model") / "tiny-exact"
    build_tiny_model(path, seed=0)
    prime_on_prompts(path, two_question_data, EXACT_GROUNDED, steps=150)  # loss ~0.003: near-deterministic
    return path
