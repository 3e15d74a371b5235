"""Preflight across a judge fleet, and a preflight that runs alongside the requests (real loopback servers).

Every endpoint of a comma-separated `base_url` is probed at once; one that fails leaves the
rotation with a one-line warning; all failing is the single-endpoint outage. `ivgr score` runs
the probes while scoring starts, and the judge holds its verdicts back until they answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest
from judges_fake_server import FakeJudgeServer, Reply

from ivgr.errors import JudgeError
from ivgr.judges.config import JudgeConfig
from ivgr.judges.openai_judge import OpenAIJudge
from ivgr.judges.preflight import check_judge_endpoints, start_preflight

KEY = "sk-fleet-secret-456"
FAST = {"timeout_s": 5.0, "backoff_s": 0.01, "backoff_max_s": 0.02, "deadline_s": 30.0}


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _config(*urls: str, **overrides) -> JudgeConfig:
    return JudgeConfig(kind="openai", base_url=",".join(urls), model="judge", api_key=KEY, **overrides)


def _wait_until(condition, what: str) -> None:
    """Let the event loop run until `condition()` holds (a bound on iterations, not a timed check)."""

    async def wait() -> None:
        for _ in range(3000):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never happened: {what}")

    return wait()


# ---------------------------------------------------------------- check_judge_endpoints over a fleet
def test_every_endpoint_of_a_fleet_is_probed_and_the_live_ones_are_returned():
    with FakeJudgeServer(Reply(text="1")) as a, FakeJudgeServer(Reply(text="1")) as b:
        live = check_judge_endpoints(_config(a.url, b.url))
    assert [e.url for e in live] == [a.url, b.url]
    assert (a.count, b.count) == (1, 1)


def test_the_probes_run_at_once_not_one_after_the_other():
    # Each server answers only once the other one has received its probe: probes sent one
    # after the other would never see that, and the first one would get HTTP 500.
    arrived = {"a": threading.Event(), "b": threading.Event()}

    def waits_for(mine: str, other: str):
        def script(_request, _index):
            arrived[mine].set()
            return Reply(text="1") if arrived[other].wait(20) else Reply(status=500)

        return script

    with FakeJudgeServer(waits_for("a", "b")) as a, FakeJudgeServer(waits_for("b", "a")) as b:
        live = check_judge_endpoints(_config(a.url, b.url))
    assert len(live) == 2


def test_a_failing_endpoint_leaves_the_fleet_with_a_one_line_warning(caplog):
    dead = _dead_url()
    with FakeJudgeServer(Reply(text="1")) as good, FakeJudgeServer(Reply(status=401)) as rejecting:
        with caplog.at_level(logging.WARNING, logger="ivgr.judges.preflight"):
            live = check_judge_endpoints(_config(dead, good.url, rejecting.url))
    assert [e.url for e in live] == [good.url]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("\n" not in w and KEY not in w for w in warnings)
    assert dead in warnings[0] and "unreachable" in warnings[0] and "out of the rotation" in warnings[0]
    assert rejecting.url in warnings[1] and "HTTP 401" in warnings[1]


def test_a_whole_fleet_failing_is_the_outage_line_of_its_first_endpoint():
    first, second = _dead_url(), _dead_url()
    with pytest.raises(JudgeError) as info:
        check_judge_endpoints(_config(first, second))
    message = str(info.value)
    assert "\n" not in message and first in message and "unreachable" in message and "--skip-judge-preflight" in message


def test_a_consistency_fleet_is_probed_with_its_own_model():
    with FakeJudgeServer(Reply(text="1")) as a, FakeJudgeServer(Reply(text="1")) as b:
        live = check_judge_endpoints(_config(a.url, consistency_base_url=f"{a.url},{b.url}", consistency_model="c"))
    assert sorted((e.url, e.model) for e in live) == sorted([(a.url, "judge"), (a.url, "c"), (b.url, "c")])
    assert sorted(r.body["model"] for r in a.requests) == ["c", "judge"]


# ---------------------------------------------------------------- the judge gated on the preflight
def _judge(*urls: str, **overrides) -> OpenAIJudge:
    return OpenAIJudge(base_url=",".join(urls), model="judge", api_key=KEY, **{**FAST, **overrides})


def test_requests_go_out_before_the_preflight_answers_and_the_verdict_waits_for_it():
    outcome: concurrent.futures.Future = concurrent.futures.Future()
    with FakeJudgeServer(Reply(text="1")) as server:
        judge = _judge(server.url)
        judge.use_preflight(outcome)

        async def main():
            task = asyncio.create_task(judge.accuracy(question="q", answer="a laptop", reference="computer"))
            await _wait_until(lambda: judge.stats().latency_s > 0, "the reply came back")
            held = not task.done()
            outcome.set_result(check_judge_endpoints(_config(server.url)))
            verdict = await task
            await judge.aclose()
            return held, verdict

        held, verdict = asyncio.run(main())
    assert held  # the reply was in, the preflight had not answered: no verdict yet
    assert (verdict.score, verdict.source, verdict.errors) == (1.0, "llm", 0)
    assert server.count == 2  # the question and the probe


def test_a_failed_preflight_turns_every_verdict_into_its_error():
    outcome: concurrent.futures.Future = concurrent.futures.Future()
    outcome.set_exception(JudgeError("judge preflight: http://x/v1 is unreachable"))
    with FakeJudgeServer(Reply(text="1")) as server:
        judge = _judge(server.url)
        judge.use_preflight(outcome)

        async def main():
            try:
                return await judge.accuracy(question="q", answer="a laptop", reference="computer")
            finally:
                await judge.aclose()

        with pytest.raises(JudgeError, match="unreachable"):
            asyncio.run(main())


def test_a_request_that_failed_on_an_endpoint_the_preflight_drops_is_redone_uncounted():
    dead = _dead_url()
    outcome: concurrent.futures.Future = concurrent.futures.Future()
    with FakeJudgeServer(Reply(text="1")) as server:
        judge = _judge(dead, server.url)  # the dead endpoint is first: it gets the first request
        judge.use_preflight(outcome)

        async def main():
            task = asyncio.create_task(judge.accuracy(question="q", answer="a laptop", reference="computer"))
            await _wait_until(lambda: judge.stats().errors == 1, "the dead endpoint refused the request")
            outcome.set_result(check_judge_endpoints(_config(dead, server.url)))
            verdict = await task
            second = await judge.accuracy(question="q2", answer="a phone", reference="computer")
            await judge.aclose()
            return verdict, second

        verdict, second = asyncio.run(main())
    assert (verdict.source, verdict.errors) == ("llm", 0) and (second.source, second.errors) == ("llm", 0)
    stats = judge.stats()
    assert (stats.errors, stats.calls) == (0, 2)
    assert server.count == 1 + 2  # the live endpoint's probe, then both questions


def test_a_dropped_endpoint_takes_its_slots_with_it():
    dead = _dead_url()
    with FakeJudgeServer(Reply(text="1", delay_s=0.05)) as server:
        live = check_judge_endpoints(_config(dead, server.url))
        judge = _judge(dead, server.url, max_concurrency=2)
        judge.use_preflight(live)

        async def main():
            try:
                return await asyncio.gather(*(
                    judge.accuracy(question=f"q{i}", answer=f"a laptop {i}", reference="computer") for i in range(12)
                ))
            finally:
                await judge.aclose()

        verdicts = asyncio.run(main())
    assert all(v.source == "llm" and v.errors == 0 for v in verdicts)
    assert server.max_in_flight <= 2  # the dead endpoint's 2 slots did not move to the live one


def test_the_preflight_probe_counts_against_the_concurrency_cap():
    # Issue 14: with the probes outside the cap, a fleet of 10 saw 648 requests at once against
    # 640 slots. The server holds every request until the probe and all the judge requests sent
    # so far are in; without the held-back slot that is 2 judge requests + the probe = 3 > 2.
    from ivgr.judges.preflight import PROMPT

    lock, release = threading.Lock(), threading.Event()
    arrived = {"probe": 0, "judge": 0}
    in_flight = {"now": 0, "max": 0}

    def script(request, _index):
        kind = "probe" if request.prompt == PROMPT else "judge"
        with lock:
            arrived[kind] += 1
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        release.wait(30)
        with lock:
            in_flight["now"] -= 1  # before the reply is written: the client cannot act on it sooner
        return Reply(text="1")

    with FakeJudgeServer(script) as server:
        judge = _judge(server.url, max_concurrency=2)

        async def main():
            judge.use_preflight(start_preflight(_config(server.url)))
            tasks = [asyncio.create_task(judge.accuracy(question=f"q{i}", answer=f"a laptop {i}", reference="pc"))
                     for i in range(5)]
            # Every slot-holding request is sent within one loop step, so by the time one has
            # arrived the judge has counted all it will send before the probe answers.
            await _wait_until(lambda: arrived["probe"] == 1 and 1 <= arrived["judge"] == judge.stats().calls,
                              "the probe and every judge request sent so far arrived")
            release.set()
            verdicts = await asyncio.gather(*tasks)
            await judge.aclose()
            return verdicts

        verdicts = asyncio.run(main())
    assert all(v.source == "llm" and v.errors == 0 for v in verdicts)
    assert arrived == {"probe": 1, "judge": 5}
    assert in_flight["max"] == 2  # max_concurrency, the probe included


# ---------------------------------------------------------------- ivgr score, as a real process
def _score(tmp_path, url: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    rows = [{"sample_id": f"s{i}", "stream": "single", "question": "What colour is the cup?", "answer": "red",
             "completion": f"<think>look</think><answer>a crimson mug {i}</answer>"} for i in range(6)]
    src, out = tmp_path / "rows.jsonl", tmp_path / "scores.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVGR_JUDGE_")}
    env["IVGR_JUDGE_API_KEY"] = KEY
    proc = subprocess.run(
        [sys.executable, "-m", "ivgr.cli", "score", str(src), "--out", str(out), "--judge", "openai",
         "--judge-url", url, "--judge-model", "judge"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    return proc, [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []


def test_score_with_one_dead_endpoint_of_two_scores_everything_on_the_other(tmp_path):
    dead = _dead_url()
    with FakeJudgeServer(Reply(text="1")) as server:
        proc, scores = _score(tmp_path, f"{dead},{server.url}")
    assert proc.returncode == 0, proc.stderr
    assert len(scores) == 6 and all(s["judge_errors"] == 0 and s["accuracy"] == 1.0 for s in scores)
    warnings = [line for line in proc.stderr.splitlines() if "out of the rotation" in line]
    assert len(warnings) == 1 and dead in warnings[0] and KEY not in proc.stderr


def test_start_preflight_hands_back_the_outcome_in_a_future():
    with FakeJudgeServer(Reply(text="1")) as server:
        future = start_preflight(_config(server.url))
        assert [e.url for e in future.result(timeout=60)] == [server.url]
    failed = start_preflight(_config(_dead_url()))
    assert isinstance(failed.exception(timeout=60), JudgeError)
