"""Every reward term of a fixed set of rows equals the value recorded before the scorer's CPU work was cut.

`golden_scores.json` holds the input rows (a small bench step, `bench/bench_judge_step.py`
`step_rows`, plus hand-written edge cases: whitespace around tags, broken and duplicate boxes,
the authors' box syntax, over-long and empty answers, options on lines) and, per scorer
setting, the output row of each one as `ivgr score` writes it. It was written by the code at
a849d1c (before the issue 14 CPU cuts) with

    .venv/bin/python tests/rewards/test_rewards_golden.py --write

The judge is a real loopback OpenAI-compatible server whose verdicts are a fixed function of
the fenced texts (some replies unparseable, so fallbacks and judge_errors are covered too), and
the offline rules judge. Values are compared exactly (floats survive JSON unchanged).
Re-recorded once since, when `textual_box_free` came with two textual rows that carry a box
(rows 196-197): every value of the 195 earlier rows stayed as recorded at a849d1c.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))
from judges_fake_server import FakeJudgeServer, Recorded, Reply  # noqa: E402

from ivgr.archive import RolloutArchive  # noqa: E402
from ivgr.judges import JudgeConfig, build_judge  # noqa: E402
from ivgr.rewards import Rollout, Scorer, ScorerConfig  # noqa: E402

GOLDEN = Path(__file__).with_name("golden_scores.json")
# Scorer settings that take different code paths (normalisation, box syntax, duplicate rule).
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "authors": {"normalize_mode": "authors", "box_syntax": "authors", "box_duplicate_all_pairs": False,
                "box_duplicates_zero_iou": True, "archive_require_format": False, "textual_box_free": False},
}
JUDGES = ("openai", "rules")
_FENCE = re.compile(r"<<<([A-Z]+)-[0-9a-f]+>>>\n(.*?)\n<<<END-\1-[0-9a-f]+>>>", re.DOTALL)


def verdict(request: Recorded, _index: int) -> Reply:
    """Accuracy: "1" when the reference's last word is in the answer; consistency: rubric levels
    chosen by a hash of the candidate, per sample; a hash in 1/7 of cases gets an unparseable reply."""
    fenced = dict(_FENCE.findall(request.prompt))
    n = int(request.body.get("n") or 1)
    text = fenced.get("CANDIDATE", "")
    digest = hashlib.sha256(text.encode()).digest()
    if digest[1] % 7 == 0:
        return Reply(text=["no idea"] * n)
    if "CANDIDATE reasoning:" not in request.prompt:  # the accuracy prompt
        words = fenced.get("REFERENCE", "").lower().split()
        return Reply(text=["1" if words and words[-1] in text.lower() else "0"] * n)
    return Reply(text=[("0.0", "0.3", "0.7", "1.0")[(digest[0] >> i) % 4] for i in range(n)])


def edge_rows() -> list[dict[str, Any]]:
    """Rows that reach the corners of normalisation, box parsing and the rules."""
    q, gt = "<image>\nWhat colour is the mug?", [[10, 10, 60, 50]]
    mc = "<image>\nWhich one?\nA. a red mug\nB. a blue lamp\nC. a cup"
    grounded = [
        "  <think> the mug <box> [10, 10, 60, 50] </box> is red </think>\n<answer> red </answer>\n",
        "<think>mug <box>[10,10,60,50]</box> and <box>[10,10,60,51]</box> red</think><answer>red</answer>",
        "<think>mug <box>[12,11,58,49]</box> <box>oops</box> <box>[60,50,10,10]</box></think><answer>It is red.</answer>",
        "<think>mug <box>[1e3,1,2,3]</box> <box>[-1,0,5,5]</box> <box>[10.5,10,60,50.25]</box></think><answer>red</answer>",
        "hi <think>mug <box>[10,10,60,50]</box></think><answer>red</answer>",
        "<think>mug <box>[10,10,60,50]</box></think><answer></answer>",
        "<think>mug <box>[10,10,60,50]</box></think><answer>" + "red " * 300 + "</answer>",
        "<think>no closing think <box>[10,10,60,50]</box><answer>red</answer>",
        "<think>a / b < c > d <box>[10,10,60,50]</box></think> <answer> 1 / 2 </answer>",
        "<think>the mug <box>[10,10,60,50]</box> looks red to me</think><answer>The colour is red.</answer>",
    ]
    textual = [
        "<think> the mug looks red </think> <answer> red </answer>",
        "<think>I think it is blue</think><answer>blue</answer>",
        "<think></think><answer>red</answer>",
        "no tags at all, red",
        "<think>red mug / cup</think><answer>It's red</answer>",
    ]
    rows = [dict(sample_id="e0", stream="grounded", question=q, answer="red", target_boxes=gt, completion=c)
            for c in grounded]
    rows += [dict(sample_id="e0", stream="textual", question=q, answer="red", completion=c) for c in textual]
    rows += [dict(sample_id="e1", stream="grounded", question=mc, answer="A", target_boxes=gt, completion=c)
             for c in ("<think>x <box>[10,10,60,50]</box></think><answer>A. a red mug</answer>",
                       "<think>x <box>[10,10,60,50]</box></think><answer>a blue lamp</answer>",
                       "<think>x</think><answer>(C)</answer>")]
    rows += [dict(sample_id="e1", stream="textual", question=mc, answer="A", completion=c)
             for c in ("<think>y</think><answer>a red mug</answer>", "<think>y</think><answer>B</answer>")]
    rows += [dict(sample_id="e2", stream="grounded", question=q, answer="red", completion=c)  # no target boxes
             for c in ("<think>x <box>[1,1,2,2]</box></think><answer>red</answer>",)]
    rows += [dict(sample_id="e3", stream="single", question="How much is 1/2 + 1/4?", answer="\\frac{3}{4}",
                  completion=c)
             for c in ("<think>sum</think><answer>3/4</answer>", "<think>sum</think><answer>0.75</answer>",
                       "<think>sum</think><answer>$\\frac{3}{4}$</answer>", "<think>sum</think><answer>two</answer>")]
    # Textual rows that carry a box, whole or a fragment of one (textual_box_free).
    rows += [dict(sample_id="e0", stream="textual", question=q, answer="red", completion=c)
             for c in ("<think>the mug <box>[10,10,60,50]</box> is red</think><answer>red</answer>",
                       "<think>the mug is4797,797,461,961]</box> red</think><answer>red</answer>")]
    return rows


def input_rows() -> list[dict[str, Any]]:
    """A small bench step (its seeded answer mix) and the edge rows."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_judge_step import step_rows

    return step_rows(pairs=14, singles=6, seed=3) + edge_rows()


