"""GRPO steps of a random-init Qwen2.5-VL-3B-architecture model on one GPU, measured against `ivgr plan`.

    python bench/gpu_check.py --dry-run                 # CPU: settings and the plan, nothing built
    python bench/gpu_check.py --json $OUT/grpo.json     # GPU: build, train 3 steps, report

Run by bench/gpu_check.sh (which also installs carried wheels and runs the CUDA tests). The model
is the shipped `qwen2.5-vl-3b` config with random bf16 weights and ivgr's offline tokenizer (token
ids remapped; the embedding keeps the real vocabulary size), the data is the synthetic world at
448 x 448, and the settings are bench/gpu_check.yaml (the 7B recipe scaled to one GPU).

Reported per step: seconds, generation tokens/s (completion tokens / time inside HF generate),
the update phase's model-FLOPs utilisation and peak memory beside the plan's estimate. Update
phase = TRL's training_step time minus its _prepare_inputs time (generation, scoring, reference
and old log-probs), i.e. the policy's forward + backward; the optimizer step is not in it.
Model FLOPs = 6 x (non-embedding LM parameters x LM tokens + ViT parameters x ViT patches):
the recompute of activation checkpointing and attention's own FLOPs are not counted (the usual
MFU convention), so the hardware does more work than the figure credits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "bench" / "gpu_check.yaml"
MODEL = "qwen2.5-vl-3b"
CANVAS = 448  # synthetic images, 448 x 448 = the recipe's max_pixels: 256 LM tokens, 1024 ViT patches
SCENES = 64
H200_BF16_DENSE_TFLOPS = 989.0  # vendor datasheet, dense bf16 (SXM)
H200_MEASURED_TFLOPS = 790.0  # bf16 8192^3 matmul measured on this workplace's H200 (device KINDS.md)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="print the settings and the plan; build nothing")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--gpu-memory-gib", type=float, default=None,
                   help="plan for this GPU size (default: the visible GPU's, or 139 for an H200 in --dry-run)")
    p.add_argument("--work", type=Path, default=None, help="scratch dir for the model and data (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--tiny", action="store_true",
                   help="the same measurement on ivgr's tiny model on the CPU (tests the script, measures nothing)")
    return p.parse_args(argv)


# What --tiny changes so the whole measurement path runs on a CPU in seconds.
TINY_OVERRIDES = {"use_cpu": True, "bf16": False, "model_dtype": "float32", "max_completion_length": 8,
                  "activation_checkpointing": False, "max_pixels": 112 * 112}


def plan_for(gpu_memory_gib: float, *, model: str = MODEL, recipe: Path = RECIPE, prompt_tokens: int = 256,
             canvas: int = CANVAS) -> dict:
    """The planner's view of this check: one GPU, no sharding (engine ddp), HF generation."""
    from ivgr.plan import make_plan

    return make_plan(model, gpus=1, gpu_memory_gib=gpu_memory_gib, recipe=recipe, engine="ddp",
                     prompt_tokens=prompt_tokens, image_pixels=canvas * canvas)


def build_random_model(out: Path) -> Path:
    """The shipped 3B config, random bf16 weights built on the GPU, saved with ivgr's tiny tokenizer."""
    import torch
    from transformers import AutoConfig, GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from ivgr.models.processor import build_processor, save_processor_files
    from ivgr.models.tiny import SPECIAL_TOKENS, build_tokenizer
    from ivgr.plan.models import load_model_config

    raw, _ = load_model_config(MODEL)
    tokenizer = build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    raw = {**raw, "image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
           "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
           "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]}
    config = AutoConfig.for_model(**raw)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):  # random init on the GPU: seconds instead of minutes on the CPU
            model = Qwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                                               pad_token_id=ids["<|endoftext|>"], do_sample=False)
    model.save_pretrained(out)
    save_processor_files(build_processor(tokenizer, min_pixels=3136, max_pixels=CANVAS * CANVAS), out)
    del model
    torch.cuda.empty_cache()
    return out


class PhaseClock:
    """Sums TRL's profiling_context durations by name ('transformers.generate', '_prepare_inputs')."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    def install(self) -> None:
        import contextlib

        import trl.extras.profiling as profiling
        import trl.trainer.grpo_trainer as grpo

        original = profiling.profiling_context
        totals = self.totals

        @contextlib.contextmanager
        def timed(trainer, name):
            t0 = time.perf_counter()
            with original(trainer, name) as ctx:
                yield ctx
            totals[name] += time.perf_counter() - t0

        # The decorator looks the name up in its module at call time; the trainer imported it directly.
        profiling.profiling_context = timed
        grpo.profiling_context = timed

    def snapshot(self) -> dict[str, float]:
        return dict(self.totals)


def step_clock(cuda: bool):
    """A TrainerCallback that records wall time and TRL's phase totals at each optimizer step's end."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.phases = PhaseClock()
            self.marks: list[tuple[float, dict[str, float]]] = []

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ARG002
            self.marks = [(time.perf_counter(), self.phases.snapshot())]

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ARG002
            if cuda:  # wait for the step's kernels, so the wall time is the step's
                import torch

                torch.cuda.synchronize()
            self.marks.append((time.perf_counter(), self.phases.snapshot()))

    return StepClock()


