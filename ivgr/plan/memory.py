"""Per-GPU memory and judge load of one iVGR GRPO run, on paper. Formulas: docs/plan.md.

Everything here is arithmetic over a `ModelShape`, the recipe's settings and the cluster; no
torch. Counts of bytes are exact where they follow from the engine's storage rules (sharded
weights, gradients, Adam states) and estimates where they depend on kernels and the allocator
(activations, working sets, overhead); `ESTIMATED_TERMS` names the latter and docs/plan.md says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError
from ivgr.plan.models import ModelShape

GIB = 2**30
ENGINES = ("zero3", "fsdp2", "ddp")  # ddp: a full replica per GPU (also one GPU, no launcher)
ESTIMATED_TERMS = ("activations", "generation", "overhead", "weights (gather working set)")
# TRL's fused LM head (trl/kernels/chunked_logprob.py) projects [4096 tokens, 32768 vocab] tiles.
FUSED_HEAD_TOKENS = 4096
FUSED_HEAD_VOCAB = 32768
# CUDA context, NCCL buffers and allocator slack per GPU: a round allowance, not a measurement.
OVERHEAD_GIB = 2.0
# Processor default for Qwen2.5-VL when a recipe sets no max_pixels (16384 tokens of 28×28 px).
DEFAULT_MAX_PIXELS = 12845056


@dataclass(frozen=True)
class RecipeSettings:
    """The recipe keys the planner reads; unset keys take TRL 1.16 / ivgr defaults (same names)."""

    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    steps_per_generation: int | None = None  # TRL: None = gradient_accumulation_steps
    num_generations: int = 8
    max_completion_length: int = 512
    max_pixels: int | None = None
    model_dtype: str = "auto"  # ivgr: weights dtype at load; auto = the checkpoint's (bf16 for Qwen-VL)
    bf16_master: str = "kahan"  # ivgr: what keeps a bf16 model's small updates without ZeRO/FSDP masters
    optim: str = "adamw_torch_fused"  # TRL; bf16_master replaces only plain AdamW (ivgr.training.optim)
    beta: float = 0.0  # > 0 keeps a reference model
    activation_checkpointing: bool = True  # ivgr maps TRL's gradient_checkpointing (default on)
    freeze_vision_tower: bool = False
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_gpu_memory_utilization: float = 0.3
    vllm_enable_sleep_mode: bool = False
    vllm_tensor_parallel_size: int = 1
    paired_ratio: float = 0.9
    streams: tuple[str, ...] = ("grounded", "textual", "single")
    use_consistency: bool = True
    judge_kind: str = "rules"
    judge_n: int = 4
    judge_rules_first: bool = True

    @property
    def generation_steps(self) -> int:
        return self.steps_per_generation or self.gradient_accumulation_steps

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any], *, source: str = "recipe") -> RecipeSettings:
        """Pick the planner's keys out of a recipe mapping; wrong types give one ConfigError line."""
        names = {f.name for f in fields(cls)} - {"judge_kind", "judge_n", "judge_rules_first"}
        values: dict[str, Any] = {k: recipe[k] for k in names if recipe.get(k) is not None}
        if "activation_checkpointing" not in recipe and "gradient_checkpointing" in recipe:
            values["activation_checkpointing"] = recipe["gradient_checkpointing"]
        if "streams" in values:
            values["streams"] = tuple(values["streams"])
        if values.get("bf16_master") is False:  # YAML 1.1 reads a bare `off` as false
            values["bf16_master"] = "off"
        judge = recipe.get("judge") or {}
        if not isinstance(judge, dict):
            raise ConfigError(f"{source}: key 'judge' must be a mapping of judge settings")
        for key, name in (("kind", "judge_kind"), ("n", "judge_n"), ("rules_first", "judge_rules_first")):
            if key in judge:
                values[name] = judge[key]
        try:
            settings = cls(**values)
            settings.check()
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{source}: {err}") from None
        return settings

    def check(self) -> None:
        ints = ("per_device_train_batch_size", "gradient_accumulation_steps", "num_generations",
                "max_completion_length", "vllm_tensor_parallel_size", "judge_n")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.bf16_master not in ("kahan", "fp32", "off"):
            raise ValueError(f"bf16_master must be one of kahan, fp32, off, got {self.bf16_master!r}")
        if not 0.0 < float(self.vllm_gpu_memory_utilization) <= 1.0:
            raise ValueError(f"vllm_gpu_memory_utilization must be in (0, 1], got {self.vllm_gpu_memory_utilization}")


