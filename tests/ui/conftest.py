"""Shared fixtures of the inspector tests: a tiny checkpoint, a small real training run, a live server.

The run is `recipes/tiny_cpu.yaml` cut to two steps with completions logged and a checkpoint per
step. A random tiny model never writes a correct, well-boxed answer, so the archive is seeded with
one reference for the first question (`archive_path`, as multi-stage schedules do); training then
carries it into every checkpoint like any other entry.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEEDED_THINK = "the red square <box>[10,20,40,50]</box> is on the left"
SERVER_START_S = 300  # a loaded 2-core CI box needs far more than the idle ~5 s


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    from ivgr.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("ui") / "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """output_dir of a 2-step `ivgr train` on the tiny recipe (completions logged, archive seeded)."""
    from ivgr.archive import ArchiveEntry, RolloutArchive
    from ivgr.data.prepared import read_prepared
    from ivgr.data.synthetic import generate
    from ivgr.training.config import load_config
    from ivgr.training.train import train

    root = tmp_path_factory.mktemp("ui-run")
    data = root / "data"
    generate(data, n=4, seed=1, split="train")
    first = read_prepared(data)[0].sample_id
    seed = RolloutArchive()
    seed.offer(first, ArchiveEntry(think=SEEDED_THINK, box_iou=0.625, step=0))
    seed.save(root / "seed.json")
    out = root / "run"
    cfg, resolved = load_config(REPO / "recipes" / "tiny_cpu.yaml", [
        f"output_dir={out}", f"data_path={data}", f"archive_path={root / 'seed.json'}", "max_steps=2",
        "save_steps=1", "log_completions=true", "max_completion_length=8"])
    train(cfg, resolved=resolved)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tiny_ckpt, tiny_run, tmp_path_factory):
    """`ivgr ui` in a subprocess on a free loopback port; yields its URL, stops it at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("ui-log") / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "ivgr.cli", "ui", "--model", str(tiny_ckpt), "--run",
                                 str(tiny_run), "--port", str(port), "--max-new-tokens", "8"],
                                stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while "ivgr ui: serving" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
