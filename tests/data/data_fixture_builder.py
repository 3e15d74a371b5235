"""Builds small datasets in the authors' released format (HF dataset allencbzhang/iVGR-RL-51K;
ivgr/data/adapters.py).

A parquet with `problem`, `query`, `answer`, `images` (list of relative paths), `target_instances`
(list of {"bbox": [x1, y1, x2, y2]} in original-image pixels), `datasource`, `question_type`,
plus an `images/` folder, all inside a test's tmp_path. Tests state each row's case explicitly.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image


def write_image(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 40), fmt: str = "PNG") -> Path:
    """Write a solid-colour image of `size` (width, height) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def image_bytes(size: tuple[int, int], colour: tuple[int, int, int] = (10, 120, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def authors_row(
    image: str | list | None,
    *,
    query: str = "What colour is the ball?",
    answer: str = "red",
    boxes: list | None = None,
    datasource: str = "treevgr",
) -> dict[str, Any]:
    """One row as the authors' parquet holds it (`problem` = "<image>\\n" + query)."""
    images = image if isinstance(image, list) or image is None else [image]
    return {
        "problem": "<image>\n" + query,
        "query": query,
        "answer": answer,
        "images": images,
        "target_instances": [{"bbox": b} for b in (boxes or [])],
        "datasource": datasource,
        "question_type": "color",
    }


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows with an explicit schema (bbox as list<double>, nullable), like the release."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("problem", pa.string()),
            ("query", pa.string()),
            ("answer", pa.string()),
            ("images", pa.list_(pa.string())),
            ("target_instances", pa.list_(pa.struct([("bbox", pa.list_(pa.float64()))]))),
            ("datasource", pa.string()),
            ("question_type", pa.string()),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def good_dataset(root: Path, n_paired: int = 3, n_single: int = 2) -> Path:
    """A clean dataset: paired treevgr rows with boxes and single rows without, shared images."""
    write_image(root / "images" / "scene.png", (640, 480))
    write_image(root / "images" / "chart.png", (300, 200), colour=(30, 30, 200))
    rows = [
        authors_row("images/scene.png", query=f"Where is object {i}?", answer=f"left {i}",
                    boxes=[[10 + i, 20, 110 + i, 220]])
        for i in range(n_paired)
    ]
    rows += [
        authors_row("images/chart.png", query=f"What is {i}+1?", answer=str(i + 1), datasource="ours_mmk12")
        for i in range(n_single)
    ]
    return write_parquet(root / "data.parquet", rows)
