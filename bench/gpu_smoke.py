"""GPU smoke test of the dual-stream GRPO trainer: step time, tokens/s and peak memory.

    python bench/gpu_smoke.py                          # tiny random model, CUDA if available
    python bench/gpu_smoke.py --device cpu --steps 4   # the same on CPU (what CI can run)
    python bench/gpu_smoke.py --model /ckpt/iVGR-Qwen2.5-VL-7B-SFT --steps 3 --completion-len 256

It builds (or takes) a model, writes a small synthetic prepared dataset, runs `--steps` optimizer
steps of `ivgr.training.train.train` with the rules judge, and prints one line per step plus a
summary. The first step includes warm-up (allocation, kernel selection), so the summary reports
the median of the later steps and their ratio to step 1.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="local checkpoint dir (default: build the tiny random model)")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--num-generations", type=int, default=4)
    p.add_argument("--pairs-per-step", type=int, default=2, help="(grounded, textual) pairs per optimizer step")
    p.add_argument("--completion-len", type=int, default=64)
    p.add_argument("--scenes", type=int, default=32)
    p.add_argument("--vllm", action="store_true", help="generate with vLLM colocate (GPU only)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    from ivgr.data.synthetic import generate
    from ivgr.models import build_tiny_model
    from ivgr.training.callbacks import MetricsHistory
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda but no CUDA device is visible")
    work = Path(tempfile.mkdtemp(prefix="ivgr-gpu-smoke-"))
    model = Path(args.model) if args.model else build_tiny_model(work / "tiny-model", seed=0)
    data = work / "data"
    generate(data, n=args.scenes, seed=0, split="train")
    rows_per_step = 2 * args.pairs_per_step * args.num_generations
    cfg = config_from_dict(
        {
            "model_path": str(model), "data_path": str(data), "output_dir": str(work / "run"),
            "num_generations": args.num_generations, "per_device_train_batch_size": rows_per_step,
            "steps_per_generation": 1, "max_steps": args.steps, "max_completion_length": args.completion_len,
            "learning_rate": 1e-6, "beta": 0.01, "epsilon_high": 0.28, "delta": 3.0,
            "use_cpu": not cuda, "bf16": cuda, "activation_checkpointing": cuda and args.model is not None,
            "model_dtype": "bfloat16" if cuda else "float32", "use_vllm": args.vllm,
            "logging_steps": 1, "save_strategy": "no", "report_to": ["none"], "judge": {"kind": "rules"},
        },
        source="gpu_smoke",
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    history = MetricsHistory()
    t0 = time.perf_counter()
    train(cfg, callbacks=[history])
    wall = time.perf_counter() - t0
    steps = [h for h in history.history if "step_time" in h]
    tokens = [h.get("num_tokens", 0.0) for h in steps]
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    print(f"device: {device}  model: {model}  G={args.num_generations}  rows/step={rows_per_step}  "
          f"completion<={args.completion_len}")
    per_step = []
    for i, h in enumerate(steps):
        new_tokens = tokens[i] - (tokens[i - 1] if i else 0.0)
        tps = new_tokens / h["step_time"] if h["step_time"] else 0.0
        per_step.append((h["step_time"], tps))
        print(f"step {h['step']}: {h['step_time']:.3f} s  {tps:,.0f} tokens/s (prompt+completion)  "
              f"mean completion {h.get('completions/mean_length', 0):.1f}")
    later = per_step[1:] or per_step
    med_time = statistics.median(t for t, _ in later)
    med_tps = statistics.median(t for _, t in later)
    peak = (torch.cuda.max_memory_allocated() / 2**30) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    figures = {
        "device": device, "model": str(model), "steps": len(steps), "median_step_s": med_time,
        "median_tokens_per_s": med_tps, "first_step_s": per_step[0][0] if per_step else None,
        "first_over_median": (per_step[0][0] / med_time) if per_step and med_time else None,
        "peak_memory_gib": peak, "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process max RSS",
        "wall_s_including_load": wall,
    }
    print(f"summary: median step {med_time:.3f} s (step 1 = {figures['first_over_median']:.2f}× median), "
          f"{med_tps:,.0f} tokens/s, peak memory {peak:.2f} GiB ({figures['peak_memory_kind']}), "
          f"wall {wall:.1f} s incl. load")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
