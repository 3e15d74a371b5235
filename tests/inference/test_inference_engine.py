"""InferenceEngine on a tiny local Qwen2.5-VL checkpoint: modes, box frames, lazy images."""

from __future__ import annotations

import pytest
from PIL import Image

from ivgr.inference import InferenceEngine, InferenceRequest
from ivgr.prompts import stream_prompt, tool_prompt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from ivgr.models import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("inf") / "tiny", seed=0)
    return InferenceEngine(path, max_new_tokens=5, batch_size=2)


def test_textual_mode_uses_the_textual_prompt_on_the_smart_resized_image(engine):
    img = Image.new("RGB", (600, 400), "red")
    [res] = engine.run([InferenceRequest(img, "What colour is it?")], mode="textual")
    assert res.mode == "textual" and isinstance(res.completion, str) and res.boxes == []
    w, h = res.model_size
    assert w % 28 == 0 and h % 28 == 0 and w * h <= engine.max_pixels and res.image_size == (600, 400)


def test_grounded_boxes_come_back_in_original_pixels(engine, monkeypatch):
    seen = []

    def fake(batch, **kw):
        seen.extend(batch)
        return ["<think>the cup <box>[28, 14, 112, 56]</box></think><answer>A</answer>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    img = Image.new("RGB", (1000, 500))
    [res] = engine.run([InferenceRequest(img, "Where is the cup?")], mode="grounded")
    text, images = seen[0]
    assert text == stream_prompt("grounded", "Where is the cup?", frame="pixel")
    mw, mh = images[0].size
    assert res.boxes == [pytest.approx((28 * 1000 / mw, 14 * 500 / mh, 112 * 1000 / mw, 56 * 500 / mh))]
    assert res.answer == "A"


def test_tool_mode_feeds_image_crops_and_union_then_falls_back_without_boxes(engine, monkeypatch):
    calls = []

    def fake(batch, **kw):
        calls.append(batch)
        if len(calls) == 1:
            return ["<think><box>[10,10,40,40]</box> and <box>[60,60,100,100]</box></think><answer>B</answer>",
                    "<think>no boxes here</think><answer>C</answer>"]
        return ["<think>final</think><answer>D</answer>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    reqs = [InferenceRequest(Image.new("RGB", (224, 224)), "Q1?"), InferenceRequest(Image.new("RGB", (224, 224)), "Q2?")]
    with_boxes, without = engine.run(reqs, mode="tool")
    (text1, imgs1), (text2, imgs2) = calls[1]
    assert text1 == tool_prompt("Q1?", n_crops=2, has_union=True) and len(imgs1) == 4
    assert with_boxes.answer == "D" and len(with_boxes.crops) == 2 and with_boxes.union is not None
    assert with_boxes.grounded_completion.startswith("<think><box>")
    assert without.tool_fallback and text2 == stream_prompt("textual", "Q2?") and len(imgs2) == 1


def test_compact_prompt_style_reaches_every_pass_and_an_unknown_style_is_refused(engine, monkeypatch):
    from ivgr.errors import ConfigError

    calls = []

    def fake(batch, **kw):
        calls.append(batch)
        return ["<think><box>[10,10,40,40]</box> <box>[60,60,100,100]</box></think><answer>B</answer>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    monkeypatch.setattr(engine, "prompt_style", "compact")
    engine.run([InferenceRequest(Image.new("RGB", (224, 224)), "Q1?")], mode="tool")
    assert calls[0][0][0] == stream_prompt("grounded", "Q1?", style="compact")
    assert calls[1][0][0] == tool_prompt("Q1?", n_crops=2, has_union=True, style="compact")
    with pytest.raises(ConfigError, match="prompt style"):
        InferenceEngine(engine.model_path, prompt_style="short")


def test_images_are_decoded_one_batch_at_a_time(engine, monkeypatch):
    events = []

    def loader(i):
        def load():
            events.append(f"load{i}")
            return Image.new("RGB", (100, 80))
        return load

    def fake(batch, **kw):
        events.append("generate")
        return ["<answer>A</answer>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    results = engine.run([InferenceRequest(loader(i), "Q?") for i in range(5)], mode="textual")
    assert len(results) == 5
    assert events == ["load0", "load1", "generate", "load2", "load3", "generate", "load4", "generate"]


def test_unknown_mode_is_a_config_error(engine):
    from ivgr.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown mode 'visual'"):
        engine.run([], mode="visual")


def test_jpeg_draft_decodes_smaller_but_keeps_model_size_and_original_box_frame(engine, monkeypatch, tmp_path):
    from ivgr.data.images import ORIGINAL_SIZE, file_loader

    path = tmp_path / "big.jpg"
    Image.new("RGB", (2400, 1600), (120, 30, 200)).save(path, quality=90)
    loader = file_loader(path, where=str(path))
    decoded, model_inputs = [], []

    def recording_loader(fit=None):  # what the engine really decoded, not what the fake backend says
        img = loader(fit=fit)
        decoded.append((img.size, img.info.get(ORIGINAL_SIZE)))
        return img

    def fake(batch, **kw):
        model_inputs.extend(img.size for _, imgs in batch for img in imgs)
        return ["<think><box>[28,28,56,56]</box></think>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    [plain] = engine.run([InferenceRequest(recording_loader, "Q?")], mode="grounded")
    monkeypatch.setattr(engine, "jpeg_draft", True)
    [fast] = engine.run([InferenceRequest(recording_loader, "Q?")], mode="grounded")
    (full, _), (small, original) = decoded
    assert full == original == (2400, 1600)
    assert small[0] <= 1200 and small[1] <= 800  # decoded at 1/2 scale or less
    assert model_inputs[0] == model_inputs[1] == fast.model_size == plain.model_size  # same model input
    assert fast.image_size == plain.image_size == (2400, 1600) and fast.boxes == plain.boxes
    assert engine.draft_fit("tool") is None  # tool mode crops need the full-resolution original


def test_tool_crops_from_decoded_files_keep_their_own_aspect_ratio(engine, monkeypatch, tmp_path):
    from ivgr.data.images import file_loader

    path = tmp_path / "wide.jpg"
    Image.new("RGB", (1200, 400), (10, 200, 10)).save(path)
    calls = []

    def fake(batch, **kw):
        calls.append(batch)
        # a tall thin box in the model frame
        return ["<think><box>[20,10,40,100]</box> <box>[100,10,120,100]</box></think>"] * len(batch)

    monkeypatch.setattr(engine.backend, "generate", fake)
    [res] = engine.run([InferenceRequest(file_loader(path, where="x"), "Q?")], mode="tool")
    _, images = calls[1][0]
    assert len(images) == 4  # original + 2 crops + union
    for region, crop in zip(res.crops, images[1:3]):
        rw, rh = region[2] - region[0], region[3] - region[1]
        assert crop.height > crop.width and abs(crop.width / crop.height - rw / rh) < 0.35
