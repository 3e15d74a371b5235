"""The judge circuit breaker around the real BatchRewarder, Scorer and openai judge on a loopback server.

Waits are driven by an injected clock and sleep, so these tests take no wall time and do not
depend on machine load; the HTTP calls and the failure counting are real.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))
from judges_fake_server import FakeJudgeServer, Reply  # noqa: E402

import ivgr.training.judge_breaker as breaker_module  # noqa: E402
from ivgr.archive import ArchiveEntry, RolloutArchive  # noqa: E402
from ivgr.errors import ConfigError, JudgeOutageError  # noqa: E402
from ivgr.training.judge_breaker import BreakerSettings, JudgeCircuitBreaker  # noqa: E402

GROUNDED = "<think>the square <box>[10,10,40,40]</box> is red</think><answer>it is red</answer>"


def _rollouts(n: int = 4) -> list:
    from ivgr.rewards import Rollout

    return [
        Rollout(sample_id=f"s{i}", stream="grounded", question="What colour is the square?", answer="red",
                completion=GROUNDED, target_boxes=[(10, 10, 40, 40)])
        for i in range(n)
    ]


def _rewarder(url: str, archive: RolloutArchive):
    from ivgr.judges import JudgeConfig, build_judge
    from ivgr.rewards import Scorer, ScorerConfig
    from ivgr.training.rewards import BatchRewarder

    # rules_first off: "it is red" vs "red" would be settled by the rules; here the endpoint must answer.
    judge = build_judge(JudgeConfig(kind="openai", base_url=url, model="judge", max_retries=0, cache_size=0,
                                    rules_first=False, timeout_s=5))
    return BatchRewarder(scorer=Scorer(config=ScorerConfig(), judge=judge, archive=archive), archive=archive)


class FakeTime:
    """clock() and sleep() of a world where sleeping is free."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _breaker(time: FakeTime, **settings) -> JudgeCircuitBreaker:
    return JudgeCircuitBreaker(BreakerSettings(**settings), sleep=time.sleep, clock=time.clock)


def _no_checkpoint() -> Path:
    raise AssertionError("a checkpoint was saved although the judge works")


def test_a_healthy_judge_passes_the_step_through_without_waiting():
    time, archive = FakeTime(), RolloutArchive()
    with FakeJudgeServer(Reply(text="1")) as server:
        _, stats, scores = _breaker(time).score(
            _rewarder(server.url, archive), _rollouts(), step=0, save_checkpoint=_no_checkpoint
        )
    assert time.sleeps == [] and stats.judge_questions == 4 and stats.judge_fallbacks == 0
    assert stats.means()["judge/failed_share"] == 0.0 and all(s.accuracy == 1.0 for s in scores)
    assert len(archive) == 4


def test_failures_below_the_threshold_are_counted_and_the_step_is_used():
    # the second request fails: 1 of 4 questions = 25%, under a 30% threshold
    def script(_request, index):
        return Reply(status=503) if index == 1 else Reply(text="1")

    time, archive = FakeTime(), RolloutArchive()
    with FakeJudgeServer(script) as server:
        _, stats, scores = _breaker(time, max_failed_share=0.3).score(
            _rewarder(server.url, archive), _rollouts(), step=0, save_checkpoint=_no_checkpoint
        )
    assert time.sleeps == [] and stats.judge_fallbacks == 1 and stats.judge_errors == 1
    assert stats.means()["judge/failed_share"] == pytest.approx(0.25)
    assert sum(s.judge_errors for s in scores) == 1


