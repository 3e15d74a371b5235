"""JudgeConfig validation, environment resolution and build_judge."""

from __future__ import annotations

import pytest

from ivgr.errors import ConfigError
from ivgr.judges import JudgeConfig, RulesJudge, build_judge


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "gpt"}, "judge.kind"),
        ({"n": 0}, "judge.n"),
        ({"temperature": -0.1}, "judge.temperature"),
        ({"timeout_s": 0}, "judge.timeout_s"),
        ({"max_retries": -1}, "judge.max_retries"),
        ({"max_retries": 100}, "judge.max_retries"),
        ({"max_concurrency": 0}, "judge.max_concurrency"),
        ({"deadline_s": 0}, "judge.deadline_s"),
        ({"max_fence_chars": 10}, "judge.max_fence_chars"),
        ({"cache_size": -5}, "judge.cache_size"),
        ({"base_url": "localhost:8000/v1"}, "http://"),
        ({"backoff_s": 2.0, "backoff_max_s": 1.0}, "judge.backoff_max_s"),
    ],
)
def test_config_rejects_bad_values_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        JudgeConfig(**overrides)


def test_config_defaults_reproduce_the_authors_judge_sampling():
    config = JudgeConfig()
    assert (config.kind, config.n, config.temperature, config.accuracy_temperature) == ("rules", 4, 0.5, 0.01)
    assert config.resolved_model() == "judge"


def test_config_from_env_reads_endpoint_and_picks_openai(monkeypatch):
    monkeypatch.setenv("IVGR_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("IVGR_JUDGE_MODEL", "qwen-72b")
    monkeypatch.delenv("IVGR_JUDGE_KIND", raising=False)
    config = JudgeConfig.from_env(n=1)
    assert (config.kind, config.base_url, config.model, config.n) == ("openai", "http://127.0.0.1:9/v1", "qwen-72b", 1)
    monkeypatch.setenv("IVGR_JUDGE_KIND", "rules")
    assert JudgeConfig.from_env().kind == "rules"


def test_config_from_env_without_endpoint_is_rules_and_unknown_keys_are_refused(monkeypatch):
    monkeypatch.delenv("IVGR_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("IVGR_JUDGE_KIND", raising=False)
    assert JudgeConfig.from_env().kind == "rules"
    with pytest.raises(ConfigError, match="unknown judge setting"):
        JudgeConfig.from_env(temprature=0.1)


def test_config_api_key_comes_from_the_named_variable_and_is_hidden_from_repr(monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-hidden-123")
    config = JudgeConfig(kind="openai", api_key_env="MY_JUDGE_KEY")
    assert config.resolved_api_key() == "sk-hidden-123"
    assert "sk-hidden-123" not in repr(JudgeConfig(api_key="sk-hidden-123"))


def test_build_judge_gives_the_rules_judge_by_default():
    assert isinstance(build_judge(JudgeConfig()), RulesJudge)


def test_judges_public_api_is_stable_and_openai_judge_loads_lazily():
    import ivgr.judges as judges

    assert set(judges.__all__) == {
        "Judge", "Verdict", "JudgeStats", "JudgeConfig", "JudgeCache", "RulesJudge", "OpenAIJudge",
        "SyncJudgeMixin", "build_judge", "run_sync", "cache_key", "parse_binary_score", "parse_rubric_score",
    }
    from ivgr.judges import OpenAIJudge
    from ivgr.judges.openai_judge import OpenAIJudge as direct

    assert OpenAIJudge is direct


def test_judge_stats_subtract_to_per_step_metrics():
    from ivgr.judges import JudgeStats

    step = JudgeStats(calls=10, errors=2, cache_hits=3, latency_s=1.5) - JudgeStats(calls=4, errors=1, latency_s=0.5)
    assert step.as_metrics()["judge/calls"] == 6.0
    assert (step.errors, step.cache_hits, step.latency_s) == (1, 3, 1.0)
