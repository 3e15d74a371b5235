"""Real subprocesses: two gloo ranks under `accelerate launch`, and SIGKILL-then-resume.

`accelerate launch --cpu` (or a MULTI_CPU config without mpirun) starts a single process
(accelerate's `launch` command). Its torchrun-based launcher (`--multi_gpu --num_processes 2`) does start two
ranks on a CPU machine, and `use_cpu: true` in the config makes them join a gloo group; that is
the command a user runs, so the tests use it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("training_worker.py")
ACCELERATE = Path(sys.executable).with_name("accelerate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _base_config(tmp: Path, model: Path, data: Path, **overrides) -> dict:
    values = {
        "model_path": str(model),
        "data_path": str(data),
        "output_dir": str(tmp / "run"),
        "num_generations": 2,
        "per_device_train_batch_size": 4,
        "steps_per_generation": 1,
        "max_steps": 2,
        "max_completion_length": 32,
        "learning_rate": 1e-3,
        "beta": 0.01,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 10,
        "report_to": ["none"],
        "seed": 11,
        "judge": {"kind": "rules"},
    }
    values.update(overrides)
    return values


def _two_rank_command(config: Path, out: Path) -> list[str]:
    return [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
            str(WORKER), str(config), str(out)]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, primed_model, synthetic_data):
    tmp = tmp_path_factory.mktemp("two_ranks")
    config = tmp / "config.json"
    config.write_text(json.dumps(_base_config(tmp, primed_model, synthetic_data)))
    out = tmp / "out"
    cmd = _two_rank_command(config, out)
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_two_ranks_train_disjoint_pairs_with_whole_groups(two_rank_run):
    r0, r1 = two_rank_run
    assert (r0["world"], r1["world"]) == (2, 2) and r0["global_step"] == r1["global_step"] == 2
    train0 = [b for b in r0["batches"] if b[0][0] != "probe"]
    train1 = [b for b in r1["batches"] if b[0][0] != "probe"]
    assert len(train0) == len(train1) == 2
    for b0, b1 in zip(train0, train1, strict=True):
        for batch in (b0, b1):
            groups = [tuple(map(tuple, batch[i : i + 2])) for i in range(0, len(batch), 2)]
            assert all(len(set(g)) == 1 for g in groups)  # one (sample, stream) per group
            assert {s for s, st, *_ in batch if st == "grounded"} == {s for s, st, *_ in batch if st == "textual"}
        assert not {row[0] for row in b0} & {row[0] for row in b1}  # ranks split the generation batch


@pytest.mark.slow
def test_textual_row_on_one_rank_gets_the_reference_made_on_the_other(two_rank_run):
    r0, r1 = two_rank_run
    assert r0["probe"]["stream"] == "grounded" and r1["probe"]["stream"] == "textual"
    assert r1["probe"]["reference"] == "the square <box>[10,10,40,40]</box> is red made on rank zero"
    assert r0["probe"]["archive"] == r1["probe"]["archive"]  # every rank applied the same update
    assert r0["archive"] == r1["archive"]  # and the training archives agree too


def _swapping_seed(data: Path) -> int:
    """A seed whose epoch-1 order puts each question on the other rank than in epoch 0."""
    from ivgr.data.prepared import read_prepared
    from ivgr.training.sampler import PairedStreamSampler, StreamIndex

    ids = [s.sample_id for s in read_prepared(data) for _ in range(2)]
    index = StreamIndex.from_rows(ids, ["grounded", "textual"] * (len(ids) // 2))
    for seed in range(100):
        sampler = PairedStreamSampler(index, num_generations=2, prompts_per_batch=4, seed=seed)
        first = sampler.generation_batches()[0]
        sampler.set_epoch(1)
        if sampler.generation_batches()[0] == first[2:] + first[:2]:
            return seed
    raise AssertionError("no swapping seed")


@pytest.mark.slow
def test_textual_rows_read_the_archive_entry_made_on_the_other_rank_during_training(
    tmp_path, exact_model, two_question_data
):
    # Two questions, two ranks, one pair per rank per step; the seed makes them swap ranks between
    # step 1 and step 2. The model always writes a correct, exactly boxed grounded CoT, so at step 1
    # each rank archives its own question. At step 2 a rank's textual rows belong to the question the
    # OTHER rank archived at step 1: they must read that entry (step 0), which only the cross-rank
    # exchange can have delivered (the entry stays: a same-IoU rollout never replaces it).
    seed = _swapping_seed(two_question_data)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_base_config(tmp_path, exact_model, two_question_data, seed=seed, max_steps=2,
                                              max_completion_length=40, learning_rate=1e-6)))
    out = tmp_path / "out"
    cmd = _two_rank_command(config, out)
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    steps = [[b for b in rank["batches"] if b[0][0] != "probe"] for rank in ranks]
    step1 = [{row[0] for row in steps[r][0]} for r in (0, 1)]
    step2 = [{row[0] for row in steps[r][1]} for r in (0, 1)]
    assert len(step1[0]) == len(step1[1]) == 1 and step2[0] == step1[1] and step2[1] == step1[0]
    for r in (0, 1):
        textual = [row for row in steps[r][1] if row[1] == "textual"]
        assert textual and all(row[2] == 0 for row in textual), (r, textual)
    assert ranks[0]["archive"] == ranks[1]["archive"] and len(ranks[0]["archive"]["entries"]) == 2


@pytest.mark.slow
def test_resume_after_sigkill_restores_model_optimizer_step_and_archive(tmp_path, primed_model, synthetic_data):
    from safetensors.torch import load_file

    from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive
    from ivgr.data.prepared import read_prepared
    from ivgr.training.trainer import find_resumable_checkpoint

    seed = RolloutArchive()
    seed.offer_many(
        ArchiveCandidate(sample_id=s.sample_id, entry=ArchiveEntry(think=f"seed {i}", box_iou=0.5, step=0))
        for i, s in enumerate(read_prepared(synthetic_data))
    )
    seed.save(tmp_path / "seed.json")
    values = _base_config(tmp_path, primed_model, synthetic_data, max_steps=8, save_steps=2,
                          archive_path=str(tmp_path / "seed.json"))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(values))
    run_dir = Path(values["output_dir"])
    proc = subprocess.Popen([sys.executable, str(WORKER), str(config), str(tmp_path / "out1")], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while find_resumable_checkpoint(run_dir) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "out1").exists()
    ckpt = find_resumable_checkpoint(run_dir)
    assert ckpt is not None
    ckpt_step = int(ckpt.name.split("-")[1])
    assert ckpt_step < 8
    saved_archive = json.loads((ckpt / "archive.json").read_text())
    weights = load_file(str(ckpt / "model.safetensors"))
    weights_abs_sum = float(sum(t.abs().sum() for t in weights.values()))
    shutil.copy(ckpt / "archive.json", tmp_path / "saved_archive.json")

    # resume without the seed file: the archive can only come from the checkpoint
    values.pop("archive_path")
    values["_resume"] = True
    config.write_text(json.dumps(values))
    done = subprocess.run([sys.executable, str(WORKER), str(config), str(tmp_path / "out2")], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "out2" / "rank0.json").read_text())
    assert record["restored"]["checkpoint"] == str(ckpt)
    assert record["restored"]["archive"] == saved_archive
    assert saved_archive["entries"] and len(saved_archive["entries"]) == len(seed)
    assert record["start"]["start_step"] == ckpt_step
    assert record["start"]["first_step"] == ckpt_step + 1
    assert record["start"]["adam_step"] == ckpt_step + 1  # optimizer state continued, not restarted
    assert record["start"]["weights_abs_sum"] == pytest.approx(weights_abs_sum, rel=1e-6)
    assert record["global_step"] == 8
    assert len(record["batches"]) == 8 - ckpt_step
    # the resumed run sees exactly the generation batches the killed run would have seen next
    from ivgr.training.sampler import PairedStreamSampler, StreamIndex

    ids = [s.sample_id for s in read_prepared(synthetic_data) for _ in range(2)]
    index = StreamIndex.from_rows(ids, ["grounded", "textual"] * (len(ids) // 2))
    expected = PairedStreamSampler(index, num_generations=2, prompts_per_batch=2, seed=values["seed"]).generation_batches()
    seen = [[row[0] for row in batch[::2]] for batch in record["batches"]]
    assert seen == [[ids[i] for i in batch] for batch in expected[ckpt_step:8]]


def _epoch_changing_seed(data: Path, n_pairs: int) -> int:
    """A seed whose epoch-1 order differs from epoch 0's in the second generation batch (2 pairs each)."""
    from ivgr.data.prepared import read_prepared
    from ivgr.training.sampler import PairedStreamSampler, StreamIndex

    ids = [s.sample_id for s in read_prepared(data)[:n_pairs] for _ in range(2)]
    index = StreamIndex.from_rows(ids, ["grounded", "textual"] * n_pairs)
    for seed in range(100):
        sampler = PairedStreamSampler(index, num_generations=2, prompts_per_batch=4, seed=seed)
        epoch0 = sampler.generation_batches()
        sampler.set_epoch(1)
        if sampler.generation_batches()[1] != epoch0[1]:
            return seed
    raise AssertionError("no seed changes the order between epochs")