def read_recipe_settings(path: Path) -> RecipeSettings:
    """RecipeSettings from a recipe YAML (read by `ivgr.recipes.read_yaml`: the planner does not import the trainer)."""
    from ivgr.recipes import read_yaml

    return RecipeSettings.from_recipe(read_yaml(path), source=str(path))


@dataclass(frozen=True)
class Lengths:
    """Tokens of one rollout: text prompt, image (LLM side and ViT side) and completion."""

    prompt_tokens: int
    image_tokens: int  # LLM tokens after the 2×2 patch merge
    image_patches: int  # ViT patches before the merge
    completion_tokens: int

    @property
    def sequence(self) -> int:
        return self.prompt_tokens + self.image_tokens + self.completion_tokens


def lengths_for(shape: ModelShape, settings: RecipeSettings, *, prompt_tokens: int,
                image_pixels: int | None = None) -> Lengths:
    """Worst-case lengths: an image at the recipe's max_pixels and a completion at max length."""
    pixels = image_pixels or settings.max_pixels or DEFAULT_MAX_PIXELS
    return Lengths(
        prompt_tokens=prompt_tokens,
        image_tokens=math.ceil(pixels / shape.llm_token_pixels),
        image_patches=math.ceil(pixels / shape.vision_patch_pixels),
        completion_tokens=settings.max_completion_length,
    )


# ----------------------------------------------------------------------------- activations
def _layer_bytes_per_token(hidden: int, intermediate: int, q_width: int, kv_width: int) -> int:
    """bf16 tensors one transformer block keeps for backward, per token (estimate; docs/plan.md).

    Two RMSNorms (fp32 input, fp32 normalized, bf16 output: 10h each), attention with q/k/v,
    rotated q/k and output (2h + 8q + 6kv), a gated MLP (2h + 8I). Flash/SDPA attention: no s² term.
    """
    return 24 * hidden + 8 * q_width + 6 * kv_width + 8 * intermediate


def activation_bytes(shape: ModelShape, settings: RecipeSettings, lengths: Lengths) -> dict[str, int]:
    """Training-phase activations of one micro-batch, by part (bytes)."""
    b, s = settings.per_device_train_batch_size, lengths.sequence
    h = shape.hidden_size
    llm_layer = b * s * _layer_bytes_per_token(
        h, shape.intermediate_size, shape.num_heads * shape.head_dim, shape.num_kv_heads * shape.head_dim)
    hv = shape.vision_hidden
    vit_tokens = b * lengths.image_patches
    vit_block = vit_tokens * _layer_bytes_per_token(hv, shape.vision_intermediate, hv, hv)
    if settings.activation_checkpointing:
        # Each block keeps only its bf16 input; backward recomputes one block at a time.
        llm_kept = shape.num_layers * b * s * h * 2
        vit_kept = shape.vision_depth * vit_tokens * hv * 2
        recompute = max(llm_layer, vit_block)
    else:
        llm_kept, vit_kept, recompute = shape.num_layers * llm_layer, shape.vision_depth * vit_block, 0
    if settings.freeze_vision_tower:
        vit_kept = 0  # a frozen ViT runs without autograd: nothing kept for backward
    completion = b * lengths.completion_tokens
    # TRL's fused LM head: one logits tile, the fp32 LM-head weight gradient and the fp32 hidden gradient.
    head = (min(completion, FUSED_HEAD_TOKENS) * FUSED_HEAD_VOCAB * 2 + shape.vocab_size * h * 4
            + completion * h * (4 + 2))
    return {"llm_kept": llm_kept, "vit_kept": vit_kept, "recompute": recompute, "lm_head": head}


# ----------------------------------------------------------------------------- the plan
@dataclass
class MemoryPlan:
    """Per-GPU memory by part (GiB), which phase peaks, and whether it fits."""

    parameters: int
    trainable_parameters: int
    gpus: int
    gpu_memory_gib: float
    engine: str
    per_gpu_gib: dict[str, float]
    peak_phase: str
    fits: bool
    lengths: dict[str, int]
    activation_parts_gib: dict[str, float]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _largest_unit(shape: ModelShape) -> int:
    """Parameters of the largest module gathered at once (a decoder layer or the embedding/LM head)."""
    h, hd = shape.hidden_size, shape.head_dim
    layer = h * (shape.num_heads + 2 * shape.num_kv_heads) * hd + shape.num_heads * hd * h + 3 * h * shape.intermediate_size
    return max(layer, shape.vocab_size * h)


