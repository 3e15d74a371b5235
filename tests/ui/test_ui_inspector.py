"""The Ask tab's logic on a real tiny engine whose generation is scripted (no server, no browser)."""

from __future__ import annotations

import pytest
from PIL import Image

from ivgr.errors import ConfigError, DataError
from ivgr.ui.inspector import Inspector, upload_path

pytestmark = pytest.mark.slow

TWO_BOXES = "<think>the square <box>[14,14,56,56]</box> and the disc <box>[112,84,168,140]</box></think><answer>red</answer>"


@pytest.fixture(scope="module")
def inspector(tiny_ckpt):
    from ivgr.inference import InferenceEngine

    return Inspector(InferenceEngine(tiny_ckpt, max_new_tokens=4, batch_size=1))


@pytest.fixture
def scripted(inspector, monkeypatch):
    def generate(batch, **kwargs):
        return [TWO_BOXES if "<box>" in text else "<think>a red square</think><answer>red</answer>"
                for text, _ in batch]

    monkeypatch.setattr(inspector.engine.backend, "generate", generate)
    return inspector


@pytest.fixture
def upload(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (640, 480), "white").save(path)
    return {"path": str(path), "orig_name": "wide.png"}


def test_grounded_boxes_are_drawn_on_the_upload_in_its_own_pixels(scripted, upload):
    result = scripted.ask(upload, "What colour?", "grounded")
    assert result.annotated.size == (640, 480)
    assert result.annotated.getpixel((0, 0)) == (255, 255, 255)
    mw, mh = scripted.engine.target_size((640, 480))
    x1 = round(14 * 640 / mw)  # the first box's left edge, mapped from the model's frame to the upload's
    assert result.annotated.getpixel((x1, round(30 * 480 / mh))) == (0, 200, 0)
    assert "boxes in the image's pixels: [" in result.info and result.answer == "red"


def test_tool_mode_returns_each_crop_and_their_union(scripted, upload):
    result = scripted.ask(upload, "What colour?", "tool")
    assert [caption for _, caption in result.crops] == ["crop 1", "crop 2", "union"]
    union = result.crops[-1][0]
    assert all(union.width >= crop.width and union.height >= crop.height for crop, _ in result.crops)
    assert result.answer == "red" and "grounded pass:" in result.info


def test_compare_answers_textual_then_grounded(scripted, upload):
    textual, grounded = scripted.compare(upload, "What colour?")
    assert (textual.mode, grounded.mode) == ("textual", "grounded")
    assert "boxes in the image's pixels" not in textual.info and grounded.info


@pytest.mark.parametrize(("payload", "question", "mode", "error", "match"), [
    (None, "q", "textual", DataError, "upload an image first"),
    ("upload", "", "textual", DataError, "type a question"),
    ("upload", "q" * 5000, "textual", DataError, "limit is 4000"),
    ("upload", "q", "boxes", ConfigError, "mode must be one of textual, grounded, tool"),
])
def test_bad_input_raises_a_message_for_the_page(inspector, upload, payload, question, mode, error, match):
    with pytest.raises(error, match=match):
        inspector.ask(upload if payload == "upload" else payload, question, mode)


def test_upload_path_reads_gradio_payloads_and_plain_paths():
    assert upload_path({"path": "/tmp/x.png", "orig_name": "x.png"}) == "/tmp/x.png"
    assert upload_path("/tmp/y.png") == "/tmp/y.png"
    assert upload_path({"url": "data:..."}) is None and upload_path(None) is None
