"""The batch scorer (ivgr.rewards.scorer) with a small deterministic fake judge."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass

import pytest

from ivgr.archive import RolloutArchive
from ivgr.rewards import Rollout, Scorer, ScorerConfig


@dataclass
class FakeVerdict:
    score: float
    errors: int = 0
    source: str = "rules"


class FakeJudge:
    """Accuracy: case-insensitive equality. Consistency: 1.0 if the candidate's words are in the
    reference, else 0.3. Records every call and the peak number of calls in flight."""

    def __init__(self, *, fail_accuracy: bool = False, fail_consistency: bool = False,
                 consistency_score: float | None = None, delay: float = 0.0):
        self.calls: list[tuple[str, dict]] = []
        self.fail_accuracy = fail_accuracy
        self.fail_consistency = fail_consistency
        self.consistency_score = consistency_score
        self.delay = delay
        self.in_flight = 0
        self.peak = 0

    async def _enter(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1

    async def accuracy(self, *, question: str, answer: str, reference: str) -> FakeVerdict:
        self.calls.append(("accuracy", {"question": question, "answer": answer, "reference": reference}))
        await self._enter()
        if self.fail_accuracy:
            raise ConnectionError("judge endpoint down")
        return FakeVerdict(float(answer.strip().lower() == reference.strip().lower()))

    async def consistency(self, *, question: str, reference: str, candidate: str) -> FakeVerdict:
        self.calls.append(("consistency", {"question": question, "reference": reference, "candidate": candidate}))
        await self._enter()
        if self.fail_consistency:
            raise ConnectionError("judge endpoint down")
        if self.consistency_score is not None:
            return FakeVerdict(self.consistency_score)
        ok = set(candidate.lower().split()) <= set(reference.lower().split())
        return FakeVerdict(1.0 if ok else 0.3, source="llm")


def grounded(sid: str, answer: str, box: str, *, think: str = "the cup", step: int = 0) -> Rollout:
    completion = f"<think>{think} <box>{box}</box></think><answer>{answer}</answer>"
    return Rollout(sid, "grounded", "<image>\nWhat colour is the cup?", "red", completion, [(0, 0, 10, 10)], step=step)


def textual(sid: str, think: str = "the cup", answer: str = "red") -> Rollout:
    return Rollout(sid, "textual", "What colour is the cup?", "red", f"<think>{think}</think><answer>{answer}</answer>")


def make(judge=None, **cfg) -> tuple[Scorer, FakeJudge, RolloutArchive]:
    judge = judge or FakeJudge()
    archive = RolloutArchive()
    return Scorer(config=ScorerConfig(**cfg), judge=judge, archive=archive), judge, archive


def test_grounded_row_gets_all_four_terms_and_their_sum():
    scorer, judge, _ = make()
    [s] = scorer.score_batch([grounded("q", "Red", "[0,0,10,5]")], step=0)
    assert (s.format, s.accuracy, s.box_valid) == (1.0, 1.0, 1.0)
    assert s.box_iou == pytest.approx(0.5)  # IoU 0.5 both ways
    assert s.total == pytest.approx(3.5)
    assert s.consistency is None and s.reference is None and s.judge_errors == 0
    # The judge sees the question without the image placeholder.
    assert judge.calls == [("accuracy", {"question": "What colour is the cup?", "answer": "Red", "reference": "red"})]


def test_textual_row_is_compared_with_the_best_grounded_rollout_of_the_same_step():
    scorer, judge, archive = make()
    rows = [
        textual("q", think="the cup"),  # textual first in the input: still scored after the archive update
        grounded("q", "red", "[0,0,10,5]", think="the cup weak"),
        grounded("q", "red", "[0,0,10,10]", think="the cup"),
        grounded("q", "blue", "[0,0,10,10]", think="wrong answer"),  # perfect box, wrong answer
    ]
    scores = scorer.score_batch(rows, step=0)
    assert [s.stream for s in scores] == ["textual", "grounded", "grounded", "grounded"]  # input order
    assert scores[0].reference == "the cup <box>[0,0,10,10]</box>"
    assert scores[0].consistency == 1.0 and scores[0].total == 3.0
    assert archive.get("q").box_iou == 1.0 and archive.get("q").step == 0


def test_textual_row_sees_a_reference_archived_at_an_earlier_step():
    scorer, judge, archive = make()
    scorer.score_batch([grounded("q", "red", "[0,0,10,10]", think="a red cup")], step=0)
    [t] = scorer.score_batch([textual("q", think="a red cup on a table")], step=1)
    assert t.reference == "a red cup <box>[0,0,10,10]</box>"
    assert t.consistency == 0.3  # extra words -> the fake judge's 0.3
    assert archive.get("q").step == 0


def test_textual_row_without_archive_entry_gets_zero_consistency_and_no_judge_call():
    scorer, judge, _ = make()
    [t] = scorer.score_batch([textual("q")], step=0)
    assert t.consistency == 0.0 and t.reference is None
    assert [name for name, _ in judge.calls] == ["accuracy"]


def test_textual_row_without_think_gets_zero_consistency_and_no_judge_call():
    scorer, judge, _ = make()
    scorer.score_batch([grounded("q", "red", "[0,0,10,10]")], step=0)
    judge.calls.clear()
    no_think = Rollout("q", "textual", "Q", "red", "<answer>red</answer>")
    [t] = scorer.score_batch([no_think], step=1)
    assert t.consistency == 0.0 and t.reference is None and t.format == 0.0
    assert [name for name, _ in judge.calls] == ["accuracy"]


@pytest.mark.parametrize("think", [
    "the cup <box>[0,0,10,10]</box> is red",  # a whole box
    "the cup is4797,797,461,961]</box> red",  # a fragment no box parser reads (seen in ivgr demo)
    "the cup at [0, 0, 10, 10] is red",  # a bare coordinate list
])
def test_textual_row_that_carries_a_box_scores_zero_with_its_terms_reported(think):
    scorer, _, _ = make()
    scorer.score_batch([grounded("q", "red", "[0,0,10,10]", think="the cup is red")], step=0)
    [t] = scorer.score_batch([textual("q", think=think)], step=1)
    assert (t.format, t.accuracy, t.box_free) == (1.0, 1.0, 0.0) and t.consistency is not None
    assert t.total == 0.0
    [clean] = scorer.score_batch([textual("q", think="the cup is red")], step=1)
    assert clean.box_free == 1.0 and clean.total == 3.0
    assert scorer.metrics([t, clean])["reward/textual/box_free"] == 0.5
    assert "box_free" not in t.to_dict()  # `ivgr score`'s output keys are a contract; the total shows it


def test_textual_box_free_off_restores_the_authors_total():
    scorer, _, _ = make(textual_box_free=False)
    [t] = scorer.score_batch([textual("q", think="the cup is4797,797,461,961]</box> red")], step=0)
    assert t.box_free is None and t.total == 2.0  # format + accuracy; no reference yet
    [g] = make()[0].score_batch([grounded("q", "red", "[0,0,10,10]")], step=0)
    assert g.box_free is None  # grounded rollouts carry boxes by design


def test_zero_consistency_weight_skips_the_consistency_judge_call():
    # Issue 12.7: the "w/o consistency" ablation (use_consistency: false -> weight 0) still
    # paid for one consistency call per textual rollout.
    for weight, expected_calls in ((1.0, ["accuracy", "consistency"]), (0.0, ["accuracy"])):
        scorer, judge, _ = make(textual_consistency_weight=weight)
        scorer.score_batch([grounded("q", "red", "[0,0,10,10]")], step=0)
        judge.calls.clear()
        [t] = scorer.score_batch([textual("q")], step=1)
        assert sorted(name for name, _ in judge.calls) == expected_calls
        assert t.reference is not None  # the archive had a reference: only the weight differs
        assert t.consistency == (1.0 if weight else None) and t.total == 2.0 + weight


@pytest.mark.parametrize(
    ("row", "qualifies"),
    [
        (grounded("q", "red", "[0,0,10,10]"), True),
        (grounded("q", "blue", "[0,0,10,10]"), False),  # wrong answer
        (grounded("q", "red", "[0,0,10,2]"), False),  # box IoU 0.2 < 0.3
        (Rollout("q", "grounded", "Q", "red", "x<think>t <box>[0,0,10,10]</box></think><answer>red</answer>",
                 [(0, 0, 10, 10)]), False),  # format 0 (text before <think>)
        (Rollout("q", "grounded", "Q", "red", "<think>t <box>[0,0,10,10]</box></think><answer>red</answer>"),
         False),  # no target boxes: box_iou does not apply
    ],
)
def test_only_correct_well_formatted_well_localised_rollouts_enter_the_archive(row, qualifies):
    scorer, _, archive = make()
    scorer.score_batch([row], step=0)
    assert ("q" in archive) is qualifies


def test_authors_archive_rule_ignores_format():
    scorer, _, archive = make(archive_require_format=False)
    row = Rollout("q", "grounded", "Q", "red", "x<think>t <box>[0,0,10,10]</box></think><answer>red</answer>",
                  [(0, 0, 10, 10)])
    scorer.score_batch([row], step=0)
    assert "q" in archive


def test_grounded_row_without_target_boxes_reports_box_terms_as_not_applicable():
    scorer, _, _ = make()
    row = Rollout("q", "grounded", "Q", "red", "<think>t <box>[0,0,10,10]</box></think><answer>red</answer>")
    [s] = scorer.score_batch([row], step=0)
    assert s.box_valid is None and s.box_iou is None and s.total == 2.0


def test_single_row_weights_accuracy_by_one_and_a_half():
    scorer, _, _ = make()
    [s] = scorer.score_batch([Rollout("m", "single", "2+2?", "4", "<think>sum</think><answer>4</answer>")], step=0)
    assert (s.format, s.accuracy, s.total) == (1.0, 1.0, 2.5)
    assert s.box_iou is None and s.consistency is None


def test_failing_judge_gives_fallback_and_counts_errors_without_raising():
    scorer, _, archive = make(FakeJudge(fail_accuracy=True))
    scores = scorer.score_batch([grounded("q", "red", "[0,0,10,10]"), textual("q")], step=0)
    assert [s.accuracy for s in scores] == [0.0, 0.0]
    assert [s.judge_errors for s in scores] == [1, 1]
    assert len(archive) == 0  # accuracy 0 from a fallback never makes a reference
    assert scorer.metrics(scores)["judge/errors"] == 2.0


def test_each_failing_term_gets_its_own_configured_fallback():
    scorer, _, _ = make(FakeJudge(fail_consistency=True), consistency_fallback=0.7, accuracy_fallback=0.2)
    scorer.score_batch([grounded("q", "red", "[0,0,10,10]")], step=0)
    [t] = scorer.score_batch([textual("q")], step=1)
    assert (t.accuracy, t.consistency, t.judge_errors) == (1.0, 0.7, 1)
    scorer, _, _ = make(FakeJudge(fail_accuracy=True), consistency_fallback=0.7, accuracy_fallback=0.2)
    [s] = scorer.score_batch([Rollout("m", "single", "Q", "red", "<think>t</think><answer>red</answer>")], step=0)
    assert (s.accuracy, s.judge_errors) == (0.2, 1)


@pytest.mark.parametrize(("zero_iou", "box_iou"), [(False, 1.0), (True, 0.0)])
def test_duplicate_boxes_zero_box_iou_only_when_configured(zero_iou, box_iou):
    scorer, _, _ = make(box_duplicates_zero_iou=zero_iou)
    completion = "<think>the cup <box>[0,0,10,10]</box> again <box>[0,0,10,10]</box></think><answer>red</answer>"
    [s] = scorer.score_batch([Rollout("q", "grounded", "Q", "red", completion, [(0, 0, 10, 10)])], step=0)
    assert (s.box_valid, s.box_iou) == (0.0, box_iou)  # duplicates always cost box_valid


@pytest.mark.parametrize(("mode", "judged_answer"), [("tags", "1 / 2"), ("authors", "1/2")])
def test_normalize_mode_decides_what_the_judge_reads(mode, judged_answer):
    scorer, judge, _ = make(normalize_mode=mode)
    row = Rollout("m", "single", "Half?", "1/2", "<think> a / b </think>\n<answer> 1 / 2 </answer>")
    [s] = scorer.score_batch([row], step=0)
    assert judge.calls[0][1]["answer"] == judged_answer
    assert s.accuracy == float(judged_answer == "1/2") and s.format == 1.0


def test_out_of_range_judge_score_is_an_error_with_fallback():
    scorer, _, _ = make(FakeJudge(consistency_score=2.0))
    scorer.score_batch([grounded("q", "red", "[0,0,10,10]")], step=0)
    [t] = scorer.score_batch([textual("q")], step=1)
    assert t.consistency == 0.0 and t.judge_errors == 1


def test_overlong_or_missing_answer_scores_zero_without_a_judge_call():
    scorer, judge, _ = make(max_answer_chars=5)
    rows = [
        Rollout("a", "single", "Q", "red", "<think>t</think><answer>reddish red</answer>"),
        Rollout("b", "single", "Q", "red", "<think>t</think>"),
    ]
    assert [s.accuracy for s in scorer.score_batch(rows, step=0)] == [0.0, 0.0]
    assert judge.calls == []


def test_judge_calls_of_a_batch_run_concurrently():
    judge = FakeJudge(delay=0.01)
    scorer, _, _ = make(judge)
    rows = [Rollout(str(i), "single", "Q", "a", "<think>t</think><answer>a</answer>") for i in range(50)]
    scorer.score_batch(rows, step=0)
    assert judge.peak == 50


def test_async_api_works_inside_a_running_loop():
    scorer, _, _ = make()

    async def main():
        return await scorer.ascore_batch([textual("q")], step=0)

    [t] = asyncio.run(main())
    assert t.accuracy == 1.0


def test_two_phase_api_matches_score_batch():
    rows = [grounded("q", "red", "[0,0,10,10]"), textual("q"), grounded("r", "red", "[0,0,10,8]"), textual("r")]
    one, _, arch_one = make()
    expected = one.score_batch(rows, step=0)
    two, _, arch_two = make()
    g_scores, candidates = two.score_grounded([r for r in rows if r.stream == "grounded"], step=0)
    assert len(arch_two) == 0  # phase 1 leaves the archive alone
    arch_two.offer_many(candidates)
    rest = two.score_rest([r for r in rows if r.stream != "grounded"], step=0)
    assert [g_scores[0], rest[0], g_scores[1], rest[1]] == expected


def test_phase_methods_reject_rows_of_the_other_phase():
    scorer, _, _ = make()
    with pytest.raises(ValueError, match="grounded"):
        scorer.score_grounded([textual("q")], step=0)


def test_metrics_are_namespaced_per_stream_and_term():
    scorer, _, _ = make()
    scores = scorer.score_batch(
        [grounded("q", "red", "[0,0,10,10]"), grounded("q", "blue", "[0,0,10,5]"), textual("q"), textual("x")], step=0
    )
    m = scorer.metrics(scores)
    assert m["reward/grounded/accuracy"] == 0.5
    assert m["reward/grounded/box_iou"] == pytest.approx(0.75)
    assert m["reward/textual/consistency"] == 0.5  # one with reference (1.0), one without (0.0)
    assert m["reward/textual/consistency_judged"] == 1.0
    assert m["reward/textual/has_reference"] == 0.5
    assert m["archive/size"] == 1.0 and m["judge/errors"] == 0.0
    assert m["judge/calls"] == 5.0  # 4 accuracy + 1 consistency
    assert "judge/endpoint_calls" not in m  # the fake judge keeps no endpoint counters
    scorer.reset_counters()
    assert scorer.metrics([])["judge/calls"] == 0.0
    assert "reward/single/total" not in m


def test_hostile_completion_is_scored_without_error():
    scorer, _, _ = make()
    huge = "<think>" + "a <box>[1, 2, 3, 4]</box> " * 10_000 + "</think><answer>red</answer>"
    [s] = scorer.score_batch([Rollout("q", "grounded", "Q", "red", huge, [(1, 2, 3, 4)])], step=0)
    assert s.box_valid == 0.0  # duplicates
    assert s.box_iou == 1.0 and s.format == 1.0


def test_scoring_modules_import_without_the_training_stack():
    code = (
        "import sys, ivgr.rewards, ivgr.archive, ivgr.parsing, ivgr.geometry, ivgr.prompts; "
        "assert not {'torch', 'trl', 'transformers'} & set(sys.modules), sorted(set(sys.modules) & {'torch', 'trl', 'transformers'})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_doctests_of_the_scoring_modules_pass():
    import doctest

    import ivgr.archive
    import ivgr.geometry
    import ivgr.parsing
    import ivgr.prompts.streams
    import ivgr.rewards.terms

    for module in (ivgr.geometry, ivgr.parsing, ivgr.prompts.streams, ivgr.rewards.terms, ivgr.archive):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_metrics_report_endpoint_calls_from_a_judge_that_counts_them():
    from ivgr.judges.base import JudgeStats

    class CountingJudge(FakeJudge):
        def __init__(self):
            super().__init__()
            self.counter = JudgeStats()

        def stats(self):
            return JudgeStats(calls=self.counter.calls)

        async def accuracy(self, **kw):
            self.counter.calls += 2  # e.g. one retry
            return await super().accuracy(**kw)

    scorer, _, _ = make(CountingJudge())
    scorer.score_batch([textual("q")], step=0)
    assert scorer.metrics([])["judge/endpoint_calls"] == 2.0
    scorer.reset_counters()
    assert scorer.metrics([])["judge/endpoint_calls"] == 0.0
