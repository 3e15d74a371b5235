"""`ivgr score` end to end: input contract, step ordering, archive file, bad lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivgr.cli import app


class ExactJudge:
    """Deterministic stand-in for a judge: exact-match accuracy, fixed consistency 0.7."""

    async def accuracy(self, *, question, answer, reference):
        from ivgr.judges.base import Verdict

        return Verdict(float(answer.lower() == reference.lower()))

    async def consistency(self, *, question, reference, candidate):
        from ivgr.judges.base import Verdict

        return Verdict(0.7)


@pytest.fixture
def fake_judge(monkeypatch):
    import ivgr.judges

    monkeypatch.setattr(ivgr.judges, "build_judge", lambda config: ExactJudge(), raising=False)


def row(sid, stream, completion, *, step=0, answer="red", boxes=None):
    obj = {"sample_id": sid, "stream": stream, "question": "<image>\nWhat colour is the cup?", "answer": answer,
           "completion": completion, "step": step}
    if boxes is not None:
        obj["target_boxes"] = boxes
    return json.dumps(obj)


GOOD_G = "<think>the cup <box>[0,0,10,10]</box> is red</think><answer>red</answer>"
WEAK_G = "<think>a cup <box>[0,0,10,4]</box></think><answer>red</answer>"
TEXT = "<think>the cup is red</think><answer>red</answer>"


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "rollouts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_score_processes_steps_in_order_and_writes_input_order(tmp_path, fake_judge):
    src = write(tmp_path, [
        row("q", "textual", TEXT, step=1),  # step 1 listed first: must see step 0's reference
        row("q", "grounded", GOOD_G, step=0, boxes=[[0, 0, 10, 10]]),
        row("q", "textual", TEXT, step=0),
        row("r", "textual", TEXT, step=0),  # no reference for r
        row("m", "single", "<think>t</think><answer>4</answer>", answer="4", step=2),
    ])
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = read_jsonl(out)
    assert [s["stream"] for s in scores] == ["textual", "grounded", "textual", "textual", "single"]
    assert list(scores[1]) == ["sample_id", "stream", "step", "total", "format", "accuracy", "box_valid",
                               "box_iou", "consistency", "reference", "judge_errors"]
    assert scores[0]["reference"] == "the cup <box>[0,0,10,10]</box> is red" and scores[0]["consistency"] == 0.7
    assert scores[2]["reference"] == scores[0]["reference"]  # same step: archive updated before textual rows
    assert scores[3]["reference"] is None and scores[3]["consistency"] == 0.0
    assert scores[1]["total"] == 4.0 and scores[1]["consistency"] is None
    assert scores[4]["total"] == 2.5 and scores[4]["box_iou"] is None


def test_archive_file_is_loaded_updated_and_saved_across_runs(tmp_path, fake_judge):
    archive = tmp_path / "archive.json"
    first = write(tmp_path, [row("q", "grounded", WEAK_G, boxes=[[0, 0, 10, 10]])])
    assert CliRunner().invoke(app, ["score", str(first), "--archive", str(archive), "-o", str(tmp_path / "a")]).exit_code == 0
    saved = json.loads(archive.read_text())
    assert saved["entries"]["q"]["box_iou"] == pytest.approx(0.4)

    second = write(tmp_path, [row("q", "textual", TEXT, step=5), row("q", "grounded", GOOD_G, step=5, boxes=[[0, 0, 10, 10]])])
    out = tmp_path / "b"
    assert CliRunner().invoke(app, ["score", str(second), "--archive", str(archive), "-o", str(out)]).exit_code == 0
    assert read_jsonl(out)[0]["reference"].startswith("the cup")  # replaced by the strictly better one
    assert json.loads(archive.read_text())["entries"]["q"]["step"] == 5


def test_bad_lines_are_reported_with_line_numbers_and_other_rows_still_scored(tmp_path, fake_judge):
    src = write(tmp_path, [
        row("q", "single", "<think>t</think><answer>red</answer>"),
        "{not json",
        json.dumps({"sample_id": "x", "stream": "visual", "question": "q", "answer": "a", "completion": "c"}),
        json.dumps({"sample_id": "x", "stream": "single", "question": "q", "answer": "a"}),
        row("g", "grounded", GOOD_G, boxes=[[10, 10, 0, 0]]),
        row("r", "single", "<think>t</think><answer>blue</answer>"),
    ])
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", str(src), "--out", str(out)])
    assert result.exit_code != 0
    err = result.stderr if hasattr(result, "stderr") else result.output
    for needle in ("line 2: invalid JSON", "line 3: stream must be one of", "line 4: missing key(s) completion",
                   "line 5: target_boxes[0]"):
        assert needle in err
    assert [s["sample_id"] for s in read_jsonl(out)] == ["q", "r"]


def test_missing_input_file_is_one_clear_error(tmp_path, fake_judge):
    result = CliRunner().invoke(app, ["score", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "cannot read rollouts" in str(result.exception)


def test_scorer_config_file_changes_weights(tmp_path, fake_judge):
    cfg = tmp_path / "scorer.yaml"
    cfg.write_text("single_accuracy_weight: 1.0\n", encoding="utf-8")
    src = write(tmp_path, [row("m", "single", "<think>t</think><answer>red</answer>")])
    out = tmp_path / "s.jsonl"
    assert CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--scorer-config", str(cfg)]).exit_code == 0
    assert read_jsonl(out)[0]["total"] == 2.0


def test_misspelt_scorer_config_key_gets_one_suggestion_not_the_key_list(tmp_path, fake_judge):
    cfg = tmp_path / "scorer.yaml"
    cfg.write_text("single_accuracy_weigth: 1.0\n", encoding="utf-8")
    src = write(tmp_path, [row("m", "single", "<think>t</think><answer>red</answer>")])
    result = CliRunner().invoke(app, ["score", str(src), "--scorer-config", str(cfg)])
    assert result.exit_code != 0
    assert str(result.exception) == f"{cfg}: unknown key 'single_accuracy_weigth'; did you mean 'single_accuracy_weight'?"


def test_help_shows_examples():
    result = CliRunner().invoke(app, ["score", "--help"])
    assert result.exit_code == 0 and "ivgr score rollouts.jsonl --out scores.jsonl" in result.output


def test_score_with_the_rules_judge_in_a_real_process(tmp_path):
    src = write(tmp_path, [
        row("q", "grounded", GOOD_G, boxes=[[0, 0, 10, 10]]),
        row("q", "textual", "<think>the cup is red</think><answer>It is red.</answer>"),
        "not json",
    ])
    out = tmp_path / "scores.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", "from ivgr.cli import main; main()", "score", str(src), "--out", str(out), "--judge", "rules"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "line 3: invalid JSON" in proc.stderr and "Traceback" not in proc.stderr
    g, t = read_jsonl(out)
    assert g["accuracy"] == 1.0 and g["total"] == 4.0
    assert t["accuracy"] == 1.0 and t["reference"] == "the cup <box>[0,0,10,10]</box> is red"
    assert 0.0 <= t["consistency"] <= 1.0


def test_score_with_the_openai_judge_against_a_loopback_server(tmp_path, monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            n = int(body.get("n") or 1)
            text = "0.7" if n > 1 else "1"  # consistency asks for n samples, accuracy for one
            payload = json.dumps({
                "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            for i in range(n)],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.delenv("IVGR_JUDGE_BASE_URL", raising=False)
    try:
        src = write(tmp_path, [
            row("q", "grounded", GOOD_G, boxes=[[0, 0, 10, 10]]),
            row("q", "textual", "<think>a cup, red</think><answer>a crimson mug</answer>"),
        ])
        out = tmp_path / "scores.jsonl"
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        result = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--judge", "openai",
                                          "--judge-url", url, "--judge-model", "judge-x"])
    finally:
        httpd.shutdown()
    assert result.exit_code == 0, result.output
    g, t = read_jsonl(out)
    assert g["accuracy"] == 1.0 and t["consistency"] == pytest.approx(0.7) and t["judge_errors"] == 0
    assert seen and {body["model"] for body in seen} == {"judge-x"}


def test_large_input_runs_with_the_progress_bar_and_keeps_order(tmp_path, fake_judge):
    lines = [row(f"s{i}", "single", f"<think>t</think><answer>{'red' if i % 2 else 'blue'}</answer>", step=i % 7)
             for i in range(600)]
    src = write(tmp_path, lines)
    out = tmp_path / "scores.jsonl"
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    scores = read_jsonl(out)
    assert [s["sample_id"] for s in scores] == [f"s{i}" for i in range(600)]
    assert [s["step"] for s in scores] == [i % 7 for i in range(600)]
    assert [s["accuracy"] for s in scores[:4]] == [0.0, 1.0, 0.0, 1.0]
