"""POPE (`lmms-lab/POPE`): yes/no object-hallucination probes on COCO, 3 splits × 3000.

Files (HF dataset lmms-lab/POPE): config `default` = `data/test-*.parquet` (9000 rows) or config
`Full` = `Full/{adversarial,popular,random}-*.parquet`; columns `id, question_id, question,
answer ("yes"/"no"), image_source, image (HF Image struct), category (the split)`.

Metrics: accuracy, precision, recall, F1 and yes-ratio, per split and pooled (github RUCAIBox/POPE, evaluate.py). Papers
differ on which one "POPE" means, so all are reported; the headline is named beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.errors import DataError
from ivgr.eval.base import Benchmark, Item, Scored
from ivgr.eval.extraction import pope_official, vk_yes_no
from ivgr.eval.metrics import binary_metrics, mean
from ivgr.eval.readers import find_files, hf_image_loader, iter_parquet, require
from ivgr.eval.registry import register

_COLUMNS = ["id", "question", "answer", "image", "category"]


def _lmms_metrics(pred: list[str | None], gold: list[str]) -> dict[str, float]:
    """lmms-eval's POPE aggregation (0–1 there, percent here).

    Precision/recall count only predictions exactly "yes"/"no". Quirk: `yes_ratio` is the
    share of *ground-truth* yes (always 50 on POPE), not of predictions.
    """
    tp = sum(p == "yes" and g == "yes" for p, g in zip(pred, gold))
    fp = sum(p == "yes" and g == "no" for p, g in zip(pred, gold))
    fn = sum(p == "no" and g == "yes" for p, g in zip(pred, gold))
    precision = 100.0 * tp / (tp + fp) if tp + fp else 0.0
    recall = 100.0 * tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    acc = 100.0 * sum(p == g for p, g in zip(pred, gold)) / len(gold) if gold else 0.0
    return {"accuracy": acc, "precision": precision, "recall": recall, "f1": f1,
            "yes_ratio": 100.0 * sum(g == "yes" for g in gold) / len(gold) if gold else 0.0}


@register("pope")
class Pope(Benchmark):
    version = "1"
    column = "POPE"

    def load(self, data_path: Path) -> Iterator[Item]:
        files = find_files(Path(data_path), ["data/test-*.parquet", "Full/*.parquet", "*.parquet",
                                             "**/*.parquet"], what="POPE")
        for path in files:
            for n, row in iter_parquet(path, required=_COLUMNS):
                where = f"{path}: row {n}"
                answer = str(require(row, "answer", where=where)).strip().lower()
                if answer not in ("yes", "no"):
                    raise DataError(f"{where}: answer {row['answer']!r} is not yes/no")
                yield Item(
                    item_id=str(row["id"]), question=str(row["question"]), answer=answer, kind="yesno",
                    category=str(row["category"]),
                    meta={"image_source": str(row.get("image_source") or "")},
                    image=hf_image_loader(require(row, "image", where=where), base_dir=path.parent, where=where),
                    where=where,
                )

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "official":
            return pope_official(response)
        if profile == "lmms-eval":
            return response.lower().strip()  # Quirk: "yes." is not "yes" (no punctuation strip)
        if profile == "vlmevalkit":
            return vk_yes_no(response).lower()  # "unknown" counts as a non-yes, and is wrong
        return self.extract_ivgr(item, response)

    def aggregate(self, rows: list[Scored], profile: str) -> dict[str, Any]:
        """Per split and pooled; VLMEvalKit explodes comma-joined categories first."""

        def pred_of(r: Scored) -> str | None:
            if r.judged:  # the judge decided correctness, not a label
                return r.item.answer if r.correct else None
            return r.extracted

        fn = _lmms_metrics if profile == "lmms-eval" else binary_metrics
        splits: dict[str, list[Scored]] = {}
        for r in rows:
            for cat in (r.item.category.split(",") if profile == "vlmevalkit" else [r.item.category]):
                splits.setdefault(cat.strip(), []).append(r)
        metrics: dict[str, Any] = {}
        for name, group in sorted(splits.items()):
            metrics[name] = fn([pred_of(r) for r in group], [r.item.answer for r in group])
        pooled_rows = [r for g in splits.values() for r in g] if profile == "vlmevalkit" else rows
        metrics["pooled"] = fn([pred_of(r) for r in pooled_rows], [r.item.answer for r in pooled_rows])
        split_names = [s for s in sorted(splits) if s]
        metrics["split_mean_accuracy"] = mean(metrics[s]["accuracy"] for s in split_names)
        metrics["split_mean_f1"] = mean(metrics[s]["f1"] for s in split_names)
        if profile == "vlmevalkit":  # VLMEvalKit's headline "Overall" is the F1 of all rows
            return {"headline": metrics["pooled"]["f1"], "headline_name": "pooled F1", "metrics": metrics}
        if profile == "official":
            # Deviation: the POPE authors report each split only (RUCAIBox/POPE evaluate.py); our one
            # headline is the mean of the split accuracies (all splits are in metrics); option --profile
            return {"headline": metrics["split_mean_accuracy"], "headline_name": "mean split accuracy",
                    "metrics": metrics}
        return {"headline": metrics["pooled"]["accuracy"], "headline_name": "pooled accuracy", "metrics": metrics}
