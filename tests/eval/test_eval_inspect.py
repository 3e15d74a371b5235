"""`ivgr eval inspect`: schema facts of a local release copy, without a model."""

from __future__ import annotations

from eval_fixture_builders import write_hrbench
from typer.testing import CliRunner

from ivgr.cli import app


def test_inspect_reports_rows_against_the_release_and_answer_counts(tmp_path):
    rows = [{"cycle": f"c{i % 2}", "category": "single" if i < 3 else "cross", "answer": "AB"[i % 2]} for i in range(4)]
    write_hrbench(tmp_path, "4k", rows, fmt="tsv")
    result = CliRunner().invoke(app, ["eval", "inspect", "--benchmark", "hrbench4k", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "hrbench4k: 4 rows (release: 800)" in result.output
    assert '"single": 3' in result.output and '"A": 2' in result.output and '"4": 4' in result.output
