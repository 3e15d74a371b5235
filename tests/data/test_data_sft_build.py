"""`ivgr data sft-build`: per-question selection, rule and LLM rewrites, SFT JSONL output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from data_fixture_builder import good_dataset, write_jsonl

from ivgr.data.prepare import prepare
from ivgr.data.prepared import read_prepared
from ivgr.data.readers import open_source
from ivgr.data.sft_build import SftBuildConfig, keeps_visual_terms, sft_build
from ivgr.errors import DataError
from ivgr.prompts import stream_prompt

THINK = "The red cup <box>[10,20,60,90]</box> is left of 2 plates <box>[70,20,120,90]</box>."


def _roll(sid, *, acc=1.0, fmt=1.0, iou=0.5, think=THINK, answer="left", stream="grounded", **extra):
    return {"sample_id": sid, "stream": stream, "completion": f"<think>{think}</think><answer>{answer}</answer>",
            "accuracy": acc, "format": fmt, "box_iou": iou, "box_valid": 1.0, **extra}


@pytest.fixture()
def dataset(tmp_path):
    prepare(open_source(good_dataset(tmp_path / "raw")), tmp_path / "prep")
    return tmp_path / "prep", [s for s in read_prepared(tmp_path / "prep") if s.kind == "paired"]


def _read(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_best_correct_rollout_per_question_is_kept_and_stripped_by_rules(tmp_path, dataset):
    prep, paired = dataset
    a, b, c = (s.sample_id for s in paired)
    rows = [
        _roll(a, iou=0.4, think="The cup <box>[1,1,5,5]</box> is red."),
        _roll(a, iou=0.8),                      # best of question a
        _roll(a, iou=0.95, acc=0.0),            # higher IoU but wrong answer
        _roll(b, iou=0.2),                      # below tau = 0.3
        _roll(c, iou=0.9, fmt=0.0),             # bad format
        _roll(c, stream="textual"),             # not a grounded rollout
    ]
    summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl", dataset=prep)
    out = _read(tmp_path / "sft.jsonl")
    assert [(r["sample_id"], r["stream"]) for r in out] == [(a, "grounded"), (a, "textual")]
    grounded, textual = out
    assert grounded["completion"] == f"<think>{THINK}</think><answer>left</answer>"
    assert textual["completion"] == "<think>The red cup is left of 2 plates.</think><answer>left</answer>"
    assert grounded["prompt"] == stream_prompt("grounded", paired[0].question, frame="pixel")
    assert textual["prompt"] == stream_prompt("textual", paired[0].question)
    assert grounded["image"] == str((prep / paired[0].image).resolve()) and grounded["box_iou"] == 0.8
    assert summary.skipped == {"incorrect": 1, "low_box_iou": 1, "bad_format": 1, "not_grounded": 1}
    assert (summary.questions_seen, summary.questions_selected) == (3, 1)


def test_no_cap_on_the_number_of_selected_questions(tmp_path):
    rows = [_roll(f"q{i}", question=f"Q{i}?", image=f"/img/{i}.png") for i in range(250)]
    summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl")
    assert summary.questions_selected == 250 and summary.examples == 500


def test_rows_without_dataset_need_question_and_image(tmp_path):
    rows = [_roll("x"), _roll("y", question="Q?", image="/i.png")]
    summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl")
    assert summary.skipped["question_or_image_unknown"] == 1
    assert {r["sample_id"] for r in _read(tmp_path / "sft.jsonl")} == {"y"}


class FakeJudge:
    """Stands in for OpenAIJudge.rewrite: scripted replies per request, records temperatures."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.temperatures = []

    async def rewrite(self, *, question, reasoning, n, temperature):
        self.temperatures.append(temperature)
        reply = self.replies.pop(0) if self.replies else []
        if isinstance(reply, Exception):
            raise reply
        return reply[:n]


def test_llm_rewrites_are_deduplicated_checked_and_padded(tmp_path):
    rows = [_roll("q", question="Where is the cup?", image="/i.png")]
    judge = FakeJudge([
        ["A red cup sits left of two plates.",               # faithful (2 written as a word)
         "a red cup  sits left of two plates.",              # duplicate up to case/spacing
         "A cup sits left of two plates."],                  # drops the colour: rejected
        RuntimeError("endpoint down"),                       # second round fails: counted
        ["There is a red cup [10,20,60,90] left of 2 plates."],  # leaks coordinates: rejected
    ])
    config = SftBuildConfig(rewrites=3, max_rounds=3)
    summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl", config=config, rewriter=judge)
    textual = [r for r in _read(tmp_path / "sft.jsonl") if r["stream"] == "textual"]
    assert [(r["completion"], r["source"]) for r in textual] == [
        ("<think>A red cup sits left of two plates.</think><answer>left</answer>", "rewrite-llm"),
        ("<think>The red cup is left of 2 plates.</think><answer>left</answer>", "rewrite-rules"),
    ]
    assert judge.temperatures == [0.3, 0.5, 0.7]
    assert summary.rejected_rewrites == 2 and summary.rewrite_errors == 1


def test_visual_check_lists_missing_statements():
    assert keeps_visual_terms(THINK, "The cup is left of two plates.") == ["red"]
    assert keeps_visual_terms(THINK, "Two plates are right of the red cup.") == ["left"]
    assert keeps_visual_terms(THINK, "The red cup is to the left of 2 plates.") == []


