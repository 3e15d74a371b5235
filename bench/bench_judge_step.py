"""One authors'-size reward step with the OpenAI judge: ivgr against the capacity bound and the authors' scheduling.

The step: 230 (grounded, textual) question pairs + 52 single questions, 5 rollouts each =
2 560 rows (docs/method.md#judge), with a seeded mix of answers: letters and
yes/no (the rules decide them), repeated short answers (the cache merges them) and free text
(the endpoint decides). Judge: an OpenAI-compatible asyncio server in its own process,
answering every request after `--latency-ms` (default 100 ms) on `--endpoints` ports, with
verdicts that are a fixed function of the prompt, so every run gets the same answers.

Measured for each fleet size in `--endpoints` (default 1 and 10 endpoints), against one
server run, each contender in a fresh process:
  * ivgr: the real `ivgr score --judge openai` command on the step (the endpoints are given
    in IVGR_JUDGE_BASE_URL, comma-separated); wall time, the time from process start to its
    first request, the time from the first request to the last reply, client CPU per
    request (user + sys of the process / requests sent);
  * ivgr's step in a warm process: `Scorer.score_batch` on the same rows in a process that
    has already scored a warm-up step (as a trainer scores every step after its first, with
    its keep-alive connections open); it must give the same output rows as `ivgr score`;
  * the capacity bound: ivgr's requests x latency / (max_concurrency x endpoints);
  * the authors' scheduling, re-expressed: a pool of min(64, questions + 4) threads with one
    task per question and the calls of a question in sequence (A accuracies, then B
    accuracies and consistencies, then single accuracies), every answer asked of the judge,
    with the blocking openai SDK client as theirs (questions spread over the endpoints);
  * with `--baseline REV`: the warm step again with `ivgr/judges/http.py` as it was at REV;
  * with `--baseline-tree REV`: the warm step again with the whole `ivgr` package as it was at
    REV (scorer, rules and judge client; `git archive` into a temporary folder), and whether
    it gave the same output rows;
  * with `--before`: ivgr as it was before the lean client (openai SDK transport, 32 in
    flight, grounded and textual phases one after the other), and a check that it produced
    exactly the same output rows as the new path.
A summary table at the end gives, per fleet size, the ratios to the bound and to the
authors' scheduling.

    .venv/bin/python bench/bench_judge_step.py                      # 1 and 10 endpoints, 100 ms
    .venv/bin/python bench/bench_judge_step.py --baseline bec7806   # plus the asyncio-streams client
    .venv/bin/python bench/bench_judge_step.py --endpoints 10 --baseline-tree a849d1c --shards 1 --no-authors --repeats 5
    .venv/bin/python bench/bench_judge_step.py --endpoints 1 --before   # plus the old SDK client, same rows?
    .venv/bin/python bench/bench_judge_step.py --endpoints 10 --latency-ms 1000 --no-authors
    .venv/bin/python bench/bench_judge_step.py --compare-preflight  # also without the preflight, same run

`ivgr score` runs its judge preflight (one probe per endpoint) alongside the scoring, so its
cost shows only as one extra request; `--compare-preflight` measures that in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# ---------------------------------------------------------------- the step's rows
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "grey", "brown"]
OBJECTS = ["laptop", "mug", "lamp", "phone", "book", "chair", "bag", "clock"]


def step_rows(*, pairs: int = 230, singles: int = 52, per_question: int = 5, seed: int = 0) -> list[dict]:
    """The rows of one step; the kinds of answer are mixed as in a VQA + math batch."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for q in range(pairs):
        colour, obj = rng.choice(COLOURS), rng.choice(OBJECTS)
        x, y = rng.randint(0, 300), rng.randint(0, 300)
        gt = [x, y, x + 80, y + 60]
        kind = rng.random()
        if kind < 0.25:  # multiple choice: the rules decide
            question, reference = f"<image>\nWhat is on desk {q}? (A) a {obj} (B) a plant (C) a cup", "A"
            answers = ["A", "(A)", "The answer is A", "B", "A"]
        elif kind < 0.40:  # yes/no: the rules decide
            question, reference = f"<image>\nIs there a {colour} {obj} on desk {q}?", "yes"
            answers = ["Yes.", "yes", "No, there is not.", "Yes, there is.", "yes"]
        else:  # free text: the judge decides; GRPO groups repeat short answers
            question, reference = f"<image>\nWhat colour is the {obj} on desk {q}?", f"{colour}"
            other = rng.choice([c for c in COLOURS if c != colour])
            answers = [f"The {obj} is {colour}.", f"It is {colour}.", f"The {obj} is {colour}.",
                       f"It looks {other}.", f"A {colour}-ish {obj}."]
        rng.shuffle(answers)
        for k in range(per_question):
            jitter = [v + rng.randint(-8, 8) for v in gt]
            box = f"<box>[{jitter[0]},{jitter[1]},{jitter[2]},{jitter[3]}]</box>"
            think = (f"I find the {obj} {box} on desk {q}. It is {colour}, next to a "
                     f"{rng.choice(OBJECTS)} and a {rng.choice(OBJECTS)}; variant {k}.")
            rows.append(dict(sample_id=f"q{q}", stream="grounded", question=question, answer=reference,
                             target_boxes=[gt], completion=f"<think>{think}</think><answer>{answers[k]}</answer>"))
        for k in range(per_question):
            said = colour if rng.random() < 0.8 else rng.choice(COLOURS)
            think = (f"The {obj} on desk {q} looks {said}; beside it I see a {rng.choice(OBJECTS)} "
                     f"and a {rng.choice(OBJECTS)} (rollout {k}).")
            rows.append(dict(sample_id=f"q{q}", stream="textual", question=question, answer=reference,
                             completion=f"<think>{think}</think><answer>{answers[(k + 1) % per_question]}</answer>"))
    for q in range(singles):
        value = rng.randint(2, 60)
        answers = [str(value), f"The answer is {value}.", str(value + 1), f"{value} apples", "about ten or so"]
        rng.shuffle(answers)
        for k in range(per_question):
            rows.append(dict(sample_id=f"m{q}", stream="single", question=f"How many apples are in basket {q}?",
                             answer=str(value) if q % 2 else f"{value} apples",
                             completion=f"<think>Count them: {value} in total.</think><answer>{answers[k]}</answer>"))
    return rows


