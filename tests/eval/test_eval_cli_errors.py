"""Bad input to `ivgr eval` is one `ivgr: error:` line on stderr, exit 1: no empty progress bar first.

The bar used to open before the input was checked, so every error began with a blank line (or an
empty `vstar 0/?` bar when the model failed to load).
"""

from __future__ import annotations

import pytest
from eval_fixture_builders import write_vstar

VSTAR = [{"category": "direct_attributes", "question": "What colour?", "options": ["red", "blue"], "label": "A"}]

# (arguments after `ivgr eval`, text expected in the one error line)
CASES = [
    (["--model", "{root}/ckpt", "--benchmark", "vstar", "--data", "{root}/nowhere"], "no such file or directory"),
    (["--model", "{root}/ckpt", "--benchmark", "vstr", "--data", "{root}/vstar"], "Did you mean vstar?"),
    (["--model", "{root}/ckpt", "--benchmark", "vstar,pope", "--data", "pope={root}/vstar"],
     "no --data for benchmark 'vstar'"),
    (["--model", "{root}/ckpt", "--benchmark", "vstar", "--data", "{root}/vstar", "--on-bad-row", "ignore"],
     "--on-bad-row must be error or skip"),
    (["--model", "{root}/ckpt", "--benchmark", "vstar", "--data", "{root}/vstar", "--profile", "lmms"],
     "unknown profile(s) ['lmms']"),
    # the data is fine, so the first item is read; the checkpoint then fails to load
    (["--model", "{root}/ckpt", "--benchmark", "vstar", "--data", "{root}/vstar"], "does not exist"),
]


@pytest.mark.parametrize("args, expected", CASES, ids=[c[1][:28] for c in CASES])
def test_bad_eval_input_is_one_error_line_without_a_progress_bar(tmp_path, cli_error, args, expected):
    write_vstar(tmp_path / "vstar", VSTAR)
    argv = [a.format(root=tmp_path) for a in args] + ["--out", str(tmp_path / "runs" / "r.json")]
    assert expected in cli_error("eval", *argv)


@pytest.mark.parametrize("content, expected", [
    (None, "missing.json: cannot read results file (No such file or directory)"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", "not a results file written by `ivgr eval`"),  # was a UnicodeDecodeError traceback
    (b"not json", "not a results file written by `ivgr eval` (not JSON"),
])
def test_eval_report_of_a_file_that_is_not_results_is_one_error_line(tmp_path, cli_error, content, expected):
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_bytes(content)
    assert expected in cli_error("eval", "report", str(path))


def test_a_failed_eval_leaves_no_empty_predictions_file(tmp_path, cli_error):
    """The model fails to load before the first item: nothing is written next to --out.

    The predictions file used to be opened (created empty) before the first item was generated.
    """
    write_vstar(tmp_path / "vstar", VSTAR)
    out = tmp_path / "runs" / "r.json"
    cli_error("eval", "--model", str(tmp_path / "ckpt"), "--benchmark", "vstar", "--data", str(tmp_path / "vstar"),
              "--out", str(out))
    assert sorted(p.name for p in out.parent.iterdir()) == []


def test_a_failed_resume_keeps_the_earlier_predictions(tmp_path, cli_error):
    """An interrupted run's predictions survive a resume that fails, byte for byte."""
    write_vstar(tmp_path / "vstar", VSTAR * 2)
    out = tmp_path / "runs" / "r.json"
    out.parent.mkdir()
    earlier = '{"benchmark": "vstar", "item_id": "1", "mode": "textual", "completion": "A"}\n'
    (out.parent / "r.predictions.jsonl").write_text(earlier)
    # item 0 is generated first (batches of one), so the model fails to load before any progress
    cli_error("eval", "--model", str(tmp_path / "ckpt"), "--benchmark", "vstar", "--data", str(tmp_path / "vstar"),
              "--out", str(out), "--batch-size", "1")
    assert (out.parent / "r.predictions.jsonl").read_text() == earlier
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.predictions.jsonl"]
