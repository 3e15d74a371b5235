"""Judge preflight: one cheap, real request to each judge endpoint before any expensive work.

A judge that is down, rejects the key or does not serve the configured model would otherwise
show up only as fallback rewards (`judge_errors`) once the model is loaded and generating.
`check_judge_endpoints` sends one short chat completion ("reply with 1") to every distinct
(endpoint, model) pair the config names, and turns a failure into one `JudgeError` line that
names the URL and the fix, never the key:

    from ivgr.judges import JudgeConfig
    from ivgr.judges.preflight import check_judge_endpoints
    check_judge_endpoints(JudgeConfig.from_env(kind="openai"))   # JudgeError on trouble

Every endpoint of a fleet (`base_url` may list several) is probed, all at once. An endpoint
that fails is taken out of the rotation with a one-line warning; when every endpoint of the
judge (or of the consistency judge) fails, the first one's error is raised, as for a single
endpoint.

`ivgr train` and `ivgr data sft-build` call it before loading anything; `ivgr score` starts it
alongside the scoring (`start_preflight`) and the judge holds back every verdict until it has
answered (`OpenAIJudge.use_preflight`), so the probe costs no time on the step's critical path.
`--skip-judge-preflight` (train: also the recipe key `judge_preflight: false`) turns it off.
The rules judge has no endpoint, so nothing is checked. This module talks HTTP itself (httpx,
blocking): it must not depend on the judge's own transport, whose whole point is to hide
failures behind counted fallbacks.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivgr.errors import JudgeError
from ivgr.judges.config import ENV_BASE_URL, ENV_CONSISTENCY_BASE_URL, ENV_CONSISTENCY_MODEL, ENV_MODEL, JudgeConfig
from ivgr.judges.http import proxy_for

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # an unroutable host fails in seconds, not after the judge's read timeout
MAX_READ_TIMEOUT_S = 60.0  # a cold judge may be slow to answer; a dead one fails at connect
SKIP_HINT = "--skip-judge-preflight skips this check"
PROMPT = "Reply with the single digit 1."


@dataclass(frozen=True)
class Endpoint:
    """One (URL, model) pair to check; `role` and the hints say which settings to fix."""

    url: str
    model: str
    role: str = "judge"
    url_hint: str = f"judge.base_url / --judge-url / ${ENV_BASE_URL}"
    model_hint: str = f"judge.model / --judge-model / ${ENV_MODEL}"


def judge_endpoints(config: JudgeConfig) -> list[Endpoint]:
    """The distinct endpoints a judge built from `config` will call ([] for the rules judge).

    Every URL of the judge fleet with the judge's model, then every consistency URL with the
    consistency model, each (URL, model) pair once.
    """
    if config.kind != "openai":
        return []
    model, consistency_model = config.resolved_model(), config.resolved_consistency_model()
    out = [Endpoint(url, model) for url in config.resolved_base_urls()]
    seen = {(e.url, e.model) for e in out}
    for url in config.resolved_consistency_base_urls():
        if (url, consistency_model) not in seen:
            seen.add((url, consistency_model))
            out.append(Endpoint(
                url, consistency_model, role="consistency judge",
                url_hint=f"judge.consistency_base_url / ${ENV_CONSISTENCY_BASE_URL}",
                model_hint=f"judge.consistency_model / ${ENV_CONSISTENCY_MODEL}",
            ))
    return out


def check_judge_endpoints(config: JudgeConfig, *, transport: httpx.BaseTransport | None = None) -> list[Endpoint]:
    """Probe every endpoint of `config` at once; the endpoints that answered.

    An endpoint that fails is logged (one warning line, the JudgeError's text) and left out of
    the result. When no endpoint of the judge fleet, or none of the consistency fleet, answers,
    JudgeError (one line) for the first of that fleet in config order, so the message does not
    depend on which probe finished first. `transport` is for tests (an `httpx.MockTransport`).
    """
    # Deviation: one request per judge endpoint before the model loads (the authors start training
    # without checking the judge); option judge_preflight / --skip-judge-preflight.
    endpoints = judge_endpoints(config)
    if not endpoints:
        return []
    import httpx  # here, not at the top: `ivgr score` imports this module on its critical path

    key = config.resolved_api_key()
    timeout = httpx.Timeout(min(config.timeout_s, MAX_READ_TIMEOUT_S), connect=CONNECT_TIMEOUT_S)
    # Plain-HTTP endpoints reached directly need no TLS context; building one (the CA bundle)
    # costs ~50 ms of CPU at `ivgr score` start-up, where the probes share the cores with the scoring.
    tls = any(not e.url.startswith("http://") or proxy_for(e.url) for e in endpoints)
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False, verify=tls) as client:

        def probe(endpoint: Endpoint) -> JudgeError | None:
            try:
                _check(client, endpoint, key=key, key_env=config.api_key_env)
            except JudgeError as err:
                return err
            return None

        if len(endpoints) == 1:
            failures = [probe(endpoints[0])]
        else:  # blocking I/O: one thread per endpoint, so a fleet costs one round trip
            with concurrent.futures.ThreadPoolExecutor(len(endpoints), thread_name_prefix="ivgr-preflight") as pool:
                failures = list(pool.map(probe, endpoints))
    failed = {(e.url, e.model): err for e, err in zip(endpoints, failures, strict=True) if err is not None}
    for model, urls in ((config.resolved_model(), config.resolved_base_urls()),
                        (config.resolved_consistency_model(), config.resolved_consistency_base_urls())):
        if all((url, model) in failed for url in urls):
            raise failed[(urls[0], model)]
    live = [e for e in endpoints if (e.url, e.model) not in failed]
    for endpoint in endpoints:
        err = failed.get((endpoint.url, endpoint.model))
        if err is None:
            logger.info("judge preflight: %s answers for model %r", shown_url(endpoint.url), endpoint.model)
        else:
            logger.warning("%s; this endpoint is taken out of the rotation", err)
    return live


def start_preflight(config: JudgeConfig) -> concurrent.futures.Future[list[Endpoint]]:
    """`check_judge_endpoints(config)` in a background thread; its future (JudgeError on failure).

    For `OpenAIJudge.use_preflight`: requests go out at once while the probes run, and the
    judge holds every verdict back until the future has answered.
    """
    future: concurrent.futures.Future[list[Endpoint]] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(check_judge_endpoints(config))
        except BaseException as err:  # handed to whoever waits on the future
            future.set_exception(err)

    # A daemon thread: a process that stops for another reason does not wait for a slow probe.
    threading.Thread(target=run, name="ivgr-judge-preflight", daemon=True).start()
    return future


def _check(client: httpx.Client, endpoint: Endpoint, *, key: str, key_env: str) -> None:
    import httpx

    url = shown_url(endpoint.url)
    where = f"{endpoint.role} preflight: {url}"
    body = {"model": endpoint.model, "messages": [{"role": "user", "content": PROMPT}], "temperature": 0.0}
    try:
        response = client.post(
            endpoint.url.rstrip("/") + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    except httpx.TimeoutException as err:
        raise JudgeError(
            f"{where} did not answer in time ({type(err).__name__}); check that the judge server is up and "
            f"reachable from here, or fix {endpoint.url_hint}; {SKIP_HINT}"
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        # Only the exception type: messages can echo request details.
        raise JudgeError(
            f"{where} is unreachable ({type(err).__name__}); start the judge server (e.g. `vllm serve MODEL "
            f"--served-model-name {endpoint.model}`) or fix {endpoint.url_hint}; {SKIP_HINT}"
        ) from None
    problem = classify_response(response.status_code, response.content, model=endpoint.model)
    if problem is None:
        return
    kind, detail = problem
    if kind == "auth":
        fix = (f"export {key_env}=<key> (no key is set)" if key == "EMPTY"
               else f"set {key_env} to a key this server accepts")
        raise JudgeError(f"{where} rejected the API key (HTTP {response.status_code}); {fix}")
    if kind == "model":
        served = served_models(client, endpoint.url, key)
        listing = f" (it serves: {', '.join(served)})" if served else ""
        raise JudgeError(
            f"{where} does not serve model {endpoint.model!r}{listing} (HTTP {response.status_code}); "
            f"set {endpoint.model_hint} to a served model name"
        )
    if kind == "path":
        raise JudgeError(
            f"{where} has no /chat/completions (HTTP 404); the URL must be the API root, "
            f"usually ending in /v1 (e.g. http://localhost:8000/v1); fix {endpoint.url_hint}"
        )
    if kind == "shape":
        raise JudgeError(
            f"{where} answered HTTP 200 but not with an OpenAI chat completion; point {endpoint.url_hint} "
            f"at an OpenAI-compatible server (vLLM, SGLang, OpenAI); {SKIP_HINT}"
        )
    raise JudgeError(
        f"{where} answered HTTP {response.status_code}{detail}; check the judge server's log, "
        f"or fix {endpoint.url_hint}; {SKIP_HINT}"
    )


def classify_response(status: int, content: bytes, *, model: str) -> tuple[str, str] | None:
    """None when the reply proves the endpoint works; else (kind, detail).

    kinds: "auth" (401/403), "model" (the error names the model: vLLM 404, OpenAI
    model_not_found, 400s of other servers), "path" (a 404 that is not about the model),
    "shape" (200 without `choices`), "status" (anything else). 429 counts as working: the
    server is up, knows the key and the model, and only asks us to slow down.

    >>> classify_response(200, b'{"choices": [{"message": {"content": "1"}}]}', model="judge") is None
    True
    >>> classify_response(404, b'{"message": "The model `jduge` does not exist."}', model="jduge")[0]
    'model'
    >>> classify_response(404, b'Not Found', model="judge")[0]
    'path'
    """
    if status == 200:
        body = _json(content)
        ok = isinstance(body, dict) and isinstance(body.get("choices"), list) and body["choices"]
        return None if ok else ("shape", "")
    if status == 429:
        logger.warning("judge preflight: the endpoint is rate limiting (HTTP 429); it is up, continuing")
        return None
    if status in (401, 403):
        return "auth", ""
    if status in (400, 404, 422) and _names_model(content, model):
        return "model", ""
    if status == 404:
        return "path", ""
    return "status", " (server error)" if status >= 500 else ""


def _names_model(content: bytes, model: str) -> bool:
    """Does an error body say the model is unknown? (No server agrees on a format; read the text.)"""
    text = content.decode("utf-8", errors="replace").lower()
    return "model_not_found" in text or ("model" in text and (model.lower() in text or "not exist" in text
                                                              or "not found" in text))


def served_models(client: httpx.Client, url: str, key: str) -> list[str]:
    """Model ids from `GET /models` (at most 5), or [] when the server does not list them."""
    import httpx

    try:
        response = client.get(url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {key}"})
    except (httpx.HTTPError, httpx.InvalidURL):
        return []
    body = _json(response.content) if response.status_code == 200 else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    ids = [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
    return ids[:5] + (["..."] if len(ids) > 5 else [])


def shown_url(url: str) -> str:
    """`url` without user:password and query string, which may carry credentials.

    >>> shown_url("https://user:sk-123@judge.example.com:8443/v1?api-key=sk-123")
    'https://judge.example.com:8443/v1'
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a malformed port: show none rather than fail while reporting
        port = None
    netloc = f"{host}:{port}" if port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


__all__ = [
    "Endpoint", "check_judge_endpoints", "classify_response", "judge_endpoints", "shown_url", "start_preflight",
]
