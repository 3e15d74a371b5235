"""V* Bench (`craigwu/vstar_bench`): 191 MCQ, categories direct_attributes / relative_position.

Files (HF dataset craigwu/vstar_bench): `test_questions.jsonl` (keys `image`, `text`, `label`,
`category`, `question_id`) plus the image folders it points to. `text` holds the question,
the shuffled options as `(A) …` lines and (usually) an instruction line, which we drop because
our stream prompt adds its own. Headline = micro accuracy over all items, plus per category.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ivgr.data.images import file_loader
from ivgr.errors import DataError
from ivgr.eval.base import Benchmark, Item
from ivgr.eval.extraction import lmms_vstar_letter, vk_mcq
from ivgr.eval.readers import find_files, iter_jsonl, require
from ivgr.eval.registry import register

_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s*(.*)$")


def split_vstar_text(text: str) -> tuple[str, dict[str, str]]:
    """Question and options from a V* `text` field (options on their own `(X) …` lines).

    >>> split_vstar_text("What colour?\\n(A) red\\n(B) blue\\nAnswer with the option's letter.")
    ('What colour?', {'A': 'red', 'B': 'blue'})
    """
    question_lines: list[str] = []
    choices: dict[str, str] = {}
    for line in text.splitlines():
        m = _OPTION_LINE.match(line.strip())
        if m:
            choices[m.group(1)] = m.group(2).strip()
        elif not choices:
            question_lines.append(line)
        # a line after the options is the instruction: dropped
    return "\n".join(question_lines).strip(), choices


@register("vstar")
class VStar(Benchmark):
    version = "1"
    column = "V*"

    def load(self, data_path: Path) -> Iterator[Item]:
        path = find_files(Path(data_path), ["test_questions.jsonl", "**/test_questions.jsonl"], what="V*")[0]
        root = path.parent
        for n, row in iter_jsonl(path, required=["image", "text", "label"]):
            where = f"{path}: line {n}"
            question, choices = split_vstar_text(str(require(row, "text", where=where)))
            if not choices:
                raise DataError(f"{where}: no '(A) …' option lines in 'text'")
            label = str(row["label"]).strip().strip("()").upper()
            if label not in choices:
                raise DataError(f"{where}: label {row['label']!r} is not one of the options {list(choices)}")
            image = str(row["image"])
            category = str(row.get("category") or image.split("/")[0])
            yield Item(
                item_id=str(row.get("question_id", n - 1)), question=question, answer=label,
                choices=choices, category=category, meta={"image": image},
                image=file_loader(root / image, where=where), where=where,
            )

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "lmms-eval":
            return lmms_vstar_letter(response)
        if profile == "vlmevalkit":
            return vk_mcq(response, item.choices)
        # Deviation: the V* authors rank option likelihoods instead of generating
        # (github penghao-wu/vstar, vstar_bench_eval.py); we generate and use ivgr's extraction with their micro
        # aggregation; option --profile
        return self.extract_ivgr(item, response)
