"""The demo reports how often the box-free textual reasoning names the target's colour (the P20 metric)."""

from __future__ import annotations

import ivgr.inference
from ivgr.data.prepared import read_prepared
from ivgr.data.synthetic import generate, scenes_of
from ivgr.demo import DemoSettings, _world_cfg, evaluate_model, stated_colour
from ivgr.inference import InferenceResult
from ivgr.parsing import extract_think


def test_stated_colour_is_the_last_colour_word():
    assert stated_colour("the leftmost object at the top is red .") == "red"
    assert stated_colour("the red square is left of the blue one") == "blue"
    assert stated_colour("Red.") == "red"
    assert stated_colour("the leftmost object is reddish") is None
    assert stated_colour(None) is None


def _yes_no_world(tmp_path, n=8):
    settings = DemoSettings.from_dict({"rl_world": {"question_mix": {"colour_check": 1.0}}})
    generate(tmp_path / "test", n=n, seed=0, split="test", cfg=_world_cfg(settings, "test"))
    samples = read_prepared(tmp_path / "test")
    return settings, samples, scenes_of(samples, _world_cfg(settings, "test"))


def _scripted(monkeypatch, textual):
    class ScriptedEngine:
        def __init__(self, *args, **kwargs):
            pass

        def run(self, requests, *, mode):
            texts = textual if mode == "textual" else ["<think>x</think><answer>yes</answer>"] * len(textual)
            return [InferenceResult(mode=mode, completion=t, reasoning=extract_think(t), answer="yes", boxes=[])
                    for t in texts]

    monkeypatch.setattr(ivgr.inference, "InferenceEngine", ScriptedEngine)


def test_reasoning_colour_rate_counts_the_target_colour_not_the_asked_one(tmp_path, monkeypatch):
    settings, samples, scenes = _yes_no_world(tmp_path)
    truth = [sc.objects[sc.targets[0]].colour for sc in scenes]
    other = [next(o.colour for o in sc.objects if o.colour != c) for sc, c in zip(scenes, truth)]
    # Scenes 0-3 name the target's colour (one of them through a box: not box-free), 4-7 another colour.
    textual = [f"<think>the object is {truth[0]} .</think><answer>yes</answer>",
               f"<think>the object is {truth[1]} .</think><answer>no</answer>",
               f"<think>the object is {other[2]} , no : {truth[2]} .</think><answer>no</answer>",
               f"<think>the object <box>[1,2,30,40]</box> is {truth[3]} .</think><answer>yes</answer>",
               *(f"<think>the object is {other[i]} .</think><answer>yes</answer>" for i in range(4, 8))]
    _scripted(monkeypatch, textual)
    metrics = evaluate_model(tmp_path / "no-model", tmp_path / "test", settings)["metrics"]
    assert metrics["textual_reasoning_colour_rate"] == 3 / 8


def test_no_reasoning_colour_rate_when_the_test_split_is_not_the_settings_world(tmp_path, monkeypatch):
    generate(tmp_path / "test", n=4, seed=0, split="test")  # the default WorldConfig, not the demo's test world
    _scripted(monkeypatch, ["<think>the object is red .</think><answer>red</answer>"] * 4)
    metrics = evaluate_model(tmp_path / "no-model", tmp_path / "test", DemoSettings())["metrics"]
    assert "textual_reasoning_colour_rate" not in metrics
