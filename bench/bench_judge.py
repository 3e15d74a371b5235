"""Judge throughput: async OpenAIJudge with bounded concurrency vs sequential blocking calls.

Runs a loopback OpenAI-compatible server (tests/judges/judges_fake_server.py) that answers
every request after an artificial latency (default 50 ms), then measures, in the same run:
  1. baseline: sequential blocking `openai.OpenAI` calls, one question after another (the
     authors' pattern inside one question group, docs/method.md#bug-judge-robustness);
  2. OpenAIJudge with `max_concurrency` requests in flight (default 32), cache off;
  3. the same judge with the cache on, for a batch where each question repeats 10 times
     (identical short answers are common within a GRPO group).
Prints calls/s and the ratios against the baseline.

    .venv/bin/python bench/bench_judge.py                     # 50 ms, concurrency 32
    .venv/bin/python bench/bench_judge.py --latency-ms 100 --calls 640
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "judges"))

import openai  # noqa: E402

from ivgr.judges.openai_judge import OpenAIJudge  # noqa: E402
from judges_fake_server import FakeJudgeServer, Reply  # noqa: E402


def questions(count: int, distinct: int) -> list[tuple[str, str, str]]:
    """Free-text accuracy questions the rules cannot decide, so each one needs the endpoint."""
    return [(f"What is on desk {i % distinct}?", f"a laptop number {i % distinct}", "computer") for i in range(count)]


def bench_sequential(url: str, count: int) -> float:
    client = openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0)
    started = time.perf_counter()
    for question, answer, reference in questions(count, count):
        client.chat.completions.create(
            model="judge", temperature=0.01,
            messages=[{"role": "user", "content": f"{question}\n{reference}\n{answer}\nJudgement:"}],
        )
    elapsed = time.perf_counter() - started
    client.close()
    return count / elapsed


async def _judge_batch(judge: OpenAIJudge, batch: list[tuple[str, str, str]]) -> float:
    started = time.perf_counter()
    verdicts = await asyncio.gather(*[judge.accuracy(question=q, answer=a, reference=r) for q, a, r in batch])
    elapsed = time.perf_counter() - started
    assert all(v.source in ("llm", "cache") for v in verdicts), "benchmark expects endpoint verdicts"
    await judge.aclose()
    return len(batch) / elapsed


def bench_async(url: str, count: int, concurrency: int, *, distinct: int, cache_size: int) -> float:
    judge = OpenAIJudge(base_url=url, model="judge", max_concurrency=concurrency, cache_size=cache_size, timeout_s=30)
    return asyncio.run(_judge_batch(judge, questions(count, distinct)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--calls", type=int, default=320, help="questions in the async batches")
    parser.add_argument("--baseline-calls", type=int, default=40, help="questions in the sequential baseline")
    args = parser.parse_args()

    with FakeJudgeServer(Reply(text="1", delay_s=args.latency_ms / 1000)) as server:
        seq = bench_sequential(server.url, args.baseline_calls)
        before = server.count
        conc = bench_async(server.url, args.calls, args.concurrency, distinct=args.calls, cache_size=0)
        requests_async = server.count - before
        before = server.count
        cached = bench_async(server.url, args.calls, args.concurrency, distinct=max(1, args.calls // 10), cache_size=100_000)
        requests_cached = server.count - before

    bound = args.concurrency / (args.latency_ms / 1000)
    print(f"loopback judge, {args.latency_ms:.0f} ms per reply")
    print(f"  sequential blocking (baseline) : {seq:8.1f} calls/s  ({args.baseline_calls} calls)")
    print(f"  async, concurrency {args.concurrency:<3}         : {conc:8.1f} calls/s  "
          f"({args.calls} calls, {requests_async} requests; ideal {bound:.0f}/s)  x{conc / seq:.1f} vs baseline")
    print(f"  async + cache, 10x repeats     : {cached:8.1f} calls/s  "
          f"({args.calls} calls, {requests_cached} requests)  x{cached / seq:.1f} vs baseline, "
          f"x{cached / conc:.1f} vs no cache")


if __name__ == "__main__":
    main()
