"""Demo stages: the split worlds, and a cold start that stops once the grounded stream reads the image."""

from __future__ import annotations

import json

import pytest

import ivgr.demo as demo
from ivgr.data.prepared import read_prepared
from ivgr.demo import DemoSettings, make_base, make_world, run_sft_stage
from ivgr.errors import ConfigError
from ivgr.report import write_report


def _settings(**over) -> DemoSettings:
    settings = DemoSettings.quick()
    settings.sft["max_steps"] = 8
    for key, value in over.items():
        setattr(settings, key, value)
    return settings


def _world_and_base(out, settings):
    make_world(out, settings)
    return make_base(out, settings)


def test_rl_and_test_scenes_use_the_rl_world_and_sft_scenes_the_base_world(tmp_path):
    settings = DemoSettings.from_dict({"sft_scenes": 24, "rl_scenes": 24, "val_scenes": 12, "test_scenes": 24})
    make_world(tmp_path, settings)

    def samples(split):
        return read_prepared(tmp_path / "data" / split)

    def largest_side(split):  # in pixels of the 128-px canvas (boxes are stored in norm1000)
        return [max(b[2] - b[0], b[3] - b[1]) for s in samples(split) for b in demo.pixel_targets(s)]

    def repeats_a_colour(sample):
        colours = [o["colour"] for o in sample.meta["objects"]]
        return len(set(colours)) < len(colours)

    assert {s.frame for split in ("sft", "rl", "test") for s in samples(split)} == {"norm1000"}
    for split in ("sft", "val"):  # 18-28 px objects (a triangle's painted box may lose a pixel)
        assert min(largest_side(split)) >= 16, split
    for split in ("rl", "test"):  # 14-22 px, and every object its own colour
        assert max(largest_side(split)) <= 22.1, split  # norm1000 integers round by < 0.07 px
        assert not any(repeats_a_colour(s) for s in samples(split)), split
    assert any(repeats_a_colour(s) for s in samples("sft"))


def test_constant_box_baseline_finds_the_best_single_box(tmp_path):
    settings = DemoSettings.from_dict({"test_scenes": 40})
    make_world(tmp_path, settings)
    test = read_prepared(tmp_path / "data" / "test")
    best = demo.constant_box_baseline(test)
    assert 0.0 < best["box_iou"] < 0.2  # no single box fits targets spread over 16 cells
    from ivgr.rewards.terms import box_iou_reward

    def mean_reward(box):
        return sum(box_iou_reward([tuple(box)], demo.pixel_targets(s)) for s in test) / len(test)

    assert mean_reward(best["box"]) == pytest.approx(best["box_iou"])
    for other in ([0, 0, 128, 128], [48, 48, 80, 80], [4, 4, 28, 28]):  # canvas, centre cell, a corner cell
        assert mean_reward(other) <= best["box_iou"] + 1e-9


@pytest.mark.slow
def test_cold_start_stops_at_the_first_check_over_the_threshold(tmp_path, monkeypatch):
    settings = _settings(sft_stop_grounded_accuracy=0.5, sft_stop_box_iou=0.5, sft_check_every=2)
    base = _world_and_base(tmp_path, settings)
    seen = []

    def fake_evaluate(model_path, split_dir, settings_, modes=demo.MODES):
        # The check evaluates a loadable snapshot of the live model on the validation split only.
        assert (model_path / "config.json").is_file() and (model_path / "preprocessor_config.json").is_file()
        seen.append((split_dir.name, modes))
        # reads but boxes loosely, then boxes well but reads poorly, then both: the stop needs both bars
        return {"metrics": {"grounded_accuracy": [0.6, 0.1, 0.7, 1.0][len(seen) - 1],
                            "grounded_box_iou": [0.2, 0.9, 0.55, 1.0][len(seen) - 1]}}

    monkeypatch.setattr(demo, "evaluate_model", fake_evaluate)
    final = run_sft_stage(tmp_path, settings, base)

    assert seen == [("val", ("grounded",))] * 3
    checks = json.loads((tmp_path / "sft" / "checks.json").read_text())
    assert checks["stopped_at_step"] == 6 and [c["step"] for c in checks["checks"]] == [2, 4, 6]
    trained = [row["step"] for row in json.loads((tmp_path / "sft" / "log_history.json").read_text())]
    assert max(trained) == 6  # training really ended at the stop, not at max_steps 8
    assert (final / "model.safetensors").is_file() and not (tmp_path / "sft" / "check").exists()
    assert demo._sft_steps(tmp_path, settings) == {
        "steps": 6, "stopped_early": True, "stop_threshold": 0.5, "stop_box_iou": 0.5,
        "validation_checks": [[2, 0.6, 0.2], [4, 0.1, 0.9], [6, 0.7, 0.55]]}


