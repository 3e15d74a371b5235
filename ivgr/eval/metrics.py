"""Metric aggregation rules (percent, 0–100). Pure functions; formulas in the docstrings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def accuracy(correct: Sequence[bool]) -> float:
    """acc = 100 · Σ correct / n; 0 for an empty list (never divides by zero).

    >>> accuracy([True, False, True, True])
    75.0
    """
    return 100.0 * sum(bool(c) for c in correct) / len(correct) if correct else 0.0


def mean(values: Iterable[float]) -> float:
    """Unweighted mean; 0 for no values.

    >>> mean([50.0, 100.0])
    75.0
    """
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def group_accuracy(pairs: Iterable[tuple[str, bool]]) -> dict[str, float]:
    """Per-group accuracy from (group, correct) pairs.

    >>> group_accuracy([("a", True), ("a", False), ("b", True)])
    {'a': 50.0, 'b': 100.0}
    """
    groups: dict[str, list[bool]] = {}
    for g, c in pairs:
        groups.setdefault(g, []).append(c)
    return {g: accuracy(v) for g, v in sorted(groups.items())}


def binary_metrics(pred: Sequence[str | None], gold: Sequence[str], *, positive: str = "yes",
                   negative: str = "no") -> dict[str, float]:
    """POPE-style metrics with `positive` as the positive class (percent).

    TP = pred=pos ∧ gold=pos; FP = pred=pos ∧ gold=neg; FN = pred≠pos ∧ gold=pos (anything
    that is not a yes counts as a no, as in VLMEvalKit); precision = TP/(TP+FP),
    recall = TP/(TP+FN), F1 = 2PR/(P+R); accuracy = mean(pred == gold);
    yes_ratio = share of *predictions* that are positive (the original POPE definition).

    >>> m = binary_metrics(["yes", "no", "yes", None], ["yes", "no", "no", "yes"])
    >>> m["accuracy"], m["precision"], m["recall"], round(m["f1"], 2), m["yes_ratio"]
    (50.0, 50.0, 50.0, 50.0, 50.0)
    """
    tp = sum(p == positive and g == positive for p, g in zip(pred, gold, strict=True))
    fp = sum(p == positive and g == negative for p, g in zip(pred, gold, strict=True))
    fn = sum(p != positive and g == positive for p, g in zip(pred, gold, strict=True))
    precision = 100.0 * tp / (tp + fp) if tp + fp else 0.0
    recall = 100.0 * tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    acc = accuracy([p == g for p, g in zip(pred, gold, strict=True)])
    yes_ratio = accuracy([p == positive for p in pred])
    return {"accuracy": acc, "precision": precision, "recall": recall, "f1": f1, "yes_ratio": yes_ratio}


def round_metrics(d: dict[str, Any], ndigits: int = 2) -> dict[str, Any]:
    """Round floats (recursively) for readable results files."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = round(v, ndigits)
        elif isinstance(v, dict):
            out[k] = round_metrics(v, ndigits)
        else:
            out[k] = v
    return out
