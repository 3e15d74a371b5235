"""`OpenAIJudge`: accuracy and consistency from any OpenAI-compatible endpoint (vLLM, SGLang, OpenAI).

The authors call a Qwen2.5-72B judge with blocking requests from a thread pool, retry the
accuracy prompt forever, let one HTTP error zero a whole question group, and parse scores
loosely (docs/method.md#accuracy-reward, #consistency-reward, #bug-judge-robustness). This judge:
  * is async, with at most `max_concurrency` requests in flight per endpoint, and spreads
    requests over several endpoints (`base_url` may list a fleet) by fewest requests in flight;
  * speaks chat-completions JSON over keep-alive connections (`ivgr.judges.http`; a fifth or
    less of the openai SDK's CPU per request, docs/PERFORMANCE.md); the SDK is used for
    `transport: sdk`, behind an HTTP(S) proxy, and for an injected `client` / `http_client`;
  * bounds each request (`timeout_s`), the retries (`max_retries`, exponential backoff with
    jitter) and each whole question (`deadline_s`, from its first request on), so a training
    step never hangs;
  * parses replies strictly (`ivgr.judges.parse`); an unparseable reply is a failed attempt;
  * lets the rules decide accuracy first where they are sure (`rules_first`);
  * caches verdicts and merges identical in-flight questions (`ivgr.judges.cache`);
  * fences and size-caps all variable text in the prompt (`ivgr.prompts.judge`);
  * never raises for endpoint trouble: the verdict carries `errors` (failed attempts) and
    the documented fallback. Accuracy falls back to the rules score when the rules are sure,
    else 0.0; consistency falls back to 0.0; both with source "fallback".
The API key is read from the config or the environment, sent only as the Authorization
header, and kept out of logs and `repr`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ivgr.judges.accuracy import lazy_thread_pool
from ivgr.judges.base import JudgeStats, SyncJudgeMixin, Verdict, run_sync
from ivgr.judges.cache import JudgeCache, cache_key
from ivgr.judges.config import JudgeConfig
from ivgr.judges.http import ChatEndpoint, ChatHTTPError, ChatRequest, proxy_for
from ivgr.judges.parse import parse_binary_score, parse_rubric_score
from ivgr.judges.rules import MAX_ANSWER_CHARS, RulesJudge, parse_number, strip_boxes_text
from ivgr.prompts.judge import (
    JUDGE_PROMPT_VERSION,
    accuracy_prompt,
    consistency_prompt,
    new_fence_token,
    rewrite_prompt,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Failures worth another attempt (ValueError: a non-JSON body; the SDK's errors are mapped onto
# these by `_SdkEndpoint`). Anything else is a bug in our code and should surface rather than
# turn into a silent fallback.
_RETRYABLE = (ChatHTTPError, OSError, asyncio.TimeoutError, ValueError)
# Client errors that another identical request cannot fix (bad key, unknown model, bad body).
_FATAL_STATUS = {400, 401, 403, 404, 422}
_FENCE_LINE = re.compile(r"<<<(?:END-)?[A-Z-]+-[0-9a-f]{16}>>>")


Endpoints = tuple[tuple[str, ...], str]  # (base URLs that serve the model, model name)
_NO_URLS: frozenset[str] = frozenset()
# References that may send an answer to math-verify: a superset of the rules' own test (a number,
# or LaTeX / powers / pi), checked on the loop so plain text needs no thread hop.
_MATH_REFERENCE = re.compile(r"\\[a-zA-Z]+|\^|\$|\bpi\b")


@functools.lru_cache(maxsize=4096)  # a step repeats each reference for every rollout of its question
def _may_use_math_verify(reference: str) -> bool:
    return parse_number(reference) is not None or _MATH_REFERENCE.search(reference) is not None


# One worker thread for math decisions, shared by every judge and loop of the process.
_rules_pool = lazy_thread_pool(1, "ivgr-rules-math")


@dataclass
class _Route:
    """The endpoints serving one kind of question, and the slots that bound their requests."""

    urls: tuple[str, ...]
    semaphore: asyncio.Semaphore  # max_concurrency per endpoint, times the endpoints
    in_flight: dict[str, int]

    shrunk: bool = False  # the preflight's outcome was applied (`OpenAIJudge._withdraw`)
    debt: int = 0  # slots of dropped endpoints still to take out of the semaphore

    def take(self, dead: frozenset[str]) -> str:
        """The live endpoint with the fewest requests in flight (the first on ties); call holding a slot."""
        urls = self.urls if not dead else tuple(u for u in self.urls if u not in dead) or self.urls
        url = min(urls, key=self.in_flight.__getitem__)
        self.in_flight[url] += 1
        return url


@dataclass
class _LoopState:
    """Endpoint clients and routes of one event loop (asyncio objects are loop-bound)."""

    routes: dict[tuple[str, ...], _Route] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Attempts:
    """Failed attempts of one question, readable even after the deadline cancels it."""

    errors: int = 0
    deadline: float | None = None  # monotonic time; set when the first request gets a slot


class OpenAIJudge(SyncJudgeMixin):
    """LLM judge over an OpenAI-compatible `/v1/chat/completions` endpoint.

    Example:
        judge = OpenAIJudge(base_url="http://localhost:8000/v1", model="judge", max_retries=2)
        verdict = await judge.consistency(question=q, reference=grounded_think, candidate=text_think)
    Keyword overrides are `JudgeConfig` fields. Inject `http_client` (an AsyncClient of the
    HTTP library the installed openai SDK uses: `httpx2` for openai 3.x, `httpx` before; e.g.
    with a `MockTransport`) or a ready `client` (an `openai.AsyncOpenAI`) for tests.
    """

    def __init__(
        self,
        *,
        config: JudgeConfig | None = None,
        client: Any = None,
        http_client: Any = None,
        rules: RulesJudge | None = None,
        **overrides: Any,
    ) -> None:
        base = config if config is not None else JudgeConfig(kind="openai")
        self.config = base.with_overrides(kind="openai", **overrides)
        self.base_urls = tuple(self.config.resolved_base_urls())
        self.base_url = self.base_urls[0]
        self.model = self.config.resolved_model()
        # The authors allow a separate consistency endpoint (docs/method.md#judge) but reuse the judge's
        # model name there (docs/method.md#bug-judge-robustness); here both the URL and the model can differ.
        self.consistency_base_urls = tuple(self.config.resolved_consistency_base_urls())
        self.consistency_base_url = self.consistency_base_urls[0]
        self.consistency_model = self.config.resolved_consistency_model()
        self.__api_key = self.config.resolved_api_key()  # name-mangled; never logged or shown
        self._client_override = client
        self._http_client = http_client
        self._shared_clients: dict[str, Any] = {}  # clients built on an injected http_client
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        self._last_state: tuple[weakref.ref[asyncio.AbstractEventLoop], _LoopState] | None = None
        self.rules = rules if rules is not None else RulesJudge(word_tolerance=self.config.rules_word_tolerance)
        # A step asks the rules about each (question, answer) of a GRPO group in both streams;
        # decisions that cannot involve math-verify are pure, so they are kept (`_rules_decision`).
        self._pure_decision = functools.lru_cache(maxsize=4096)(self._decide)
        self.cache = JudgeCache(self.config.cache_size)
        self._stats = JudgeStats()
        self._random = random.Random(0)  # jitter only; seeded so runs are reproducible
        self._preflight: concurrent.futures.Future[Any] | None = None
        self._dead: dict[str, frozenset[str]] | None = {}  # model -> URLs out of rotation; None = not known yet

    def __repr__(self) -> str:
        return (
            f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, n={self.config.n}, "
            f"temperature={self.config.temperature}, max_concurrency={self.config.max_concurrency})"
        )

    # ------------------------------------------------------------------ public API
    async def accuracy(self, *, question: str, answer: str, reference: str) -> Verdict:
        """Binary accuracy: rules first where sure, else the endpoint (cached), else fallback."""
        if answer is None or not answer.strip() or len(answer) > MAX_ANSWER_CHARS:
            self._stats.rules += 1
            return Verdict(0.0, 0, "rules")  # docs/method.md#accuracy-reward: no call at all
        decision = await self._rules_decision(question=question, answer=answer, reference=reference)
        # Deviation: letters, yes/no, numbers and exact matches are decided by rules without a
        # call (the authors ask the LLM for every answer, docs/method.md#accuracy-reward); option judge.rules_first.
        if self.config.rules_first and decision.decided:
            self._stats.rules += 1
            return Verdict(decision.score, 0, "rules")
        cfg = self.config
        key = cache_key(
            kind="accuracy", version=JUDGE_PROMPT_VERSION, model=self.model, question=question,
            answer=answer, reference=reference, temperature=cfg.accuracy_temperature, cap=cfg.max_fence_chars,
        )

        def prompt(token: str) -> str:
            return accuracy_prompt(
                question=question, answer=answer, reference=reference, token=token, max_chars=cfg.max_fence_chars
            )

        score, errors, hit = await self._cached(
            key, prompt, 1, cfg.accuracy_temperature, _mean_of(parse_binary_score), (self.base_urls, self.model)
        )
        if hit:
            return Verdict(score, 0, "cache")  # type: ignore[arg-type]
        if score is None:
            self._stats.fallbacks += 1
            # Deviation: a failed accuracy call gives the rules score when the rules are sure,
            # else 0.0, flagged; the authors' exception zeroed the whole question group
            # (docs/method.md#bug-judge-robustness); option judge.rules_first / judge.max_retries.
            return Verdict(decision.score if decision.decided else 0.0, max(errors, 1), "fallback")
        return Verdict(score, errors, "llm")

    async def consistency(self, *, question: str, reference: str, candidate: str) -> Verdict:
        """Rubric consistency, the mean of `n` parsed samples; 0.0 fallback on failure."""
        if not candidate.strip() or not reference.strip():
            self._stats.rules += 1
            return Verdict(0.0, 0, "rules")  # nothing to compare (docs/method.md#consistency-reward)
        cfg = self.config
        key = cache_key(
            kind="consistency", version=JUDGE_PROMPT_VERSION, model=self.consistency_model, question=question,
            reference=reference, candidate=candidate, n=cfg.n, temperature=cfg.temperature, cap=cfg.max_fence_chars,
        )

        def prompt(token: str) -> str:
            return consistency_prompt(
                question=question, reference=reference, candidate=candidate, token=token, max_chars=cfg.max_fence_chars
            )

        score, errors, hit = await self._cached(
            key, prompt, cfg.n, cfg.temperature, _mean_of(parse_rubric_score),
            (self.consistency_base_urls, self.consistency_model),
        )
        if hit:
            return Verdict(score, 0, "cache")  # type: ignore[arg-type]
        if score is None:
            self._stats.fallbacks += 1
            # Same 0.0 as the authors after their 3 tries (docs/method.md#consistency-reward), but flagged: source
            # "fallback" and errors >= 1 reach judge_errors, so a scorer can mask the row.
            return Verdict(0.0, max(errors, 1), "fallback")
        return Verdict(score, errors, "llm")

    async def rewrite(
        self, *, question: str, reasoning: str, n: int = 5, temperature: float = 0.7
    ) -> list[str]:
        """Up to `n` distinct box-free rewrites of grounded `reasoning` (for `ivgr data sft-build`).

        One request with `n` samples; duplicates, empty replies and any leftover boxes or
        fence lines are removed, so fewer than `n` may come back ([] when the endpoint
        fails; the failure is counted in `stats()`). Not cached: callers want variety.
        """
        if not reasoning.strip():
            return []
        cfg = self.config
        # Deviation: one request with n samples, deduplicated, rather than one sample per
        # request at a cycling temperature for up to 15 tries (docs/method.md#sft-cold-start); the caller
        # (ivgr data sft-build) picks n and temperature per call; options n, temperature.

        def prompt(token: str) -> str:
            return rewrite_prompt(question=question, reasoning=reasoning, token=token, max_chars=cfg.max_fence_chars)

        texts, _errors = await self._ask(prompt, n, temperature, _clean_rewrites, (self.base_urls, self.model))
        if self._dead is None:
            await self._preflight_outcome()
        return texts or []

    def use_preflight(self, outcome: concurrent.futures.Future[Any] | list[Any]) -> None:
        """Gate the verdicts on a preflight that runs alongside (`ivgr.judges.preflight.start_preflight`).

        Requests go out at once; every verdict waits for `outcome` (the endpoints that answered)
        before it is returned, so a judge that fails its preflight never yields a score: the
        preflight's JudgeError is raised instead. Endpoints missing from `outcome` leave the
        rotation, with their share of the slots; a request that failed on one of them before
        the outcome was known is redone on a live endpoint and not counted as a failed
        attempt, so the counts do not depend on which of the two finished first. A list is
        the outcome of a preflight that has already run (`check_judge_endpoints`).
        """
        if not isinstance(outcome, concurrent.futures.Future):
            done: concurrent.futures.Future[Any] = concurrent.futures.Future()
            done.set_result(list(outcome))
            outcome = done
        self._preflight = outcome
        self._dead = None
        if outcome.done() and outcome.exception() is None:
            self._record_outcome(outcome.result())

    async def _rules_decision(self, *, question: str, answer: str, reference: str) -> Any:
        """The rules' accuracy decision; off the event loop when it may need math-verify.

        math-verify (sympy) takes milliseconds to seconds per comparison, and on the loop it
        would stall every request in flight. A numeric or LaTeX reference (`_MATH_REFERENCE`,
        a superset of those the rules hand to math-verify) is decided in one worker thread, so
        comparisons still run one at a time, as they did on the loop: same verdicts. Only
        other references' decisions are cached: math-verify may give up on a slow comparison
        (a timeout), so its decisions are not a pure function of the texts.
        """
        if not _may_use_math_verify(reference):
            # Letters, yes/no, free text: no thread hop, and the same decision for the same texts.
            return self._pure_decision(question, answer, reference)
        decide = functools.partial(self._decide, question, answer, reference)
        return await asyncio.get_running_loop().run_in_executor(_rules_pool(), decide)

    def _decide(self, question: str, answer: str, reference: str) -> Any:
        return self.rules.accuracy_decision(question=question, answer=answer, reference=reference)

    def stats(self) -> JudgeStats:
        """A snapshot of the counters; subtract two snapshots for one step's metrics."""
        return JudgeStats(**vars(self._stats))

    async def aclose(self) -> None:
        """Close the HTTP clients this judge built for the running loop (injected ones are the caller's)."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        self._last_state = None
        if state is not None:
            for client in state.clients.values():
                await client.aclose()

    def close(self) -> None:
        """Close the client used by the `*_sync` methods (they share one background loop)."""
        run_sync(self.aclose())

    # ------------------------------------------------------------------ machinery
    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        last = self._last_state  # one loop serves a whole step: skip the weak-dict lookup
        if last is not None and last[0]() is loop:
            return last[1]
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        self._last_state = (weakref.ref(loop), state)
        return state

    def _route(self, state: _LoopState, urls: tuple[str, ...]) -> _Route:
        # One route per distinct URL list: when consistency uses the judge's own endpoints,
        # both kinds of question share their slots, so max_concurrency bounds each server.
        route = state.routes.get(urls)
        if route is None:
            slots = self.config.max_concurrency * len(urls)
            # A preflight still running has one probe in flight per endpoint, outside this
            # semaphore: hold one slot per endpoint back until it has answered, so no server
            # sees more than max_concurrency requests at once.
            probing = self._preflight is not None and not self._preflight.done()
            held = len(urls) if probing else 0
            route = state.routes[urls] = _Route(urls, asyncio.Semaphore(slots - held), dict.fromkeys(urls, 0))
            if held:
                self._preflight.add_done_callback(_releaser(asyncio.get_running_loop(), route.semaphore, held))  # type: ignore[union-attr]
        if not route.shrunk and self._dead:
            self._withdraw(route)
        return route

    async def _preflight_outcome(self) -> dict[str, frozenset[str]]:
        """URLs out of rotation per model, once the preflight has answered; its JudgeError if it failed."""
        if self._dead is None:
            assert self._preflight is not None
            live = await asyncio.wrap_future(self._preflight)
            if self._dead is None:  # the first waiter to wake up records the outcome
                self._record_outcome(live)
        assert self._dead is not None
        return self._dead

    def _record_outcome(self, live: list[Any]) -> None:
        answered = {(e.url, e.model) for e in live}
        dead: dict[str, frozenset[str]] = {}
        for urls, model in ((self.base_urls, self.model), (self.consistency_base_urls, self.consistency_model)):
            gone = frozenset(u for u in urls if (u, model) not in answered)
            dead[model] = dead.get(model, frozenset()) | gone
        self._dead = {m: urls for m, urls in dead.items() if urls}

    def _withdraw(self, route: _Route) -> None:
        """Take the slots of a route's dead endpoints out of its semaphore, for good.

        `max_concurrency` bounds each server: with k endpoints gone, the survivors must not
        inherit their slots. The next k x max_concurrency slots taken are kept for good
        (`route.debt`, paid in `_one_request`), before any other request gets one.
        """
        route.shrunk = True
        dead = self._dead or {}
        models = [m for urls, m in ((self.base_urls, self.model), (self.consistency_base_urls, self.consistency_model))
                  if urls == route.urls]
        gone = [u for u in route.urls if models and all(u in dead.get(m, ()) for m in models)]
        route.debt = self.config.max_concurrency * min(len(gone), len(route.urls) - 1)

    def _client(self, state: _LoopState, url: str) -> Any:
        """The endpoint client for `url` on this loop: lean (`ChatEndpoint`) or the SDK's."""
        client = state.clients.get(url)
        if client is None:
            client = state.clients[url] = self._new_client(url)
        return client

    def _new_client(self, url: str) -> Any:
        if self._client_override is not None:
            return _SdkEndpoint(self._client_override, owned=False)
        if self._http_client is not None:
            if url not in self._shared_clients:
                self._shared_clients[url] = self._new_openai_client(url, self._http_client)
            return _SdkEndpoint(self._shared_clients[url], owned=False)
        proxy = proxy_for(url)
        if self.config.transport == "sdk" or proxy:
            if proxy:
                logger.info("judge endpoint %s goes through the environment's proxy; using the openai SDK", url)
            return _SdkEndpoint(self._new_openai_client(url, None), owned=True)
        from ivgr import __version__

        return ChatEndpoint(url, api_key=self.__api_key, user_agent=f"ivgr/{__version__}")

    def _new_openai_client(self, url: str, http_client: Any) -> Any:
        import openai  # only the SDK transport pays for importing it (about 1 s)

        # Retries live in our loop (bounded, counted), so the SDK's own retries are off.
        return openai.AsyncOpenAI(
            base_url=url,
            api_key=self.__api_key,
            timeout=self.config.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    # Deviation: identical judge questions are asked once (LRU + in-flight merging); the
    # authors ask every rollout's question anew (docs/method.md#bug-judge-robustness); option judge.cache_size (0 = off).
    async def _cached(
        self,
        key: str,
        prompt: Callable[[str], str],
        n: int,
        temperature: float,
        accept: Callable[[list[str]], float | None],
        endpoints: Endpoints,
    ) -> tuple[float | None, int, bool]:
        score, errors, hit = await self.cache.get_or_compute(
            key, lambda: self._ask(prompt, n, temperature, accept, endpoints)
        )
        if self._dead is None:
            await self._preflight_outcome()  # JudgeError when the judge failed its preflight
        if hit:
            self._stats.cache_hits += 1
        return score, (errors or 0), hit

    async def _ask(
        self,
        prompt: Callable[[str], str],
        n: int,
        temperature: float,
        accept: Callable[[list[str]], T | None],
        endpoints: Endpoints,
    ) -> tuple[T | None, int]:
        """One judge question: `(accepted value or None, failed attempts)`.

        The hard cap `deadline_s` runs from the moment the question's first request gets a
        concurrency slot: requests, backoff and later waits all count; the queue wait before
        it does not, because with thousands of questions per step that wait measures the
        load, not this question (it is bounded by the caps of the questions ahead).
        """
        attempts = _Attempts()
        value = await self._attempts(prompt, n, temperature, accept, endpoints, attempts)
        return value, attempts.errors

    async def _attempts(
        self,
        prompt: Callable[[str], str],
        n: int,
        temperature: float,
        accept: Callable[[list[str]], T | None],
        endpoints: Endpoints,
        attempts: _Attempts,
    ) -> T | None:
        # Deviation: bounded retries with exponential backoff (the authors retry accuracy
        # forever, docs/method.md#bug-judge-robustness); option judge.max_retries / judge.backoff_s / judge.deadline_s.
        state = self._loop_state()
        request = ChatRequest(endpoints[1], temperature, n)
        attempt = 0
        while attempt < 1 + self.config.max_retries:
            if attempt:
                remaining = self._remaining(attempts)
                if remaining <= 0:
                    logger.warning("judge question hit its %.1fs deadline after %d failed attempt(s)",
                                   self.config.deadline_s, attempts.errors)
                    break
                await asyncio.sleep(min(self._backoff(attempt), remaining))
            # Deviation: untrusted text is fenced with random per-request markers and size-capped;
            # the authors paste completions into the prompt raw (docs/method.md#bug-judge-robustness); option judge.max_fence_chars.
            token = new_fence_token()  # fresh markers per request, so replies cannot learn them
            errors_before = attempts.errors
            texts, fatal, url = await self._one_request(state, endpoints[0], request, prompt(token), attempts)
            if attempts.errors > errors_before and self._preflight is not None:
                dead = (await self._preflight_outcome()).get(endpoints[1], _NO_URLS)  # JudgeError: all failed
                if url in dead and not dead.issuperset(endpoints[0]):
                    # Not this question's failure: the endpoint is out of rotation now; redo the
                    # attempt elsewhere, uncounted, so counts do not depend on the probe's timing.
                    self._stats.errors -= attempts.errors - errors_before
                    self._stats.calls -= 1
                    attempts.errors = errors_before
                    continue
            attempt += 1
            if texts is not None:
                value = accept(texts)
                if value is not None:
                    return value
                attempts.errors += 1
                self._stats.errors += 1
                logger.warning("judge reply unparseable (attempt %d): %r", attempt, [t[:80] for t in texts])
            if fatal:
                break
        return None

    async def _one_request(
        self, state: _LoopState, urls: tuple[str, ...], request: ChatRequest, prompt: str, attempts: _Attempts
    ) -> tuple[list[str] | None, bool, str]:
        """Send one request: `(choice texts or None on failure, failure is fatal, endpoint URL)`."""
        # Deviation: one async client with a semaphore and a per-request timeout; the authors
        # block a 64-thread pool with sequential calls per question and the SDK's 600 s
        # timeout (docs/method.md#bug-judge-robustness); options judge.max_concurrency, judge.timeout_s.
        route = self._route(state, urls)
        await route.semaphore.acquire()
        while route.debt:  # the slot just taken pays for a dropped endpoint's slot and is kept for good
            route.debt -= 1
            await route.semaphore.acquire()  # cancelled here, this holds no slot: nothing to release
        try:
            if attempts.deadline is None:
                attempts.deadline = time.monotonic() + self.config.deadline_s
            remaining = self._remaining(attempts)
            if remaining <= 0:
                return None, True, ""  # the cap expired while waiting for a slot: stop, no request
            self._stats.calls += 1
            url = route.take(self._dead.get(request.model, _NO_URLS) if self._dead else _NO_URLS)
            started = time.monotonic()
            try:
                client = self._client(state, url)  # built outside the timeout: the SDK's import takes ~1 s
                response = await client.ask(request, prompt, timeout=min(self.config.timeout_s, remaining))
                texts = _choice_texts(response)
                if texts is None:
                    attempts.errors += 1
                    self._stats.errors += 1
                    logger.warning("judge reply has no usable choices (not an OpenAI chat completion)")
                return texts, False, url
            except _RETRYABLE as err:
                attempts.errors += 1
                self._stats.errors += 1
                status = getattr(err, "status_code", None)
                # Only the exception type and status: messages may echo request details.
                logger.warning("judge request failed: %s%s", type(err).__name__, f" (HTTP {status})" if status else "")
                # Deviation: 400/401/403/404/422 are not retried (another identical request cannot
                # succeed); the authors retry consistency 3x on any error; option judge.max_retries.
                if status in _FATAL_STATUS:
                    logger.error("judge endpoint rejected the request with HTTP %s; check the judge "
                                 "URL, model name and the API key variable %s", status, self.config.api_key_env)
                return None, status in _FATAL_STATUS, url
            finally:
                route.in_flight[url] -= 1
                self._stats.latency_s += time.monotonic() - started
        finally:
            route.semaphore.release()

    def _remaining(self, attempts: _Attempts) -> float:
        if attempts.deadline is None:
            return self.config.deadline_s
        return attempts.deadline - time.monotonic()

    def _backoff(self, attempt: int) -> float:
        base = min(self.config.backoff_max_s, self.config.backoff_s * (2 ** (attempt - 1)))
        return base * (0.5 + 0.5 * self._random.random())


def _releaser(
    loop: asyncio.AbstractEventLoop, semaphore: asyncio.Semaphore, count: int
) -> Callable[[concurrent.futures.Future[Any]], None]:
    """A done-callback (run in the preflight's thread) that gives `count` slots back on `loop`."""

    def release_all() -> None:
        for _ in range(count):
            semaphore.release()

    def callback(_future: concurrent.futures.Future[Any]) -> None:
        try:
            loop.call_soon_threadsafe(release_all)
        except RuntimeError:  # the loop is closed: nothing is waiting for those slots any more
            pass

    return callback


async def _bounded(coro: Awaitable[T], seconds: float) -> T:
    """`await coro` with a timeout (TimeoutError); the lean client bounds its requests itself
    (one timer per endpoint), the SDK's requests go through here."""
    if hasattr(asyncio, "timeout"):  # Python 3.11+
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


class _SdkEndpoint:
    """The `ChatEndpoint` interface over an `openai.AsyncOpenAI` client (SDK transport, tests)."""

    def __init__(self, client: Any, *, owned: bool) -> None:
        self._client = client
        self._owned = owned  # injected clients are the caller's to close

    async def ask(self, request: ChatRequest, content: str, *, timeout: float) -> dict[str, Any]:
        return await _bounded(self.chat(request.payload(content)), timeout)

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The reply as a plain dict; SDK errors become the lean client's (status kept)."""
        import openai

        try:
            response = await self._client.chat.completions.create(**payload)
        except openai.APIStatusError as err:
            raise ChatHTTPError(err.status_code) from None
        except openai.OpenAIError as err:  # connection errors and timeouts of the SDK
            raise ConnectionError(type(err).__name__) from None
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            return {}
        return {"choices": [{"message": {"content": getattr(getattr(c, "message", None), "content", None)}}
                            for c in choices]}

    async def aclose(self) -> None:
        if self._owned:
            await self._client.close()


def _choice_texts(response: dict[str, Any]) -> list[str] | None:
    """Message texts of a chat completion body, or None when it does not have that shape."""
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    texts = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        texts.append(content if isinstance(content, str) else "")
    return texts


def _mean_of(parse: Callable[[str], float | None]) -> Callable[[list[str]], float | None]:
    """Mean of the parseable samples; None when none parses (authors average parsed ones, docs/method.md#consistency-reward)."""

    def accept(texts: list[str]) -> float | None:
        scores = [s for s in (parse(t) for t in texts) if s is not None]
        return sum(scores) / len(scores) if scores else None

    return accept


def _clean_rewrites(texts: list[str]) -> list[str] | None:
    """Distinct non-empty rewrites with boxes, tags and fence lines removed; None if none."""
    out: list[str] = []
    for text in texts:
        cleaned = " ".join(_FENCE_LINE.sub(" ", strip_boxes_text(text)).split())
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out or None


__all__ = ["OpenAIJudge"]
