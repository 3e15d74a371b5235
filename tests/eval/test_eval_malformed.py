"""Malformed release files give one clear DataError naming the file and the row."""

from __future__ import annotations

import json

import pytest
from eval_fixture_builders import write_cvbench, write_hrbench, write_pope, write_vstar

from ivgr.errors import DataError
from ivgr.eval import get_benchmark


def test_missing_column_names_the_file_and_the_column(tmp_path):
    path = write_pope(tmp_path, [{"category": "random", "answer": "yes"}], drop="answer")
    with pytest.raises(DataError, match=r"test-00000-of-00001\.parquet: missing column\(s\) \['answer'\]") as err:
        list(get_benchmark("pope").load(tmp_path))
    assert str(path) in str(err.value)


def test_empty_question_file_is_an_error_not_zero_items(tmp_path):
    (tmp_path / "test_questions.jsonl").write_text("")
    with pytest.raises(DataError, match="test_questions.jsonl: the file is empty"):
        list(get_benchmark("vstar").load(tmp_path))


def test_tsv_with_only_a_header_is_an_error(tmp_path):
    write_hrbench(tmp_path, "4k", [{"cycle": "c0", "category": "single", "answer": "A"}], fmt="tsv")
    path = tmp_path / "hr_bench_4k.tsv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match="header but no rows"):
        list(get_benchmark("hrbench4k").load(tmp_path))


def test_bad_json_line_and_bad_label_name_the_line(tmp_path):
    write_vstar(tmp_path, [{"category": "direct_attributes", "question": "Q?", "options": ["a", "b"], "label": "A"}])
    path = tmp_path / "test_questions.jsonl"
    rec = json.loads(path.read_text())
    rec["label"] = "E"
    path.write_text(json.dumps(rec) + "\n{broken\n")
    with pytest.raises(DataError, match=r"test_questions\.jsonl: line 1: label 'E' is not one of the options"):
        list(get_benchmark("vstar").load(tmp_path))
    path.write_text(json.dumps(dict(rec, label="A")) + "\n{broken\n")
    with pytest.raises(DataError, match=r"test_questions\.jsonl:2: invalid JSON"):
        list(get_benchmark("vstar").load(tmp_path))


def test_missing_image_file_names_the_row_when_loaded(tmp_path):
    write_cvbench(tmp_path, "3D", [{"task": "Depth", "source": "Omni3D", "question": "Q?", "choices": ["a", "b"],
                                    "answer": "(A)"}], fmt="jsonl")
    for png in tmp_path.rglob("*.png"):
        png.unlink()
    [item] = list(get_benchmark("cvbench3d").load(tmp_path))
    with pytest.raises(DataError, match=r"test_3d\.jsonl: row 1: cannot read image file"):
        item.image()


def test_missing_data_folder_says_what_was_looked_for(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        list(get_benchmark("realworldqa").load(tmp_path / "nope"))
    tmp_path.joinpath("x.txt").write_text("x")
    with pytest.raises(DataError, match=r"no RealWorldQA file found"):
        list(get_benchmark("realworldqa").load(tmp_path))