def _state_bytes(engine: str, shape: ModelShape, settings: RecipeSettings, *, parameters: int, trainable: int,
                 gpus: int) -> dict[str, float]:
    """Weights, gradients, optimizer states and reference model per GPU, by the engine's storage rules.

    `reference_phase` is what the reference forward gathers on top (FSDP2 only).
    """
    n, frozen, unit = gpus, parameters - trainable, _largest_unit(shape)
    with_ref = settings.beta > 0
    if engine == "ddp":
        # Plain PyTorch (one GPU or DDP): a full replica in the load dtype. On bf16 weights the trainer
        # keeps small updates (ivgr.training.optim): `kahan` adds a bf16 compensation buffer to AdamW's
        # bf16 m, v (6 B per trained parameter); `fp32` upcasts the whole model, so weights, gradients
        # and m, v are fp32; `off` (or another optim) keeps m, v in bf16 and no master copy.
        b = 4 if settings.model_dtype == "float32" else 2
        master = settings.bf16_master if b == 2 and settings.optim in ("adamw_torch", "adamw_torch_fused") else "off"
        w = 4 if master == "fp32" else b
        states = 3 if master == "kahan" else 2
        return {"weights": w * parameters, "gradients": w * trainable, "optimizer": states * w * trainable,
                "reference": b * parameters if with_ref else 0.0, "reference_phase": 0.0}
    if engine == "zero3":
        # DeepSpeed ZeRO-3, bf16: bf16 weights and gradients sharded; fp32 master + Adam m, v sharded;
        # the module being computed and the prefetched next one are gathered. The reference model is
        # sharded the same way and gathers one module at a time too.
        return {"weights": 2 * parameters / n + 2 * 2 * unit, "gradients": 2 * trainable / n,
                "optimizer": 12 * trainable / n, "reference": 2 * parameters / n if with_ref else 0.0,
                "reference_phase": 0.0}
    # FSDP2 under accelerate: trainable weights upcast to fp32 (they are the master copy), fp32
    # gradients, Adam m and v; the root unit (embeddings, LM head) stays gathered in bf16. TRL's
    # prepare_fsdp shards the reference model as ONE unit, so its forward gathers all of it.
    return {"weights": (4 * trainable + 2 * frozen) / n + 2 * (2 * shape.vocab_size * shape.hidden_size + 2 * unit),
            "gradients": 4 * trainable / n, "optimizer": 8 * trainable / n,
            "reference": 2 * parameters / n if with_ref else 0.0,
            "reference_phase": 2 * parameters if with_ref else 0.0}


def _generation_bytes(engine: str, shape: ModelShape, settings: RecipeSettings, *, parameters: int, gpus: int,
                      gpu_memory_gib: float, lengths: Lengths, notes: list[str]) -> tuple[float, float, bool]:
    """(vLLM colocate share, HF-generate bytes, whether vLLM stays resident); appends start-up notes."""
    if settings.use_vllm and settings.vllm_mode == "colocate":
        vllm = settings.vllm_gpu_memory_utilization * gpu_memory_gib * GIB
        tp = settings.vllm_tensor_parallel_size
        if tp > gpus:
            notes.append(f"vllm_tensor_parallel_size={tp} needs at least that many GPUs (have {gpus})")
        if 2 * parameters / tp > vllm:
            notes.append(f"vLLM's share ({vllm / GIB:.1f} GiB) is below its bf16 weights per TP rank "
                         f"({2 * parameters / tp / GIB:.1f} GiB): vLLM will not start; raise "
                         "vllm_gpu_memory_utilization or vllm_tensor_parallel_size")
        return vllm, 0.0, not settings.vllm_enable_sleep_mode
    if settings.use_vllm:
        notes.append("vLLM server mode: generation runs on other GPUs, not counted here")
        return 0.0, 0.0, False
    # HF generate: the KV cache of the whole local generation batch, plus (sharded engines) the
    # full bf16 policy gathered for generation.
    rows = settings.per_device_train_batch_size * settings.generation_steps
    kv = rows * lengths.sequence * shape.num_layers * 2 * shape.num_kv_heads * shape.head_dim * 2
    return 0.0, kv + (0 if engine == "ddp" else 2 * parameters), False


