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
