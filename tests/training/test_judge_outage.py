"""Judge outages, end to end: `ivgr train` as a real process against a judge server process.

The judge server (tests/judges/judge_server_process.py) is its own process, so "the judge
dies" is a real crash (every socket closed) and "the judge is back" is a new process on the
same port. Three cases (issue 19): dead at start, dies mid-run then resume, flaps below the
threshold. The model is the tiny one that answers EXACT_GROUNDED, so every step asks the
judge the same few questions (2 grounded + 2 textual accuracy, 2 consistency).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))
from judge_server_process import JudgeServerProcess  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-outage-test-secret"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _recipe(tmp: Path, model: Path | str, data: Path | str, url: str, **overrides) -> Path:
    values = {
        "model_path": str(model),
        "data_path": str(data),
        "output_dir": str(tmp / "run"),
        "num_generations": 2,
        "per_device_train_batch_size": 4,  # one (grounded, textual) pair × 2 rollouts
        "steps_per_generation": 1,
        "max_steps": 3,
        "max_completion_length": 40,
        "learning_rate": 1e-5,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 100,  # no regular checkpoint: any checkpoint-N is the breaker's
        "report_to": ["none"],
        "seed": 11,
        "judge_outage_wait_s": 2,
        "judge_outage_backoff_s": 0.5,
        # every question goes to the endpoint, once: no rules shortcut, no cache, no retry inside a step
        "judge": {"kind": "openai", "base_url": url, "model": "judge", "max_retries": 0, "cache_size": 0,
                  "rules_first": False, "n": 1, "timeout_s": 10},
    }
    values.update(overrides)
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _ivgr_train(recipe: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, IVGR_JUDGE_API_KEY=KEY, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "ivgr.cli", "train", "--config", str(recipe), *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def _steps(stderr: str) -> list[tuple[int, int]]:
    """(step, judge errors) of every summary line the CLI printed."""
    return [(int(m[1]), int(m[2])) for m in re.finditer(r"step (\d+)/\d+ \|.*?judge errors (\d+)", stderr)]


def test_a_rejected_key_stops_train_before_any_work_and_the_flag_skips_the_check(tmp_path, monkeypatch, capsys):
    from judges_fake_server import FakeJudgeServer, Reply
    from test_training_cli import _main

    monkeypatch.setenv("IVGR_JUDGE_API_KEY", KEY)
    with FakeJudgeServer(Reply(status=401)) as server:
        recipe = _recipe(tmp_path, "tiny", "synthetic", server.url)
        code, err = _main(monkeypatch, capsys, ["train", "--config", str(recipe)])
        assert server.count == 1
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert server.url in err and "rejected the API key (HTTP 401)" in err and "IVGR_JUDGE_API_KEY" in err
    assert KEY not in err and not (tmp_path / "run").exists()

    # skipped: the run goes on to the next stage, which fails on its own (no checkpoint in model_path)
    recipe = _recipe(tmp_path, tmp_path / "no-model", "synthetic", f"http://127.0.0.1:{_unused_port()}/v1")
    code, err = _main(monkeypatch, capsys, ["train", "--config", str(recipe), "--skip-judge-preflight"])
    assert code == 1 and "model_path" in err and "preflight" not in err


@pytest.fixture()
def model_copy(tmp_path, exact_model) -> Path:
    path = tmp_path / "model"
    shutil.copytree(exact_model, path)
    return path


@pytest.mark.slow
def test_dead_judge_at_start_stops_before_the_model_is_built_with_one_line(tmp_path):
    url = f"http://127.0.0.1:{_unused_port()}/v1"
    # `tiny` / `synthetic` would be built into output_dir: its absence shows nothing was loaded
    recipe = _recipe(tmp_path, "tiny", "synthetic", url)
    proc = _ivgr_train(recipe)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ivgr: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert url in errors[0] and "unreachable" in errors[0] and "--skip-judge-preflight" in errors[0]
    assert KEY not in proc.stderr + proc.stdout
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_judge_dying_mid_run_checkpoints_and_stops_then_resume_finishes_once_it_is_back(
    tmp_path, model_copy, two_question_data
):
    import torch

    # 1 preflight request + 6 per step: the server crashes while the third step asks its questions
    server = JudgeServerProcess(extra=["--die-after", "13"]).start()
    try:
        recipe = _recipe(tmp_path, model_copy, two_question_data, server.url, max_steps=4)
        proc = _ivgr_train(recipe)
        assert server.wait_dead(timeout=60) == 0  # it crashed as scripted, not killed by us
    finally:
        server.stop()
    assert proc.returncode == 75, proc.stderr[-3000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith("ivgr: error:")]
    assert len(error) == 1 and "judge outage" in error[0] and "--resume" in error[0], proc.stderr[-3000:]
    assert "retrying this step's judge calls" in proc.stderr  # the visible wait before giving up
    checkpoints = sorted((tmp_path / "run").glob("checkpoint-*"))
    assert len(checkpoints) == 1, checkpoints
    ckpt = checkpoints[0]
    stopped_at = int(ckpt.name.split("-")[1])
    assert 1 <= stopped_at < 4 and str(ckpt) in error[0]
    assert f"step {stopped_at + 1} was not trained on" in error[0]
    assert (ckpt / "archive.json").is_file() and (ckpt / "trainer_state.json").is_file()
    assert not (tmp_path / "run" / "final").exists()
    # the failed step was never applied: the optimizer took exactly `stopped_at` steps
    optimizer = torch.load(ckpt / "optimizer.pt", weights_only=False)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {stopped_at}
    assert [s for s, _ in _steps(proc.stderr)] == list(range(1, stopped_at + 1))

    with JudgeServerProcess(port=server.port) as back:  # the judge is back, at the same address
        assert back.url == server.url
        resumed = _ivgr_train(recipe, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [s for s, _ in _steps(resumed.stderr)] == list(range(stopped_at + 1, 5))
    assert (tmp_path / "run" / "final" / "archive.json").is_file()


@pytest.mark.slow
def test_judge_flapping_below_the_threshold_keeps_training_and_counts_the_failures(
    tmp_path, model_copy, two_question_data
):
    # every 7th request fails: at most 1 of a step's 6 questions (17%), under the 40% set here
    with JudgeServerProcess(extra=["--fail-every", "7"]) as server:
        recipe = _recipe(tmp_path, model_copy, two_question_data, server.url, judge_max_failed_share=0.4)
        proc = _ivgr_train(recipe)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = _steps(proc.stderr)
    assert [s for s, _ in steps] == [1, 2, 3]
    assert sum(e for _, e in steps) >= 1  # the 503s were counted as judge errors
    assert "retrying this step's judge calls" not in proc.stderr and "judge outage" not in proc.stderr
    assert (tmp_path / "run" / "final").is_dir()
