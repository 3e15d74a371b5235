"""The HTML report is self-contained: inline PNGs, the accuracy table, no external URL."""

from __future__ import annotations

import re

from ivgr.data.prepared import read_prepared
from ivgr.data.synthetic import generate
from ivgr.demo import DemoSettings, load_settings, normalise_answer
from ivgr.report import write_report


def _fake_run(tmp_path, n=3):
    """Metrics, histories and eval outputs shaped like a real run's (no model needed)."""
    generate(tmp_path / "test", n=n, seed=0, split="test")
    samples = read_prepared(tmp_path / "test")
    model = {"textual_accuracy": 0.5, "grounded_accuracy": 0.4, "grounded_box_iou": 0.3, "format_rate": 0.9}
    metrics = {"chance_accuracy": 0.31, "sft": model, "ivgr": model, "ablations": {"no_consistency": model},
               "test_questions": {"colour": n}, "wall_s": {"sft": 1.0, "total": 2.0}}
    history = [{"step": s, "reward/grounded/total": 0.1 * s, "reward/textual/total": 0.2 * s, "archive/size": s}
               for s in range(1, 5)]
    outputs = {mode: [{"sample_id": s.sample_id, "completion": f"<think>the {mode} & <b>x</b></think><answer>red</answer>",
                       "answer": "red", "boxes": [list(s.target_boxes[0])], "correct": True} for s in samples]
               for mode in ("textual", "grounded")}
    evals = {"sft": {"metrics": model, "outputs": outputs}, "ivgr": {"metrics": model, "outputs": outputs}}
    return metrics, {"ivgr": history, "no_consistency": history}, evals


def test_report_inlines_every_image_and_has_the_table(tmp_path):
    metrics, histories, evals = _fake_run(tmp_path, n=3)
    page = write_report(tmp_path / "report.html", metrics=metrics, histories=histories, evals=evals,
                        test_dir=tmp_path / "test", n_examples=3).read_text()
    srcs = re.findall(r"<img[^>]*src='([^']*)'", page)
    assert len(srcs) == 2 + 3  # reward curves, archive growth, one per example scene
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table" in page and page.count("<tr>") == 1 + 1 + 3  # header, chance, sft/ivgr/ablation
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)


def test_report_escapes_model_output(tmp_path):
    metrics, histories, evals = _fake_run(tmp_path, n=1)
    page = write_report(tmp_path / "r.html", metrics=metrics, histories=histories, evals=evals,
                        test_dir=tmp_path / "test", n_examples=1).read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_answer_normalisation_ignores_case_and_punctuation():
    assert normalise_answer(" Red.") == normalise_answer("red") == "red"
    assert normalise_answer(None) == "" != normalise_answer("blue")


def test_shipped_yaml_is_the_built_in_defaults():
    from ivgr.demo import DEFAULTS

    assert load_settings(DEFAULTS) == load_settings(None) == DemoSettings()


def test_full_runs_every_ablation_and_seed_overrides():
    settings = load_settings(None, full=True, seed=5)
    assert settings.variants == ["ivgr", "no_consistency", "textual_only", "no_archive", "grounded_only"] and settings.seed == 5


def test_unknown_demo_setting_is_one_clear_config_error(tmp_path):
    import pytest

    from ivgr.errors import ConfigError

    bad = tmp_path / "demo.yaml"
    bad.write_text("sft_scene: 10\n")
    with pytest.raises(ConfigError, match="unknown key 'sft_scene'; did you mean 'sft_scenes'"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="variants"):
        DemoSettings(variants=["no_consistency"])
    bad.write_text("prompt_style: tiny\n")
    with pytest.raises(ConfigError, match="prompt style.*compact"):
        load_settings(bad)


def test_demo_command_module_and_report_import_no_heavy_stack():
    import subprocess
    import sys

    code = ("import sys, ivgr.demo, ivgr.report, ivgr.commands.demo_cmd; "
            "assert not {'torch', 'transformers', 'trl', 'matplotlib'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
