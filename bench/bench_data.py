"""Benchmark of the data pipeline: rows/s and peak memory of `validate` and `prepare`.

Generates a dataset in the authors' format (parquet + images folder; a few shared image files
keep the disk small), then runs each measurement in a fresh subprocess so peak RSS
(`resource.getrusage(...).ru_maxrss`) belongs to that step alone:

  * validate      ivgr.data.validate.validate (streaming)
  * prepare       ivgr.data.prepare.prepare (streaming, writes the prepared dataset)
  * prepare-1worker  prepare with one image thread (baseline of the thread speed-up)
  * naive load    baseline measured in the same run: pandas.read_parquet of the whole file,
                  then every row as a dict (what a load-everything loader holds in memory)

It runs at two sizes (N/4 and N rows): a streaming step's peak memory should barely change
with N, a load-everything baseline grows with it.

    .venv/bin/python bench/bench_data.py            # 20 000 rows
    .venv/bin/python bench/bench_data.py --rows 4000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_IMAGES = 40  # distinct image files shared by all rows
LONG_TEXT = " ".join(["Consider the objects in the scene carefully before answering."] * 8)


def build(root: Path, rows: int, n_images: int = N_IMAGES) -> Path:
    """Write `rows` rows (90% treevgr with 1-3 boxes, 10% single) sharing `n_images` images."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        size = (320 + 16 * (i % 40), 240 + 8 * (i % 40))
        Image.new("RGB", size, (i * 5 % 255, 90, 160)).save(root / "images" / f"{i}.jpg", quality=80)
    schema = pa.schema([
        ("problem", pa.string()), ("query", pa.string()), ("answer", pa.string()),
        ("images", pa.list_(pa.string())),
        ("target_instances", pa.list_(pa.struct([("bbox", pa.list_(pa.float64()))]))),
        ("datasource", pa.string()), ("question_type", pa.string()),
    ])
    path = root / "data.parquet"
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 5000):
            batch = []
            for j in range(start, min(rows, start + 5000)):
                paired = j % 10 != 0
                query = f"Question {j}: where is object {j % 7}? {LONG_TEXT}"
                boxes = [{"bbox": [10.0 + k, 20.0, 100.0 + k * 3, 200.0]} for k in range(1 + j % 3)] if paired else []
                batch.append({
                    "problem": "<image>\n" + query, "query": query, "answer": f"answer {j}",
                    "images": [f"images/{j % n_images}.jpg"], "target_instances": boxes,
                    "datasource": "treevgr" if paired else "ours_mmk12", "question_type": "bench",
                })
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return path


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: the work done, whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(step: str, path: Path, out: Path) -> dict:
    """Run one step in this (fresh) process; return rows, seconds and peak RSS.

    Imports happen before the baseline reading, so `work_mib` = peak - after-imports is the
    memory the step itself needed.
    """
    import pandas as pd

    from ivgr.data.prepare import prepare
    from ivgr.data.readers import open_source
    from ivgr.data.validate import validate

    base_rss = _peak_rss_mib()
    start, start_cpu = time.perf_counter(), _cpu_seconds()
    if step == "validate":
        rows = validate(open_source(path)).rows
    elif step == "prepare":
        rows = prepare(open_source(path), out, force=True).rows
    elif step == "prepare-1worker":
        from ivgr.data.prepare import PrepareConfig

        rows = prepare(open_source(path), out, force=True, config=PrepareConfig(workers=1)).rows
    elif step == "naive":
        records = pd.read_parquet(path).to_dict("records")
        rows = len(records)
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - start_cpu
    peak = _peak_rss_mib()
    return {"step": step, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "cpu_s": cpu, "rows_per_cpu_s": rows / max(cpu, 1e-9),
            "peak_rss_mib": peak, "after_imports_mib": base_rss, "work_mib": peak - base_rss}


def run_child(step: str, path: Path, out: Path) -> dict:
    # The parent stays small (nothing heavy imported): on Linux a child's ru_maxrss starts
    # from the forking parent's size, so a fat parent would hide the child's own peak.
    proc = subprocess.run(
        [sys.executable, __file__, "--child", step, "--path", str(path), "--out", str(out)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--unique-rows", type=int, default=2_000,
                        help="size of the second dataset, where every row has its own image file")
    parser.add_argument("--images", type=int, default=N_IMAGES, help=argparse.SUPPRESS)
    parser.add_argument("--child")
    parser.add_argument("--path", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child == "build":
        build(args.path, args.rows, args.images)
        return
    if args.child:
        print(json.dumps(child(args.child, args.path, args.out)))
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="ivgr-bench-data-") as tmp:
        for rows in (args.rows // 4, args.rows):
            root = Path(tmp) / f"n{rows}"
            subprocess.run([sys.executable, __file__, "--child", "build", "--path", str(root), "--rows", str(rows)],
                           check=True)
            path = root / "data.parquet"
            for step in ("naive", "validate", "prepare"):
                results[(step, rows)] = run_child(step, path, root / "prepared")
        # Image-bound case: every row its own image (full decode + hash; prepare also resizes and
        # encodes each one), as in real data.
        root = Path(tmp) / "unique"
        subprocess.run([sys.executable, __file__, "--child", "build", "--path", str(root),
                        "--rows", str(args.unique_rows), "--images", str(args.unique_rows)], check=True)
        for step in ("validate", "prepare", "prepare-1worker"):
            results[(step, "unique")] = run_child(step, root / "data.parquet", root / "prepared")
    small, big = args.rows // 4, args.rows
    print(f"data pipeline benchmark: {big} rows ({N_IMAGES} shared images), peak RSS per fresh process")
    print("work MiB = peak RSS minus RSS after imports (the memory the step itself needed)")
    print(f"{'step':<10}{'rows/s':>10}{'rows/cpu-s':>12}{'peak MiB':>10}{'work MiB @' + str(small):>18}"
          f"{'work MiB @' + str(big):>18}")
    for step in ("naive", "validate", "prepare"):
        a, b = results[(step, small)], results[(step, big)]
        print(f"{step:<10}{b['rows_per_s']:>10.0f}{b['rows_per_cpu_s']:>12.0f}{b['peak_rss_mib']:>10.1f}"
              f"{a['work_mib']:>18.1f}{b['work_mib']:>18.1f}")
    naive = results[("naive", big)]["work_mib"]
    for step in ("validate", "prepare"):
        work = max(results[(step, big)]["work_mib"], 0.1)
        print(f"working memory at {big} rows: naive load / {step} = {naive / work:.1f}x")
    for step in ("validate", "prepare", "prepare-1worker"):
        r = results[(step, "unique")]
        print(f"{step} with one image file per row ({r['rows']} rows, 320-944 px JPEGs): {r['rows_per_s']:.0f} rows/s, "
              f"{r['rows_per_cpu_s']:.0f} rows per CPU-second")
    speedup = results[("prepare", "unique")]["rows_per_s"] / results[("prepare-1worker", "unique")]["rows_per_s"]
    print(f"prepare image threads (default workers) / 1 worker = {speedup:.2f}x")
    print("json:", json.dumps({f"{k[0]}@{k[1]}": v for k, v in results.items()}))


if __name__ == "__main__":
    main()
