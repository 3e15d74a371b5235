"""IvgrGRPOTrainer end to end on CPU: grouping, pairing, rewards, archive, checkpoints, ablations.

One shared training run (module fixture) feeds most assertions; each run records every batch
the scorer saw by wrapping `BatchRewarder.score` (the real scorer still does the work).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ivgr.training.rewards import BatchRewarder

G = 2  # num_generations in these runs


def _config(tmp: Path, model: Path, data: Path, **overrides):
    from ivgr.training.config import config_from_dict

    values = {
        "model_path": str(model),
        "data_path": str(data),
        "output_dir": str(tmp / "run"),
        "num_generations": G,
        "per_device_train_batch_size": 4,  # one (grounded, textual) pair × G rollouts
        "steps_per_generation": 1,
        "max_steps": 3,
        "max_completion_length": 40,
        "learning_rate": 1e-3,
        "beta": 0.01,
        "epsilon_high": 0.28,
        "delta": 3.0,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "logging_steps": 1,
        "save_steps": 2,
        "report_to": ["tensorboard"],
        "seed": 11,
        "judge": {"kind": "rules"},
    }
    values.update(overrides)
    return config_from_dict(values)


class Recorder:
    """Wraps BatchRewarder.score to keep (rollouts, scores) of every generation batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[list, list]] = []

    def install(self, monkeypatch) -> None:
        original = BatchRewarder.score
        recorder = self

        def score(self, rollouts, *, step):
            totals, stats, scores = original(self, rollouts, step=step)
            recorder.batches.append((list(rollouts), list(scores)))
            return totals, stats, scores

        monkeypatch.setattr(BatchRewarder, "score", score)


def _run(tmp: Path, model: Path, data: Path, **overrides):
    from ivgr.training.train import train

    work_model = tmp / "model"
    shutil.copytree(model, work_model)
    cfg = _config(tmp, work_model, data, **overrides)
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        recorder.install(mp)
        result = train(cfg)
    return result, recorder, work_model


@pytest.fixture(scope="module")
def main_run(tmp_path_factory, primed_model, synthetic_data):
    tmp = tmp_path_factory.mktemp("main_run")
    result, recorder, work_model = _run(tmp, primed_model, synthetic_data)
    return result, recorder, work_model


@pytest.mark.slow
def test_every_grpo_group_holds_one_sample_and_one_stream(main_run):
    _, recorder, _ = main_run
    assert recorder.batches
    for rollouts, _ in recorder.batches:
        assert len(rollouts) % G == 0
        for start in range(0, len(rollouts), G):
            group = {(r.sample_id, r.stream) for r in rollouts[start : start + G]}
            assert len(group) == 1


@pytest.mark.slow
def test_both_streams_of_a_question_are_in_the_same_generation_batch(main_run):
    _, recorder, _ = main_run
    for rollouts, _ in recorder.batches:
        grounded = {r.sample_id for r in rollouts if r.stream == "grounded"}
        textual = {r.sample_id for r in rollouts if r.stream == "textual"}
        assert grounded and grounded == textual


@pytest.mark.slow
def test_training_changes_parameters(main_run):
    from safetensors.torch import load_file

    result, _, work_model = main_run
    before = load_file(str(work_model / "model.safetensors"))
    after = load_file(str(result.checkpoint / "model.safetensors"))
    changed = [name for name in before if not (before[name] == after[name]).all()]
    assert len(changed) > len(before) // 2, f"only {len(changed)} of {len(before)} tensors moved"


@pytest.mark.slow
def test_final_checkpoint_loads_and_carries_archive_config_and_version(main_run):
    from ivgr.archive import RolloutArchive
    from ivgr.models import load_model_and_processor

    result, _, _ = main_run
    final = result.checkpoint
    model, processor = load_model_and_processor(final)
    assert model is not None and processor is not None
    archive = RolloutArchive.load(final / "archive.json")
    assert len(archive) == len(result.archive)
    assert "max_steps: 3" in (final / "config.yaml").read_text()
    versions = json.loads((final / "ivgr.json").read_text())
    assert versions["trl_version"] == "1.16.0" and versions["ivgr_version"]
    assert list((final.parent / "runs").rglob("events.out.tfevents*")), "no TensorBoard log"


