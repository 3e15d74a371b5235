"""`ivgr score` with a failing judge, as a real process: preflight, and an exit status for too many failures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))
from judges_fake_server import FakeJudgeServer, Reply  # noqa: E402

KEY = "sk-score-outage-secret"
N_ROWS = 6


def _rollouts(tmp_path: Path) -> Path:
    # free-text answers the rules cannot settle, one distinct question each (no cache sharing)
    rows = [{"sample_id": f"s{i}", "stream": "single", "question": "What colour is the cup?", "answer": "red",
             "completion": f"<think>look</think><answer>a crimson mug {i}</answer>"} for i in range(N_ROWS)]
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _score(src: Path, out: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVGR_JUDGE_")}
    env["IVGR_JUDGE_API_KEY"] = KEY
    return subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "score", str(src), "--out", str(out), "--judge", "openai",
         "--judge-url", url, "--judge-model", "judge", *extra],
        capture_output=True, text=True, timeout=120, env=env,
    )


def _fail_mugs_0_and_1(request, _index):
    """The questions about mugs 0 and 1 always fail (2 of 6 = 33%); the preflight and the rest succeed."""
    prompt = request.prompt
    return Reply(status=503) if ("crimson mug 0" in prompt or "crimson mug 1" in prompt) else Reply(text="1")


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ivgr: error:")]


def test_too_many_failed_judge_questions_exit_1_and_the_scores_are_still_written_in_full(tmp_path):
    src, out = _rollouts(tmp_path), tmp_path / "scores.jsonl"
    with FakeJudgeServer(_fail_mugs_0_and_1) as server:
        proc = _score(src, out, server.url)
    assert proc.returncode == 1, proc.stderr
    (line,) = _error_lines(proc.stderr)
    assert "2 of 6 judge questions (33%) fell back" in line and "--max-failed-share 0.2" in line and str(out) in line
    scores = [json.loads(x) for x in out.read_text().splitlines()]
    assert [s["sample_id"] for s in scores] == [f"s{i}" for i in range(N_ROWS)]
    assert [s["judge_errors"] > 0 for s in scores] == [True, True, False, False, False, False]
    assert KEY not in proc.stderr + proc.stdout


def test_a_failed_share_within_max_failed_share_exits_0(tmp_path):
    src, out = _rollouts(tmp_path), tmp_path / "scores.jsonl"
    with FakeJudgeServer(_fail_mugs_0_and_1) as server:
        proc = _score(src, out, server.url, "--max-failed-share", "0.4")
    assert proc.returncode == 0, proc.stderr
    assert "failed judge call(s)" in proc.stderr and len(out.read_text().splitlines()) == N_ROWS


def test_a_dead_judge_fails_the_preflight_before_scoring_and_the_flag_skips_it(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    src, out = _rollouts(tmp_path), tmp_path / "scores.jsonl"
    proc = _score(src, out, url)
    assert proc.returncode == 1 and not out.exists()
    (line,) = _error_lines(proc.stderr)
    assert url in line and "unreachable" in line and "--judge-url" in line

    skipped = _score(src, out, url, "--skip-judge-preflight")
    assert skipped.returncode == 1
    (line,) = _error_lines(skipped.stderr)
    assert "6 of 6 judge questions (100%) fell back" in line
    assert all(json.loads(x)["judge_errors"] > 0 for x in out.read_text().splitlines())