def run(args: argparse.Namespace) -> dict:
    import torch
    import yaml

    from ivgr.data.synthetic import WorldConfig, generate
    from ivgr.plan.models import count_parameters, load_model_config, model_shape, vision_parameters
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    cuda = not args.tiny
    if cuda and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device is visible (use --dry-run, or --tiny, on a CPU machine)")
    work = args.work or Path(tempfile.mkdtemp(prefix="ivgr-gpu-check-"))
    canvas = 112 if args.tiny else CANVAS
    t0 = time.perf_counter()
    if args.tiny:
        from ivgr.models import build_tiny_model

        model_dir = build_tiny_model(work / "model", seed=0)
    else:
        model_dir = build_random_model(work / "model")
    build_s = time.perf_counter() - t0
    generate(work / "data", n=SCENES, seed=0, split="train", cfg=WorldConfig(canvas=canvas))
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe.update(model_path=str(model_dir), data_path=str(work / "data"), output_dir=str(work / "run"),
                  max_steps=args.steps, **(TINY_OVERRIDES if args.tiny else {}))
    resolved = work / "recipe.yaml"  # what ran, for the plan below
    resolved.write_text(yaml.safe_dump(recipe))
    cfg = config_from_dict(recipe, source=str(RECIPE))
    clock = step_clock(cuda)
    clock.phases.install()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = train(cfg, callbacks=[clock])
    if cuda:
        peak_alloc = torch.cuda.max_memory_allocated() / 2**30
        peak_reserved = torch.cuda.max_memory_reserved() / 2**30
    else:  # process max RSS: a CPU stand-in so the report has the same shape
        import resource

        peak_alloc = peak_reserved = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    raw, _ = load_model_config(str(model_dir))
    shape = model_shape(raw)
    n_vit = vision_parameters(shape)
    n_lm = count_parameters(raw) - n_vit - shape.vocab_size * shape.hidden_size * (1 if shape.tie_word_embeddings else 2)
    rows = cfg.per_device_train_batch_size
    logs = [h for h in result.history if "step_time" in h]
    steps = []
    for i, h in enumerate(logs):
        (t_a, ph_a), (t_b, ph_b) = clock.marks[i], clock.marks[i + 1]
        gen_s = ph_b.get("transformers.generate", 0.0) - ph_a.get("transformers.generate", 0.0)
        prep_s = ph_b.get("_prepare_inputs", 0.0) - ph_a.get("_prepare_inputs", 0.0)
        tokens = h["num_tokens"] - (logs[i - 1]["num_tokens"] if i else 0.0)  # prompt (incl. image) + completion
        completion = h.get("completions/mean_length", 0.0) * rows
        update_s = h["step_time"] - prep_s
        flops = 6 * (n_lm * tokens + n_vit * rows * (canvas * canvas) // shape.vision_patch_pixels)
        steps.append({
            "step": h["step"], "seconds": t_b - t_a, "generate_s": gen_s, "update_s": update_s,
            "generation_tokens_per_s": completion / gen_s if gen_s else None,
            "update_tflops": flops / update_s / 1e12 if update_s > 0 else None,
            "completion_tokens": completion, "tokens": tokens,
        })
    later = steps[1:] or steps
    median = {k: statistics.median([s[k] for s in later if s[k] is not None] or [0.0])
              for k in ("seconds", "generation_tokens_per_s", "update_tflops")}
    total_gib = torch.cuda.get_device_properties(0).total_memory / 2**30 if cuda else 139.0
    prompt_text = max(0, round(statistics.mean((s["tokens"] - s["completion_tokens"]) / rows for s in steps))
                      - (canvas * canvas) // shape.llm_token_pixels)
    plan = plan_for(args.gpu_memory_gib or total_gib, model=str(model_dir), recipe=resolved,
                    prompt_tokens=prompt_text, canvas=canvas)
    return {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (--tiny)", "torch": torch.__version__,
        "model": "ivgr tiny" if args.tiny else MODEL,
        "build_s": build_s, "steps": steps, "median_later_steps": median,
        "mfu_vs_datasheet": median["update_tflops"] / H200_BF16_DENSE_TFLOPS,
        "mfu_vs_measured_matmul": median["update_tflops"] / H200_MEASURED_TFLOPS,
        "peak_allocated_gib": peak_alloc, "peak_reserved_gib": peak_reserved,
        "plan_total_gib": plan["per_gpu_gib"]["total"], "plan": plan,
    }


def report(fig: dict) -> str:
    lines = [f"device {fig['device']}  torch {fig['torch']}  model {fig['model']} (random init, built in "
             f"{fig['build_s']:.0f} s)", "step  seconds  generate_s  update_s  gen tok/s  update TFLOP/s"]
    for s in fig["steps"]:
        lines.append(f"{s['step']:>4}  {s['seconds']:>7.2f}  {s['generate_s']:>10.2f}  {s['update_s']:>8.2f}  "
                     f"{s['generation_tokens_per_s'] or 0:>9.0f}  {s['update_tflops'] or 0:>13.1f}")
    m = fig["median_later_steps"]
    lines += [
        f"median of steps 2..: {m['seconds']:.2f} s/step, {m['generation_tokens_per_s']:.0f} generation tokens/s, "
        f"update MFU {fig['mfu_vs_datasheet']:.1%} of 989 TFLOP/s ({fig['mfu_vs_measured_matmul']:.1%} of the "
        f"measured 790)",
        f"peak memory: {fig['peak_allocated_gib']:.1f} GiB allocated, {fig['peak_reserved_gib']:.1f} GiB reserved; "
        f"ivgr plan estimate {fig['plan_total_gib']:.1f} GiB "
        f"(ratio {fig['peak_reserved_gib'] / fig['plan_total_gib']:.2f} reserved/plan)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.dry_run:
        from ivgr.commands.plan_cmd import format_plan

        print(f"would build {MODEL} (random bf16 weights) and run {args.steps} GRPO steps with {RECIPE.name} "
              f"on synthetic {CANVAS}x{CANVAS} images; the plan for it:")
        print(format_plan(plan_for(args.gpu_memory_gib or 139.0)))
        return
    fig = run(args)
    print(report(fig))
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2, default=str))


if __name__ == "__main__":
    main()