def test_cli_sft_build_writes_examples(tmp_path, dataset):
    prep, paired = dataset
    rollouts = write_jsonl(tmp_path / "r.jsonl", [_roll(paired[1].sample_id)])
    out = tmp_path / "sft.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "data", "sft-build", "--rollouts", str(rollouts),
         "--dataset", str(prep), "--out", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 examples (1 grounded, 1 textual)" in proc.stdout
    assert [r["stream"] for r in _read(out)] == ["grounded", "textual"]
    bad = subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "data", "sft-build", "--rollouts", str(tmp_path / "none.jsonl"),
         "--out", str(out)], capture_output=True, text=True,
    )
    assert bad.returncode == 1 and "none.jsonl: no such file" in bad.stderr


def _score_input(sid, question, box):
    return {"sample_id": sid, "stream": "grounded", "question": question, "answer": "left",
            "completion": f"<think>The red cup <box>[{box}]</box> is on the left.</think><answer>left</answer>",
            "target_boxes": [[10, 20, 60, 90]]}


def test_rollouts_scored_by_ivgr_score_are_joined_and_selected(tmp_path, dataset):
    prep, paired = dataset
    sid, q = paired[0].sample_id, paired[0].question
    rows = [_score_input(sid, q, "100,20,160,90"), _score_input(sid, q, "10,20,60,90")]  # IoU 0, then 1
    rollouts = write_jsonl(tmp_path / "rollouts.jsonl", rows)
    scores = tmp_path / "scores.jsonl"
    subprocess.run([sys.executable, "-m", "ivgr.cli", "score", str(rollouts), "--out", str(scores)],
                   check=True, capture_output=True)
    summary = sft_build(rollouts, tmp_path / "sft.jsonl", dataset=prep, scores=scores)
    out = _read(tmp_path / "sft.jsonl")
    assert summary.skipped == {"low_box_iou": 1}
    assert out[0]["box_iou"] == 1.0 and "[10,20,60,90]" in out[0]["completion"]
    assert out[1]["completion"] == "<think>The red cup is on the left.</think><answer>left</answer>"


def test_misaligned_scores_file_is_a_data_error(tmp_path):
    rollouts = write_jsonl(tmp_path / "r.jsonl", [_roll("a"), _roll("b")])
    scores = write_jsonl(tmp_path / "s.jsonl", [{"sample_id": "a"}, {"sample_id": "c"}])
    with pytest.raises(DataError, match=r"s\.jsonl:2: sample_id 'c' does not match"):
        sft_build(rollouts, tmp_path / "sft.jsonl", scores=scores)
    short = write_jsonl(tmp_path / "short.jsonl", [{"sample_id": "a"}])
    with pytest.raises(DataError, match="fewer lines"):
        sft_build(rollouts, tmp_path / "sft.jsonl", scores=short)
    assert not (tmp_path / "sft.jsonl").exists()


def test_unscored_curated_cots_need_the_explicit_option(tmp_path):
    row = {"sample_id": "a", "stream": "grounded", "question": "Q?", "image": "/i.png",
           "completion": f"<think>{THINK}</think><answer>left</answer>"}
    rollouts = write_jsonl(tmp_path / "r.jsonl", [row])
    assert sft_build(rollouts, tmp_path / "o1.jsonl").skipped == {"unscored": 1}
    summary = sft_build(rollouts, tmp_path / "o2.jsonl", config=SftBuildConfig(unscored_as_correct=True))
    assert summary.examples == 2


def test_openai_rewriter_against_a_loopback_server(tmp_path, monkeypatch):
    import http.server
    import threading

    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append(body)
            replies = ["A red cup stands left of two plates.", "Left of 2 plates there is a red cup."]
            payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                       "choices": [{"index": i, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": replies[i % 2]}}
                                   for i in range(body.get("n", 1))]}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("IVGR_JUDGE_API_KEY", "test-key")
    try:
        from ivgr.data.sft_build import build_rewriter

        rewriter = build_rewriter("openai", base_url=f"http://127.0.0.1:{server.server_port}/v1", model="judge")
        rows = [_roll("q", question="Where is the cup?", image="/i.png")]
        summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl",
                            config=SftBuildConfig(rewrites=2), rewriter=rewriter)
    finally:
        server.shutdown()
    textual = [r["completion"] for r in _read(tmp_path / "sft.jsonl") if r["stream"] == "textual"]
    assert textual == ["<think>A red cup stands left of two plates.</think><answer>left</answer>",
                       "<think>Left of 2 plates there is a red cup.</think><answer>left</answer>"]
    assert summary.rewrite_errors == 0 and len(requests) == 1 and requests[0]["n"] == 2
    assert "<box>[10,20,60,90]</box>" in requests[0]["messages"][-1]["content"]


def test_textual_failure_filter_uses_each_questions_mean_textual_accuracy(tmp_path):
    extra = dict(question="Q?", image="/i.png")
    rows = [
        _roll("hard", **extra), _roll("hard", stream="textual", acc=0.0), _roll("hard", stream="textual", acc=1.0),
        _roll("easy", **extra), _roll("easy", stream="textual", acc=1.0),
        _roll("lonely", **extra),  # no textual rollout logged
    ]
    config = SftBuildConfig(textual_max_accuracy=0.5)
    summary = sft_build(write_jsonl(tmp_path / "r.jsonl", rows), tmp_path / "sft.jsonl", config=config)
    assert {r["sample_id"] for r in _read(tmp_path / "sft.jsonl")} == {"hard"}
    assert summary.skipped["question_textual_already_correct"] == 1
    assert summary.skipped["question_without_textual_rollouts"] == 1
