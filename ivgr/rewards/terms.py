"""Reward terms: small pure functions over one rollout, formula in each docstring.

Terms take parsed, typed inputs (boxes, not raw text, except `format_reward`), return a float
(or None for "does not apply"), and touch no judge, archive, log or global. The batch scorer
(`ivgr.rewards.scorer`) calls them and adds the judge's verdicts.
Sources: docs/method.md#format-reward through #reward-totals (the paper, arXiv 2605.31096, and
the authors' examples/reward_function/adagrounding_dual_group_training.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ivgr.geometry import Box, iou, is_valid_box
from ivgr.parsing import format_ok, has_box_trace, parse_box


def format_reward(text: str, *, normalize_mode: str = "tags") -> float:
    """R_format = 1 if the normalised text is `<think>.*</think>.*<answer>.*</answer>`, else 0.

    Nothing may come before `<think>` or after `</answer>` (docs/method.md#format-reward).

    >>> format_reward("<think>a</think> <answer>b</answer>"), format_reward("<answer>b</answer>")
    (1.0, 0.0)
    """
    return 1.0 if format_ok(text, mode=normalize_mode) else 0.0


def box_free_reward(text: str) -> float:
    """R_box_free = 1 if the text carries no box (no box tag or fragment of one, no `[x1,y1,x2,y2]`), else 0.

    Textual stream only, where it multiplies the stream's total: R^t = R_box_free · (R_format +
    R_acc + R_consistency). The authors do not check (docs/scoring.md#box-free-textual-reasoning).

    >>> box_free_reward("<think>the ball is blue</think><answer>blue</answer>")
    1.0
    >>> box_free_reward("<think>the ball is4797,797,461,961]</box> blue</think><answer>blue</answer>")
    0.0
    """
    return 0.0 if has_box_trace(text) else 1.0


def has_duplicate_boxes(
    boxes: Sequence[Box], *, threshold: float = 0.9, all_pairs: bool = True, n_tags: int | None = None
) -> bool:
    """True if two boxes have IoU > threshold.

    `all_pairs=False` is the authors' rule (docs/method.md#box-validity): box i among the first ⌊n_tags/2⌋ parsed
    boxes (n_tags = number of <box> tags, default len(boxes)) is compared with every other
    box, so pairs inside the second half are never compared.

    >>> b = [(0, 0, 10, 10), (50, 50, 60, 60), (100, 0, 110, 10), (100, 0, 110, 10.5)]
    >>> has_duplicate_boxes(b), has_duplicate_boxes(b, all_pairs=False)
    (True, False)
    """
    n = len(boxes)
    if not all_pairs:
        for i in range(min(n, (n if n_tags is None else n_tags) // 2)):
            if any(j != i and iou(boxes[i], boxes[j]) > threshold for j in range(n)):
                return True
        return False
    # Deviation: all pairs are compared (the authors check only i < n//2); option box_duplicate_all_pairs.
    # Sweep by x1: with x1_a <= x1_b, IoU > t needs x1_b < x1_a + (1 - t)·w_a (the overlap in x
    # must exceed t·w_a), so each box is only compared with a short window of its successors.
    solid = sorted(b for b in boxes if b[2] > b[0] and b[3] > b[1])
    for i, a in enumerate(solid):
        reach = a[0] + (1.0 - threshold) * (a[2] - a[0])
        for b in solid[i + 1 :]:
            if b[0] > reach:
                break
            if iou(a, b) > threshold:
                return True
    return False


def box_valid_reward(
    spans: Sequence[str],
    *,
    duplicate_iou: float = 0.9,
    all_pairs: bool = True,
    syntax: str = "lenient",
) -> float:
    """R_box_valid = (#spans that parse to a valid box) / (#<box> spans); 0 with no span.

    0 as well when any two parsed boxes (valid or not) overlap with IoU > `duplicate_iou`
    (docs/method.md#box-validity).

    >>> box_valid_reward(["[0,0,10,10]", "[5,5,1,1]", "oops", "[20,20,30,30]"])
    0.5
    >>> box_valid_reward([]), box_valid_reward(["[0,0,10,10]", "[0,0,10,10]"])
    (0.0, 0.0)
    """
    if not spans:
        return 0.0
    parsed = [b for b in (parse_box(s, syntax=syntax) for s in spans) if b is not None]
    if has_duplicate_boxes(parsed, threshold=duplicate_iou, all_pairs=all_pairs, n_tags=len(spans)):
        return 0.0
    return sum(1 for b in parsed if is_valid_box(b)) / len(spans)


def box_iou_reward(pred: Sequence[Box], gt: Sequence[Box]) -> float | None:
    """R_box = ½·(mean_g max_p IoU(g, p) + mean_p max_g IoU(p, g))   (docs/method.md#box-iou)

    `pred` holds valid predicted boxes in the frame of `gt`. No predicted box -> 0.0.
    No ground-truth box -> None: the term does not apply (the authors returned a bool there).

    >>> box_iou_reward([(0, 0, 10, 10)], [(0, 0, 10, 10), (20, 20, 30, 30)])
    0.75
    >>> box_iou_reward([], [(0, 0, 1, 1)]), box_iou_reward([(0, 0, 1, 1)], [])
    (0.0, None)
    """
    # Deviation: no ground-truth box -> None, "does not apply" (the authors returned the bool
    # `len(pred) > 0`, docs/method.md#bug-iou-bool); option none (bug fix).
    if not gt:
        return None
    if not pred:
        return 0.0
    recall = sum(max(iou(g, p) for p in pred) for g in gt) / len(gt)
    precision = sum(max(iou(p, g) for g in gt) for p in pred) / len(pred)
    return 0.5 * (recall + precision)


def judged_reward(score: float) -> float | None:
    """A judge's score as a reward term: the score itself if it is a finite number in [0, 1].

    Anything else (NaN, 2.0, a string) is None, which the scorer counts as a judge error;
    the authors passed `float(reply)` through unchecked (docs/method.md#bug-judge-robustness).

    >>> judged_reward(0.7), judged_reward(2.0), judged_reward(float("nan"))
    (0.7, None, None)
    """
    # Deviation: a score outside [0, 1] is a judge error, not a reward (the authors used
    # `float(reply)` unclamped, so "2" gave 2.0, docs/method.md#bug-judge-robustness); option accuracy_fallback / consistency_fallback.
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        return None
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        return None
    return float(score)


def weighted_total(terms: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """R = Σ_k w_k·r_k over the stream's terms; a term that does not apply (None) adds 0.

    grounded = format + box_valid + box_iou + accuracy; textual = format + accuracy +
    consistency; single = format + 1.5·accuracy (docs/method.md#reward-totals).

    >>> weighted_total({"format": 1.0, "accuracy": 1.0}, {"format": 1.0, "accuracy": 1.5})
    2.5
    >>> weighted_total({"format": 1.0, "box_iou": None}, {"format": 1.0, "box_iou": 1.0})
    1.0
    """
    total = 0.0
    for name, weight in weights.items():
        value = terms.get(name)
        if value is not None:
            total += weight * value
    return total


__all__ = [
    "box_free_reward",
    "box_iou_reward",
    "box_valid_reward",
    "format_reward",
    "has_duplicate_boxes",
    "judged_reward",
    "weighted_total",
]
