"""Tool mode end to end with a model that really emits boxes: the crops come from its boxes.

A random tiny model writes no boxes, so tool mode always took the textual fallback. Here the tiny
model is taught one grounded answer for one picture (teacher forcing on the exact prompt the
engine builds, ~80 steps: a tiny LM memorises one string quickly), then `InferenceEngine` runs
tool mode with real generation. The picture has a red and a green square where the taught boxes
point, so the crops fed to the second pass can be checked by their colours.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from ivgr.inference import InferenceEngine, InferenceRequest
from ivgr.prompts import tool_prompt

# ~80 teacher-forced steps on a ~320-token prompt: seconds on a quiet CPU; the limit guards hangs only
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]

QUESTION = "Which square is larger?"
RED, GREEN = (20, 20, 60, 60), (140, 140, 200, 200)
TAUGHT = (f"<think>the red square <box>[{','.join(map(str, RED))}]</box> and the green square "
          f"<box>[{','.join(map(str, GREEN))}]</box></think><answer>B</answer>")
TEACH_STEPS = 80  # loss < 0.01 by step 80 in a trial; the fixture checks the taught text comes back


def scene() -> Image.Image:
    """224 x 224 (the tiny processor keeps that size: pixel-frame boxes are original pixels)."""
    img = Image.new("RGB", (224, 224), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle(RED, fill=(255, 0, 0))
    draw.rectangle(GREEN, fill=(0, 255, 0))
    return img


def teach(engine: InferenceEngine, image: Image.Image, steps: int = TEACH_STEPS) -> None:
    """Teacher-force TAUGHT after the engine's own grounded prompt for `image` (in place, fp32 AdamW)."""
    import torch

    from ivgr.prompts import chat_messages, stream_prompt

    backend = engine.backend
    text = stream_prompt("grounded", QUESTION, frame=engine.frame, style=engine.prompt_style)
    prompt = backend.processor.apply_chat_template(chat_messages(text, n_images=1), add_generation_prompt=True,
                                                   tokenize=False)
    small = engine.resize(image)
    full = backend.processor(text=[prompt + TAUGHT + "<|im_end|>"], images=[small], return_tensors="pt")
    n_prompt = backend.processor(text=[prompt], images=[small], return_tensors="pt")["input_ids"].shape[1]
    labels = full["input_ids"].clone()
    labels[:, :n_prompt] = -100
    torch.manual_seed(0)
    model = backend.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        model(**full, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


@pytest.fixture(scope="module")
def boxing_engine(tmp_path_factory):
    """An engine whose tiny model answers QUESTION about scene() with TAUGHT (greedy)."""
    from ivgr.models import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tool") / "tiny", seed=0)
    engine = InferenceEngine(path, max_new_tokens=64, batch_size=1)
    teach(engine, scene())
    [res] = engine.run([InferenceRequest(scene(), QUESTION)], mode="grounded")
    assert res.completion == TAUGHT, res.completion  # the premise: the model emits the two boxes
    return engine


def _share(img: Image.Image, colour: tuple[int, int, int]) -> float:
    pixels = list(img.convert("RGB").getdata())
    return sum(max(abs(a - b) for a, b in zip(p, colour)) < 60 for p in pixels) / len(pixels)


def test_tool_mode_crops_the_boxes_the_model_emitted(boxing_engine, monkeypatch):
    calls: list[list] = []
    generate = boxing_engine.backend.generate

    def recording(batch, **kw):  # real generation; keep what each pass was given
        calls.append(batch)
        return generate(batch, **kw)

    monkeypatch.setattr(boxing_engine.backend, "generate", recording)
    [res] = boxing_engine.run([InferenceRequest(scene(), QUESTION)], mode="tool")

    assert not res.tool_fallback and res.grounded_completion == TAUGHT
    assert res.boxes == [pytest.approx(RED), pytest.approx(GREEN)]  # model size = original size here
    assert len(res.crops) == 2 and res.union is not None
    for crop, box in zip(res.crops, (RED, GREEN)):  # each crop holds its box (plus the margin)
        assert crop[0] <= box[0] and crop[1] <= box[1] and crop[2] >= box[2] and crop[3] >= box[3]
    assert res.union[0] <= RED[0] and res.union[3] >= GREEN[3]

    [(text, images)] = calls[1]  # the second pass: the image, two crops, their union
    assert text == tool_prompt(QUESTION, n_crops=2, has_union=True, style=boxing_engine.prompt_style)
    full, red, green, union = images
    assert full.size == (224, 224)
    assert _share(red, (255, 0, 0)) > 0.4 and _share(red, (0, 255, 0)) == 0
    assert _share(green, (0, 255, 0)) > 0.4 and _share(green, (255, 0, 0)) == 0
    assert _share(union, (255, 0, 0)) > 0.02 and _share(union, (0, 255, 0)) > 0.05
