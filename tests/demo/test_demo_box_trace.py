"""The demo's textual accuracy counts only box-free answers, and reports how many carried a box."""

from __future__ import annotations

import ivgr.inference
from ivgr.data.prepared import read_prepared
from ivgr.data.synthetic import generate
from ivgr.demo import DemoSettings, evaluate_model
from ivgr.inference import InferenceResult


def test_a_textual_answer_that_carries_a_box_counts_as_wrong(tmp_path, monkeypatch):
    generate(tmp_path / "test", n=4, seed=0, split="test")
    samples = read_prepared(tmp_path / "test")
    gold = [s.answer for s in samples]
    # Every answer is right; two textual ones reached it through a box, whole or a fragment of one.
    textual = [f"<think>the object is {gold[0]}</think><answer>{gold[0]}</answer>",
               f"<think>the object is4797,797,461,961]</box> {gold[1]}</think><answer>{gold[1]}</answer>",
               f"<think>the object <box>[1,2,30,40]</box> is {gold[2]}</think><answer>{gold[2]}</answer>",
               f"<think>a box of {gold[3]} things</think><answer>{gold[3]}</answer>"]  # the word is no box

    class ScriptedEngine:
        def __init__(self, *args, **kwargs):
            pass

        def run(self, requests, *, mode):
            texts = textual if mode == "textual" else [f"<think>x <box>[1,2,30,40]</box></think><answer>{a}</answer>"
                                                      for a in gold]
            return [InferenceResult(mode=mode, completion=t, reasoning="x", answer=a, boxes=[(1, 2, 30, 40)])
                    for t, a in zip(texts, gold)]

    monkeypatch.setattr(ivgr.inference, "InferenceEngine", ScriptedEngine)
    result = evaluate_model(tmp_path / "no-model", tmp_path / "test", DemoSettings())
    metrics = result["metrics"]
    assert metrics["textual_box_trace_rate"] == 0.5
    assert metrics["textual_accuracy"] == 0.5  # the two box-free answers
    assert metrics["grounded_accuracy"] == 1.0  # the grounded stream's boxes are its job
    assert [o["correct"] for o in result["outputs"]["textual"]] == [True, False, False, True]