@pytest.mark.slow
def test_per_stream_reward_terms_and_health_are_logged(main_run):
    result, recorder, _ = main_run
    logged = [h for h in result.history if "reward/grounded/total" in h]
    assert len(logged) == result.global_step == 3
    keys = set(logged[0])
    for name in ("reward/grounded/format", "reward/grounded/box_iou", "reward/grounded/box_valid",
                 "reward/grounded/accuracy", "reward/textual/format", "reward/textual/consistency",
                 "archive/size", "judge/errors", "judge/latency_s"):
        assert name in keys, name
    # the logged mean is the mean of what the scorer returned for that batch
    _, scores = recorder.batches[0]
    grounded = [s.total for s in scores if s.stream == "grounded"]
    assert logged[0]["reward/grounded/total"] == pytest.approx(sum(grounded) / len(grounded))


@pytest.mark.slow
def test_textual_only_stream_without_consistency_trains_only_textual_rows(tmp_path, primed_model, synthetic_data):
    result, recorder, _ = _run(
        tmp_path, primed_model, synthetic_data, streams=["textual"], use_consistency=False, max_steps=1, save_steps=10
    )
    streams = {r.stream for rollouts, _ in recorder.batches for r in rollouts}
    assert streams == {"textual"}
    assert not any("consistency" in k for h in result.history for k in h)
    assert all(s.total == pytest.approx(s.format + s.accuracy) for _, scores in recorder.batches for s in scores)


@pytest.mark.slow
def test_archive_seeded_from_a_file_supplies_textual_references(tmp_path, primed_model, synthetic_data):
    from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive
    from ivgr.data.prepared import read_prepared

    seed = RolloutArchive()
    think = "the seeded reference reasoning"
    seed.offer_many(
        ArchiveCandidate(sample_id=s.sample_id, entry=ArchiveEntry(think=think, box_iou=0.9, accuracy=1.0, format=1.0, step=0))
        for s in read_prepared(synthetic_data)
    )
    seed.save(tmp_path / "seed.json")
    _, recorder, _ = _run(
        tmp_path, primed_model, synthetic_data, streams=["textual"], archive_path=str(tmp_path / "seed.json"),
        max_steps=1, save_steps=10,
    )
    refs = {s.reference for _, scores in recorder.batches for s in scores if s.reference is not None}
    assert refs == {think}


@pytest.mark.slow
def test_mixed_batches_follow_paired_ratio_and_single_rows_score_format_plus_1_5_accuracy(
    tmp_path, primed_model, synthetic_data
):
    from ivgr.data.prepared import read_prepared, resolve_image, write_prepared

    samples = read_prepared(synthetic_data)
    for sample in samples[-6:]:
        sample.kind = "single"  # e.g. math data: one prompt, no boxes rewarded
    mixed = tmp_path / "mixed"
    write_prepared(mixed, samples, {s.image: resolve_image(synthetic_data, s) for s in samples}, {"frame": "pixel"})
    # 8 rows per step = 4 prompts: int(4 × 0.9) // 2 = 1 pair + 2 singles (docs/method.md#data-mixing)
    _, recorder, _ = _run(tmp_path, primed_model, mixed, per_device_train_batch_size=8, max_steps=2, save_steps=10)
    for rollouts, scores in recorder.batches:
        heads = [(r.sample_id, r.stream) for r in rollouts[::G]]
        assert [s for _, s in heads] == ["grounded", "textual", "single", "single"]
        assert heads[0][0] == heads[1][0]
        for s in scores:
            if s.stream == "single":
                assert s.total == pytest.approx(s.format + 1.5 * s.accuracy) and s.box_iou is None


@pytest.mark.slow
def test_buffered_generation_with_steps_per_generation_keeps_pairs_whole(tmp_path, primed_model, synthetic_data):
    # per-process slice = 2 rows × 2 steps = 4 = 2G: one pair per generation batch, generated every 2 steps
    result, recorder, _ = _run(tmp_path, primed_model, synthetic_data, per_device_train_batch_size=2,
                               steps_per_generation=2, max_steps=4, save_steps=10)
    assert result.global_step == 4 and len(recorder.batches) == 2
    heads = [[(r.sample_id, r.stream) for r in rollouts[::G]] for rollouts, _ in recorder.batches]
    for batch in heads:
        assert [s for _, s in batch] == ["grounded", "textual"] and batch[0][0] == batch[1][0]
    assert heads[0][0][0] != heads[1][0][0]  # the second generation batch is a new question
