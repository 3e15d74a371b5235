"""`ivgr ui` end to end: the real CLI serves a tiny checkpoint and a real run; gradio_client calls it."""

from __future__ import annotations

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "scene.png"
    Image.new("RGB", (320, 240), "white").save(path)
    return path


@pytest.mark.parametrize("mode", ["textual", "grounded", "tool"])
def test_infer_api_answers_in_every_mode_with_an_image_in_original_pixels(client, scene, mode):
    from gradio_client import handle_file

    image, reasoning, answer = client.predict(handle_file(str(scene)), "What colour is the square?", mode,
                                              api_name="/infer")
    with Image.open(image) as annotated:
        assert annotated.size == (320, 240)  # drawn on the upload itself, not on the model's resized copy
    assert isinstance(reasoning, str) and reasoning
    assert answer == "(no <answer> tag in the output)"  # a random tiny model never closes the format


def test_infer_api_takes_exactly_image_question_mode_and_returns_three_values(client):
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/infer"]
    assert [p["component"] for p in endpoint["parameters"]] == ["Image", "Textbox", "Radio"]
    assert [r["component"] for r in endpoint["returns"]] == ["Image", "Textbox", "Textbox"]


@pytest.mark.parametrize(("what", "expected"), [
    ("not-an-image", "is not an image"),
    ("empty-question", "type a question"),
    ("bad-mode", "mode must be one of"),
])
def test_bad_input_is_a_message_and_the_server_keeps_serving(client, scene, tmp_path, what, expected):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    upload, question, mode = str(scene), "What colour?", "textual"
    if what == "not-an-image":
        upload = str(tmp_path / "notes.png")
        (tmp_path / "notes.png").write_bytes(b"%PDF-1.4 not an image")
    elif what == "empty-question":
        question = "   "
    else:
        mode = "sideways"
    with pytest.raises(AppError, match=expected):
        client.predict(handle_file(upload), question, mode, api_name="/infer")
    _, reasoning, _ = client.predict(handle_file(str(scene)), "still there?", "textual", api_name="/infer")
    assert reasoning


def test_an_upload_over_the_cap_is_refused_by_the_server(server, tmp_path):
    import httpx

    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (26 * 1024 * 1024))  # over the default 25 MB
    with open(big, "rb") as fh:
        response = httpx.post(server + "gradio_api/upload", files={"files": ("big.png", fh, "image/png")}, timeout=120)
    assert response.status_code == 413
    assert httpx.get(server, timeout=60).status_code == 200


def test_compare_api_answers_textual_and_grounded_side_by_side(client, scene):
    from gradio_client import handle_file

    # (the row that holds them is layout: not part of the API)
    t_answer, t_reasoning, g_image, g_answer, g_reasoning = client.predict(
        handle_file(str(scene)), "What colour?", api_name="/compare")
    assert t_reasoning and g_reasoning and t_answer and g_answer
    with Image.open(g_image) as annotated:
        assert annotated.size == (320, 240)


def test_the_server_listens_on_loopback_only(server):
    import psutil

    port = int(server.rstrip("/").rsplit(":", 1)[1])
    listening = {c.laddr.ip for c in psutil.net_connections(kind="inet") if c.laddr and c.laddr.port == port
                 and c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}
