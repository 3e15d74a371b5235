"""Stream prompts (ivgr.prompts.streams)."""

from __future__ import annotations

import pytest

from ivgr.prompts import STREAMS, chat_messages, stream_prompt, tool_prompt


def test_grounded_prompt_requires_boxes_think_and_answer_tags():
    text = stream_prompt("grounded", "What color is the cup?")
    assert text.startswith("What color is the cup?\n")
    for token in ("<think>", "</think>", "<answer>", "</answer>", "<box>[x1,y1,x2,y2]</box>", "MUST"):
        assert token in text
    assert "<box>[50,80,120,150]</box>" in text  # one worked example in pixel coordinates


def test_grounded_prompt_names_the_norm1000_frame():
    text = stream_prompt("grounded", "Q?", frame="norm1000")
    assert "0 to 1000" in text and "[50,80,120,150]" not in text


@pytest.mark.parametrize("stream", ["textual", "single"])
def test_textual_and_single_prompts_ask_for_think_and_answer_without_boxes(stream):
    text = stream_prompt(stream, "<image>\n  How many cups? ")
    assert text.startswith("How many cups?\n")  # image placeholder removed, question trimmed
    assert "<think>" in text and "<answer>" in text and "<box>" not in text


def test_the_three_streams_have_distinct_prompts():
    assert len({stream_prompt(s, "Q?") for s in STREAMS}) == 3


def test_unknown_stream_or_frame_is_rejected():
    with pytest.raises(ValueError, match="unknown stream"):
        stream_prompt("visual", "Q?")
    with pytest.raises(ValueError, match="unknown box frame"):
        stream_prompt("grounded", "Q?", frame="relative")


def test_tool_prompt_mentions_crops_and_union():
    text = tool_prompt("Q?", n_crops=1, has_union=False)
    assert "1 close-up crop " in text and "together" not in text
    assert "together" in tool_prompt("Q?", n_crops=3, has_union=True)


def test_chat_messages_put_images_before_text():
    assert chat_messages("hello", n_images=1) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hello"}]}
    ]
    assert chat_messages("t", n_images=0)[0]["content"] == [{"type": "text", "text": "t"}]


def test_compact_style_is_short_keeps_the_stream_difference_and_is_distinct_per_stream():
    grounded = stream_prompt("grounded", "<image> What colour is the square? ", style="compact")
    textual = stream_prompt("textual", "What colour is the square?", style="compact")
    assert grounded.startswith("What colour is the square?\n") and "box" in grounded
    assert "box" not in textual
    assert len({stream_prompt(s, "Q?", style="compact") for s in STREAMS}) == 3
    for s in STREAMS:  # a few words, against ~80 for the standard style
        assert len(stream_prompt(s, "Q?", style="compact").split()) <= 7 < len(stream_prompt(s, "Q?").split())


def test_compact_tool_prompt_counts_every_image_after_the_first():
    assert tool_prompt("Q?", n_crops=2, has_union=True, style="compact").endswith("3 close-ups. Think, then answer.")
    assert "1 close-up." in tool_prompt("Q?", n_crops=0, has_union=True, style="compact")


def test_unknown_prompt_style_is_rejected():
    with pytest.raises(ValueError, match="unknown prompt style"):
        stream_prompt("textual", "Q?", style="tiny")
    with pytest.raises(ValueError, match="unknown prompt style"):
        tool_prompt("Q?", n_crops=1, has_union=False, style="tiny")