def test_a_step_above_the_threshold_is_rescored_after_a_visible_wait_and_recovers(caplog):
    # the first 4 requests (the whole first attempt) fail, then the judge is back
    def script(_request, index):
        return Reply(status=503) if index < 4 else Reply(text="1")

    time, archive = FakeTime(), RolloutArchive()
    with FakeJudgeServer(script) as server, caplog.at_level("WARNING", logger="ivgr.training.judge_breaker"):
        totals, stats, scores = _breaker(time, backoff_s=3.0).score(
            _rewarder(server.url, archive), _rollouts(), step=6, save_checkpoint=_no_checkpoint
        )
        assert server.count == 8  # the step's 4 questions, asked twice
    assert time.sleeps == [3.0]
    assert stats.judge_fallbacks == 0 and stats.means()["judge/step_retries"] == 1.0
    assert all(s.accuracy == 1.0 and s.judge_errors == 0 for s in scores) and totals == [s.total for s in scores]
    messages = [r.getMessage() for r in caplog.records]
    assert any("4 of 4 judge questions (100%) fell back" in m and "step 7" in m and "retrying" in m for m in messages)
    assert any("judge recovered at step 7 after 1 retry" in m for m in messages)


def test_a_judge_that_stays_down_saves_a_checkpoint_and_stops_with_the_archive_as_before_the_step():
    # half of the requests fail (50% > 20%); the successes would add archive entries
    def script(_request, index):
        return Reply(status=503) if index % 2 else Reply(text="1")

    time = FakeTime()
    archive = RolloutArchive()
    archive.offer("old", ArchiveEntry(think="kept from an earlier step", box_iou=0.9))
    before = archive.state_dict()
    saved: list[dict] = []

    def save_checkpoint() -> Path:
        saved.append(archive.state_dict())  # what the checkpoint's archive.json would hold
        return Path("runs/x/checkpoint-6")

    with FakeJudgeServer(script) as server, pytest.raises(JudgeOutageError) as info:
        _breaker(time, wait_s=30.0, backoff_s=4.0).score(
            _rewarder(server.url, archive), _rollouts(), step=6, save_checkpoint=save_checkpoint
        )
    assert time.sleeps == [4.0, 8.0, 16.0]  # the next wait (32 s) would pass judge_outage_wait_s=30
    assert saved == [before] and archive.state_dict() == before
    message = str(info.value)
    assert info.value.exit_code == 75 and "\n" not in message
    assert "step 7 was not trained on" in message and "runs/x/checkpoint-6" in message and "--resume" in message


def test_wait_zero_stops_at_the_first_failing_step_and_one_disables_the_breaker():
    time = FakeTime()
    with FakeJudgeServer(Reply(status=503)) as server:
        with pytest.raises(JudgeOutageError):
            _breaker(time, wait_s=0.0).score(_rewarder(server.url, RolloutArchive()), _rollouts(), step=0,
                                            save_checkpoint=lambda: Path("ckpt"))
        _, stats, _ = _breaker(time, max_failed_share=1.0).score(
            _rewarder(server.url, RolloutArchive()), _rollouts(), step=0, save_checkpoint=_no_checkpoint
        )
    assert time.sleeps == [] and stats.judge_failed_share == 1.0


def test_the_rules_judge_never_counts_as_failing():
    from ivgr.judges import JudgeConfig, build_judge
    from ivgr.rewards import Scorer, ScorerConfig
    from ivgr.training.rewards import BatchRewarder

    archive = RolloutArchive()
    rewarder = BatchRewarder(scorer=Scorer(config=ScorerConfig(), judge=build_judge(JudgeConfig()), archive=archive),
                             archive=archive)
    _, stats, _ = _breaker(FakeTime(), max_failed_share=0.0).score(
        rewarder, _rollouts(), step=0, save_checkpoint=_no_checkpoint
    )
    assert stats.judge_calls == 4 and stats.judge_questions == 0 and stats.judge_failed_share == 0.0


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"max_failed_share": 1.5}, "judge_max_failed_share must be in [0, 1]"),
        ({"wait_s": -1}, "judge_outage_wait_s must be >= 0"),
        ({"backoff_s": 0}, "judge_outage_backoff_s must be > 0"),
    ],
)
def test_bad_settings_are_one_config_error_naming_the_key(settings, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        BreakerSettings(**settings)


def test_docstring_examples_hold():
    result = doctest.testmod(breaker_module)
    assert result.attempted > 0 and result.failed == 0