# ---------------------------------------------------------------- the judge server
_FENCE = re.compile(r"<<<(REFERENCE|CANDIDATE)-[0-9a-f]+>>>\n(.*?)\n<<<END-\1-[0-9a-f]+>>>", re.DOTALL)


def verdict(prompt: str, n: int) -> list[str]:
    """A fixed function of the fenced texts: accuracy 1 when the reference word is in the answer;
    consistency one rubric level chosen by a hash of the candidate (n copies)."""
    fenced = dict(_FENCE.findall(prompt))
    reference, candidate = fenced.get("REFERENCE", ""), fenced.get("CANDIDATE", "")
    if n <= 1:
        return ["1" if reference.lower().split()[-1:] and reference.lower().split()[-1] in candidate.lower() else "0"]
    level = ("0.0", "0.3", "0.7", "1.0")[hashlib.sha256(candidate.encode()).digest()[0] % 4]
    return [level] * n


async def _serve(ports: int, latency_s: float) -> None:
    """Serve the judge on `ports` loopback ports, each reply `latency_s` after its request.

    It stands in for a GPU fleet, so it must not be what limits the client on a 2-core box:
    each connection is an `asyncio.Protocol` (no stream machinery), replies due within the
    same millisecond share one timer, and identical replies are encoded once.
    """
    loop = asyncio.get_running_loop()
    stats = {"count": 0, "first": None, "last": None, "in_flight": 0, "max_in_flight": 0, "per_port": [0] * ports}
    due: dict[int, list[tuple[asyncio.Transport, bytes]]] = {}  # reply time in ms -> replies to send then

    def flush(tick: int) -> None:
        replies = due.pop(tick)
        stats["in_flight"] -= len(replies)
        stats["last"] = time.time()
        for transport, reply in replies:
            if not transport.is_closing():
                transport.write(reply)

    @functools.lru_cache(maxsize=1024)
    def encoded(model: str, texts: tuple[str, ...]) -> bytes:
        payload = json.dumps({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                        for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(payload), payload)

    class Handler(asyncio.Protocol):
        def __init__(self, port_index: int) -> None:
            self.port_index = port_index
            self.buffer = b""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].decode("latin-1")
                match = re.search(r"(?im)^content-length:\s*(\d+)", head)
                length = int(match.group(1)) if match else 0
                if len(self.buffer) < end + 4 + length:
                    return  # the body is not all in yet
                body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
                self.answer(head.split(" ", 2)[1], body)

        def answer(self, path: str, body: bytes) -> None:
            if path in ("/stats", "/reset"):
                if path == "/reset":
                    stats.update(count=0, first=None, last=None, max_in_flight=0, per_port=[0] * ports)
                payload = json.dumps(stats).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                return
            stats["count"] += 1
            stats["per_port"][self.port_index] += 1
            stats["first"] = stats["first"] or time.time()
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
            request = json.loads(body)
            texts = verdict(request["messages"][-1]["content"], int(request.get("n") or 1))
            tick = math.ceil((loop.time() + latency_s) * 1000)
            if tick not in due:
                due[tick] = []
                loop.call_at(tick / 1000, flush, tick)
            due[tick].append((self.transport, encoded(request["model"], tuple(texts))))

    servers = []
    for i in range(ports):
        servers.append(await loop.create_server(lambda i=i: Handler(i), "127.0.0.1", 0, backlog=4096))
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await asyncio.Event().wait()


