"""The openai judge decides math answers (math-verify) off the event loop, with the same verdicts."""

from __future__ import annotations

import asyncio
import threading

import math_verify
from judges_fake_server import FakeJudgeServer, Reply

from ivgr.judges.openai_judge import OpenAIJudge
from ivgr.judges.rules import judge_answer

FAST = {"timeout_s": 10.0, "backoff_s": 0.01, "backoff_max_s": 0.02, "deadline_s": 30.0}


def test_a_math_comparison_does_not_stall_the_requests_in_flight(monkeypatch):
    judge_answer("$\\sqrt{9}$", "3")  # import and warm math-verify up first, as any earlier verdict would
    real_verify = math_verify.verify
    loop_ran = threading.Event()

    def verify_once_the_loop_has_answered(*args, **kwargs):
        # Blocks until a judge reply was handled on the event loop: on the loop itself, this
        # comparison would hold the loop and the reply could never be handled.
        if not loop_ran.wait(60):
            raise RuntimeError("the event loop was blocked by math-verify")
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(math_verify, "verify", verify_once_the_loop_has_answered)
    with FakeJudgeServer(Reply(text="1")) as server:
        judge = OpenAIJudge(base_url=server.url, model="judge", **FAST)

        async def free_text_then_signal():
            verdict = await judge.accuracy(question="What is on the desk?", answer="a laptop", reference="computer")
            loop_ran.set()
            return verdict

        async def main():
            try:
                return await asyncio.gather(
                    judge.accuracy(question="What is the root?", answer="$\\sqrt{9}$", reference="3"),
                    free_text_then_signal(),
                )
            finally:
                await judge.aclose()

        math, text = asyncio.run(main())
    assert (math.score, math.source, math.errors) == (1.0, "rules", 0)  # math-verify decided it, no call
    assert text.source == "llm" and server.count == 1


def test_math_verdicts_match_the_rules_judge_on_and_off_the_loop():
    pairs = [("$\\sqrt{9}$", "3"), ("\\frac{1}{2}", "0.5"), ("2\\pi", "\\pi \\cdot 2"), ("$\\sqrt{8}$", "3"),
             ("12", "12"), ("13", "12"), ("(B)", "B"), ("yes", "no")]
    judge = OpenAIJudge(base_url="http://127.0.0.1:9/v1", model="judge", **FAST)  # never called: rules decide

    async def main():
        return [await judge.accuracy(question="q", answer=a, reference=r) for a, r in pairs]

    verdicts = asyncio.run(main())
    assert [(v.score, v.source) for v in verdicts] == [(judge_answer(a, r).score, "rules") for a, r in pairs]
