"""Client CPU per judge request at fleet scale: this tree's lean HTTP client against an earlier one.

The judge client is the bottleneck once the fleet is large: 10 endpoints x 64 in flight at
100 ms want 6 400 requests/s from one Python process. This benchmark sends `--requests`
distinct free-text accuracy questions (the rules cannot settle them, the cache is off) through
`OpenAIJudge` to the asyncio judge server of `bench_judge_step.py` (its own process, `--endpoints`
ports, replies after `--latency-ms`), and measures, in the same run and each in a fresh child
process:
  * the judge with this tree's `ivgr/judges/http.py`;
  * the same judge with `ivgr/judges/http.py` as it was at `--baseline` (a git revision;
    default: the asyncio-streams client with a timer per request, before the
    `asyncio.Protocol` client with one deadline timer per endpoint).
Reported per variant: client CPU per request (user + sys of the child while it sends and
handles the requests, imports excluded), requests per second and wall time; then the
baseline / new ratios. CPU per request is the figure that does not depend on machine load.

    .venv/bin/python bench/bench_judge_client.py                       # 10 endpoints, 100 ms, 6 000 requests
    .venv/bin/python bench/bench_judge_client.py --endpoints 1 --requests 2000
    .venv/bin/python bench/bench_judge_client.py --bare      # ChatEndpoint alone, no judge around it
    .venv/bin/python bench/bench_judge_client.py --profile /tmp/client.prof   # cProfile of the new client
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_judge_step import BASELINE, JudgeServer, load_http_module, old_ask, use_old_http  # noqa: E402


def child_bare(variant: str, urls: str, count: int, concurrency: int) -> None:
    """The HTTP layer alone: `count` requests straight through `ChatEndpoint`, `concurrency` per endpoint."""
    from ivgr.judges.http import ChatRequest
    from ivgr.prompts.judge import accuracy_prompt, new_fence_token

    if variant == "new":
        from ivgr.judges.http import ChatEndpoint
    else:
        ChatEndpoint = load_http_module(variant).ChatEndpoint  # noqa: N806
    request = ChatRequest("judge", 0.01)
    old_api = variant != "new"
    prompts = [accuracy_prompt(question=f"What is on desk {i}?", answer=f"a laptop number {i}", reference="computer",
                               token=new_fence_token(), max_chars=6000) for i in range(count)]

    async def main() -> int:
        endpoints = [ChatEndpoint(url, api_key="EMPTY") for url in urls.split(",")]
        slots = [asyncio.Semaphore(concurrency) for _ in endpoints]

        async def one(i: int) -> None:
            k = i % len(endpoints)
            async with slots[k]:
                if old_api:  # what the judge did then: a timer per request around the call
                    await old_ask(endpoints[k], request, prompts[i], 60.0)
                else:
                    await endpoints[k].ask(request, prompts[i], timeout=60.0)

        await asyncio.gather(*(one(i) for i in range(count)))
        for endpoint in endpoints:
            await endpoint.aclose()
        return count

    cpu0, wall0 = time.process_time(), time.perf_counter()
    sent = asyncio.run(main())
    print(json.dumps({"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0, "requests": sent,
                      "errors": 0}))


def child(variant: str, urls: str, count: int, concurrency: int, profile: str | None) -> None:
    """Send `count` questions through OpenAIJudge; print wall, CPU and request count as JSON."""
    from ivgr.judges.openai_judge import OpenAIJudge

    if variant != "new":
        use_old_http(variant)
    judge = OpenAIJudge(base_url=urls, model="judge", max_concurrency=concurrency, cache_size=0,
                        timeout_s=60.0, deadline_s=600.0)
    questions = [(f"What is on desk {i}?", f"a laptop number {i}", "computer") for i in range(count)]

    async def main() -> list:
        try:
            return await asyncio.gather(*(judge.accuracy(question=q, answer=a, reference=r) for q, a, r in questions))
        finally:
            await judge.aclose()

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    verdicts = asyncio.run(main())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    errors = sum(v.errors for v in verdicts)
    print(json.dumps({"cpu": cpu, "wall": wall, "requests": judge.stats().calls, "errors": errors}))


def run_child(variant: str, urls: str, args: argparse.Namespace, profile: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child-bare" if args.bare else "--child", variant, urls, str(args.requests),
           str(args.concurrency)]
    if profile:
        cmd.append(profile)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        sys.exit(f"{variant} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=10, help="judge endpoints (ports), default 10")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="judge reply delay (default 100)")
    parser.add_argument("--concurrency", type=int, default=64, help="max_concurrency per endpoint (default 64)")
    parser.add_argument("--requests", type=int, default=6000, help="questions to send (default 6000)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant, alternated (default 2)")
    parser.add_argument("--baseline", default=BASELINE, help=f"git revision of the old http.py (default {BASELINE})")
    parser.add_argument("--profile", help="write a cProfile of one run of the new client to this file")
    parser.add_argument("--bare", action="store_true",
                        help="the HTTP layer alone (ChatEndpoint, no judge, prompts built beforehand)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--child-bare", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_bare:
        variant, urls, count, concurrency = args.child_bare
        child_bare(variant, urls, int(count), int(concurrency))
        return
    if args.child:
        variant, urls, count, concurrency, *profile = args.child
        child(variant, urls, int(count), int(concurrency), profile[0] if profile else None)
        return

    server = JudgeServer(args.endpoints, args.latency_ms)
    runs: dict[str, list[dict]] = {"baseline": [], "new": []}
    try:
        urls = ",".join(server.urls)
        for _ in range(args.repeats):  # alternated, so a change in machine load hits both alike
            runs["baseline"].append(run_child(args.baseline, urls, args))
            runs["new"].append(run_child("new", urls, args))
        if args.profile:
            run_child("new", urls, args, profile=str(Path(args.profile).resolve()))
    finally:
        server.close()

    slots = args.endpoints * args.concurrency
    print(f"judge client{' (HTTP layer alone)' if args.bare else ''}: {args.requests} questions, {args.endpoints} endpoint(s) x {args.concurrency} in flight, "
          f"{args.latency_ms:.0f} ms a reply (bound {slots / args.latency_ms * 1000:.0f} requests/s)")
    for name, label in (("baseline", f"http.py at {args.baseline}"), ("new", "this tree")):
        for m in runs[name]:
            print(f"  {label:<22} {1000 * m['cpu'] / m['requests']:.3f} ms CPU/request  "
                  f"{m['requests'] / m['wall']:7.0f} requests/s  wall {m['wall']:.2f} s  errors {m['errors']}")
    cpu = {k: min(1000 * m["cpu"] / m["requests"] for m in v) for k, v in runs.items()}
    rate = {k: max(m["requests"] / m["wall"] for m in v) for k, v in runs.items()}
    print(f"  best of {args.repeats}: CPU/request baseline / new = {cpu['baseline'] / cpu['new']:.2f}x; "
          f"requests/s new / baseline = {rate['new'] / rate['baseline']:.2f}x")


if __name__ == "__main__":
    main()
