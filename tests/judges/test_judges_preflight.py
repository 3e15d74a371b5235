"""Judge preflight against a real loopback server: one request, one line naming the URL and the fix."""

from __future__ import annotations

import json
import socket

import pytest
from judges_fake_server import FakeJudgeServer, Reply

from ivgr.errors import JudgeError
from ivgr.judges.config import JudgeConfig
from ivgr.judges.preflight import check_judge_endpoints, judge_endpoints

KEY = "sk-preflight-secret-123"


def _config(url: str, **overrides) -> JudgeConfig:
    return JudgeConfig(kind="openai", base_url=url, model="judge", api_key=KEY, **overrides)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _failure(config: JudgeConfig) -> str:
    with pytest.raises(JudgeError) as info:
        check_judge_endpoints(config)
    message = str(info.value)
    assert "\n" not in message and KEY not in message
    return message


def test_a_working_endpoint_gets_exactly_one_request_with_the_key_as_bearer():
    with FakeJudgeServer(Reply(text="1")) as server:
        checked = check_judge_endpoints(_config(server.url))
    assert [e.url for e in checked] == [server.url]
    assert server.count == 1
    request = server.requests[0]
    assert request.path == "/v1/chat/completions" and request.body["model"] == "judge"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_nothing_listening_names_the_url_and_how_to_fix_it():
    url = f"http://127.0.0.1:{_unused_port()}/v1"
    message = _failure(_config(url))
    assert url in message and "unreachable" in message
    assert "--judge-url" in message and "IVGR_JUDGE_BASE_URL" in message and "--skip-judge-preflight" in message


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_names_the_key_variable_never_the_key(status):
    with FakeJudgeServer(Reply(status=status)) as server:
        message = _failure(_config(server.url))
    assert server.url in message and f"HTTP {status}" in message and "IVGR_JUDGE_API_KEY" in message


def test_a_missing_key_says_to_export_it(monkeypatch):
    monkeypatch.delenv("IVGR_JUDGE_API_KEY", raising=False)
    with FakeJudgeServer(Reply(status=401)) as server:
        message = _failure(JudgeConfig(kind="openai", base_url=server.url, model="judge"))
    assert "export IVGR_JUDGE_API_KEY=" in message and "no key is set" in message


def test_an_unknown_model_names_the_model_setting():
    vllm_404 = json.dumps({"object": "error", "message": "The model `jduge` does not exist.", "code": 404})
    with FakeJudgeServer(Reply(status=404, raw_body=vllm_404)) as server:
        message = _failure(_config(server.url).with_overrides(model="jduge"))
    assert "does not serve model 'jduge'" in message and "--judge-model" in message and "IVGR_JUDGE_MODEL" in message


def test_a_404_without_a_model_error_points_at_the_url_path():
    with FakeJudgeServer(Reply(status=404, raw_body="Not Found")) as server:
        message = _failure(_config(server.url))
    assert "/v1" in message and "no /chat/completions" in message


def test_a_server_error_and_a_non_chat_body_fail_with_one_line():
    with FakeJudgeServer(Reply(status=500)) as server:
        assert "HTTP 500 (server error)" in _failure(_config(server.url))
    with FakeJudgeServer(Reply(raw_body='{"hello": "world"}')) as server:
        assert "not with an OpenAI chat completion" in _failure(_config(server.url))


def test_a_rate_limited_endpoint_passes_because_it_is_up():
    with FakeJudgeServer(Reply(status=429)) as server:
        assert len(check_judge_endpoints(_config(server.url))) == 1


def test_a_separate_consistency_endpoint_is_checked_too_and_named_when_it_fails():
    dead = f"http://127.0.0.1:{_unused_port()}/v1"
    with FakeJudgeServer(Reply(text="1")) as server:
        message = _failure(_config(server.url, consistency_base_url=dead))
        assert server.count == 1  # the judge endpoint was fine
    assert message.startswith("consistency judge preflight") and dead in message
    assert "IVGR_JUDGE_CONSISTENCY_BASE_URL" in message


def test_one_request_per_distinct_endpoint_and_none_for_the_rules_judge():
    assert judge_endpoints(JudgeConfig(kind="rules")) == []
    with FakeJudgeServer(Reply(text="1")) as server:
        check_judge_endpoints(_config(server.url, consistency_model="other"))
    assert sorted(r.body["model"] for r in server.requests) == ["judge", "other"]


def test_credentials_in_the_url_are_not_shown():
    url = f"http://user:{KEY}@127.0.0.1:{_unused_port()}/v1?key={KEY}"
    message = _failure(_config(url))
    assert "127.0.0.1" in message and "user" not in message


def test_sft_build_checks_the_rewrite_endpoint_before_reading_anything(tmp_path):
    from typer.testing import CliRunner

    from ivgr.cli import app

    url = f"http://127.0.0.1:{_unused_port()}/v1"
    args = ["data", "sft-build", "--rollouts", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "sft.jsonl"),
            "--judge", "openai", "--judge-url", url]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, JudgeError) and url in str(result.exception)
    skipped = CliRunner().invoke(app, [*args, "--skip-judge-preflight"])
    assert not isinstance(skipped.exception, JudgeError)  # it got as far as the missing rollouts file
    assert not (tmp_path / "sft.jsonl").exists()


def test_preflight_doctests_hold():
    import doctest

    import ivgr.judges.preflight

    result = doctest.testmod(ivgr.judges.preflight)
    assert result.attempted > 0 and result.failed == 0
