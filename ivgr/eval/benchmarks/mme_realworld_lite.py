"""MME-RealWorld-Lite: 1919 five-option MCQ over Perception / Reasoning domains.

Two layouts are read (HF datasets yifanzhang114/MME-RealWorld-lite-lmms-eval and MME-RealWorld-Lite):
(b) lmms-eval parquet shards `data/train-*.parquet` with columns `index, question,
    multi-choice options (list of "(A) …"), answer, category ("Task/Subtask"), l2-category,
    bytes (base64 image string)`;
(a) the official `data.zip` content: a JSON list of items (`Question_id, Image, Text,
    Answer choices, Ground truth, Task, Subtask, Category`) plus an image folder.

Extraction is the authors' `extract_characters_regex` in every toolkit profile, called as each
caller calls it: `official` passes the item's "(A) text" options (and keeps the script's
missing-comma prefix quirk); lmms-eval and VLMEvalKit pass nothing, so the default labels
"(A)".."(E)" are the only fallback and option texts never match. The `ivgr` profile reads
labels in any case and option texts (`ivgr_choice`). Aggregation is micro accuracy per
category, per Task/Subtask, per Task and overall.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.data.images import b64_loader, file_loader
from ivgr.errors import DataError
from ivgr.eval.base import Benchmark, Item, Scored
from ivgr.eval.extraction import MME_PREFIXES_OFFICIAL, mme_extract
from ivgr.eval.metrics import accuracy
from ivgr.eval.readers import find_files, iter_parquet, require
from ivgr.eval.registry import register

_PARQUET_COLUMNS = ["index", "question", "multi-choice options", "answer", "category", "l2-category", "bytes"]
_JSON_KEYS = ["Question_id", "Image", "Text", "Answer choices", "Ground truth", "Task", "Subtask"]


def _choices(options: list[str], *, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for opt in options:
        opt = str(opt).strip()
        if len(opt) < 3 or opt[0] != "(" or opt[2] != ")":
            raise DataError(f"{where}: option {opt!r} is not in the '(X) text' form")
        out[opt[1]] = opt[3:].strip()
    return out


def _category(l2: str) -> str:
    """Category normalisation shared by all three scripts: lower-case, '…/attribute' merged."""
    cat = l2.lower()
    return cat.split("/")[0] + "/attribute" if "attribute" in cat else cat


@register("mme_realworld_lite")
class MMERealWorldLite(Benchmark):
    version = "1"
    column = "MME-RW-L"

    def load(self, data_path: Path) -> Iterator[Item]:
        root = Path(data_path)
        files = find_files(root, ["data/train-*.parquet", "*.parquet", "**/*.parquet",
                                  "MME-RealWorld-Lite.json", "*.json", "**/*.json"], what="MME-RealWorld-Lite")
        if files[0].suffix == ".json":
            yield from self._load_json(files[0])
            return
        for path in files:
            yield from self._load_parquet(path)

    def _load_parquet(self, path: Path) -> Iterator[Item]:
        for n, row in iter_parquet(path, required=_PARQUET_COLUMNS):
            where = f"{path}: row {n}"
            options = [str(o) for o in require(row, "multi-choice options", where=where)]
            task, _, subtask = str(row["category"]).partition("/")
            yield self._item(str(row["index"]), str(row["question"]), options, str(row["answer"]),
                             task, subtask, str(row["l2-category"]),
                             b64_loader(str(require(row, "bytes", where=where)), where=where), where)

    def _load_json(self, path: Path) -> Iterator[Item]:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"{path}: not a readable JSON list ({err})") from None
        if not isinstance(entries, list) or not entries:
            raise DataError(f"{path}: expected a non-empty JSON list of questions")
        for i, e in enumerate(entries, start=1):
            where = f"{path}: entry {i}"
            missing = [k for k in _JSON_KEYS if k not in e]
            if missing:
                raise DataError(f"{where}: missing key(s) {missing}")
            img = next((p for p in (path.parent / "imgs" / e["Image"], path.parent / "data" / "imgs" / e["Image"],
                                    path.parent / e["Image"]) if p.exists()), path.parent / "imgs" / e["Image"])
            yield self._item(str(e["Question_id"]), str(e["Text"]), list(e["Answer choices"]),
                             str(e["Ground truth"]), str(e["Task"]), str(e["Subtask"]),
                             str(e.get("Category", "")), file_loader(img, where=where), where)

    def _item(self, qid: str, question: str, options: list[str], answer: str, task: str,
              subtask: str, l2: str, image: Any, where: str) -> Item:
        choices = _choices(options, where=where)
        if answer.strip() not in choices:
            raise DataError(f"{where}: answer {answer!r} is not one of the options {list(choices)}")
        return Item(item_id=qid, question=question, answer=answer.strip(), choices=choices,
                    category=f"{task}/{subtask}",
                    meta={"options": options, "task": task, "subtask": subtask, "l2": _category(l2)},
                    image=image, where=where)

    def prompt(self, item: Item) -> str:
        """Question, then the authors' "choices are listed below" block (MME-RealWorld README), letter instruction."""
        opts = "\n".join(item.meta["options"])
        return (f"{item.question.strip()} The choices are listed below:\n{opts}\n"
                "Answer with the letter (A, B, C, D, or E) of the correct option.")

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "official":
            # MME-RealWorld evaluation/eval_your_results.py: extract_characters_regex(text, question['Answer choices'])
            return mme_extract(response, item.meta["options"], prefixes=MME_PREFIXES_OFFICIAL)
        if profile in ("lmms-eval", "vlmevalkit"):
            # Quirk: both toolkits call extract_characters_regex(pred) with its default
            # choices "(A)".."(E)": option text ("Go straight", "221", "b) Green") is never
            # read, a bare "c" or "(c)" is. lmms-eval: mme_realworld_process_results;
            # VLMEvalKit: MMERealWorld.evaluate.
            return mme_extract(response)
        # Deviation: the ivgr profile also reads lower-case labels and option texts ("Go straight",
        # "b) Green"), which both toolkits score wrong; option --profile
        return self.extract_ivgr(item, response)

    def score(self, item: Item, extracted: str | None, profile: str) -> bool:
        if profile == "lmms-eval":
            # lmms-eval: pred == ans or ans in pred (case-insensitive)
            pred, ans = (extracted or "").lower(), item.answer.lower()
            return pred == ans or ans in pred
        return extracted == item.answer  # "" (no letter) is wrong

    def aggregate(self, rows: list[Scored], profile: str) -> dict[str, Any]:
        """Micro accuracy: overall, per Task, per Task/Subtask, per Task/Subtask/category."""
        metrics: dict[str, Any] = {"overall": accuracy([r.correct for r in rows])}
        for key in ("task", "subtask", "l2"):
            groups: dict[str, list[bool]] = {}
            for r in rows:
                parts = [r.item.meta["task"], r.item.meta["subtask"], r.item.meta["l2"]]
                name = "/".join(parts[: ("task", "subtask", "l2").index(key) + 1])
                groups.setdefault(name, []).append(r.correct)
            metrics.update({g: accuracy(v) for g, v in sorted(groups.items())})
        return {"headline": metrics["overall"], "headline_name": "overall", "metrics": metrics}