def plan_memory(shape: ModelShape, parameters: int, settings: RecipeSettings, *, gpus: int,
                gpu_memory_gib: float, engine: str, lengths: Lengths, vision_parameters: int) -> MemoryPlan:
    """Estimate each term per GPU; total = resident terms + the largest phase-only term."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if gpus < 1 or gpu_memory_gib <= 0:
        raise ConfigError(f"--gpus must be >= 1 and --gpu-memory-gib > 0 (got {gpus}, {gpu_memory_gib})")
    trainable = parameters - (vision_parameters if settings.freeze_vision_tower else 0)
    notes: list[str] = []
    state = _state_bytes(engine, shape, settings, parameters=parameters, trainable=trainable, gpus=gpus)
    vllm, generation, vllm_resident = _generation_bytes(
        engine, shape, settings, parameters=parameters, gpus=gpus, gpu_memory_gib=gpu_memory_gib,
        lengths=lengths, notes=notes)
    acts = activation_bytes(shape, settings, lengths)
    activations = float(sum(acts.values()))
    overhead = OVERHEAD_GIB * GIB
    resident = (state["weights"] + state["gradients"] + state["optimizer"] + state["reference"] + overhead
                + (vllm if vllm_resident else 0.0))
    phases = {"update": activations, "generation": generation + (0.0 if vllm_resident else vllm),
              "reference": state["reference_phase"]}
    peak_phase = max(phases, key=lambda k: phases[k])
    total = resident + phases[peak_phase]
    per_gpu = {k: state[k] for k in ("weights", "gradients", "optimizer", "reference")}
    per_gpu |= {"activations": activations, "vllm": vllm, "generation": generation, "overhead": overhead,
                "total": total}
    per_gpu_gib = {k: round(v / GIB, 2) for k, v in per_gpu.items()}
    return MemoryPlan(
        parameters=parameters, trainable_parameters=trainable, gpus=gpus, gpu_memory_gib=gpu_memory_gib,
        engine=engine, per_gpu_gib=per_gpu_gib, peak_phase=peak_phase, fits=total <= gpu_memory_gib * GIB,
        lengths=asdict(lengths) | {"sequence": lengths.sequence},
        activation_parts_gib={k: round(v / GIB, 2) for k, v in acts.items()}, notes=notes,
    )


# ----------------------------------------------------------------------------- judge load
@dataclass(frozen=True)
class JudgeLoad:
    """Judge requests one rollout step (one generation batch) sends at most, and the rate it needs."""

    prompts: int
    rollouts: int
    accuracy_requests: int
    consistency_requests: int
    consistency_completions: int
    requests: int
    step_seconds: float
    requests_per_second: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge_load(settings: RecipeSettings, *, gpus: int, step_seconds: float) -> JudgeLoad:
    """Upper bounds: every rollout's answer goes to the accuracy judge, every textual rollout to consistency."""
    if step_seconds <= 0:
        raise ConfigError(f"--step-seconds must be > 0, got {step_seconds}")
    g = settings.num_generations
    rollouts = settings.per_device_train_batch_size * gpus * settings.generation_steps
    prompts = rollouts // g
    paired = {"grounded", "textual"} <= set(settings.streams)
    pairs = int(prompts * settings.paired_ratio) // 2 if paired else 0  # the paired sampler's rounding
    textual = pairs * g
    if settings.judge_kind != "openai":
        return JudgeLoad(prompts, rollouts, 0, 0, 0, 0, step_seconds, 0.0,
                         f"judge.kind={settings.judge_kind}: scored locally, no requests")
    consistency = textual if settings.use_consistency else 0
    accuracy = rollouts
    note = ("upper bound: rollouts without an answer, or (rules_first) with a letter, yes/no, number or exact "
            "answer, are decided without a request; textual rollouts whose question has no archived "
            "reference yet send no consistency request" if settings.judge_rules_first else
            "upper bound: rollouts without an answer send no request")
    requests = accuracy + consistency
    return JudgeLoad(prompts, rollouts, accuracy, consistency, consistency * settings.judge_n, requests,
                     step_seconds, round(requests / step_seconds, 2), note)


__all__ = [
    "ENGINES",
    "ESTIMATED_TERMS",
    "JudgeLoad",
    "Lengths",
    "MemoryPlan",
    "RecipeSettings",
    "activation_bytes",
    "judge_load",
    "lengths_for",
    "plan_memory",
    "read_recipe_settings",
]
