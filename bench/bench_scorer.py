"""Scorer throughput with the rules judge, against a naive sequential baseline in the same run.

    .venv/bin/python bench/bench_scorer.py                 # 5000 synthetic rollouts
    .venv/bin/python bench/bench_scorer.py --rows 2000 --cli 10000

Ours: `Scorer.score_batch` per step (terms, then every judge question of a phase gathered
on one event loop). Baseline, the authors' orchestration (docs/method.md#bug-judge-robustness):
one rollout at a time, the authors' whole-text normalisation regex, and one blocking judge
call at a time (here a sync round trip per call). Both use the same judge, so the ratio measures
the orchestration and parsing, not the judge. With `--cli N` it also times `ivgr score --judge
rules` end to end on N rows in a fresh process (rows/s, process start included).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivgr.archive import RolloutArchive  # noqa: E402
from ivgr.judges import JudgeConfig, build_judge  # noqa: E402
from ivgr.judges.base import run_sync  # noqa: E402
from ivgr.rewards import Rollout, Scorer, ScorerConfig  # noqa: E402

COLOURS = ["red", "blue", "green", "yellow", "white", "black", "pink", "brown"]
OBJECTS = ["cup", "car", "dog", "ball", "sign", "lamp", "chair", "book"]


def synthetic_rows(n: int, *, seed: int = 0, per_question: int = 5, questions_per_step: int = 50) -> list[dict]:
    """Rows shaped like a training step: per question 5 grounded + 5 textual, some single rows."""
    rng = random.Random(seed)
    rows: list[dict] = []
    q = 0
    while len(rows) < n:
        step = q // questions_per_step
        colour, obj = rng.choice(COLOURS), rng.choice(OBJECTS)
        x, y = rng.randint(0, 400), rng.randint(0, 400)
        gt = [x, y, x + rng.randint(20, 200), y + rng.randint(20, 200)]
        question = f"<image>\nWhat colour is the {obj}?"
        if rng.random() < 0.1:
            for _ in range(per_question):
                ans = rng.choice(["4", "four", "5", "\\frac{8}{2}"])
                rows.append(dict(sample_id=f"m{q}", stream="single", question="What is 2+2?", answer="4",
                                 completion=f"<think>2 plus 2 makes four.</think><answer>{ans}</answer>", step=step))
        else:
            for _ in range(per_question):
                jitter = [v + rng.randint(-30, 30) for v in gt]
                said = colour if rng.random() < 0.7 else rng.choice(COLOURS)
                think = (f"I look for the {obj} <box>[{jitter[0]},{jitter[1]},{jitter[2]},{jitter[3]}]</box>. "
                         f"The {obj} is {said} and sits near the {rng.choice(OBJECTS)}.")
                rows.append(dict(sample_id=f"q{q}", stream="grounded", question=question, answer=colour,
                                 completion=f"<think>{think}</think><answer>{said}</answer>",
                                 target_boxes=[gt], step=step))
            for _ in range(per_question):
                said = colour if rng.random() < 0.7 else rng.choice(COLOURS)
                think = f"The {obj} in the picture is {said}. It is next to a {rng.choice(OBJECTS)}."
                rows.append(dict(sample_id=f"q{q}", stream="textual", question=question, answer=colour,
                                 completion=f"<think>{think}</think> <answer>The {obj} is {said}.</answer>", step=step))
        q += 1
    return rows[:n]


def by_step(rollouts: list[Rollout]) -> dict[int, list[Rollout]]:
    steps: dict[int, list[Rollout]] = {}
    for r in rollouts:
        steps.setdefault(r.step, []).append(r)
    return dict(sorted(steps.items()))


def run_ours(rollouts: list[Rollout]) -> list[float]:
    """Batch scorer, one `score_batch` per step."""
    scorer = Scorer(config=ScorerConfig(), judge=build_judge(JudgeConfig()), archive=RolloutArchive())
    totals: list[float] = []
    for step, rows in by_step(rollouts).items():
        totals.extend(s.total for s in scorer.score_batch(rows, step=step))
    return totals


_AUTHORS_NORM = re.compile(r"\s*(<|>|/)\s*")


def run_naive(rollouts: list[Rollout]) -> list[float]:
    """Authors'-style loop: per rollout, the global regex normalisation, then one blocking judge call at a time.

    Same terms and judge as ours, so the totals agree where the normalisations agree.
    """
    scorer = Scorer(config=ScorerConfig(), judge=build_judge(JudgeConfig()), archive=RolloutArchive())
    totals: list[float] = []
    for step, rows in by_step(rollouts).items():
        grounded = [i for i, r in enumerate(rows) if r.stream == "grounded"]
        rest = [i for i, r in enumerate(rows) if r.stream != "grounded"]
        step_totals: dict[int, float] = {}
        candidates = []
        for i in grounded:  # one rollout, one blocking round trip at a time
            _AUTHORS_NORM.sub(r"\1", rows[i].completion)
            [s], cands = run_sync(scorer.ascore_grounded([rows[i]], step=step))
            candidates.extend(cands)
            step_totals[i] = s.total
        scorer.archive.offer_many(candidates)
        for i in rest:
            _AUTHORS_NORM.sub(r"\1", rows[i].completion)
            [s] = run_sync(scorer.ascore_rest([rows[i]], step=step))
            step_totals[i] = s.total
        totals.extend(step_totals[i] for i in range(len(rows)))
    return totals


def time_it(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def bench_cli(n: int) -> None:
    """`ivgr score --judge rules` on n rows in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rollouts.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in synthetic_rows(n, seed=1)), encoding="utf-8")
        cmd = [sys.executable, "-c", "from ivgr.cli import main; main()", "score", str(src),
               "--out", str(Path(tmp) / "scores.jsonl"), "--judge", "rules"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
    print(f"ivgr score --judge rules: {n} rows in {wall:.2f} s = {n / wall:,.0f} rows/s (process start included)")


def authors_step_rows(*, pairs: int = 230, singles: int = 52, per_question: int = 5) -> list[dict]:
    """One authors'-size step (docs/method.md#data-mixing): 230 pairs + 52 single
    questions, 5 rollouts each = 2 560 rows, free-text answers the rules cannot all decide."""
    rows = []
    for q in range(pairs):
        for k in range(per_question):
            rows.append(dict(sample_id=f"q{q}", stream="grounded", question=f"What is on desk {q}?",
                             answer="a computer", target_boxes=[[10, 10, 60, 60]],
                             completion=f"<think>On the desk <box>[10,10,60,{55 + k}]</box> I see a "
                                        f"laptop {k}.</think><answer>a laptop number {k}</answer>"))
            rows.append(dict(sample_id=f"q{q}", stream="textual", question=f"What is on desk {q}?",
                             answer="a computer",
                             completion=f"<think>The desk holds a laptop {k}.</think><answer>laptop model {k}</answer>"))
    for q in range(singles):
        for k in range(per_question):
            rows.append(dict(sample_id=f"m{q}", stream="single", question=f"Describe item {q}",
                             answer="a computer", completion=f"<think>hm</think><answer>a device {k}</answer>"))
    return rows


def bench_openai_step(latency_ms: float, concurrency: int) -> None:
    """Wall time of one authors'-size step with the openai judge against a loopback server."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "judges"))
    from judges_fake_server import FakeJudgeServer, Reply  # noqa: PLC0415

    def script(request, _index):
        # Consistency requests carry n > 1 samples; accuracy requests get a binary verdict.
        n = int(request.body.get("n") or 1)
        return Reply(text="0.7" if n > 1 else "1", delay_s=latency_ms / 1000)

    rollouts = [Rollout(**r) for r in authors_step_rows()]
    with FakeJudgeServer(script) as server:
        cfg = JudgeConfig(kind="openai", base_url=server.url, max_concurrency=concurrency, cache_size=0,
                          timeout_s=30, deadline_s=300)
        scorer = Scorer(config=ScorerConfig(), judge=build_judge(cfg), archive=RolloutArchive())
        start = time.perf_counter()
        scores = scorer.score_batch(rollouts, step=0)
        wall = time.perf_counter() - start
        requests = server.count
    bound = requests * latency_ms / 1000 / concurrency
    errors = sum(s.judge_errors for s in scores)
    print(f"openai judge, one step of {len(rollouts)} rows, {latency_ms:.0f} ms per request, concurrency "
          f"{concurrency}: {wall:.2f} s for {requests} requests; lower bound {bound:.2f} s "
          f"(requests x latency / concurrency); wall/bound {wall / bound:.2f}; judge errors {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--cli", type=int, default=0, help="also time `ivgr score` on this many rows")
    parser.add_argument("--openai-step", action="store_true",
                        help="also time one authors'-size step (2 560 rows) with the openai judge on loopback")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    rollouts = [Rollout(**r) for r in synthetic_rows(args.rows)]
    run_ours(rollouts[:200])  # warm up imports, math-verify and the background loop
    t_naive, naive = time_it(run_naive, rollouts)
    t_ours, ours = time_it(run_ours, rollouts)
    same = sum(abs(a - b) < 1e-9 for a, b in zip(ours, naive, strict=True))  # type: ignore[arg-type]
    print(f"rows: {len(rollouts)} ({len(by_step(rollouts))} steps), judge: rules")
    print(f"naive sequential: {t_naive:.2f} s = {len(rollouts) / t_naive:,.0f} rollouts/s")
    print(f"batch scorer:     {t_ours:.2f} s = {len(rollouts) / t_ours:,.0f} rollouts/s")
    print(f"speed-up (naive time / ours): {t_naive / t_ours:.2f}x; identical totals: {same}/{len(rollouts)}")
    if args.cli:
        bench_cli(args.cli)
    if args.openai_step:
        bench_openai_step(args.latency_ms, args.concurrency)


if __name__ == "__main__":
    main()