def score_rows(rows: list[dict[str, Any]], url: str) -> dict[str, list[dict[str, Any]]]:
    """The output rows of every (judge, scorer setting), scored with a fresh archive each."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in JUDGES:
        judge_cfg = JudgeConfig(kind="openai", base_url=url, model="judge", max_retries=1, backoff_s=0.001,
                                backoff_max_s=0.002) if kind == "openai" else JudgeConfig(kind="rules")
        for name, overrides in SETTINGS.items():
            judge = build_judge(judge_cfg)  # a fresh judge: no cache entry carries over
            scorer = Scorer(config=ScorerConfig(**overrides), judge=judge, archive=RolloutArchive())
            scores = scorer.score_batch([Rollout(**r) for r in rows], step=0)
            out[f"{kind}/{name}"] = [s.to_dict() for s in scores]
    return out


def differences(expected: dict[str, list[dict[str, Any]]], got: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every (setting, row, field) whose value differs, as readable lines ([] when all equal)."""
    diffs = [f"{key}: missing" for key in expected if key not in got]
    for key, rows in expected.items():
        for i, (want, have) in enumerate(zip(rows, got.get(key, rows), strict=True)):
            diffs += [f"{key} row {i} {field}: {want.get(field)!r} != {have.get(field)!r}"
                      for field in sorted(set(want) | set(have)) if want.get(field) != have.get(field)]
    return diffs


def _score_golden_rows() -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    golden = json.loads(GOLDEN.read_text())
    with FakeJudgeServer(verdict) as server:
        return golden, score_rows(golden["rows"], server.url)


def test_every_reward_term_equals_the_recorded_value():
    golden, got = _score_golden_rows()
    assert len(golden["rows"]) == 197 and set(got) == set(golden["expected"])
    assert differences(golden["expected"], got) == []


def test_the_comparison_sees_a_changed_term():
    golden = json.loads(GOLDEN.read_text())
    expected = golden["expected"]
    changed = json.loads(json.dumps(expected))
    changed["openai/default"][3]["box_iou"] = (changed["openai/default"][3]["box_iou"] or 0.0) + 1e-12
    changed["rules/authors"][-1]["judge_errors"] += 1
    assert differences(expected, changed) == [
        f"openai/default row 3 box_iou: {expected['openai/default'][3]['box_iou']!r} != "
        f"{changed['openai/default'][3]['box_iou']!r}",
        f"rules/authors row {len(expected['rules/authors']) - 1} judge_errors: "
        f"{expected['rules/authors'][-1]['judge_errors']!r} != {changed['rules/authors'][-1]['judge_errors']!r}",
    ]


def test_the_golden_rows_reach_every_kind_of_outcome():
    """The recorded set is not trivial: judge calls, fallbacks, null terms, every format value."""
    expected = json.loads(GOLDEN.read_text())["expected"]
    rows = [r for key in expected for r in expected[key]]
    assert {r["stream"] for r in rows} == {"grounded", "textual", "single"}
    assert {r["format"] for r in rows} == {0.0, 1.0}
    assert any(r["judge_errors"] for r in expected["openai/default"])
    assert any(r["box_iou"] is None for r in rows if r["stream"] == "grounded")
    assert len({r["box_valid"] for r in rows if r["box_valid"] is not None}) >= 3
    assert len({r["consistency"] for r in expected["openai/default"] if r["consistency"] is not None}) >= 4
    boxed = expected["rules/default"][-2:]  # textual rows that carry a box: right, well formed, total 0
    assert all(r["stream"] == "textual" and r["accuracy"] == r["format"] == 1.0 and r["total"] == 0.0 for r in boxed)
    assert all(r["total"] > 2.0 for r in expected["rules/authors"][-2:])
    assert any(r["reference"] for r in rows) and expected["openai/default"] != expected["rules/default"]
    assert expected["openai/default"] != expected["openai/authors"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/rewards/test_rewards_golden.py --write   (records the current code's scores)")
    rows = input_rows()
    with FakeJudgeServer(verdict) as server:
        expected = score_rows(rows, server.url)
    lines = ",\n".join(json.dumps(r) for r in rows)
    groups = ",\n".join(f"{json.dumps(key)}: [\n" + ",\n".join(json.dumps(r) for r in rs) + "]"
                         for key, rs in expected.items())
    GOLDEN.write_text(f'{{"rows": [\n{lines}],\n"expected": {{\n{groups}}}}}\n')  # one row a line
    print(f"wrote {GOLDEN}: {len(rows)} rows x {len(expected)} settings")
