"""Write tiny benchmark files in each public release's exact layout (the HF datasets named in
ivgr/eval/benchmarks/*.py).

Column names, image encodings (JPEG files, base64 strings, HF Image structs
{"bytes", "path"}) and answer formats ("A", "(A)", "yes") follow the releases, so the
loaders are tested against what users will actually download.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def jpeg_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="JPEG")
    return buf.getvalue()


def png_bytes(width: int = 32, height: int = 32, color: tuple[int, int, int] = (20, 20, 220)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def _hf_image_column(blobs: list[bytes], names: list[str]) -> pa.Array:
    """An HF `Image` feature column: struct<bytes: binary, path: string>."""
    return pa.array([{"bytes": b, "path": n} for b, n in zip(blobs, names)],
                    type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


def write_vstar(root: Path, rows: list[dict]) -> Path:
    """`test_questions.jsonl` + `direct_attributes/` / `relative_position/` JPEGs.

    rows: {"category", "question", "options": [..], "label"}; `text` is built as the release:
    question, `(A) …` lines, then the instruction line.
    """
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, r in enumerate(rows):
        folder = root / r["category"]
        folder.mkdir(exist_ok=True)
        name = f"sa_{1000 + i}.jpg"
        (folder / name).write_bytes(jpeg_bytes())
        opts = "\n".join(f"({'ABCD'[k]}) {o}" for k, o in enumerate(r["options"]))
        text = f"{r['question']}\n{opts}\nAnswer with the option's letter from the given choices directly."
        lines.append({"image": f"{r['category']}/{name}", "text": text, "category": r["category"],
                      "question_id": i, "label": r["label"]})
    path = root / "test_questions.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def hrbench_table(rows: list[dict]) -> dict[str, list]:
    """Columns of hr_bench_*.{tsv,parquet}; images are base64 strings (or an index reference)."""
    cols: dict[str, list] = {k: [] for k in ["index", "question", "answer", "category", "A", "B", "C", "D",
                                              "cycle_category", "image"]}
    for i, r in enumerate(rows):
        cols["index"].append(i)
        cols["question"].append(r.get("question", f"Question {i}?"))
        cols["answer"].append(r["answer"])
        cols["category"].append(r["category"])
        for k, opt in zip("ABCD", r.get("options", ["red", "blue", "green", "pink"])):
            cols[k].append(opt)
        cols["cycle_category"].append(r["cycle"])
        cols["image"].append(r.get("image") or base64.b64encode(jpeg_bytes(80, 60)).decode())
    return cols


def write_hrbench(root: Path, res: str, rows: list[dict], *, fmt: str = "parquet") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cols = hrbench_table(rows)
    path = root / f"hr_bench_{res}.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table(cols), path)
    else:
        header = list(cols)
        body = ["\t".join(str(cols[c][i]) for c in header) for i in range(len(rows))]
        path.write_text("\t".join(header) + "\n" + "\n".join(body) + "\n")
    return path


def write_mme_parquet(root: Path, rows: list[dict]) -> Path:
    """lmms-eval layout: data/train-*.parquet, options as a list of "(X) text", base64 `bytes`."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    cols = {
        "index": [str(i) for i in range(len(rows))],
        "question": [r.get("question", "Where is the crane?") for r in rows],
        "multi-choice options": [[f"({L}) option {L.lower()}" for L in "ABCDE"] for _ in rows],
        "answer": [r["answer"] for r in rows],
        "category": [r["category"] for r in rows],
        "l2-category": [r["l2"] for r in rows],
        "bytes": [base64.b64encode(png_bytes()).decode() for _ in rows],
    }
    path = root / "data" / "train-00000-of-00001.parquet"
    pq.write_table(pa.table(cols), path)
    return path


def write_mme_json(root: Path, rows: list[dict]) -> Path:
    """Official layout: MME-RealWorld-Lite.json + imgs/<file>."""
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    entries = []
    for i, r in enumerate(rows):
        name = f"img_{i}.png"
        (root / "imgs" / name).write_bytes(png_bytes())
        entries.append({"Question_id": f"perception/x/{i}", "Image": name, "Text": "What is shown?",
                        "Question Type": "Multiple Choice",
                        "Answer choices": [f"({L}) thing {L}" for L in "ABCDE"], "Ground truth": r["answer"],
                        "Category": r["l2"], "Subtask": r["subtask"], "Task": r["task"]})
    path = root / "MME-RealWorld-Lite.json"
    path.write_text(json.dumps(entries))
    return path


