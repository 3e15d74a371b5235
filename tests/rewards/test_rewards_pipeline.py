"""`Scorer.ascore_batch` overlaps the phases of a step and still gives the phased result."""

from __future__ import annotations

import asyncio
import random

from ivgr.archive import RolloutArchive
from ivgr.judges.base import Verdict
from ivgr.rewards import Rollout, Scorer, ScorerConfig


class ShuffledLatencyJudge:
    """Verdicts are a fixed function of the inputs; each call sleeps a random few ms, so calls
    finish in an order unrelated to the order they were asked in."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    async def accuracy(self, *, question: str, answer: str, reference: str) -> Verdict:
        await asyncio.sleep(self.rng.random() * 0.004)
        return Verdict(float(reference in answer), 0, "llm")

    async def consistency(self, *, question: str, reference: str, candidate: str) -> Verdict:
        await asyncio.sleep(self.rng.random() * 0.004)
        return Verdict(1.0 if candidate.split()[-1] in reference else 0.3, 0, "llm")


def step_rows(seed: int) -> list[Rollout]:
    rng = random.Random(seed)
    rows = []
    for q in range(12):
        colour = rng.choice(["red", "blue", "green"])
        for k in range(4):
            said = colour if rng.random() < 0.6 else "pink"
            box = f"<box>[{10 + k},10,60,60]</box>"
            rows.append(Rollout(sample_id=f"q{q}", stream="grounded", question="colour?", answer=colour,
                                target_boxes=[(10, 10, 60, 60)],
                                completion=f"<think>The cup {box} is {said} {k}.</think><answer>{said}</answer>"))
            rows.append(Rollout(sample_id=f"q{q}", stream="textual", question="colour?", answer=colour,
                                completion=f"<think>The cup looks {said}</think><answer>{said}</answer>"))
    rows += [Rollout(sample_id="m0", stream="single", question="2+2?", answer="4",
                     completion="<think>four</think><answer>4</answer>")]
    rows += [Rollout(sample_id="q99", stream="textual", question="colour?", answer="red",  # archived earlier
                     completion="<think>The cup looks red</think><answer>red</answer>")]
    random.Random(seed + 1).shuffle(rows)
    return rows


def phased(rows: list[Rollout], archive: RolloutArchive, seed: int) -> list[dict]:
    scorer = Scorer(config=ScorerConfig(), judge=ShuffledLatencyJudge(seed), archive=archive)
    grounded = [r for r in rows if r.stream == "grounded"]
    rest = [r for r in rows if r.stream != "grounded"]
    g_scores, candidates = scorer.score_grounded(grounded, step=3)
    archive.offer_many(candidates)
    by_id = {id(r): s for r, s in zip(grounded + rest, g_scores + scorer.score_rest(rest, step=3), strict=True)}
    return [by_id[id(r)].to_dict() for r in rows]


def seeded_archive() -> RolloutArchive:
    archive = RolloutArchive()
    scorer = Scorer(config=ScorerConfig(), judge=ShuffledLatencyJudge(0), archive=archive)
    earlier = Rollout(sample_id="q99", stream="grounded", question="colour?", answer="red",
                      target_boxes=[(10, 10, 60, 60)], completion="<think>A red cup <box>[10,10,60,60]</box></think>"
                      "<answer>red</answer>")
    archive.offer_many(scorer.score_grounded([earlier], step=0)[1])
    return archive


def test_overlapped_batch_scores_and_archive_equal_the_phased_ones_whatever_the_call_order():
    for seed in range(5):
        rows = step_rows(seed)
        expected_archive = seeded_archive()
        expected = phased(rows, expected_archive, seed)
        archive = seeded_archive()
        scorer = Scorer(config=ScorerConfig(), judge=ShuffledLatencyJudge(seed + 100), archive=archive)
        got = [s.to_dict() for s in scorer.score_batch(rows, step=3)]
        assert got == expected, seed
        assert archive.state_dict() == expected_archive.state_dict()
        assert any(s["consistency"] == 1.0 for s in got) and any(s["reference"] for s in got)


class GatedJudge:
    """Question q1's grounded accuracy answers only after q0's consistency has been asked."""

    def __init__(self) -> None:
        self.q0_consistency_asked = asyncio.Event()

    async def accuracy(self, *, question: str, answer: str, reference: str) -> Verdict:
        if question == "q1?" and answer.startswith("grounded"):
            await asyncio.wait_for(self.q0_consistency_asked.wait(), timeout=30)  # a guard against a hang
        return Verdict(1.0, 0, "llm")

    async def consistency(self, *, question: str, reference: str, candidate: str) -> Verdict:
        if question == "q0?":
            self.q0_consistency_asked.set()
        return Verdict(1.0, 0, "llm")


def test_a_question_consistency_does_not_wait_for_other_questions_grounded_rollouts():
    rows = []
    for q in ("q0", "q1"):
        rows.append(Rollout(sample_id=q, stream="grounded", question=f"{q}?", answer="x",
                            target_boxes=[(0, 0, 10, 10)],
                            completion="<think>it <box>[0,0,10,10]</box></think><answer>grounded x</answer>"))
        rows.append(Rollout(sample_id=q, stream="textual", question=f"{q}?", answer="x",
                            completion="<think>it</think><answer>textual x</answer>"))
    scorer = Scorer(config=ScorerConfig(), judge=GatedJudge(), archive=RolloutArchive())
    scores = scorer.score_batch(rows, step=0)  # with a phase barrier this would wait for the guard and fail
    assert [s.consistency for s in scores if s.stream == "textual"] == [1.0, 1.0]
