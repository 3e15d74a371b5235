"""RealWorldQA (`xai-org/RealworldQA`, `lmms-lab/RealWorldQA`): 765 questions, plain accuracy.

Files (HF dataset xai-org/RealworldQA or lmms-lab/RealWorldQA): `data/test-*.parquet`, columns `image (HF Image struct),
question, answer`. Options are embedded in `question` as `A. …` lines followed by an
instruction; most answers are letters, a few are a word or a number ("open" items).
There is no id column, so an item's id is a hash of its image bytes and question (docs/data.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from ivgr.eval.base import Benchmark, Item
from ivgr.eval.extraction import ivgr_open, lmms_mcq_extract, vk_mcq
from ivgr.eval.readers import find_files, hf_image_loader, iter_parquet, require
from ivgr.eval.registry import register

_OPTION_LINE = re.compile(r"^([A-Z])\.\s+(.*)$")


def split_rwqa_question(text: str) -> tuple[str, dict[str, str], str]:
    """(question, options, instruction) from a RealWorldQA question with `A. …` lines.

    >>> split_rwqa_question("Which way?\\nA. Left\\nB. Right\\nPlease answer directly.")
    ('Which way?', {'A': 'Left', 'B': 'Right'}, 'Please answer directly.')
    """
    q: list[str] = []
    tail: list[str] = []
    choices: dict[str, str] = {}
    for line in text.splitlines():
        m = _OPTION_LINE.match(line.strip())
        if m and not tail:
            choices[m.group(1)] = m.group(2).strip()
        elif choices or (line.strip().lower().startswith("please answer") and q):
            tail.append(line)
        else:
            q.append(line)
    return "\n".join(q).strip(), choices, "\n".join(tail).strip()


@register("realworldqa")
class RealWorldQA(Benchmark):
    version = "1"
    column = "RWQA"

    def load(self, data_path: Path) -> Iterator[Item]:
        files = find_files(Path(data_path), ["data/test-*.parquet", "*.parquet", "**/*.parquet"], what="RealWorldQA")
        for path in files:
            for n, row in iter_parquet(path, required=["image", "question", "answer"]):
                where = f"{path}: row {n}"
                text = str(require(row, "question", where=where))
                cell = require(row, "image", where=where)
                raw = cell.get("bytes") if isinstance(cell, dict) else None
                digest = hashlib.sha1((raw or b"") + text.encode()).hexdigest()[:16]
                question, choices, instruction = split_rwqa_question(text)
                answer = str(require(row, "answer", where=where)).strip()
                kind = "mcq" if choices and answer in choices else "open"
                yield Item(
                    item_id=digest, question=question if kind == "mcq" else text, answer=answer, kind=kind,
                    choices=choices, meta={"instruction": instruction},
                    image=hf_image_loader(cell, base_dir=path.parent, where=where), where=where,
                )

    def extract(self, item: Item, response: str, profile: str) -> str | None:
        if profile == "lmms-eval":
            if item.answer in ("A", "B", "C", "D"):
                return lmms_mcq_extract(response, ["A", "B", "C", "D"])
            return response.lower().strip().rstrip(".")
        if profile == "vlmevalkit" and item.kind == "mcq":
            return vk_mcq(response, item.choices)
        if profile == "vlmevalkit":
            # Deviation: how VLMEvalKit stores open items is unknown (its RealWorldQA.tsv parses options into
            # columns); we
            # use case-insensitive exact match; option --profile
            return response.strip().lower()
        # official: xAI published no scorer; ivgr extraction, plain accuracy.
        return self.extract_ivgr(item, response)

    def score(self, item: Item, extracted: str | None, profile: str) -> bool:
        if extracted is None:
            return False
        if item.kind == "open":
            if profile in ("lmms-eval", "vlmevalkit"):
                return extracted == item.answer.lower()
            return extracted == ivgr_open(item.answer)
        return extracted == item.answer
