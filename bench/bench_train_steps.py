"""Seconds per optimizer step of `recipes/tiny_cpu.yaml` on one process and on two (torchrun, gloo).

    python bench/bench_train_steps.py [--steps 6] [--repeats 1]

Runs `ivgr train` with the recipe as shipped (random tiny model, synthetic data, rules judge)
once per process count, back to back in this run, reads the per-step `step_time` TRL logs into
trainer_state.json, and prints the median step (step 1 excluded: warm-up) and the two-process
/ one-process ratio. Two processes generate and score twice the rows per step (per-device batch
fixed), so the fair figure is also given per (grounded, textual) pair. Every process runs with
OMP_NUM_THREADS=1 (torchrun's default), so the comparison is one core vs two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(nproc: int, steps: int, out: Path) -> tuple[list[float], float]:
    cli = ["-m", "ivgr.cli", "train", "--config", str(ROOT / "recipes/tiny_cpu.yaml"),
           f"output_dir={out}", f"max_steps={steps}", f"save_steps={steps}"]
    if nproc == 1:
        cmd = [sys.executable, *cli]
    else:
        torchrun = Path(sys.executable).with_name("torchrun")
        cmd = [str(torchrun), "--nproc_per_node", str(nproc), "--master_port", "29593", *cli]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun sets 1 thread per rank; same for the baseline
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    state = json.loads((out / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    return [h["step_time"] for h in state["log_history"] if "step_time" in h], wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    results: dict[int, list[float]] = {1: [], 2: []}
    walls: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for nproc in (1, 2):
                times, wall = run(nproc, args.steps, Path(tmp) / f"n{nproc}-r{r}")
                results[nproc].extend(times[1:])
                walls[nproc].append(wall)
                print(f"{nproc} process(es), repeat {r}: step times {[round(t, 2) for t in times]}, wall {wall:.1f} s")
    med = {n: statistics.median(v) for n, v in results.items()}
    pairs = {1: 1, 2: 2}  # per_device_train_batch_size 4 = one pair × G=2 per process
    print(f"median s/step: 1 process {med[1]:.3f}, 2 processes {med[2]:.3f}; ratio 2p/1p = {med[2] / med[1]:.2f}")
    print(f"median s per (grounded, textual) pair: 1 process {med[1] / pairs[1]:.3f}, "
          f"2 processes {med[2] / pairs[2]:.3f}; throughput ratio 2p/1p = {(pairs[2] / med[2]) / (pairs[1] / med[1]):.2f}")
    print(f"median wall incl. start-up: 1 process {statistics.median(walls[1]):.1f} s, "
          f"2 processes {statistics.median(walls[2]):.1f} s")


if __name__ == "__main__":
    main()
