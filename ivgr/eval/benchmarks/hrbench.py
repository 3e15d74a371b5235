"""HR-Bench 4K / 8K (`DreamMr/HR-Bench`): 800 MCQ each, 200 questions × 4 option cycles.

Files (HF dataset DreamMr/HR-Bench): `hr_bench_{4k,8k}.tsv` or `.parquet`, columns `index, question,
answer, category (single|cross), A, B, C, D, cycle_category, image (base64)`. A VLMEvalKit TSV
`image` cell may hold another row's `index` instead of base64; we resolve it lazily.

Aggregation (VLMEvalKit `report_acc_hrbench`): per `cycle_category`, accuracy over all rows and per category; the
headline is the mean over cycles (`average/all`; FSP = single, FCP = cross).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.data.images import b64_loader
from ivgr.errors import DataError
from ivgr.eval.base import Benchmark, Item, Scored
from ivgr.eval.extraction import vk_mcq
from ivgr.eval.metrics import group_accuracy, mean
from ivgr.eval.readers import find_files, iter_table, require
from ivgr.eval.registry import register

_COLUMNS = ["index", "question", "answer", "category", "A", "B", "C", "D", "cycle_category", "image"]


def _reference_loader(path: Path, ref: str, *, where: str) -> Any:
    """Loader for an `image` cell that names another row's index (VLMEvalKit space saving)."""

    def load(fit: Any = None) -> Any:
        for _, row in iter_table(path, required=["index", "image"]):
            if str(row["index"]) == ref and len(str(row["image"])) > 64:
                return b64_loader(str(row["image"]), where=where)(fit=fit)
        raise DataError(f"{where}: image refers to row index {ref!r}, which does not exist")

    return load


class _HRBench(Benchmark):
    version = "1"
    resolution = ""

    def load(self, data_path: Path) -> Iterator[Item]:
        pats = [f"hr_bench_{self.resolution}.parquet", f"hr_bench_{self.resolution}.tsv",
                f"**/hr_bench_{self.resolution}.parquet", f"**/hr_bench_{self.resolution}.tsv"]
        path = find_files(Path(data_path), pats, what=f"HR-Bench {self.resolution}")[0]
        for n, row in iter_table(path, required=_COLUMNS):
            where = f"{path}: row {n}"
            cell = str(require(row, "image", where=where))
            image = (_reference_loader(path, cell, where=where) if len(cell) <= 64
                     else b64_loader(cell, where=where))
            choices = {k: str(row[k]) for k in "ABCD" if row.get(k) not in (None, "")}
            answer = str(require(row, "answer", where=where)).strip()
            if answer not in choices:
                raise DataError(f"{where}: answer {answer!r} is not one of the options {list(choices)}")
            yield Item(
                item_id=str(row["index"]), question=str(row["question"]), answer=answer,
                choices=choices, category=str(row["category"]),
                meta={"cycle_category": str(row["cycle_category"])}, image=image, where=where,
            )

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "vlmevalkit":
            return vk_mcq(response, item.choices)
        if profile == "lmms-eval":
            # Deviation: lmms-eval's GPT fallback crashes offline (KeyError / bool.lower(),
            # lmms_eval/tasks/hrbench); an unmatched answer is scored wrong instead; option --profile
            return vk_mcq(response, item.choices, legacy=True)
        # Deviation: the HR-Bench authors judge every answer with a local LLM (github
        # DreamMr/HR-Bench); offline we extract letters and ask an LLM only for unparseable answers,
        # with their per-cycle aggregation; option --judge
        return self.extract_ivgr(item, response)

    def aggregate(self, rows: list[Scored], profile: str) -> dict[str, Any]:
        """Mean over cycle_category of per-cycle accuracy, for all rows and per category."""
        cycles = sorted({r.item.meta.get("cycle_category", "") for r in rows})
        per_cycle: dict[str, dict[str, float]] = {}
        for cyc in cycles:
            in_cycle = [r for r in rows if r.item.meta.get("cycle_category", "") == cyc]
            stats = {"all": group_accuracy(("all", r.correct) for r in in_cycle)["all"]}
            stats.update(group_accuracy((r.item.category, r.correct) for r in in_cycle))
            per_cycle[cyc] = stats
        keys = ["all"] + sorted({r.item.category for r in rows})
        avg = {k: mean(per_cycle[c][k] for c in cycles if k in per_cycle[c]) for k in keys}
        metrics: dict[str, Any] = {"average": avg["all"]}
        metrics.update({k: v for k, v in avg.items() if k != "all"})
        metrics["per_cycle"] = per_cycle
        return {"headline": avg["all"], "headline_name": "average", "metrics": metrics}


@register("hrbench4k")
class HRBench4K(_HRBench):
    resolution = "4k"
    column = "HR4K"


@register("hrbench8k")
class HRBench8K(_HRBench):
    resolution = "8k"
    column = "HR8K"
