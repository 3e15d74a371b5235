"""Judges for the accuracy and consistency rewards (docs/method.md#accuracy-reward, #consistency-reward).

    from ivgr.judges import JudgeConfig, build_judge
    judge = build_judge(JudgeConfig())                       # offline rules judge
    judge = build_judge(JudgeConfig.from_env(kind="openai")) # IVGR_JUDGE_BASE_URL, _MODEL, _API_KEY
    verdict = await judge.accuracy(question=q, answer="It is pink.", reference="pink")
    verdict = judge.accuracy_sync(question=q, answer="B", reference="B")   # from sync code

Importing this package pulls in neither torch nor the `openai` SDK; the `openai` judge
imports the SDK only for `transport="sdk"`, behind a proxy, or for an injected client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivgr._lazy import lazy_module_getattr
from ivgr.errors import ConfigError
from ivgr.judges.base import Judge, JudgeStats, SyncJudgeMixin, Verdict, run_sync
from ivgr.judges.cache import JudgeCache, cache_key
from ivgr.judges.config import JudgeConfig
from ivgr.judges.parse import parse_binary_score, parse_rubric_score
from ivgr.judges.rules import RulesJudge

if TYPE_CHECKING:
    from ivgr.judges.openai_judge import OpenAIJudge


def build_judge(config: JudgeConfig, **kwargs: object) -> Judge:
    """The judge `config.kind` names. `kwargs` go to the OpenAIJudge (`http_client`, `client`)."""
    if config.kind == "rules":
        return RulesJudge(word_tolerance=config.rules_word_tolerance)
    if config.kind == "openai":
        from ivgr.judges.openai_judge import OpenAIJudge

        return OpenAIJudge(config=config, **kwargs)  # type: ignore[arg-type]
    raise ConfigError(f"unknown judge kind {config.kind!r}; use rules or openai")


# Lazy export, so `import ivgr.judges` stays free of the openai SDK.
__getattr__ = lazy_module_getattr(__name__, {"OpenAIJudge": "ivgr.judges.openai_judge"})


__all__ = [
    "Judge",
    "Verdict",
    "JudgeStats",
    "JudgeConfig",
    "JudgeCache",
    "RulesJudge",
    "OpenAIJudge",
    "SyncJudgeMixin",
    "build_judge",
    "run_sync",
    "cache_key",
    "parse_binary_score",
    "parse_rubric_score",
]
