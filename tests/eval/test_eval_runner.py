"""The eval runner: resumable predictions, counted skips, settings recorded (fake engine, fast)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from eval_fixture_builders import write_hrbench, write_vstar

from ivgr.errors import ConfigError, DataError
from ivgr.eval.runner import EvalSettings, predictions_path, read_predictions, run_eval
from ivgr.inference.types import InferenceResult, ToolOptions

ROWS = [{"category": "direct_attributes", "question": f"Q{i}?", "options": ["a", "b", "c", "d"], "label": "AB"[i % 2]}
        for i in range(5)]


class FakeEngine:
    """Answers "A" to everything and remembers which requests it saw."""

    min_pixels, max_pixels, frame, prompt_style = 3136, 50176, "pixel", None

    def __init__(self):
        self.tool = ToolOptions()
        self.seen: list[str] = []

    def run(self, reqs, *, mode):
        self.seen += [r.request_id for r in reqs]
        assert all(hasattr(r.image, "size") for r in reqs)  # decoded by the runner, one batch at a time
        return [InferenceResult(mode=mode, completion="<think>t</think><answer>A</answer>", reasoning="t",
                                answer="A", image_size=r.image.size, model_size=(56, 56)) for r in reqs]


def settings(**kw):
    return EvalSettings(model="tiny", batch_size=2, **kw)


def test_resume_generates_only_the_missing_items_and_scores_all(tmp_path):
    write_vstar(tmp_path / "v", ROWS)
    out = tmp_path / "run" / "results.json"
    first = FakeEngine()
    res = run_eval([("vstar", tmp_path / "v")], settings(limit=3), out, engine=first)
    assert first.seen == ["0", "1", "2"] and res["benchmarks"]["vstar"]["counts"]["items"] == 3
    second = FakeEngine()
    res = run_eval([("vstar", tmp_path / "v")], settings(), out, engine=second)
    assert second.seen == ["3", "4"]
    lines = predictions_path(out).read_text().splitlines()
    assert [json.loads(x)["item_id"] for x in lines] == ["0", "1", "2", "3", "4"]
    # gold A,B,A,B,A and every answer "A" -> 3/5
    assert res["benchmarks"]["vstar"]["scores"]["ivgr"]["headline"] == 60.0
    saved = json.loads(out.read_text())
    assert saved["min_pixels"] == 3136 and saved["max_pixels"] == 50176 and saved["mode"] == "textual"
    assert saved["benchmarks"]["vstar"]["version"] == "1" and saved["profiles"] == ["ivgr", "official", "lmms-eval", "vlmevalkit"]


def test_a_line_cut_by_a_kill_is_dropped_and_regenerated(tmp_path):
    write_vstar(tmp_path / "v", ROWS)
    out = tmp_path / "results.json"
    run_eval([("vstar", tmp_path / "v")], settings(limit=2), out, engine=FakeEngine())
    pred = predictions_path(out)
    pred.write_text(pred.read_text() + '{"benchmark": "vstar", "item_id": "2", "compl')
    again = FakeEngine()
    run_eval([("vstar", tmp_path / "v")], settings(limit=3), out, engine=again)
    assert again.seen == ["2"]
    assert all(json.loads(x) for x in pred.read_text().splitlines())


@pytest.mark.parametrize("bad, what", [("{broken", "invalid JSON"), ("[1, 2]", "expected a JSON object, got list")])
def test_a_corrupt_complete_predictions_line_names_the_file_and_the_line(tmp_path, bad, what):
    pred = tmp_path / "results.predictions.jsonl"
    pred.write_text('{"benchmark": "vstar", "item_id": "0"}\n\n' + bad + "\n")
    with pytest.raises(DataError, match=f"results.predictions.jsonl:3: {re.escape(what)}.*delete the line or the file"):
        read_predictions(pred)


class DraftEngine(FakeEngine):
    """A FakeEngine whose `draft_fit` asks, like InferenceEngine's, for JPEGs decoded to fit 16x12."""

    def __init__(self, jpeg_draft: bool):
        super().__init__()
        self.jpeg_draft = jpeg_draft
        self.decoded: list[tuple[int, int]] = []

    def draft_fit(self, mode):
        return (lambda size: (16, 12)) if self.jpeg_draft else None

    def run(self, reqs, *, mode):
        self.decoded += [r.image.size for r in reqs]
        return super().run(reqs, mode=mode)


@pytest.mark.parametrize(("jpeg_draft", "decoded"), [(False, (64, 48)), (True, (16, 12))])
def test_the_runner_decodes_at_the_engines_draft_size(tmp_path, jpeg_draft, decoded):
    write_vstar(tmp_path / "v", ROWS)  # 64x48 JPEGs
    engine = DraftEngine(jpeg_draft)
    run_eval([("vstar", tmp_path / "v")], settings(limit=2, jpeg_draft=jpeg_draft), tmp_path / "r.json", engine=engine)
    assert engine.decoded == [decoded, decoded]


