"""Readers of the Run tab on a real 2-step `ivgr train` run of the tiny recipe."""

from __future__ import annotations

import pytest

from ivgr.errors import DataError
from ivgr.ui import run as runs

pytestmark = pytest.mark.slow


def test_a_run_opens_from_its_output_dir_and_from_a_checkpoint_in_it(tiny_run):
    run = runs.open_run(tiny_run)
    assert run.root == tiny_run and run.checkpoint == tiny_run / "final"
    assert (run.data_dir / "samples.jsonl").is_file()
    inner = runs.open_run(tiny_run / "checkpoint-1")
    assert inner.root == tiny_run and inner.checkpoint == tiny_run / "checkpoint-1"


def test_the_archive_is_shown_with_its_question_iou_step_and_image(tiny_run):
    [ref] = runs.references(runs.open_run(tiny_run))
    assert (ref.think, ref.box_iou, ref.step) == ("the red square <box>[10,20,40,50]</box> is on the left", 0.625, 0)
    assert ref.question and ref.answer and ref.image.is_file() and ref.target_boxes
    image = runs.draw_reference(ref, frame="pixel", model_size=lambda size: size)
    assert image.getpixel((10, 35)) == (0, 200, 0)  # the reference box's left edge, x = 10
    assert ref.label.startswith(f"{ref.sample_id} | IoU 0.62 | step 0")


def test_logged_completions_carry_every_reward_term_per_row(tiny_run):
    run = runs.open_run(tiny_run)
    assert runs.completion_steps(run) == [1, 2]
    table = runs.completions(run, 1)
    assert {"step", "stream", "sample_id", "total", "format", "accuracy", "box_valid", "box_iou",
            "consistency", "advantage", "completion"} <= set(table.columns)
    grounded = table[table["stream"] == "grounded"]
    textual = table[table["stream"] == "textual"]
    assert grounded["box_iou"].notna().all() and grounded["consistency"].isna().all()
    assert textual["consistency"].notna().all() and textual["box_iou"].isna().all()
    assert all(isinstance(text, str) for text in table["completion"])


def test_reward_curves_have_one_series_per_trained_stream(tiny_run):
    records = runs.history(runs.open_run(tiny_run))
    points = runs.reward_curves(records)
    assert {p["stream"] for p in points} == {"grounded", "textual"}  # the data has no single-stream rows
    assert sorted({p["step"] for p in points}) == [1, 2]


def test_tensorboard_events_are_a_fallback_source_of_the_logs(tiny_run):
    records = runs._tensorboard_history(tiny_run / "runs")
    assert [r["step"] for r in records] == [1, 2]
    assert {p["stream"] for p in runs.reward_curves(records)} == {"grounded", "textual"}


def test_a_directory_that_is_not_a_run_is_one_message(tmp_path):
    with pytest.raises(DataError, match="not an `ivgr train` output directory"):
        runs.open_run(tmp_path)
    with pytest.raises(DataError, match="no such directory"):
        runs.open_run(tmp_path / "missing")
