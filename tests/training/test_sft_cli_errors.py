"""`ivgr sft` checks its data before it builds or loads a model: a bad data file is one error line.

The tiny model used to be built (about 30 s) before the first row was read, so a typo in the data
cost the build; the test checks that no base model was written, not how long the run took.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image


def _rows(tmp_path, rows: list[dict]):
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "red.png")
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"sample_id": "a", "stream": "textual", "image": "red.png", "prompt": "Colour?",
        "completion": "<think>red</think><answer>red</answer>"}
# (rows of the data file, text expected in the one error line)
CASES = [
    ([GOOD, {**GOOD, "completion": ""}], "sft.jsonl:2: missing or empty key 'completion'"),
    ([{**GOOD, "image": "nowhere.png"}], "sft.jsonl:1: image"),
    ([], "no SFT examples"),
]


@pytest.mark.parametrize("rows, expected", CASES, ids=["empty-completion", "missing-image", "empty-file"])
def test_bad_sft_data_is_one_error_line_before_the_model_is_built(tmp_path, cli_error, rows, expected):
    data = _rows(tmp_path, rows)
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(f"model_path: tiny\ndata_path: {data}\noutput_dir: {tmp_path / 'run'}\nmax_steps: 1\n"
                      "report_to: none\n", encoding="utf-8")
    assert expected in cli_error("sft", "--config", str(recipe))
    assert not (tmp_path / "run" / "base-model").exists()  # the tiny model was not built
