"""The TRL reward adapter: rollouts from TRL inputs, two-phase scoring, candidate exchange, stats."""

from __future__ import annotations

import pytest

from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive
from ivgr.judges import build_judge
from ivgr.rewards import Scorer, ScorerConfig
from ivgr.training.rewards import BatchRewarder, BatchStats, build_rollouts, completion_text

Q, A = "What colour is the square?", "red"


def _row(sid: str, stream: str) -> dict:
    return {"sample_id": sid, "stream": stream, "question": Q, "answer": A, "target_boxes": [[10.0, 10.0, 40.0, 40.0]],
            "datasource": "synthetic"}


def _msg(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _rewarder(gather=None, archive_persistent=True, **scorer_kwargs):
    from ivgr.judges.config import JudgeConfig

    archive = RolloutArchive()
    scorer = Scorer(config=ScorerConfig(**scorer_kwargs), judge=build_judge(JudgeConfig(kind="rules")), archive=archive)
    return BatchRewarder(scorer=scorer, archive=archive, gather_object=gather,
                         archive_persistent=archive_persistent), archive


def test_completion_text_joins_block_content():
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]) == "ab"


def test_rollouts_carry_the_dataset_columns_and_step():
    rollouts = build_rollouts([_row("x", "grounded")], [_msg("<answer>red</answer>")], step=7)
    r = rollouts[0]
    assert (r.sample_id, r.stream, r.answer, r.step, r.completion) == ("x", "grounded", A, 7, "<answer>red</answer>")
    assert r.target_boxes == [(10.0, 10.0, 40.0, 40.0)]


def test_totals_keep_input_order_and_textual_sees_same_batch_grounded_reference():
    rewarder, archive = _rewarder()
    grounded = "<think>the square <box>[10,10,40,40]</box> is red</think><answer>red</answer>"
    inputs = [_row("x", "textual"), _row("x", "grounded"), _row("y", "single")]
    comps = [_msg("<think>it is red</think><answer>red</answer>"), _msg(grounded), _msg("no tags")]
    totals, stats, scores = rewarder.score(build_rollouts(inputs, comps, step=0), step=0)
    assert [s.stream for s in scores] == ["textual", "grounded", "single"]
    assert totals == [s.total for s in scores]
    assert scores[1].total == pytest.approx(4.0)  # format + box_valid + box_iou + accuracy
    assert scores[0].reference == "the square <box>[10,10,40,40]</box> is red"
    assert len(archive) == 1
    assert stats.means()["reward/grounded/box_iou"] == pytest.approx(1.0)
    assert stats.means()["reward/single/total"] == 0.0


@pytest.mark.parametrize("persistent", [True, False])
def test_only_a_persistent_archive_gives_a_reference_from_an_earlier_step(persistent):
    rewarder, archive = _rewarder(archive_persistent=persistent)
    grounded = "<think>the square <box>[10,10,40,40]</box> is red</think><answer>red</answer>"
    rewarder.score(build_rollouts([_row("x", "grounded")], [_msg(grounded)], step=0), step=0)
    assert len(archive) == 1
    textual = build_rollouts([_row("x", "textual"), _row("y", "grounded")],
                             [_msg("<think>it is red</think><answer>red</answer>"), _msg(grounded)], step=1)
    _, _, scores = rewarder.score(textual, step=1)
    # Batch-reference ablation: step 1 sees only step 1's grounded rollouts (sample y), not x's from step 0.
    assert sorted(archive) == (["x", "y"] if persistent else ["y"])
    assert (scores[0].reference is not None) is persistent


def test_candidates_from_other_ranks_reach_this_ranks_textual_rows():
    other = ArchiveCandidate(sample_id="x", entry=ArchiveEntry(think="made on rank one", box_iou=0.8))

    def gather(obj):  # rank 0 of two: rank 1 contributes a candidate (phase 1) and empty stats (phase 2)
        return [obj, [other] if isinstance(obj, list) else BatchStats()]

    rewarder, archive = _rewarder(gather=gather)
    _, _, scores = rewarder.score(build_rollouts([_row("x", "textual")], [_msg("<think>red</think><answer>red</answer>")], step=3), step=3)
    assert scores[0].reference == "made on rank one"
    assert archive.get("x").think == "made on rank one"


def test_stats_merge_sums_counts_and_keeps_the_slowest_wall_time():
    a, b = BatchStats(), BatchStats()
    a.add("reward/textual/total", 1.0)
    b.add("reward/textual/total", 2.0)
    b.add("reward/textual/total", None)  # does not apply: not counted
    a.wall_s, b.wall_s = 0.5, 2.0
    a.judge_calls, a.judge_latency_total_s, b.judge_calls, b.judge_latency_total_s = 2, 1.0, 2, 3.0
    merged = BatchStats.merge([a, b])
    assert merged.means() == {"reward/textual/total": 1.5}
    assert merged.wall_s == 2.0 and merged.judge_latency_s == 1.0


class _CountingJudge:
    """Judge protocol stub that records how many calls were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0

    async def _call(self):
        import asyncio

        from ivgr.judges.base import Verdict

        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return Verdict(score=1.0, source="llm")

    async def accuracy(self, *, question, answer, reference):
        return await self._call()

    async def consistency(self, *, question, reference, candidate):
        return await self._call()


def test_judge_calls_of_a_batch_run_concurrently_not_one_by_one():
    judge = _CountingJudge()
    archive = RolloutArchive()
    rewarder = BatchRewarder(scorer=Scorer(config=ScorerConfig(), judge=judge, archive=archive), archive=archive)
    inputs = [_row(f"s{i}", "textual") for i in range(8)]
    comps = [_msg("<think>red</think><answer>red</answer>")] * 8
    _, stats, _ = rewarder.score(build_rollouts(inputs, comps, step=0), step=0)
    assert judge.max_in_flight == 8  # every accuracy call of the phase awaited together
    assert stats.judge_calls == 8 and stats.judge_errors == 0