def write_pope(root: Path, rows: list[dict], *, drop: str | None = None) -> Path:
    """lmms-lab/POPE default config: data/test-*.parquet, HF Image struct, lowercase answers."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    cols = {
        "id": [str(i) for i in range(len(rows))],
        "question_id": [str(i % 3000 + 1) for i in range(len(rows))],
        "question": [r.get("question", "Is there a dog in the image?") for r in rows],
        "answer": [r["answer"] for r in rows],
        "image_source": [f"COCO_val2014_{i:012d}" for i in range(len(rows))],
        "image": _hf_image_column([jpeg_bytes(40, 30) for _ in rows], [f"{i}.jpg" for i in range(len(rows))]),
        "category": [r["category"] for r in rows],
    }
    if drop:
        cols.pop(drop)
    path = root / "data" / "test-00000-of-00001.parquet"
    pq.write_table(pa.table(cols), path)
    return path


def write_rwqa(root: Path, rows: list[dict]) -> Path:
    """data/test-*.parquet: image (HF Image), question with `A. …` lines + instruction, answer."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    questions = []
    for r in rows:
        if r.get("options"):
            opts = "\n".join(f"{'ABCD'[k]}. {o}" for k, o in enumerate(r["options"]))
            questions.append(f"{r['question']}\n{opts}\nPlease answer directly with only the letter of the "
                             "correct option and nothing else.")
        else:
            questions.append(f"{r['question']}\nPlease answer directly with a single word or number.")
    cols = {
        "image": _hf_image_column([jpeg_bytes(50, 40, (i * 40 % 255, 10, 10)) for i in range(len(rows))],
                                  [None] * len(rows)),
        "question": questions,
        "answer": [r["answer"] for r in rows],
    }
    path = root / "data" / "test-00000-of-00001.parquet"
    pq.write_table(pa.table(cols), path)
    return path


def write_cvbench(root: Path, split: str, rows: list[dict], *, fmt: str = "parquet") -> Path:
    """test_2d / test_3d as parquet (HF Image) or as jsonl + img/<split>/… files; answers "(A)"."""
    root.mkdir(parents=True, exist_ok=True)
    recs = []
    for i, r in enumerate(rows):
        fname = f"img/{split}/{r['task'].lower()}/{r['source'].lower()}_{i}.png"
        letters = "ABCD"[: len(r["choices"])]
        prompt = f"{r['question']} Select from the following choices.\n" + "\n".join(
            f"({L}) {c}" for L, c in zip(letters, r["choices"]))
        recs.append({"idx": i, "type": split, "task": r["task"], "question": r["question"],
                     "choices": r["choices"], "answer": r["answer"], "prompt": prompt, "filename": fname,
                     "source": r["source"], "source_dataset": f"{r['source']} Validation Set",
                     "source_filename": f"src_{i}.jpg", "target_class": None, "target_size": None, "bbox": None})
    stem = f"test_{split.lower()}"
    if fmt == "parquet":
        cols = {k: [rec[k] for rec in recs] for k in recs[0]}
        cols["image"] = _hf_image_column([png_bytes() for _ in recs], [rec["filename"] for rec in recs])
        cols["bbox"] = pa.array(cols["bbox"], type=pa.list_(pa.list_(pa.float32())))
        cols["target_class"] = pa.array(cols["target_class"], type=pa.string())
        cols["target_size"] = pa.array(cols["target_size"], type=pa.int32())
        path = root / f"{stem}.parquet"
        pq.write_table(pa.table(cols), path)
    else:
        for rec in recs:
            (root / rec["filename"]).parent.mkdir(parents=True, exist_ok=True)
            (root / rec["filename"]).write_bytes(png_bytes())
        path = root / f"{stem}.jsonl"
        path.write_text("".join(json.dumps(rec) + "\n" for rec in recs))
    return path


def records(bench, data: Path, completions: list[str]) -> list[dict]:
    """Stored-output records (as the runner writes them) for the loaded items, in order."""
    items = list(bench.load(data))
    assert len(items) == len(completions)
    return [{"benchmark": bench.name, "completion": c, **it.to_record()} for it, c in zip(items, completions)]
