"""The lmms-eval plugin imports lazily and drives the engine through lmms-eval's request shape."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from ivgr.inference.types import InferenceResult


def test_module_imports_without_lmms_eval_and_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lmms_eval", None)  # behaves as "not installed"
    mod = importlib.reload(importlib.import_module("ivgr.eval.adapters.lmms_eval"))
    with pytest.raises(ImportError, match="pip install lmms-eval"):
        mod.IvgrLmmsModel


def test_generate_until_returns_answer_content_for_each_request(monkeypatch):
    # A minimal stand-in for lmms_eval.api.model: the plugin only needs the `lmms` base class.
    api = types.ModuleType("lmms_eval.api.model")
    api.lmms = type("lmms", (), {"__init__": lambda self: None})
    for name, mod in {"lmms_eval": types.ModuleType("lmms_eval"), "lmms_eval.api": types.ModuleType("lmms_eval.api"),
                      "lmms_eval.api.model": api}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    adapter = importlib.reload(importlib.import_module("ivgr.eval.adapters.lmms_eval"))

    class Engine:
        def run(self, reqs, *, mode):
            self.reqs, self.mode = reqs, mode
            return [InferenceResult(mode=mode, completion=f"<think>t</think><answer>{r.question[-1]}</answer>",
                                    reasoning="t", answer=r.question[-1]) for r in reqs]

    engine = Engine()
    model = adapter.IvgrLmmsModel(pretrained="unused", mode="grounded", engine=engine)
    model.task_dict = {"vstar_bench": {"test": {0: {"img": "I0"}, 1: {"img": "I1"}}}}
    req = types.SimpleNamespace
    requests = [req(args=(f"question {c}", {}, lambda doc: [doc["img"]], i, "vstar_bench", "test"))
                for i, c in enumerate("AB")]
    assert model.generate_until(requests) == ["A", "B"]
    assert engine.mode == "grounded" and [r.image for r in engine.reqs] == ["I0", "I1"]
    raw = adapter.IvgrLmmsModel(pretrained="unused", engine=engine, answer_only="false")
    raw.task_dict = model.task_dict
    assert raw.generate_until(requests[:1]) == ["<think>t</think><answer>A</answer>"]