def test_resuming_with_other_generation_settings_is_refused(tmp_path):
    write_vstar(tmp_path / "v", ROWS)
    out = tmp_path / "results.json"
    run_eval([("vstar", tmp_path / "v")], settings(limit=1), out, engine=FakeEngine())
    # refused even when nothing is left to generate (limit=1 is already complete)
    with pytest.raises(ConfigError, match="different settings .*mode: 'textual' -> 'grounded'"):
        run_eval([("vstar", tmp_path / "v")], settings(mode="grounded", limit=1), out, engine=FakeEngine())
    with pytest.raises(ConfigError, match="max_pixels: 50176 -> 1000000"):
        run_eval([("vstar", tmp_path / "v")], settings(max_pixels=1_000_000, limit=1), out, engine=FakeEngine())


def test_a_run_that_stopped_before_its_first_item_does_not_bind_the_next_ones_settings(tmp_path):
    """The model loaded (settings recorded), then the first image failed: nothing was generated,
    so a rerun with other settings is not refused (it used to be, by the leftover settings file)."""
    bad = base64.b64encode(b"garbage bytes, not a jpeg").decode() * 3
    write_hrbench(tmp_path / "h", "8k", [{"cycle": "c0", "category": "cross", "answer": "B", "image": bad},
                                         {"cycle": "c0", "category": "single", "answer": "A"}])
    out = tmp_path / "r.json"
    with pytest.raises(DataError, match="cannot decode image"):
        run_eval([("hrbench8k", tmp_path / "h")], settings(), out, engine=FakeEngine())
    assert not predictions_path(out).exists()
    res = run_eval([("hrbench8k", tmp_path / "h")], settings(mode="grounded", on_bad_row="skip"), out,
                   engine=FakeEngine())
    assert res["mode"] == "grounded" and res["benchmarks"]["hrbench8k"]["counts"]["skipped"] == 1
    with pytest.raises(ConfigError, match="mode: 'grounded' -> 'textual'"):  # now there is something to mix with
        run_eval([("hrbench8k", tmp_path / "h")], settings(on_bad_row="skip"), out, engine=FakeEngine())


def test_undecodable_image_stops_by_default_and_is_counted_when_skipping(tmp_path):
    bad = base64.b64encode(b"garbage bytes, not a jpeg").decode() * 3
    rows = [{"cycle": "c0", "category": "single", "answer": "A"},
            {"cycle": "c0", "category": "cross", "answer": "B", "image": bad},
            {"cycle": "c1", "category": "single", "answer": "A"}]
    write_hrbench(tmp_path / "h", "8k", rows)
    with pytest.raises(DataError, match=r"hr_bench_8k\.parquet: row 2: cannot decode image.*--on-bad-row skip"):
        run_eval([("hrbench8k", tmp_path / "h")], settings(), tmp_path / "a.json", engine=FakeEngine())
    eng = FakeEngine()
    res = run_eval([("hrbench8k", tmp_path / "h")], settings(on_bad_row="skip"), tmp_path / "b.json", engine=eng)
    counts = res["benchmarks"]["hrbench8k"]["counts"]
    assert eng.seen == ["0", "2"] and counts["items"] == 3 and counts["skipped"] == 1 and counts["scored"] == 2


def test_judge_is_asked_only_for_unparseable_answers_and_counted(tmp_path):
    from ivgr.judges import JudgeConfig

    class Mumbling(FakeEngine):
        def run(self, reqs, *, mode):
            out = super().run(reqs, mode=mode)
            for i, r in enumerate(out):
                if (len(self.seen) - len(out) + i) % 2:  # every second item: no option named
                    r.completion = "<think>t</think><answer>hard to say</answer>"
            return out

    write_vstar(tmp_path / "v", ROWS)
    res = run_eval([("vstar", tmp_path / "v")], settings(judge=JudgeConfig(kind="rules")), tmp_path / "r.json",
                   engine=Mumbling())
    preds = [json.loads(x) for x in predictions_path(tmp_path / "r.json").read_text().splitlines()]
    assert [p["judge"] is not None for p in preds] == [False, True, False, True, False]
    assert all(p["judge"]["source"] == "rules" for p in preds if p["judge"])
    counts = res["benchmarks"]["vstar"]["counts"]
    assert counts["unparsed"] == 2 and counts["judge_used"] == 2
    assert res["benchmarks"]["vstar"]["scores"]["vlmevalkit"].get("judge_used") is None  # ivgr profile only


class BoxLeakingEngine(FakeEngine):
    """Answers "A"; every other textual completion carries a box fragment."""

    def run(self, reqs, *, mode):
        texts = ["<think>the cup is4797,797,461,961]</box> a</think><answer>A</answer>",
                 "<think>the cup is a</think><answer>A</answer>"]
        return [InferenceResult(mode=mode, completion=texts[int(r.request_id) % 2], reasoning="t", answer="A",
                                image_size=r.image.size, model_size=(56, 56)) for r in reqs]


def test_textual_answers_that_carry_a_box_are_counted_and_still_scored(tmp_path):
    write_vstar(tmp_path / "v", ROWS)
    res = run_eval([("vstar", tmp_path / "v")], settings(), tmp_path / "run" / "results.json", engine=BoxLeakingEngine())
    vstar = res["benchmarks"]["vstar"]
    assert vstar["counts"]["textual_box_trace"] == 3  # items 0, 2, 4
    assert vstar["scores"]["ivgr"]["headline"] == 60.0  # scored like any answer (the paper's textual mode)