def _launch(tmp: Path, name: str, values: dict) -> tuple[subprocess.CompletedProcess, Path]:
    config = tmp / f"{name}.json"
    config.write_text(json.dumps(values))
    out = tmp / name
    cmd = _two_rank_command(config, out)
    # Own process group: on a timeout the ranks die with the launcher instead of living on.
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), out


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    """The random tiny model: enough where only the sample order matters (no priming to wait for)."""
    from ivgr.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny-random", seed=0)


@pytest.mark.slow
@pytest.mark.timeout(2700)  # three 2-rank launches; a guard against hangs, not a timed assertion
def test_two_rank_resume_into_a_later_epoch_trains_the_uninterrupted_order(tmp_path, random_model, synthetic_data):
    # 4 pairs, 2 per generation batch (1 per rank): 2 steps an epoch. Checkpoint 3 lies inside epoch 1,
    # so resuming it wraps the sampler in accelerate's SkipBatchSampler(BatchSamplerShard(...)); step 4
    # must still be epoch 1's second batch, not epoch 0's.
    values = _base_config(tmp_path, random_model, synthetic_data, max_samples=4, max_steps=5, save_steps=3,
                          max_completion_length=8, seed=_epoch_changing_seed(synthetic_data, 4))
    full, full_out = _launch(tmp_path, "full", {**values, "output_dir": str(tmp_path / "run_full")})
    assert full.returncode == 0, full.stderr[-3000:]

    killed, killed_out = _launch(tmp_path, "killed", {**values, "_kill_after_save": 3})
    assert killed.returncode != 0 and not killed_out.exists()  # both ranks died after writing checkpoint 3
    from ivgr.training.trainer import find_resumable_checkpoint

    assert find_resumable_checkpoint(values["output_dir"]).name == "checkpoint-3"
    resumed, resumed_out = _launch(tmp_path, "resumed", {**values, "_resume": True})
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    for rank in (0, 1):
        expected = json.loads((full_out / f"rank{rank}.json").read_text())
        got = json.loads((resumed_out / f"rank{rank}.json").read_text())
        assert got["start"]["start_step"] == 3 and got["global_step"] == 5
        order = [[row[:2] for row in batch] for batch in expected["batches"] if batch[0][0] != "probe"]
        seen = [[row[:2] for row in batch] for batch in got["batches"] if batch[0][0] != "probe"]
        assert len(order) == 5 and seen == order[3:5], rank
