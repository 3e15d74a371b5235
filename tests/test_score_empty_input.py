"""`ivgr score` of a file with no rollouts is one error line, exit 1, and writes nothing.

It used to exit 0 after writing an empty scores file (or nothing to stdout), which hid a wrong
path or a failed upstream step.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("content", ["", "\n\n   \n"], ids=["empty", "blank-lines"])
def test_score_of_a_file_without_rows_is_one_error_line(tmp_path, cli_error, content):
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text(content)
    out, archive = tmp_path / "scores.jsonl", tmp_path / "archive.json"
    line = cli_error("score", str(rollouts), "--out", str(out), "--archive", str(archive))
    assert line == (f"ivgr: error: {rollouts}: no rollouts (the file is empty or holds only blank lines); "
                    "nothing to score")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollouts.jsonl"]
