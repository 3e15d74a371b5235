"""`ivgr infer` smoke test: prints reasoning and answer, writes the visualisation PNG."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

from ivgr.cli import app

@pytest.mark.slow
def test_infer_tool_mode_prints_answer_and_saves_a_png(tmp_path):
    from ivgr.models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", seed=1)
    img_path = tmp_path / "scene.jpg"
    Image.new("RGB", (640, 360), (90, 140, 200)).save(img_path)
    vis = tmp_path / "out" / "vis.png"
    result = CliRunner().invoke(app, ["infer", "--model", str(model), "--image", str(img_path), "--question",
                                      "What colour is the sky?", "--mode", "tool", "--max-new-tokens", "6",
                                      "--save-vis", str(vis)])
    assert result.exit_code == 0, result.output
    assert "reasoning:" in result.output and "answer:" in result.output and "640x360" in result.output
    with Image.open(vis) as saved:
        assert saved.format == "PNG" and saved.size == (640, 360)


def test_infer_missing_image_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["infer", "--model", str(tmp_path), "--image", str(tmp_path / "none.jpg"),
                                      "--question", "Q?"])
    assert result.exit_code != 0
    assert "none.jpg: no such file" in str(result.exception)


@pytest.mark.parametrize("content, reason", [(b"hello, not pixels", "not an image Pillow can read"),
                                             (b"", "the file is empty")])
def test_infer_image_that_is_not_an_image_names_the_file_and_why(tmp_path, content, reason):
    path = tmp_path / "notanimage"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["infer", "--model", str(tmp_path), "--image", str(path), "--question", "Q?"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert message.startswith(f"{path}: cannot decode image: {reason}")
    assert "object at 0x" not in message  # Pillow's text names its in-memory buffer


@pytest.mark.parametrize("flags, expected", [
    (["--temperature", "-1"], "temperature must be >= 0"),  # was decoded greedily, silently
    (["--max-pixels", "0"], "max_pixels must be >= 1"),
    (["--min-pixels", "5000", "--max-pixels", "1000"], "min_pixels (5000) must be <= max_pixels (1000)"),
])
def test_infer_bad_generation_flags_fail_before_the_model_is_loaded(tmp_path, flags, expected):
    image = tmp_path / "scene.png"
    Image.new("RGB", (32, 32)).save(image)
    # no checkpoint at --model: the flags must be rejected before anything is loaded
    result = CliRunner().invoke(app, ["infer", "--model", str(tmp_path / "none"), "--image", str(image),
                                      "--question", "Q?", *flags])
    assert result.exit_code != 0
    assert expected in str(result.exception)
