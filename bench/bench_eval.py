"""Benchmark `ivgr eval`: items/s per inference mode, and peak memory on 8K-resolution images.

    .venv/bin/python bench/bench_eval.py            # CPU, tiny model, about two minutes
    .venv/bin/python bench/bench_eval.py --rows 4 --items 12

Two measurements, each against a baseline measured in the same run:

1. Throughput: `ivgr eval` (the real CLI, in a fresh process) on a V*-format fixture with the
   tiny random-weight model in textual, grounded and tool modes; ratios vs textual.
2. Memory: peak RSS of `ivgr eval --benchmark hrbench8k` on an HR-Bench-8K-format parquet
   (7680x4320 JPEGs, base64 strings, one row group: the worst case), against a baseline
   process that reads the file the naive way (`pyarrow.parquet.read_table`, all rows) and
   decodes every image, as a pandas-based loader would.

Each measurement runs in its own subprocess so peak RSS (ru_maxrss) belongs to it alone.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mb_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run `cmd` under a wrapper that reports the child's peak RSS; (MB, seconds, stdout)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(p.stderr[-2000:]) if p.returncode else None; "
               "print(p.stdout); print('RC', p.returncode); "
               "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print('SECONDS', time.perf_counter() - t)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                         env=env or dict(os.environ, IVGR_LOG_LEVEL="ERROR"))
    lines = out.stdout.splitlines()
    rc = int(next(x for x in lines if x.startswith("RC ")).split()[1])
    if rc != 0:
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}\n{out.stderr}")
    peak = int(next(x for x in lines if x.startswith("PEAK_KB")).split()[1]) / 1024
    secs = float(next(x for x in lines if x.startswith("SECONDS")).split()[1])
    return peak, secs if secs else time.perf_counter() - t0, out.stdout


def _jpeg_8k(seed: int) -> bytes:
    """A 7680x4320 JPEG with texture (gradients + noise), about as heavy to decode as a photo."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = 4320, 7680
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    base = np.stack([(x + y) / 2, np.broadcast_to(x, (h, w)), np.broadcast_to(y, (h, w))], axis=-1)
    noise = rng.integers(0, 40, size=(h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)
    arr = np.clip(base + noise, 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_hrbench8k(root: Path, rows: int) -> Path:
    """hr_bench_8k.parquet in the release's columns; 4 option cycles share one image, as there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    images = [base64.b64encode(_jpeg_8k(i)).decode() for i in range((rows + 3) // 4)]
    cols = {"index": list(range(rows)), "question": [f"What is written on sign {i}?" for i in range(rows)],
            "answer": ["ABCD"[i % 4] for i in range(rows)], "category": ["single", "cross"] * (rows // 2) + ["single"] * (rows % 2),
            "A": ["red"] * rows, "B": ["blue"] * rows, "C": ["green"] * rows, "D": ["pink"] * rows,
            "cycle_category": [f"cycle{i % 4}" for i in range(rows)], "image": [images[i // 4] for i in range(rows)]}
    path = root / "hr_bench_8k.parquet"
    pq.write_table(pa.table(cols), path, row_group_size=rows)  # one row group: the worst case
    return path


def write_vstar(root: Path, n: int) -> None:
    from PIL import Image

    (root / "direct_attributes").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        Image.new("RGB", (640, 480), (i * 13 % 255, 90, 160)).save(root / "direct_attributes" / f"sa_{i}.jpg")
        lines.append({"image": f"direct_attributes/sa_{i}.jpg", "label": "A", "category": "direct_attributes",
                      "question_id": i, "text": "What colour is the object?\n(A) red\n(B) blue\n(C) green\n(D) pink"})
    (root / "test_questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


BASELINE = r"""
import base64, io, sys
import pyarrow.parquet as pq
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
table = pq.read_table(sys.argv[1])          # every row, every base64 string
images = [Image.open(io.BytesIO(base64.b64decode(s))).convert("RGB") for s in table.column("image").to_pylist()]
print(len(images))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=8, help="rows of the 8K parquet (4 share one image)")
    ap.add_argument("--items", type=int, default=16, help="V* items for the throughput runs")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--only", choices=["throughput", "memory"], help="run one of the two measurements")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from ivgr.models import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_tiny_model(tmp / "tiny", seed=0)
        ivgr = [sys.executable, "-m", "ivgr.cli", "eval", "--model", str(model), "--profile", "ivgr",
                "--max-new-tokens", str(args.max_new_tokens), "--batch-size", str(args.batch_size)]

        if args.only != "memory":
            throughput(args, tmp, ivgr)
        if args.only != "throughput":
            memory(args, tmp, ivgr)


def throughput(args: argparse.Namespace, tmp: Path, ivgr: list[str]) -> None:
    """items/s of `ivgr eval` in each mode (generation time only), ratio vs textual."""
    print(f"== throughput: ivgr eval, tiny model, {args.items} V* items (640x480), "
          f"max_new_tokens={args.max_new_tokens}, batch {args.batch_size}, CPUs {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} (other processes skew CPU timings)")
    write_vstar(tmp / "vstar", args.items)
    rates = {}
    for mode in ("textual", "grounded", "tool"):
        out = tmp / f"{mode}.json"
        _peak_rss_mb_of(ivgr + ["--benchmark", "vstar", "--data", str(tmp / "vstar"), "--mode", mode, "--out", str(out)])
        tp = json.loads(out.read_text())["throughput"]
        rates[mode] = tp["items_per_s"]
        print(f"{mode:9s} {tp['items_per_s']:7.2f} items/s  ({tp['generated']} items in {tp['seconds']:.2f} s of "
              f"generation)  ratio vs textual {tp['items_per_s'] / rates['textual']:.2f}")


def memory(args: argparse.Namespace, tmp: Path, ivgr: list[str]) -> None:
    """Peak RSS of `ivgr eval` on 8K images vs a load-everything baseline."""
    print(f"\n== memory: HR-Bench-8K-format parquet, {args.rows} rows of 7680x4320 JPEG (base64), one row group")
    path = write_hrbench8k(tmp / "hr8k", args.rows)
    print(f"file {path.stat().st_size / 2**20:.1f} MiB")
    base_peak, base_s, _ = _peak_rss_mb_of([sys.executable, "-c", BASELINE, str(path)])
    print(f"baseline (read_table + decode all): peak RSS {base_peak:8.1f} MB  ({base_s:.1f} s)")
    for bs, extra in ((1, []), (args.batch_size, []), (1, ["--jpeg-draft"]), (args.batch_size, ["--jpeg-draft"])):
        out = tmp / f"hr{bs}{'d' if extra else ''}.json"
        peak, secs, _ = _peak_rss_mb_of(ivgr[:-2] + ["--batch-size", str(bs), "--benchmark", "hrbench8k", *extra,
                                                     "--data", str(tmp / "hr8k"), "--out", str(out)])
        print(f"ivgr eval --batch-size {bs} {' '.join(extra):12s}: peak RSS {peak:8.1f} MB  ({secs:.1f} s wall)  "
              f"ratio vs baseline {peak / base_peak:.2f}")
    idle, _, _ = _peak_rss_mb_of([sys.executable, "-c", "import ivgr.cli, torch, transformers"])
    print(f"reference: python + torch + transformers imported, nothing else: {idle:.1f} MB")


if __name__ == "__main__":
    main()
