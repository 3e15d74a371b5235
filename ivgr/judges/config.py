"""`JudgeConfig`: every knob of the accuracy and consistency judges, validated once.

Defaults reproduce the authors' released code where it is sound (consistency: n=4 samples
at temperature 0.5, averaged; accuracy at temperature 0.01; endpoint model name `judge`;
docs/method.md#accuracy-reward, #consistency-reward, #judge) and bound everything the authors left
unbounded (retries, time, concurrency, prompt size; docs/method.md#bug-judge-robustness).

Endpoint settings may come from the environment so a key never has to sit in a recipe:
`IVGR_JUDGE_BASE_URL` (one URL, or a comma-separated fleet), `IVGR_JUDGE_MODEL`,
`IVGR_JUDGE_API_KEY` (the name of the key variable is itself configurable through
`api_key_env`) and `IVGR_JUDGE_MAX_CONCURRENCY` (requests in flight per endpoint).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ivgr.errors import ConfigError

JUDGE_KINDS = ("rules", "openai")
TRANSPORTS = ("lean", "sdk")
ENV_BASE_URL = "IVGR_JUDGE_BASE_URL"
ENV_MODEL = "IVGR_JUDGE_MODEL"
ENV_API_KEY = "IVGR_JUDGE_API_KEY"
ENV_KIND = "IVGR_JUDGE_KIND"
ENV_CONSISTENCY_BASE_URL = "IVGR_JUDGE_CONSISTENCY_BASE_URL"
ENV_CONSISTENCY_MODEL = "IVGR_JUDGE_CONSISTENCY_MODEL"
ENV_MAX_CONCURRENCY = "IVGR_JUDGE_MAX_CONCURRENCY"


@dataclass
class JudgeConfig:
    """Settings of one judge. Build the judge with `ivgr.judges.build_judge(config)`."""

    kind: str = field(default="rules", metadata={"help": "rules (offline, default) or openai."})
    base_url: str | None = field(
        default=None,
        metadata={
            "help": f"OpenAI-compatible endpoint, e.g. http://localhost:8000/v1, or several separated by commas "
            f"(a judge fleet serving the same model; requests go to the least busy); else ${ENV_BASE_URL}."
        },
    )
    model: str | None = field(
        default=None,
        metadata={"help": f"Served judge model name; else ${ENV_MODEL}; else 'judge' as the authors."},
    )
    consistency_base_url: str | None = field(
        default=None,
        metadata={
            "help": f"Optional separate endpoint(s) for consistency, comma-separated; else "
            f"${ENV_CONSISTENCY_BASE_URL}; else base_url."
        },
    )
    consistency_model: str | None = field(
        default=None,
        metadata={"help": f"Model name at the consistency endpoint; else ${ENV_CONSISTENCY_MODEL}; else model."},
    )
    api_key_env: str = field(
        default=ENV_API_KEY,
        metadata={"help": "Name of the environment variable holding the API key (never logged)."},
    )
    api_key: str | None = field(
        default=None,
        repr=False,  # the key must never reach a log line or a saved config dump via repr
        metadata={"help": "API key; prefer the environment variable named by api_key_env."},
    )
    n: int = field(
        default=4,
        metadata={"help": "Consistency samples per question, averaged (authors' code: 4; paper main table: 1)."},
    )
    temperature: float = field(
        default=0.5,
        metadata={"help": "Consistency sampling temperature (authors' code: 0.5; paper main table: ~0)."},
    )
    accuracy_temperature: float = field(
        default=0.01, metadata={"help": "Accuracy judge temperature (authors: 0.01)."}
    )
    timeout_s: float = field(default=30.0, metadata={"help": "Per-request timeout in seconds."})
    max_retries: int = field(
        default=2,
        metadata={"help": "Retries after a failed or unparseable request (bounded; authors retry accuracy forever)."},
    )
    backoff_s: float = field(
        default=0.5, metadata={"help": "First retry delay; doubles each retry, with jitter."}
    )
    backoff_max_s: float = field(default=8.0, metadata={"help": "Cap on one retry delay."})
    deadline_s: float = field(
        default=120.0,
        metadata={"help": "Hard cap on one judge question from its first request (retries and backoff included), so a step never hangs."},
    )
    max_concurrency: int = field(
        default=64,
        metadata={"help": "Requests in flight at once per endpoint (the authors run 64 judge threads)."},
    )
    transport: str = field(
        default="lean",
        metadata={
            "help": "lean (chat-completions JSON over keep-alive connections; a fraction of the SDK's CPU per "
            "request, docs/PERFORMANCE.md) or sdk (the openai SDK); an HTTP(S) proxy in the environment "
            "always uses the SDK."
        },
    )
    rules_first: bool = field(
        default=True,
        metadata={"help": "Let the rules judge decide accuracy where it is sure (letters, yes/no, numbers, exact match)."},
    )
    max_fence_chars: int = field(
        default=6000,
        metadata={"help": "Cap on each untrusted text block in a prompt; longer text is truncated and marked."},
    )
    rules_word_tolerance: float = field(
        default=0.2,
        metadata={"help": "Rules consistency: share of content words one text may lack before it counts as extra/missing."},
    )
    cache_size: int = field(
        default=100_000, metadata={"help": "Verdicts kept in the LRU cache (0 disables caching)."}
    )

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        """Reject impossible settings with a message naming the key and the fix."""
        if self.kind not in JUDGE_KINDS:
            raise ConfigError(f"judge.kind must be one of {', '.join(JUDGE_KINDS)}, got {self.kind!r}")
        _check(self.n >= 1, f"judge.n must be >= 1, got {self.n}")
        _check(self.n <= 64, f"judge.n must be <= 64 (one request carries n samples), got {self.n}")
        _check(0.0 <= self.temperature <= 2.0, f"judge.temperature must be in [0, 2], got {self.temperature}")
        _check(
            0.0 <= self.accuracy_temperature <= 2.0,
            f"judge.accuracy_temperature must be in [0, 2], got {self.accuracy_temperature}",
        )
        _check(self.timeout_s > 0, f"judge.timeout_s must be > 0, got {self.timeout_s}")
        _check(0 <= self.max_retries <= 20, f"judge.max_retries must be in [0, 20], got {self.max_retries}")
        _check(self.backoff_s >= 0, f"judge.backoff_s must be >= 0, got {self.backoff_s}")
        _check(
            self.backoff_max_s >= self.backoff_s,
            f"judge.backoff_max_s ({self.backoff_max_s}) must be >= judge.backoff_s ({self.backoff_s})",
        )
        _check(self.deadline_s > 0, f"judge.deadline_s must be > 0, got {self.deadline_s}")
        _check(
            self.max_concurrency >= 1, f"judge.max_concurrency must be >= 1, got {self.max_concurrency}"
        )
        _check(
            self.max_fence_chars >= 200,
            f"judge.max_fence_chars must be >= 200 (room for a reasoning chain), got {self.max_fence_chars}",
        )
        _check(
            0.0 <= self.rules_word_tolerance < 1.0,
            f"judge.rules_word_tolerance must be in [0, 1), got {self.rules_word_tolerance}",
        )
        _check(self.cache_size >= 0, f"judge.cache_size must be >= 0, got {self.cache_size}")
        _check(
            self.transport in TRANSPORTS,
            f"judge.transport must be one of {', '.join(TRANSPORTS)}, got {self.transport!r}",
        )
        for key in ("base_url", "consistency_base_url"):
            value = getattr(self, key)
            if value is not None:
                split_urls(value, f"judge.{key}")

    @classmethod
    def from_env(cls, **overrides: Any) -> JudgeConfig:
        """Config from `IVGR_JUDGE_*` variables; explicit keyword overrides win.

        `IVGR_JUDGE_KIND` picks the kind; without it, a set `IVGR_JUDGE_BASE_URL` means
        `openai` and otherwise `rules`. The key itself is not copied into the config: it
        is read from the environment when the client is built (`resolved_api_key`).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown judge setting(s) {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = {}
        if os.environ.get(ENV_BASE_URL):
            values["base_url"] = os.environ[ENV_BASE_URL]
        if os.environ.get(ENV_MODEL):
            values["model"] = os.environ[ENV_MODEL]
        if os.environ.get(ENV_CONSISTENCY_BASE_URL):
            values["consistency_base_url"] = os.environ[ENV_CONSISTENCY_BASE_URL]
        if os.environ.get(ENV_CONSISTENCY_MODEL):
            values["consistency_model"] = os.environ[ENV_CONSISTENCY_MODEL]
        if os.environ.get(ENV_MAX_CONCURRENCY):
            raw = os.environ[ENV_MAX_CONCURRENCY]
            _check(raw.strip().isdigit(), f"${ENV_MAX_CONCURRENCY} must be a whole number, got {raw!r}")
            values["max_concurrency"] = int(raw)
        kind = os.environ.get(ENV_KIND) or ("openai" if values.get("base_url") else "rules")
        values["kind"] = kind
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> JudgeConfig:
        """A validated copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def resolved_base_urls(self) -> list[str]:
        """Every judge endpoint, from the config or the environment; ConfigError if none."""
        value = self.base_url or os.environ.get(ENV_BASE_URL)
        if not value:
            raise ConfigError(
                f"the openai judge needs an endpoint: set judge.base_url (--judge-url) or ${ENV_BASE_URL}, "
                "e.g. http://localhost:8000/v1"
            )
        return split_urls(value, "judge.base_url" if self.base_url else f"${ENV_BASE_URL}")

    def resolved_base_url(self) -> str:
        """The (first) endpoint to call; `resolved_base_urls` lists a whole fleet."""
        return self.resolved_base_urls()[0]

    def resolved_consistency_base_urls(self) -> list[str]:
        """The consistency endpoints: their own setting or variable, else the judge endpoints."""
        value = self.consistency_base_url or os.environ.get(ENV_CONSISTENCY_BASE_URL)
        if not value:
            return self.resolved_base_urls()
        key = "judge.consistency_base_url" if self.consistency_base_url else f"${ENV_CONSISTENCY_BASE_URL}"
        return split_urls(value, key)

    def resolved_consistency_base_url(self) -> str:
        """The (first) consistency endpoint; `resolved_consistency_base_urls` lists all."""
        return self.resolved_consistency_base_urls()[0]

    def resolved_consistency_model(self) -> str:
        """The model name at the consistency endpoint: its own setting or variable, else `resolved_model`."""
        return self.consistency_model or os.environ.get(ENV_CONSISTENCY_MODEL) or self.resolved_model()

    def resolved_model(self) -> str:
        """The served model name; 'judge' (the authors' name, docs/method.md#judge) when nothing is set."""
        return self.model or os.environ.get(ENV_MODEL) or "judge"

    def resolved_api_key(self) -> str:
        """The API key from the config or the environment; 'EMPTY' for local servers (vLLM)."""
        return self.api_key or os.environ.get(self.api_key_env) or "EMPTY"


def split_urls(value: str, key: str) -> list[str]:
    """Endpoint URLs from a comma-separated list, each checked; ConfigError names `key`.

    >>> split_urls("http://a:8000/v1, http://b:8000/v1", "judge.base_url")
    ['http://a:8000/v1', 'http://b:8000/v1']
    """
    urls = [u.strip() for u in value.split(",") if u.strip()]
    if not urls:
        raise ConfigError(f"{key} lists no endpoint, got {value!r} (e.g. http://localhost:8000/v1)")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key} must start with http:// or https://, got {url!r} (e.g. http://localhost:8000/v1)")
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{key} lists an endpoint twice: {value!r}")
    return urls


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


__all__ = [
    "JudgeConfig",
    "JUDGE_KINDS",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "ENV_API_KEY",
    "ENV_KIND",
    "ENV_CONSISTENCY_BASE_URL",
    "ENV_CONSISTENCY_MODEL",
    "ENV_MAX_CONCURRENCY",
    "TRANSPORTS",
    "split_urls",
]
