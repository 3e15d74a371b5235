"""`ivgr eval` end to end with a tiny local checkpoint: all three modes, resume, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eval_fixture_builders import write_pope, write_vstar
from typer.testing import CliRunner

from ivgr.cli import app
from ivgr.parsing import has_box_trace

pytestmark = pytest.mark.slow

VSTAR = [{"category": c, "question": f"What is item {i}?", "options": ["red", "blue"], "label": "AB"[i % 2]}
         for i, c in enumerate(["direct_attributes", "relative_position", "direct_attributes"])]
POPE = [{"category": s, "answer": a} for s, a in [("random", "yes"), ("popular", "no")]]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from ivgr.models import build_tiny_model

    root = tmp_path_factory.mktemp("e2e")
    model = build_tiny_model(root / "tiny", seed=0)
    write_vstar(root / "data" / "vstar", VSTAR)
    write_pope(root / "data" / "pope", POPE)
    return root, model


@pytest.fixture(scope="module")
def eval_run(world):
    """`eval_run(mode)` runs `ivgr eval` in that mode on first use and returns (output, results path).

    Every test that needs a run asks for it here, so each test passes when run alone.
    """
    root, model = world
    done: dict[str, tuple[str, object]] = {}

    def run(mode: str):
        if mode not in done:
            out = root / f"{mode}.json"
            result = CliRunner().invoke(app, ["eval", "--model", str(model), "--benchmark", "vstar,pope",
                                              "--data", str(root / "data"), "--mode", mode, "--limit", "2",
                                              "--max-new-tokens", "6", "--out", str(out)])
            assert result.exit_code == 0, result.output
            done[mode] = (result.output, out)
        return done[mode]

    return run


@pytest.mark.parametrize("mode", ["textual", "grounded", "tool"])
def test_eval_runs_two_benchmarks_in_each_mode_and_prints_the_paper_table(world, eval_run, mode):
    root, model = world
    output, out = eval_run(mode)
    assert "| Run | Profile | V* | POPE | Avg |" in output
    res = json.loads(out.read_text())
    assert res["mode"] == mode and res["max_new_tokens"] == 6 and res["model"] == str(model)
    assert {b: v["counts"]["items"] for b, v in res["benchmarks"].items()} == {"vstar": 2, "pope": 2}
    preds = [json.loads(x) for x in (root / f"{mode}.predictions.jsonl").read_text().splitlines()]
    assert [p["mode"] for p in preds] == [mode] * 4
    assert res["benchmarks"]["vstar"]["counts"]["textual_box_trace"] == (
        sum(has_box_trace(p["completion"]) for p in preds[:2]) if mode == "textual" else 0)
    if mode == "tool":  # a random model predicts no boxes: the textual fallback is counted
        assert res["benchmarks"]["vstar"]["counts"]["tool_fallback"] == sum(p["tool_fallback"] for p in preds[:2])


def test_interrupted_run_resumes_in_a_new_process_without_redoing_items(world):
    root, model = world
    out = root / "resume.json"
    cmd = [sys.executable, "-m", "ivgr.cli", "eval", "--model", str(model), "--benchmark", "vstar",
           "--data", str(root / "data" / "vstar"), "--max-new-tokens", "4", "--out", str(out)]
    env = dict(os.environ, IVGR_LOG_LEVEL="ERROR")
    first = subprocess.run(cmd + ["--limit", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    pred = root / "resume.predictions.jsonl"
    before = pred.read_text().splitlines()
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    after = pred.read_text().splitlines()
    assert after[:1] == before and len(after) == 3  # only the two missing items were generated
    assert "generated 2 items" in second.stdout
    assert json.loads(out.read_text())["benchmarks"]["vstar"]["counts"]["items"] == 3


def test_report_puts_runs_side_by_side_as_markdown_and_csv(eval_run, tmp_path):
    runs = [eval_run(m)[1] for m in ("textual", "grounded")]
    csv_path = tmp_path / "t.csv"
    result = CliRunner().invoke(app, ["eval", "report", *map(str, runs), "--profile", "ivgr", "--csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "tiny [textual] (textual.json) | ivgr |" in result.output
    assert "tiny [grounded] (grounded.json) | ivgr |" in result.output
    assert csv_path.read_text().splitlines()[0] == "Run,Profile,V*,POPE,Avg"


def test_eval_with_a_wrong_benchmark_name_prints_one_clear_line(world):
    root, model = world
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "eval", "--model", str(model), "--benchmark", "vstr",
                           "--data", str(root)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "ivgr: error: unknown benchmark 'vstr'. Did you mean vstar? Known: cvbench2d, cvbench3d, hrbench4k, "
        "hrbench8k, mme_realworld_lite, pope, realworldqa, vstar"]
