"""`ivgr plan`: parameters, per-GPU memory by part, fits or not, and judge load per step. No torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

HELP = """Plan a GRPO run on paper: exact parameter count, per-GPU memory by part under ZeRO-3 or FSDP2,
whether it fits, and the judge requests one rollout step sends.

--model is a local checkpoint directory (its config.json) or a config ivgr ships:
qwen2.5-vl-3b, qwen2.5-vl-7b, qwen2.5-vl-32b, qwen2.5-vl-72b, qwen3-vl-4b, qwen3-vl-8b
(hub names such as Qwen/Qwen2.5-VL-7B-Instruct work too). Lengths are worst case: an image at the
recipe's max_pixels and every completion at max_completion_length. Memory terms marked "estimate"
in docs/plan.md (activations, gather working sets, HF generation, overhead) are not measured.

Examples:

  ivgr plan --model qwen2.5-vl-7b --gpus 8 --gpu-memory-gib 80 --recipe recipes/ivgr_qwen2_5_vl_7b.yaml

  ivgr plan --model qwen2.5-vl-7b --gpus 8 --gpu-memory-gib 80 --recipe recipes/ivgr_qwen2_5_vl_7b.yaml --engine fsdp2

  ivgr plan --model checkpoints/iVGR-Qwen2.5-VL-7B-SFT --gpus 16 --gpu-memory-gib 80 --json
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr plan` to the app."""

    @app.command("plan", help=HELP)
    def plan(
        model: str = typer.Option(..., "--model", help="Checkpoint dir, config.json, or a shipped model name."),
        gpus: int = typer.Option(..., "--gpus", help="GPUs that train (all nodes together)."),
        gpu_memory_gib: float = typer.Option(..., "--gpu-memory-gib", help="Memory of one GPU in GiB (80 for an 80 GB card)."),
        recipe: Optional[Path] = typer.Option(None, "--recipe", help="Training recipe YAML (default: TRL/ivgr defaults)."),
        engine: str = typer.Option(
            "zero3", "--engine", help="zero3 (DeepSpeed ZeRO-3), fsdp2, or ddp (a full replica per GPU, also one GPU)."
        ),
        prompt_tokens: int = typer.Option(256, "--prompt-tokens", help="Text tokens of a prompt, image excluded."),
        image_pixels: Optional[int] = typer.Option(
            None, "--image-pixels", help="Pixels of an image (default: the recipe's max_pixels, the worst case)."
        ),
        step_seconds: float = typer.Option(300.0, "--step-seconds", help="Target seconds per rollout step (judge rate)."),
        as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    ) -> None:
        from ivgr.errors import ConfigError
        from ivgr.plan import make_plan

        if prompt_tokens < 0 or (image_pixels is not None and image_pixels < 1):
            raise ConfigError("--prompt-tokens must be >= 0 and --image-pixels >= 1")
        result = make_plan(model, gpus=gpus, gpu_memory_gib=gpu_memory_gib, recipe=recipe, engine=engine,
                           prompt_tokens=prompt_tokens, image_pixels=image_pixels, step_seconds=step_seconds)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            typer.echo(format_plan(result))


def format_plan(p: dict[str, Any]) -> str:
    """The human-readable plan: one table of GiB per GPU, the verdict, the judge load."""
    gib = p["per_gpu_gib"]
    lengths = p["lengths"]
    lines = [
        f"model      {p['model']} ({p['source']}): {p['parameters']:,} parameters "
        f"({p['trainable_parameters']:,} trained)",
        f"recipe     {p['recipe'] or '(none: TRL/ivgr defaults)'}",
        f"cluster    {p['gpus']} GPU(s) x {p['gpu_memory_gib']:g} GiB, {p['engine']}",
        f"lengths    micro-batch {p['micro_batch']} x (prompt {lengths['prompt_tokens']} + image "
        f"{lengths['image_tokens']} + completion {lengths['completion_tokens']}) tokens; "
        f"{lengths['image_patches']} ViT patches per image",
        "",
        "per GPU (GiB)",
    ]
    estimated = {"activations", "generation", "overhead"}
    for key in ("weights", "gradients", "optimizer", "reference", "activations", "vllm", "generation", "overhead"):
        gathers = key == "weights" and p["engine"] != "ddp"
        tag = "  estimate" if key in estimated else ("  incl. estimated gather working set" if gathers else "")
        lines.append(f"  {key:<12}{gib[key]:>9.2f}{tag}")
    lines.append(f"  {'total':<12}{gib['total']:>9.2f}  (resident terms + the {p['peak_phase']} phase)")
    verdict = "FITS" if p["fits"] else "DOES NOT FIT"
    lines += ["", f"{verdict}: {gib['total']:.1f} of {p['gpu_memory_gib']:g} GiB per GPU"]
    lines += [f"note: {n}" for n in p["notes"]]
    j = p["judge"]
    lines += [
        "",
        f"judge per rollout step: {j['prompts']} prompts, {j['rollouts']} rollouts -> at most "
        f"{j['requests']} requests ({j['accuracy_requests']} accuracy, {j['consistency_requests']} consistency "
        f"with {j['consistency_completions']} completions); {j['requests_per_second']:g} requests/s "
        f"for a {j['step_seconds']:g} s step",
        f"  {j['note']}",
    ]
    return "\n".join(lines)