class JudgeServer:
    """The asyncio judge server in a child process (its CPU is not the client's)."""

    def __init__(self, ports: int, latency_ms: float) -> None:
        self.proc = subprocess.Popen([PY, __file__, "--serve", str(ports), "--latency-ms", str(latency_ms)],
                                     stdout=subprocess.PIPE, text=True)
        self.ports = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.urls = [f"http://127.0.0.1:{p}/v1" for p in self.ports]

    def call(self, path: str) -> dict:
        return server_call(self.urls[0], path)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


# ---------------------------------------------------------------- the contenders (child processes)
BASELINE = "bec7806"  # ivgr/judges/http.py on asyncio streams, one timer per request (asyncio.timeout)

def child_authors(rows_path: str, urls: list[str]) -> None:
    """The authors' scheduling (docs/method.md#bug-judge-robustness): one task per question in a thread pool, calls in sequence."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from ivgr.geometry import is_valid_box
    from ivgr.parsing import extract_answer, extract_think, find_box_spans, parse_box
    from ivgr.prompts.judge import accuracy_prompt, consistency_prompt, new_fence_token
    from ivgr.rewards.terms import box_iou_reward

    rows = [json.loads(line) for line in Path(rows_path).read_text().splitlines()]
    try:
        import openai

        # theirs: one client with SDK defaults; one per endpoint here, questions spread over them
        clients = [openai.OpenAI(base_url=url, api_key="EMPTY") for url in urls]
    except ImportError:  # a machine without the SDK: plain http.client, lighter than theirs
        clients = []
        print("authors' scheduling: openai SDK missing, using http.client (cheaper per call)", file=sys.stderr)
    local = threading.local()

    def ask(prompt: str, n: int, temperature: float) -> list[str]:
        body = {"model": "judge", "messages": [{"role": "user", "content": prompt}], "temperature": temperature}
        if n > 1:
            body["n"] = n
        if clients:
            reply = clients[local.endpoint].chat.completions.create(**body)
            return [c.message.content or "" for c in reply.choices]
        import http.client
        import urllib.parse

        if not hasattr(local, "conn"):
            parts = urllib.parse.urlsplit(urls[local.endpoint])
            local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        local.conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                           headers={"Content-Type": "application/json", "Authorization": "Bearer EMPTY"})
        data = json.loads(local.conn.getresponse().read())
        return [c["message"]["content"] or "" for c in data["choices"]]

    def accuracy(r: dict) -> float:
        answer = extract_answer(r["completion"]) or ""
        prompt = accuracy_prompt(question=r["question"], answer=answer, reference=r["answer"],
                                 token=new_fence_token(), max_chars=6000)
        return float(ask(prompt, 1, 0.01)[0].strip() == "1")

    def question_task(index: int, group: list[dict]) -> int:
        local.endpoint = index % len(urls)
        if hasattr(local, "conn") and local.conn_endpoint != local.endpoint:
            del local.conn
        local.conn_endpoint = local.endpoint
        reference = None
        best = -1.0
        for r in (g for g in group if g["stream"] == "grounded"):
            acc = accuracy(r)
            preds = [b for b in (parse_box(s) for s in find_box_spans(r["completion"])) if b and is_valid_box(b)]
            iou = box_iou_reward(preds, [tuple(b) for b in r["target_boxes"]]) or 0.0
            if acc == 1.0 and iou >= 0.3 and iou > best:
                best, reference = iou, extract_think(r["completion"])
        for r in (g for g in group if g["stream"] != "grounded"):
            accuracy(r)
            think = extract_think(r["completion"])
            if r["stream"] == "textual" and reference and think:
                ask(consistency_prompt(question=r["question"], reference=reference, candidate=think,
                                       token=new_fence_token(), max_chars=6000), 4, 0.5)
        return len(group)

    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["sample_id"], []).append(r)
    with ThreadPoolExecutor(max_workers=min(64, len(groups) + 4)) as pool:
        assert sum(pool.map(question_task, range(len(groups)), groups.values())) == len(rows)


def child_before(rows_path: str, urls: list[str], out_path: str) -> None:
    """ivgr before the lean client: SDK transport, 32 in flight, phases one after the other."""
    from ivgr.archive import RolloutArchive
    from ivgr.judges import JudgeConfig, build_judge
    from ivgr.judges.base import run_sync
    from ivgr.rewards import Rollout, Scorer, ScorerConfig

    rollouts = [Rollout(**json.loads(line)) for line in Path(rows_path).read_text().splitlines()]
    judge = build_judge(JudgeConfig(kind="openai", base_url=",".join(urls), transport="sdk", max_concurrency=32))
    scorer = Scorer(config=ScorerConfig(), judge=judge, archive=RolloutArchive())
    grounded = [r for r in rollouts if r.stream == "grounded"]
    rest = [r for r in rollouts if r.stream != "grounded"]
    g_scores, candidates = run_sync(scorer.ascore_grounded(grounded, step=0))
    scorer.archive.offer_many(candidates)
    r_scores = run_sync(scorer.ascore_rest(rest, step=0))
    by_id = {id(r): s for r, s in zip(grounded + rest, g_scores + r_scores, strict=True)}
    Path(out_path).write_text("".join(json.dumps(by_id[id(r)].to_dict()) + "\n" for r in rollouts))


def load_http_module(revision: str) -> Any:
    """`ivgr/judges/http.py` at `revision` (from git) as a module of its own."""
    source = subprocess.run(["git", "show", f"{revision}:ivgr/judges/http.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "ivgr_http_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("ivgr_http_baseline", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


async def old_ask(endpoint: Any, request: Any, content: str, timeout: float) -> dict:
    """A request through an old `ChatEndpoint` as the judge made it then: `asyncio.timeout` around
    the call (a timer per request); `chat` with the whole payload where `ask` did not exist yet."""
    call = endpoint.ask(request, content) if hasattr(endpoint, "ask") else endpoint.chat(request.payload(content))
    async with asyncio.timeout(timeout):
        return await call


def extract_tree(revision: str, folder: Path) -> None:
    """The `ivgr` package as it was at `revision`, written under `folder` (`folder/ivgr/...`)."""
    folder.mkdir()
    archive = subprocess.run(["git", "archive", revision, "ivgr"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def use_old_http(revision: str) -> None:
    """Make `OpenAIJudge` use `ivgr/judges/http.py` as it was at `revision`."""
    import ivgr.judges.openai_judge as openai_judge

    old = load_http_module(revision)

    class OldEndpoint(old.ChatEndpoint):  # type: ignore[name-defined,misc]
        async def ask(self, request, content, *, timeout):  # type: ignore[no-untyped-def]
            return await old_ask(super(), request, content, timeout)

    openai_judge.ChatEndpoint = OldEndpoint  # type: ignore[misc]


def child_warm(rows_path: str, urls: list[str], out_path: str, concurrency: str, variant: str, shards: str = "1") -> None:
    """One step in a process that is already up, as a trainer scores every step after the first.

    A warm-up step of the same shape (other questions, so no cache entry carries over) opens
    the keep-alive connections first; then the server's counts are reset and the step is
    timed: `score_batch` alone, with a fresh archive, like `ivgr score` on the same rows.
    With `shards` > 1 the step's questions (by sample_id) are split over that many forked
    worker processes, each with its own judge and max_concurrency / shards slots per
    endpoint (so each endpoint still sees at most max_concurrency requests at once); timed
    from the moment all of them are warm to the last shard's scores.
    """
    import multiprocessing

    if variant.startswith("tree:"):
        sys.path.insert(0, variant[len("tree:"):])  # that revision's `ivgr` package, ahead of this tree's
    elif variant != "new":
        use_old_http(variant)
    step = [json.loads(line) for line in Path(rows_path).read_text().splitlines()]
    k = int(shards)
    ids = sorted({r["sample_id"] for r in step})
    shard_of = {sid: i % k for i, sid in enumerate(ids)}  # stable, balanced; no hash() seeds
    parts = [[p for p, r in enumerate(step) if shard_of[r["sample_id"]] == i] for i in range(k)]
    if k == 1:
        outcomes = [_warm_shard(step, parts[0], urls, int(concurrency), None, None, reset=urls[0])]
        start, wall = outcomes[0]["start"], outcomes[0]["wall"]
    else:
        ctx = multiprocessing.get_context("fork")  # imports done once, before any loop or thread
        # Timeouts: a worker that dies before a barrier fails the bench instead of hanging it.
        warm, go, results = ctx.Barrier(k + 1, timeout=600), ctx.Barrier(k + 1, timeout=600), ctx.Queue()
        workers = [ctx.Process(target=_warm_shard, args=(step, part, urls, int(concurrency) // k, (warm, go), results))
                   for part in parts]
        for worker in workers:
            worker.start()
        warm.wait()
        server_call(urls[0], "/reset")
        go.wait()
        start, wall0 = time.time(), time.perf_counter()
        outcomes = [results.get(timeout=600) for _ in parts]
        wall = time.perf_counter() - wall0
        for worker in workers:
            worker.join()
    scores = {p: s for o in outcomes for p, s in o["scores"].items()}
    Path(out_path).write_text("".join(json.dumps(scores[p]) + "\n" for p in range(len(step))))
    print(json.dumps({"wall": wall, "cpu": sum(o["cpu"] for o in outcomes), "start": start,
                      "gc": sum(o["gc"] for o in outcomes)}))


def server_call(url: str, path: str) -> dict:
    """POST to the bench server's `path` (/stats, /reset) at `url`'s host and port; its JSON reply."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("POST", path, body=b"")
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def _warm_shard(step: list[dict], positions: list[int], urls: list[str], concurrency: int, barriers: Any,
                results: Any, reset: str | None = None) -> dict[str, Any]:
    """Warm up, wait for the other shards (`barriers`: all warm, go), score the rows at `positions`;
    {position: output row}, wall, CPU; put on `results` too when given."""
    from ivgr.archive import RolloutArchive
    from ivgr.judges import JudgeConfig, build_judge
    from ivgr.rewards import Rollout, Scorer, ScorerConfig

    judge = build_judge(JudgeConfig(kind="openai", base_url=",".join(urls), model="judge", max_concurrency=concurrency))
    warm_up = [Rollout(**{**step[p], "question": "(warm-up) " + step[p]["question"]}) for p in positions]
    Scorer(config=ScorerConfig(), judge=judge, archive=RolloutArchive()).score_batch(warm_up, step=0)
    if barriers:
        barriers[0].wait()
    if reset:
        server_call(reset, "/reset")
    if barriers:
        barriers[1].wait()
    rollouts = [Rollout(**step[p]) for p in positions]
    scorer = Scorer(config=ScorerConfig(), judge=judge, archive=RolloutArchive())
    gc_time = [0.0, 0.0]  # [start of the current collection, total]

    def gc_clock(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_time[0] = time.perf_counter()
        else:
            gc_time[1] += time.perf_counter() - gc_time[0]

    gc.callbacks.append(gc_clock)  # the cyclic GC's share of the step (any thread)
    start, cpu0, wall0 = time.time(), time.process_time(), time.perf_counter()
    scores = scorer.score_batch(rollouts, step=0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    gc.callbacks.remove(gc_clock)
    outcome = {"scores": {p: s.to_dict() for p, s in zip(positions, scores, strict=True)},
               "wall": wall, "cpu": cpu, "start": start, "gc": gc_time[1]}
    if results is not None:
        results.put(outcome)
    return outcome


# ---------------------------------------------------------------- measuring
def timed(cmd: list[str], server: JudgeServer, env: dict[str, str] | None = None, *, reset: bool = True) -> dict[str, Any]:
    """Run `cmd` in a fresh process: wall, CPU, requests it sent, first request after start.

    A child that prints a JSON object with `wall` and `cpu` as its last line (the warm step)
    measures itself: those replace the process's figures, and it resets the server's counts
    itself (`reset=False`) once it is warm.
    """
    if reset:
        server.call("/reset")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start_wall = time.time()
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = server.call("/stats")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    first = stats["first"] - start_wall if stats["first"] else float("nan")
    span = stats["last"] - stats["first"] if stats["first"] else float("nan")
    lines = done.stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        own = json.loads(lines[-1])
        wall, cpu, first = own["wall"], own["cpu"], stats["first"] - own["start"] if stats["first"] else float("nan")
    return {"wall": wall, "cpu": cpu, "requests": stats["count"], "first": first, "span": span,
            "max_in_flight": stats["max_in_flight"], "per_port": stats["per_port"],
            **({"gc": own["gc"]} if lines and lines[-1].startswith("{") else {})}


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def report(name: str, m: dict[str, Any]) -> None:
    print(f"  {name:<34} {m['wall']:6.2f} s  {m['requests']:5d} requests  first after {m['first']:.2f} s  "
          f"first request to last reply {m['span']:.2f} s  "
          f"CPU {m['cpu']:.2f} s = {1000 * m['cpu'] / max(1, m['requests']):.2f} ms/request  "
          f"max in flight {m['max_in_flight']}" + (f"  judge errors {m['errors']}" if "errors" in m else ""))


def measure_fleet(endpoints: int, args: argparse.Namespace, src: Path, tmp: Path) -> dict[str, Any]:
    """Every contender of one step against a judge fleet of `endpoints` ports, in one server's run."""
    server = JudgeServer(endpoints, args.latency_ms)
    out: dict[str, Any] = {"endpoints": endpoints}
    try:
        urls = ",".join(server.urls)
        env = {"IVGR_JUDGE_BASE_URL": urls, "IVGR_JUDGE_MODEL": "judge", "IVGR_JUDGE_MAX_CONCURRENCY": str(args.concurrency)}
        ours_path = tmp / f"ours{endpoints}.jsonl"
        cli = [PY, "-c", "from ivgr.cli import main; main()", "score", str(src), "--judge", "openai",
               "--out", str(ours_path)] + (["--skip-judge-preflight"] if args.skip_preflight else [])
        if args.profile:
            wrapper = tmp / "ivgr_cli.py"
            wrapper.write_text("from ivgr.cli import main\nmain()\n")
            cli[1:3] = ["-m", "cProfile", "-o", str(args.profile.resolve()), str(wrapper)]
        out["ours"] = timed(cli, server, env)
        ours_rows = _rows(ours_path)
        out["ours"]["errors"] = sum(row["judge_errors"] for row in ours_rows)
        warm_runs = [("warm", "new", 1)] + ([("warm_baseline", args.baseline, 1)] if args.baseline else [])
        if args.baseline_tree:
            warm_runs.append(("warm_tree", f"tree:{tmp / 'baseline_tree'}", 1))
        if args.shards > 1:
            warm_runs.append(("warm_sharded", "new", args.shards))
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeats):  # contenders take turns, so a burst of load hits them alike
            for key, variant, shards in warm_runs:
                warm_path = tmp / f"{key}{endpoints}.jsonl"
                warm = timed([PY, __file__, "--child", "warm", str(src), urls, str(warm_path), str(args.concurrency),
                              variant, str(shards)], server, reset=False)
                warm["same"] = sum(a == b for a, b in zip(_rows(warm_path), ours_rows, strict=True))
                runs.setdefault(key, []).append(warm)
        for key, tries in runs.items():
            out[key] = {**min(tries, key=lambda m: m["wall"]), "walls": sorted(m["wall"] for m in tries),
                        "cpus": sorted(m["cpu"] for m in tries), "gcs": sorted(m["gc"] for m in tries),
                        "same": min(m["same"] for m in tries)}
        if args.compare_preflight and not args.skip_preflight:
            out["skipped"] = timed(cli + ["--skip-judge-preflight"], server, env)
        if not args.no_authors:
            out["authors"] = timed([PY, __file__, "--child", "authors", str(src), urls], server)
        if args.before and importlib.util.find_spec("openai") is None:
            print("--before needs the openai SDK; skipped", file=sys.stderr)
        elif args.before:
            before_path = tmp / f"before{endpoints}.jsonl"
            out["before"] = timed([PY, __file__, "--child", "before", str(src), urls, str(before_path)], server)
            old_rows = _rows(before_path)
            out["before"]["same"] = sum(a == b for a, b in zip(old_rows, ours_rows, strict=True))
            out["before"]["errors"] = sum(row["judge_errors"] for row in old_rows)
    finally:
        server.close()
    out["bound"] = out["ours"]["requests"] * args.latency_ms / 1000 / (args.concurrency * endpoints)
    return out


def report_fleet(m: dict[str, Any], args: argparse.Namespace, rows: int) -> None:
    ours, bound, slots = m["ours"], m["bound"], args.concurrency * m["endpoints"]
    print(f"one step: {rows} rows; judge: {m['endpoints']} endpoint(s) x {args.concurrency} in flight, "
          f"{args.latency_ms:.0f} ms a reply")
    report("ivgr score --judge openai", ours)
    print(f"    capacity bound {bound:.2f} s (requests x latency / {slots} slots); wall / bound = {ours['wall'] / bound:.2f}")
    if ours["per_port"] and len(ours["per_port"]) > 1:
        print(f"    requests per endpoint: {ours['per_port']}")
    for key, label in (("warm", "step in a warm process (new)"), ("warm_baseline", f"same, http.py at {args.baseline}"),
                       ("warm_tree", f"same, ivgr at {args.baseline_tree}"),
                       ("warm_sharded", f"same, {args.shards} warm processes")):
        if key in m:
            w = m[key]
            report(label + (f", best of {args.repeats}" if args.repeats > 1 else ""), w)
            print(f"    step / bound = {w['wall'] / bound:.2f}; identical output rows: {w['same']}/{rows}")
            if args.repeats > 1:
                walls, cpus = w["walls"], w["cpus"]
                print(f"    all walls / bound: {', '.join(f'{x / bound:.2f}' for x in walls)}; median "
                      f"{_median(walls) / bound:.2f}; CPU median {_median(cpus):.3f} s, of it cyclic GC "
                      f"{1000 * _median(w['gcs']):.0f} ms")
    if "warm_baseline" in m:
        print(f"    warm step, baseline / new = {m['warm_baseline']['wall'] / m['warm']['wall']:.2f}x")
    if "warm_tree" in m:
        old, new = m["warm_tree"], m["warm"]
        print(f"    warm step, ivgr at {args.baseline_tree} / new: best wall {old['wall'] / new['wall']:.2f}x, "
              f"median CPU {_median(old['cpus']) / _median(new['cpus']):.2f}x")
    if "skipped" in m:
        report("same, --skip-judge-preflight", m["skipped"])
        print(f"    wall with / without the preflight = {ours['wall'] / m['skipped']['wall']:.2f}")
    if "authors" in m:
        report("authors' scheduling (64 threads)", m["authors"])
        print(f"    ivgr is {m['authors']['wall'] / ours['wall']:.2f}x faster than the authors' scheduling")
    if "before" in m:
        report("ivgr before (SDK, 32, phases)", m["before"])
        print(f"    new / old: {m['before']['wall'] / ours['wall']:.2f}x faster; "
              f"identical output rows: {m['before']['same']}/{rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="judge reply delay (default 100)")
    parser.add_argument("--endpoints", default="1,10",
                        help="judge fleet sizes (ports) to measure, comma-separated (default 1,10)")
    parser.add_argument("--concurrency", type=int, default=64, help="ivgr's max_concurrency per endpoint")
    parser.add_argument("--pairs", type=int, default=230, help="question pairs in the step (authors: 230)")
    parser.add_argument("--singles", type=int, default=52, help="single questions in the step (authors: 52)")
    parser.add_argument("--skip-preflight", action="store_true",
                        help="pass --skip-judge-preflight to ivgr score (no probe request before scoring)")
    parser.add_argument("--compare-preflight", action="store_true",
                        help="also run ivgr score with --skip-judge-preflight and print the ratio")
    parser.add_argument("--baseline", default="", metavar="REV",
                        help="also time the warm step with ivgr/judges/http.py at this git revision "
                             f"(e.g. {BASELINE}: asyncio streams, a timer per request)")
    parser.add_argument("--baseline-tree", default="", metavar="REV",
                        help="also time the warm step with the whole ivgr package at this git revision")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run each warm-step contender this many times, in turns, and report the best "
                             "(and all of them); a busy machine makes single runs noisy")
    parser.add_argument("--shards", type=int, default=2,
                        help="also time the warm step split by question over this many processes, each with "
                             "its share of the slots (default 2, one per core; 1 = off)")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the ivgr run to this file")
    parser.add_argument("--no-authors", action="store_true", help="skip the authors' scheduling")
    parser.add_argument("--before", action="store_true", help="also run ivgr's old client and compare the rows")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.latency_ms / 1000))
        return
    if args.child:
        sys.path.insert(0, str(ROOT))
        kind, rows_path, urls, *rest = args.child
        {"authors": child_authors, "before": child_before, "warm": child_warm}[kind](rows_path, urls.split(","), *rest)
        return

    rows = step_rows(pairs=args.pairs, singles=args.singles)
    fleets = [int(n) for n in args.endpoints.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "step.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        if args.baseline_tree:
            extract_tree(args.baseline_tree, Path(tmp) / "baseline_tree")
        results = [measure_fleet(n, args, src, Path(tmp)) for n in fleets]
    for m in results:
        report_fleet(m, args, len(rows))
    print(f"\nsummary ({args.latency_ms:.0f} ms a reply, {args.concurrency} in flight per endpoint; "
          "bound = requests x latency / slots):")
    sharded = f"  {args.shards} processes  / bound" if args.shards > 1 else ""
    tree = f"  warm at {args.baseline_tree[:7]}  / bound" if args.baseline_tree else ""
    print(f"  endpoints  bound    ivgr score  / bound   warm step  / bound{tree}{sharded}   authors  authors / ivgr score")
    for m in results:
        authors, split, old = m.get("authors"), m.get("warm_sharded"), m.get("warm_tree")
        print(f"  {m['endpoints']:9d}  {m['bound']:5.2f} s  {m['ours']['wall']:7.2f} s  {m['ours']['wall'] / m['bound']:7.2f}"
              f"  {m['warm']['wall']:7.2f} s  {m['warm']['wall'] / m['bound']:7.2f}"
              + (f"  {old['wall']:13.2f} s  {old['wall'] / m['bound']:7.2f}" if old else "")
              + (f"  {split['wall']:9.2f} s  {split['wall'] / m['bound']:7.2f}" if split else "")
              + (f"  {authors['wall']:6.2f} s  {authors['wall'] / m['ours']['wall']:6.2f}x" if authors else ""))


if __name__ == "__main__":
    main()
