"""CV-Bench 2D / 3D (`nyu-visionx/CV-Bench`): 1438 + 1200 vision-centric MCQ.

Files (HF dataset nyu-visionx/CV-Bench): `test_2d.parquet` / `test_3d.parquet` (HF Image struct) or
`test_2d.jsonl` / `test_3d.jsonl` with images under `img/…` (`filename`); older revisions
have one `test.parquet` / `test.jsonl` filtered by `type`. Gold answers look like "(C)".

Official aggregation (card): 2D = mean of the ADE20K and COCO accuracies (not pooled);
3D = Omni3D accuracy. lmms-eval pools instead (lmms_eval/tasks/cv_bench, cv_bench_aggregate_results).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.data.images import file_loader
from ivgr.errors import DataError
from ivgr.eval.base import Benchmark, Item, Scored
from ivgr.eval.extraction import cambrian_letter, lmms_first_letter, vk_mcq
from ivgr.eval.metrics import accuracy, group_accuracy, mean
from ivgr.eval.readers import find_files, hf_image_loader, iter_table, require
from ivgr.eval.registry import register

_COLUMNS = ["idx", "type", "task", "question", "choices", "answer", "source"]
_LETTERS = "ABCDEFGH"


class _CVBench(Benchmark):
    version = "1"
    split = ""

    def load(self, data_path: Path) -> Iterator[Item]:
        s = self.split.lower()
        files = find_files(Path(data_path), [f"test_{s}.parquet", f"test_{s}.jsonl", "test.parquet", "test.jsonl",
                                             f"**/test_{s}.parquet", f"**/test_{s}.jsonl"], what=f"CV-Bench {self.split}")
        path = files[0]
        count = 0
        for n, row in iter_table(path, required=_COLUMNS):
            if str(row["type"]).upper() != self.split:
                continue  # the old combined test.* files hold both types
            where = f"{path}: row {n}"
            choices = {_LETTERS[i]: str(c) for i, c in enumerate(require(row, "choices", where=where))}
            answer = str(require(row, "answer", where=where)).strip().strip("()").upper()
            if answer not in choices:
                raise DataError(f"{where}: answer {row['answer']!r} is not one of the options {list(choices)}")
            if row.get("image") is not None:
                image = hf_image_loader(row["image"], base_dir=path.parent, where=where)
            elif row.get("filename"):
                image = file_loader(path.parent / str(row["filename"]), where=where)
            else:
                raise DataError(f"{where}: neither an 'image' cell nor a 'filename' to an image")
            count += 1
            yield Item(
                item_id=str(row["idx"]), question=str(row["question"]), answer=answer, choices=choices,
                category=str(row["task"]),
                meta={"source": str(row["source"]), "gold_raw": str(row["answer"])}, image=image, where=where,
            )
        if count == 0:
            raise DataError(f"{path}: no rows of type {self.split!r}")

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "official":
            return cambrian_letter(response).upper() or None
        if profile == "lmms-eval":
            return lmms_first_letter(response)
        if profile == "vlmevalkit":
            return vk_mcq(response, item.choices)
        return self.extract_ivgr(item, response)

    def aggregate(self, rows: list[Scored], profile: str) -> dict[str, Any]:
        per_source = group_accuracy((r.item.meta["source"], r.correct) for r in rows)
        per_task = group_accuracy((r.item.category, r.correct) for r in rows)
        pooled = accuracy([r.correct for r in rows])
        metrics: dict[str, Any] = {"pooled": pooled, **{f"source/{k}": v for k, v in per_source.items()},
                                   **{f"task/{k}": v for k, v in per_task.items()}}
        if profile == "lmms-eval":  # cv_bench_aggregate_results: plain pooled accuracy
            return {"headline": pooled, "headline_name": "pooled accuracy", "metrics": metrics}
        if self.split == "2D":  # official and VLMEvalKit: mean of per-source accuracies
            headline = mean(v for k, v in per_source.items() if k in ("ADE20K", "COCO")) if per_source else 0.0
            return {"headline": headline, "headline_name": "mean(ADE20K, COCO)", "metrics": metrics}
        headline = per_source.get("Omni3D", pooled)
        return {"headline": headline, "headline_name": "Omni3D accuracy", "metrics": metrics}


@register("cvbench2d")
class CVBench2D(_CVBench):
    split = "2D"
    column = "CV-2D"


@register("cvbench3d")
class CVBench3D(_CVBench):
    split = "3D"
    column = "CV-3D"
