"""The scorer's CPU savings (issue 14) keep its behaviour: one normalisation per row, the GC pause.

The reward values themselves are held by `test_rewards_golden.py`.
"""

from __future__ import annotations

import asyncio
import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from ivgr.archive import RolloutArchive
from ivgr.judges.rules import RulesJudge
from ivgr.parsing import format_ok, format_ok_normalized, normalize_tags
from ivgr.rewards import Rollout, Scorer, ScorerConfig
from ivgr.rewards.scorer import gc_paused

TOKENS = list("ab <>/[],.0123\n\t\u00a0") + ["<think>", "</think>", "<answer>", "</answer>", "<box>", "</box>", "x/y"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=50).map("".join), st.sampled_from(["tags", "authors"]))
def test_the_format_check_on_normalised_text_equals_format_ok(text, mode):
    normalized = normalize_tags(text, mode=mode)
    assert normalize_tags(normalized, mode=mode) == normalized  # idempotent in both modes
    assert format_ok_normalized(normalized) is format_ok(text, mode=mode)


def test_gc_is_paused_while_a_step_is_scored_and_restored_after():
    seen = []

    class Spy(RulesJudge):
        async def accuracy(self, **kwargs):
            seen.append(gc.isenabled())
            return await super().accuracy(**kwargs)

    scorer = Scorer(config=ScorerConfig(), judge=Spy(), archive=RolloutArchive())
    rows = [Rollout("q", "grounded", "Q", "red", "<think>a <box>[0,0,9,9]</box></think><answer>red</answer>",
                    target_boxes=[(0, 0, 9, 9)]),
            Rollout("q", "textual", "Q", "red", "<think>a</think><answer>red</answer>")]
    assert gc.isenabled()
    scorer.score_batch(rows, step=0)
    scorer.score_grounded(rows[:1], step=1)
    scorer.score_rest(rows[1:], step=1)
    assert seen == [False] * 4 and gc.isenabled()


def test_overlapping_pauses_restore_the_gc_once_the_last_ends_and_keep_it_off_if_it_was():
    async def step(hold: asyncio.Event) -> None:
        with gc_paused():
            await hold.wait()

    async def main() -> list[bool]:
        first, second = asyncio.Event(), asyncio.Event()
        a, b = asyncio.ensure_future(step(first)), asyncio.ensure_future(step(second))
        await asyncio.sleep(0)
        states = [gc.isenabled()]
        first.set()
        await a
        states.append(gc.isenabled())  # the second step is still running
        second.set()
        await b
        return [*states, gc.isenabled()]

    assert asyncio.run(main()) == [False, False, True]
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()