@pytest.mark.slow
def test_unreached_threshold_runs_every_step_with_real_checks(tmp_path):
    settings = _settings(sft_stop_grounded_accuracy=1.0, sft_check_every=3)
    base = _world_and_base(tmp_path, settings)
    run_sft_stage(tmp_path, settings, base)

    checks = json.loads((tmp_path / "sft" / "checks.json").read_text())
    assert not any(c["stop"] for c in checks["checks"]), f"an 8-step model read every validation scene: {checks}"
    assert checks["stopped_at_step"] is None and [c["step"] for c in checks["checks"]] == [3, 6]
    assert all(0.0 <= c["grounded_accuracy"] <= 1.0 for c in checks["checks"])
    assert demo._sft_steps(tmp_path, settings)["steps"] == 8


@pytest.mark.parametrize("over, message", [
    ({"sft_stop_grounded_accuracy": 0.0}, "sft_stop_grounded_accuracy"),
    ({"sft_stop_grounded_accuracy": 1.5}, "sft_stop_grounded_accuracy"),
    ({"sft_stop_box_iou": 0.0}, "sft_stop_box_iou"),
    ({"sft_stop_box_iou": 1.5}, "sft_stop_box_iou"),
    ({"sft_check_every": 0}, "sft_check_every"),
    ({"val_scenes": 2}, "val_scenes"),
])
def test_bad_stop_settings_are_config_errors(over, message):
    with pytest.raises(ConfigError, match=message):
        DemoSettings.from_dict(over)


def test_report_says_when_the_cold_start_stopped(tmp_path):
    from test_demo_report import _fake_run  # pytest's default import mode puts this folder on sys.path

    metrics, histories, evals = _fake_run(tmp_path, n=1)
    metrics["sft"] = {**metrics["sft"], "steps": 450, "stopped_early": True, "stop_threshold": 0.9, "stop_box_iou": 0.5,
                      "validation_checks": [[425, 0.7, 0.6], [450, 0.93, 0.52]]}
    page = write_report(tmp_path / "r.html", metrics=metrics, histories=histories, evals=evals,
                        test_dir=tmp_path / "test", n_examples=1).read_text()
    assert "stopped after 450 SFT steps" in page and "0.93 of the validation scenes" in page
    assert "box IoU 0.52 (threshold 0.50)" in page


@pytest.mark.parametrize("variant, streams, batch", [
    ("ivgr", ["grounded", "textual"], 64), ("no_consistency", ["grounded", "textual"], 64),
    ("textual_only", ["textual"], 32), ("grounded_only", ["grounded"], 32)])
def test_every_variant_sees_the_same_questions_per_step(tmp_path, monkeypatch, variant, streams, batch):
    """A one-stream variant gets half the rollouts: textual_only trains on as many textual rollouts as iVGR."""
    import types

    import ivgr.training.config as config_module
    import ivgr.training.train as train_module

    seen = {}
    monkeypatch.setattr(config_module, "config_from_dict", lambda values, source: seen.setdefault("values", values))
    monkeypatch.setattr(train_module, "train", lambda cfg, callbacks=(): types.SimpleNamespace(
        checkpoint=tmp_path / "final", history=[], archive=None, global_step=0))
    settings = DemoSettings()
    (tmp_path / "rl" / variant).mkdir(parents=True)  # train() makes it in a real run
    demo.run_rl_stage(tmp_path, settings, tmp_path / "sft", variant)
    values = seen["values"]
    assert values["streams"] == streams and values["per_device_train_batch_size"] == batch
    questions_per_step = batch // len(streams) // values["num_generations"]
    assert questions_per_step == settings.rl["per_device_train_batch_size"] // 2 // settings.rl["num_generations"]
