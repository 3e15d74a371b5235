"""`validate` predicts `prepare`: same unusable rows, same reasons; output independent of --workers."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_fixture_builder import authors_row, write_image, write_jsonl, write_parquet

from ivgr.data.prepare import PrepareConfig, prepare
from ivgr.data.readers import open_source
from ivgr.data.validate import PROBLEMS, validate

PIXEL_LIMIT = 50_000  # --max-image-pixels of the fixture: too_large.png is above it, the rest below


def _every_bad_row_class(root: Path) -> Path:
    """A JSONL (so a broken line is possible) with one row per problem code, plus good rows.

    Image sizes stay under PIXEL_LIMIT except too_large.png.
    """
    write_image(root / "images" / "ok.png", (200, 100))
    write_image(root / "images" / "too_large.png", (300, 200))
    write_image(root / "images" / "strip.png", (2020, 10))  # side ratio 202 > 200
    write_image(root / "images" / "full.jpg", (120, 90), fmt="JPEG")
    jpeg = (root / "images" / "full.jpg").read_bytes()
    (root / "images" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # header fine, pixels missing
    (root / "images" / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    rows = [
        authors_row("images/ok.png", query="good 0", boxes=[[10, 10, 50, 50]]),          # 0: usable
        authors_row("images/gone.png", query="q1"),                                     # 1: missing_image
        authors_row("images/cut.jpg", query="q2"),                                      # 2: undecodable (truncated)
        authors_row("images/ok.png", query="q3", answer=""),                            # 3: empty_answer
        authors_row("images/junk.png", query="q4"),                                     # 4: undecodable (not an image)
        authors_row("images/too_large.png", query="q5"),                                # 5: image_too_large
        authors_row("images/ok.png", query="   "),                                      # 6: empty_question
        authors_row("images/ok.png", query="q7"),                                       # 7: bad_box (null bbox)
        authors_row("images/ok.png", query="q8", boxes=[[float("inf"), 1, 5, 5]]),      # 8: box_not_finite
        authors_row("images/ok.png", query="q9", boxes=[[50, 10, 50, 40]]),             # 9: box_degenerate
        authors_row("images/ok.png", query="q10", boxes=[[300, 150, 400, 190]]),        # 10: box_outside_image
        authors_row("images/ok.png", query="q11", datasource="laion"),                  # 11: unknown_datasource
        authors_row("images/strip.png", query="q12"),                                   # 12: bad_aspect_ratio
        # 200x100 -> 196x112: x 10 -> 9.8 -> 10 and 10.4 -> 10.19 -> 10, nothing left
        authors_row("images/ok.png", query="q13", boxes=[[10, 10, 10.4, 60]]),          # 13: box_vanished_after_resize
        authors_row("images/ok.png", query="good 0", boxes=[[10, 10, 50, 50]]),         # 14: duplicate_sample_id of 0
        authors_row("images/ok.png", query="good 15", boxes=[[150, 50, 250, 90]]),      # 15: usable, box clipped
        authors_row("images/ok.png", query="q16", answer="", boxes=[[50, 10, 50, 40]]),  # 16: two problems
        authors_row(None, query="q17"),                                                 # 17: missing_image (no image)
        authors_row(base64.b64encode(b"\xff\xd8" * 40).decode(), query="q18"),          # 18: undecodable (inline)
        authors_row("images/ok.png", query="good 19", datasource="ours_mmk12"),        # 19: usable, single
    ]
    rows[7]["target_instances"] = [{"bbox": None}]
    path = write_jsonl(root / "rows.jsonl", rows)
    with path.open("a") as fh:
        fh.write('{"query": "broken line"\n')                                           # 20: bad_row
    return path


def _unusable_in_validate(report: Path) -> list[tuple[int, str, list[str]]]:
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    return [(x["index"], x["reason"], [p["code"] for p in x["problems"]]) for x in lines if not x["usable"]]


def _excluded_by_prepare(out: Path) -> list[tuple[int, str, list[str]]]:
    lines = [json.loads(x) for x in (out / "excluded.jsonl").read_text().splitlines()]
    return [(x["index"], x["reason"], [p["code"] for p in x["problems"]]) for x in lines]


def test_validate_unusable_rows_equal_prepare_excluded_rows_for_every_bad_row_class(tmp_path):
    path = _every_bad_row_class(tmp_path)
    config = PrepareConfig(max_image_pixels=PIXEL_LIMIT, workers=2)
    summary = validate(open_source(path), rules=config, report=tmp_path / "report.jsonl")
    prepared = prepare(open_source(path), tmp_path / "out", config=config)

    predicted = _unusable_in_validate(tmp_path / "report.jsonl")
    assert predicted == _excluded_by_prepare(tmp_path / "out")
    assert {reason for _, reason, _ in predicted} == set(PROBLEMS)  # the fixture covers every class
    assert summary.usable == prepared.kept == 3 and summary.rows == prepared.rows == 21
    assert dict(summary.warnings) == dict(prepared.warnings) == {"box_clipped": 1}
    assert [i for i, _, _ in predicted] == sorted(i for i, _, _ in predicted)  # row order
    by_index = {i: (reason, codes) for i, reason, codes in predicted}
    assert by_index[2][0] == by_index[4][0] == by_index[18][0] == "undecodable_image"
    assert by_index[16] == ("empty_answer", ["empty_answer", "box_degenerate"])
    assert by_index[14] == ("duplicate_sample_id", ["duplicate_sample_id"])


def test_the_issue_three_row_file_validate_now_predicts_prepare(tmp_path):
    # A JPEG cut in half and a 6000x20 strip: validate said "all rows usable", prepare kept 1.
    write_image(tmp_path / "ok.png", (64, 64))
    write_image(tmp_path / "full.jpg", (400, 300), fmt="JPEG")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    write_image(tmp_path / "strip.png", (6000, 20))
    rows = [authors_row(name, query=f"q{i}") for i, name in enumerate(["ok.png", "cut.jpg", "strip.png"])]
    path = write_parquet(tmp_path / "three.parquet", rows)
    cli = [sys.executable, "-m", "ivgr.cli", "data"]
    checked = subprocess.run([*cli, "validate", str(path)], capture_output=True, text=True)
    assert checked.returncode == 1
    assert "3 rows, 1 usable, 2 unusable" in checked.stdout
    assert "undecodable_image" in checked.stdout and "bad_aspect_ratio" in checked.stdout
    prepared = subprocess.run([*cli, "prepare", str(path), "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    assert "kept 1 of 3 rows" in prepared.stdout
    assert [r for _, r, _ in _excluded_by_prepare(tmp_path / "out")] == ["undecodable_image", "bad_aspect_ratio"]


def _tree(root: Path) -> dict[str, bytes]:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    manifest.pop("created")
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def _slow_bad_image_then_fast_bad_rows(root: Path) -> Path:
    """Truncated large JPEGs (found only after a long decode on a worker thread), each followed
    by rows whose problems are found at once; this made completion order differ from row order."""
    rows = []
    for i in range(3):
        write_image(root / f"big{i}.jpg", (1600, 1200), colour=(60 * i, 90, 30), fmt="JPEG")
        data = (root / f"big{i}.jpg").read_bytes()
        (root / f"cut{i}.jpg").write_bytes(data[: len(data) // 2])
        write_image(root / f"ok{i}.png", (120 + 28 * i, 90), colour=(10, 40 * i, 90))
        rows += [
            authors_row(f"ok{i}.png", query=f"good {i}", boxes=[[5, 5, 60, 60]]),
            authors_row(f"cut{i}.jpg", query=f"cut {i}"),
            authors_row(f"ok{i}.png", query=f"no answer {i}", answer=""),
            authors_row(f"gone{i}.png", query=f"gone {i}"),
            authors_row(f"ok{i}.png", query=f"elsewhere {i}", datasource="laion"),
        ]
    return write_parquet(root / "slow.parquet", rows)


@pytest.mark.parametrize("resize_images", [True, False])
def test_prepare_output_is_byte_identical_for_one_and_four_workers(tmp_path, resize_images):
    path = _slow_bad_image_then_fast_bad_rows(tmp_path)
    for workers in (1, 4):
        config = PrepareConfig(workers=workers, resize_images=resize_images)
        prepare(open_source(path), tmp_path / f"w{workers}", config=config)
    one, four = _tree(tmp_path / "w1"), _tree(tmp_path / "w4")
    assert sorted(one) == sorted(four)
    for name in one:
        assert one[name] == four[name], name
    excluded = _excluded_by_prepare(tmp_path / "w4")
    assert [i for i, _, _ in excluded] == [1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14]
    assert excluded[0][1] == "undecodable_image"


def test_validate_report_is_identical_for_one_and_four_workers(tmp_path):
    path = _slow_bad_image_then_fast_bad_rows(tmp_path)
    for workers in (1, 4):
        validate(open_source(path), rules=PrepareConfig(workers=workers), report=tmp_path / f"r{workers}.jsonl")
    assert (tmp_path / "r1.jsonl").read_bytes() == (tmp_path / "r4.jsonl").read_bytes()


def test_images_of_excluded_rows_only_are_not_left_in_the_output(tmp_path):
    write_image(tmp_path / "a.png", (90, 90))
    write_image(tmp_path / "b.png", (80, 80), colour=(1, 2, 3))
    rows = [authors_row("a.png", query="q0", answer=""), authors_row("b.png", query="q1")]
    summary = prepare(open_source(write_parquet(tmp_path / "d.parquet", rows)), tmp_path / "out")
    assert summary.images_written == 1
    assert [p.name.split("_")[1] for p in (tmp_path / "out" / "images").iterdir()] == ["84x84.png"]
