"""Rows: paired samples give a grounded and a textual row, single samples one row; frames must agree."""

from __future__ import annotations

import pytest
from PIL import Image

from ivgr.data.schema import Sample
from ivgr.errors import DataError
from ivgr.training.rows import build_rows, row_dicts


@pytest.fixture()
def dataset(tmp_path):
    Image.new("RGB", (56, 56), (200, 30, 30)).save(tmp_path / "a.png")
    samples = [
        Sample(sample_id="p", image="a.png", question="What colour?", answer="red", target_boxes=[(1, 2, 30, 40)],
               image_size=(56, 56)),
        Sample(sample_id="s", image="a.png", question="2+2?", answer="4", kind="single"),
    ]
    return tmp_path, samples


def test_paired_sample_gives_grounded_then_textual_row_and_single_gives_one(dataset):
    root, samples = dataset
    rows = row_dicts(samples, root, frame="pixel", streams=["grounded", "textual", "single"])
    assert [(r["sample_id"], r["stream"]) for r in rows] == [("p", "grounded"), ("p", "textual"), ("s", "single")]
    assert rows[0]["prompt"] != rows[1]["prompt"]  # each stream has its own instruction
    assert rows[0]["target_boxes"] == [[1.0, 2.0, 30.0, 40.0]] and rows[2]["target_boxes"] == []
    assert rows[0]["prompt"][0]["role"] == "user"


def test_prompt_style_picks_the_stream_prompt_wording(dataset):
    from ivgr.prompts import stream_prompt

    root, samples = dataset
    rows = build_rows(samples[:1], root, frame="pixel", streams=["grounded", "textual"], prompt_style="compact")
    texts = [r["prompt"][0]["content"][-1]["text"] for r in rows]
    assert texts == [stream_prompt(s, "What colour?", style="compact") for s in ("grounded", "textual")]


def test_streams_subset_drops_the_other_rows(dataset):
    root, samples = dataset
    rows = row_dicts(samples, root, frame="pixel", streams=["textual"])
    assert [(r["sample_id"], r["stream"]) for r in rows] == [("p", "textual")]


def test_boxes_in_another_frame_are_refused(dataset):
    root, samples = dataset
    with pytest.raises(DataError, match="frame"):
        row_dicts(samples, root, frame="norm1000", streams=["grounded", "textual"])


def test_missing_image_names_the_sample(dataset):
    root, samples = dataset
    (root / "a.png").unlink()
    with pytest.raises(DataError, match="sample 'p'"):
        row_dicts(samples, root, frame="pixel", streams=["grounded"])


def test_dataset_is_map_style_and_decodes_images(dataset):
    root, samples = dataset
    ds = build_rows(samples, root, frame="pixel", streams=["grounded", "textual", "single"])
    assert len(ds) == 3 and ds[0]["image"].size == (56, 56)
    assert list(ds["stream"]) == ["grounded", "textual", "single"]


def test_boxes_follow_the_processor_when_it_feeds_another_size(dataset):
    # Prepared at 56x56 (the fixture), but a smaller max_pixels makes the processor feed 28x28:
    # the ground-truth boxes must be rescaled to the image the model sees.
    from ivgr.training.rows import processor_resize_rule

    directory, samples = dataset

    class _ImageProcessor:
        class size:  # noqa: N801 - mimics transformers' SizeDict attributes
            shortest_edge, longest_edge = 28 * 28, 28 * 28
        patch_size, merge_size = 14, 2

    class _Processor:
        image_processor = _ImageProcessor()

    rule = processor_resize_rule(_Processor())
    assert rule(56, 56) == (28, 28)
    rows = row_dicts(samples, directory, frame="pixel", streams=["grounded"], resize=rule)
    assert rows[0]["target_boxes"] == [[0.5, 1.0, 15.0, 20.0]]
    unchanged = row_dicts(samples, directory, frame="pixel", streams=["grounded"], resize=lambda w, h: (w, h))
    assert unchanged[0]["target_boxes"] == [[1.0, 2.0, 30.0, 40.0]]


def test_processor_without_a_pixel_budget_gives_no_rule():
    from ivgr.training.rows import processor_resize_rule

    assert processor_resize_rule(object()) is None
