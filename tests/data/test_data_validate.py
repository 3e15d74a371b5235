"""`ivgr data validate`: every malformed-row class is reported with its row number and counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_fixture_builder import authors_row, good_dataset, write_image, write_parquet

from ivgr.data.readers import open_source
from ivgr.data.validate import RowRules, validate
from ivgr.errors import DataError


def _malformed(root: Path) -> Path:
    write_image(root / "images" / "ok.png", (200, 100))
    (root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    rows = [
        authors_row("images/ok.png", query="q0", boxes=[[10, 10, 50, 50]]),      # row 0: fine
        authors_row("images/gone.png", query="q1"),                              # row 1: missing image
        authors_row("images/broken.png", query="q2"),                            # row 2: undecodable
        authors_row("images/ok.png", query="q3", boxes=[[float("nan"), 1, 5, 5]]),  # row 3: nan box
        authors_row("images/ok.png", query="q4", boxes=[[50, 10, 50, 40]]),      # row 4: x1>=x2
        authors_row("images/ok.png", query="q5", boxes=[[300, 150, 400, 190]]),  # row 5: outside image
        authors_row("images/ok.png", query="q6", answer=""),                     # row 6: empty answer
        authors_row("images/ok.png", query="q0", boxes=[[10, 10, 50, 50]]),      # row 7: duplicate of row 0
        authors_row("images/ok.png", query="   "),                               # row 8: empty question
        authors_row("images/ok.png", query="q9", boxes=[[150, 50, 250, 90]]),    # row 9: clipped, usable
        authors_row(None, query="q10"),                                          # row 10: no image at all
    ]
    return write_parquet(root / "bad.parquet", rows)


EXPECTED = {
    "missing_image": [1, 10],
    "undecodable_image": [2],
    "box_not_finite": [3],
    "box_degenerate": [4],
    "box_outside_image": [5],
    "empty_answer": [6],
    "duplicate_sample_id": [7],
    "empty_question": [8],
}


def test_every_malformed_row_class_is_counted_and_reported_with_its_row(tmp_path):
    path = _malformed(tmp_path)
    report = tmp_path / "report.jsonl"
    summary = validate(open_source(path), report=report)
    assert summary.rows == 11
    assert summary.usable == 2  # rows 0 and 9
    assert dict(summary.problems) == {code: len(rows) for code, rows in EXPECTED.items()}
    assert summary.warnings["box_clipped"] == 1
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    by_code: dict[str, list[int]] = {}
    for line in lines:
        for p in line["problems"]:
            by_code.setdefault(p["code"], []).append(line["index"])
    assert by_code == EXPECTED
    assert summary.examples["box_degenerate"][0].startswith("bad.parquet row 4:")
    clipped = next(x for x in lines if x["index"] == 9)
    assert clipped["usable"] and clipped["warnings"][0]["code"] == "box_clipped"


def test_null_bbox_is_a_reported_problem_not_a_crash(tmp_path):
    write_image(tmp_path / "a.png", (64, 64))
    row = authors_row("a.png")
    row["target_instances"] = [{"bbox": None}]
    summary = validate(open_source(write_parquet(tmp_path / "d.parquet", [row])))
    assert summary.problems == {"bad_box": 1}


def test_missing_required_column_is_a_data_error_naming_the_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "noanswer.parquet"
    pq.write_table(pa.table({"query": ["q"], "images": [["a.png"]]}), path)
    with pytest.raises(DataError, match=r"noanswer\.parquet: missing column for answer"):
        validate(open_source(path))


def test_unknown_user_column_is_a_data_error_listing_columns(tmp_path):
    path = good_dataset(tmp_path)
    with pytest.raises(DataError, match=r"column 'q' \(mapped to question by --columns\) not found"):
        validate(open_source(path), rules=RowRules(columns={"question": "q"}))


def test_cli_validate_exits_nonzero_and_writes_report_for_bad_rows(tmp_path):
    path = _malformed(tmp_path)
    report = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "data", "validate", str(path), "--report", str(report)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "9 of 11 rows are unusable" in proc.stderr
    assert "box_outside_image" in proc.stdout
    assert len(report.read_text().splitlines()) == 10  # 9 unusable + 1 clipped warning

    good = good_dataset(tmp_path / "good")
    ok = subprocess.run([sys.executable, "-m", "ivgr.cli", "data", "validate", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "all rows usable" in ok.stdout


def test_cli_reports_missing_file_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "data", "validate", str(tmp_path / "x.parquet")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"ivgr: error: {tmp_path / 'x.parquet'}: no such file or directory"]


def test_image_above_the_pixel_limit_is_reported_too_large(tmp_path):
    write_image(tmp_path / "big.png", (300, 200))
    write_image(tmp_path / "ok.png", (100, 100))
    rows = [authors_row("big.png", query="a"), authors_row("ok.png", query="b")]
    summary = validate(open_source(write_parquet(tmp_path / "d.parquet", rows)), rules=RowRules(max_image_pixels=50_000))
    assert summary.problems == {"image_too_large": 1}
    assert summary.examples["image_too_large"] == ["d.parquet row 0: 300x200 > 50000 pixels"]


def test_corrupt_parquet_file_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable parquet file"):
        validate(open_source(path))
