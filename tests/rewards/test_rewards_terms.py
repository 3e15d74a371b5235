"""Reward terms and ScorerConfig: every formula pinned on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from ivgr.errors import ConfigError
from ivgr.rewards import ScorerConfig
from ivgr.rewards.terms import (
    box_iou_reward,
    box_valid_reward,
    format_reward,
    has_duplicate_boxes,
    judged_reward,
    weighted_total,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>a</think><answer>b</answer>", 1.0),
        ("<think>a</think> <answer>b</answer>\n", 1.0),
        ("<think>a</think>", 0.0),
        ("Sure! <think>a</think><answer>b</answer>", 0.0),
    ],
)
def test_format_reward_cases(text, expected):
    assert format_reward(text) == expected


def test_box_valid_reward_is_zero_without_box_tags():
    assert box_valid_reward([]) == 0.0


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        (["[0,0,10,10]"], 1.0),
        (["[0,0,10,10]", "[10,10,5,5]"], 0.5),  # inverted box counts in the denominator only
        (["[0,0,10,10]", "garbage", "[20,20,30,30]", "[1,2,3]"], 0.5),
        (["[0, 0, 10.5, 10]"], 1.0),  # lenient syntax
        (["[0,0,10,10]", "[0,0,10,10]"], 0.0),  # duplicates
        (["[0,0,100,100]", "[0,0,100,95]"], 0.0),  # IoU 0.95 > 0.9
        (["[0,0,100,100]", "[0,0,100,90]"], 1.0),  # IoU 0.90 is not > 0.9
    ],
)
def test_box_valid_reward_cases(spans, expected):
    assert box_valid_reward(spans) == pytest.approx(expected)


def test_duplicate_check_covers_pairs_in_the_second_half():
    # Boxes 3 and 4 of 4 overlap (IoU 0.95): the authors only compare i < n//2 with others.
    spans = ["[0,0,10,10]", "[50,50,60,60]", "[100,0,200,100]", "[100,0,200,95]"]
    assert box_valid_reward(spans) == 0.0
    assert box_valid_reward(spans, all_pairs=False) == 1.0  # the authors' result


def test_duplicate_check_with_authors_rule_still_catches_first_half_pairs():
    boxes = [(0, 0, 10, 10), (0, 0, 10, 10), (50, 50, 60, 60), (80, 80, 90, 90)]
    assert has_duplicate_boxes(boxes, all_pairs=False) is True


def test_duplicate_sweep_agrees_with_brute_force():
    import itertools
    import random

    from ivgr.geometry import iou

    rng = random.Random(0)
    for _ in range(300):
        boxes = []
        for _ in range(rng.randint(0, 8)):
            x, y = rng.randint(0, 50), rng.randint(0, 50)
            boxes.append((x, y, x + rng.randint(1, 30), y + rng.randint(1, 30)))
        brute = any(iou(a, b) > 0.9 for a, b in itertools.combinations(boxes, 2))
        assert has_duplicate_boxes(boxes, threshold=0.9) is brute
        brute5 = any(iou(a, b) > 0.5 for a, b in itertools.combinations(boxes, 2))
        assert has_duplicate_boxes(boxes, threshold=0.5) is brute5


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        ([(0, 0, 10, 10)], [(0, 0, 10, 10)], 1.0),
        ([(0, 0, 10, 10)], [(0, 0, 10, 10), (20, 20, 30, 30)], 0.5 * (0.5 + 1.0)),  # recall 0.5, precision 1
        ([(0, 0, 10, 10), (50, 50, 60, 60)], [(0, 0, 10, 10)], 0.5 * (1.0 + 0.5)),  # recall 1, precision 0.5
        ([(0, 0, 10, 10)], [(5, 0, 15, 10)], 1 / 3),
        ([], [(0, 0, 10, 10)], 0.0),  # no valid prediction
    ],
)
def test_box_iou_reward_is_the_mean_of_recall_and_precision(pred, gt, expected):
    assert box_iou_reward(pred, gt) == pytest.approx(expected)


def test_box_iou_reward_does_not_apply_without_ground_truth():
    assert box_iou_reward([(0, 0, 1, 1)], []) is None


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.0, 0.0), (1, 1.0), (0.3, 0.3), (1.5, None), (-0.1, None), (math.nan, None), ("1", None), (True, None)],
)
def test_judged_reward_accepts_only_scores_in_unit_interval(score, expected):
    assert judged_reward(score) == expected


def test_default_weights_reproduce_the_authors_totals():
    cfg = ScorerConfig()
    grounded = weighted_total({"format": 1, "box_valid": 1, "box_iou": 1, "accuracy": 1}, cfg.weights("grounded"))
    textual = weighted_total({"format": 1, "accuracy": 1, "consistency": 1}, cfg.weights("textual"))
    single = weighted_total({"format": 1, "accuracy": 1}, cfg.weights("single"))
    assert (grounded, textual, single) == (4.0, 3.0, 2.5)


def test_weights_are_configurable_per_stream_and_term():
    cfg = ScorerConfig(textual_consistency_weight=0.5, single_accuracy_weight=1.0)
    assert weighted_total({"format": 1, "accuracy": 1, "consistency": 1}, cfg.weights("textual")) == 2.5
    assert weighted_total({"format": 0, "accuracy": 1}, cfg.weights("single")) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grounded_box_iou_weight": -1.0}, "grounded_box_iou_weight"),
        ({"single_accuracy_weight": math.inf}, "single_accuracy_weight"),
        ({"archive_min_box_iou": 1.5}, "archive_min_box_iou"),
        ({"box_syntax": "strict"}, "box_syntax"),
        ({"normalize_mode": "all"}, "normalize_mode"),
        ({"max_boxes": 0}, "max_boxes"),
        ({"max_answer_chars": 0}, "max_answer_chars"),
    ],
)
def test_scorer_config_rejects_bad_values_naming_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ScorerConfig(**kwargs)


def test_scorer_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="archive_tau"):
        ScorerConfig.from_dict({"archive_tau": 0.5})
    assert ScorerConfig.from_dict({"archive_min_box_iou": 0.5}).archive_min_box_iou == 0.5
