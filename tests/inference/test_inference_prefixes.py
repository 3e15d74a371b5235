"""`HFBackend.generate(prefixes=...)` forces the start of each completion (the demo's moved-box probe)."""

from __future__ import annotations

import pytest
from PIL import Image


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    from ivgr.inference.backends import HFBackend
    from ivgr.models import build_tiny_model

    return HFBackend(str(build_tiny_model(tmp_path_factory.mktemp("px") / "tiny", seed=0)),
                     min_pixels=None, max_pixels=None, device="cpu")


def test_each_prefix_ends_its_own_prompt(backend):
    prompts = []
    generate = backend.model.generate

    def recording(**kwargs):
        prompts.extend(backend.processor.batch_decode(kwargs["input_ids"], skip_special_tokens=False))
        return generate(**kwargs)

    backend.model.generate = recording
    try:
        image = Image.new("RGB", (112, 112), "red")
        batch = [("What colour is it?", [image])] * 2
        prefixes = ["<think>the square <box>[1,2,30,40]</box>", "<think>the"]
        texts = backend.generate(batch, max_new_tokens=3, temperature=0.0, prefixes=prefixes)
        plain = backend.generate(batch, max_new_tokens=3, temperature=0.0)
    finally:
        backend.model.generate = generate
    assert prompts[0].endswith(prefixes[0]) and prompts[1].endswith(prefixes[1])
    assert not prompts[2].endswith(prefixes[0]) and prompts[2].endswith(prompts[3][-20:])  # no prefix: both alike
    assert len(texts) == len(plain) == 2


def test_a_prefix_list_of_the_wrong_length_is_refused(backend):
    image = Image.new("RGB", (112, 112), "red")
    with pytest.raises(ValueError):
        backend.generate([("What colour is it?", [image])] * 2, max_new_tokens=1, temperature=0.0, prefixes=["<think>"])
