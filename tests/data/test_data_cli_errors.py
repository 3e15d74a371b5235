"""Bad input to `ivgr data validate|prepare` gives one `ivgr: error:` line, exit 1, and no progress bar."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_fixture_builder import good_dataset


def _no_answer(root: Path) -> Path:
    path = root / "noanswer.parquet"
    pq.write_table(pa.table({"query": ["q"], "images": [["a.png"]]}), path)
    return path


def _foreign_out(root: Path) -> Path:
    out = root / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    return out


# (command, extra arguments, the file to use: good | noanswer, expected text in the error)
CASES = [
    ("validate", [], "noanswer", "missing column for answer"),
    ("prepare", [], "noanswer", "missing column for answer"),
    ("validate", ["--columns", "question=nope"], "good", "column 'nope' (mapped to question by --columns) not found"),
    ("validate", ["--report", "{file}/r.jsonl"], "good", "cannot write"),
    ("validate", ["--image-dir", "{root}/nowhere"], "good", "not a directory"),
    ("prepare", ["--image-dir", "{root}/nowhere"], "good", "not a directory"),
    ("validate", ["--workers", "0"], "good", "--workers must be >= 1"),
    ("prepare", ["--frame", "percent"], "good", "--frame must be one of"),
    ("validate", ["--min-pixels", "0"], "good", "--min-pixels (0) must be positive"),
    ("prepare", ["--paired-sources", "a", "--single-sources", "a"], "good", "in both --paired-sources and --single-sources"),
    ("prepare", ["--out", "{busy}"], "good", "holds files that are not part of a prepared dataset"),
]


@pytest.mark.parametrize("command, extra, data, expected", CASES, ids=[f"{c[0]}-{c[3][:24]}" for c in CASES])
def test_bad_input_is_one_error_line_without_a_progress_bar(tmp_path, cli_error, command, extra, data, expected):
    path = _no_answer(tmp_path) if data == "noanswer" else good_dataset(tmp_path)
    marks = {"file": str(path), "root": str(tmp_path)}
    if "{busy}" in extra:
        marks["busy"] = str(_foreign_out(tmp_path))
    args = [a.format(**marks) for a in extra]
    if command == "prepare" and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert expected in cli_error("data", command, str(path), *args)
    assert not list(tmp_path.glob("out*"))  # nothing was staged or written
