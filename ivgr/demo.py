"""`ivgr demo`: the whole method end to end on a CPU, offline, in minutes.

Stages (each caches its output under OUT, so a re-run resumes after the last finished stage):
  world     synthetic scenes for SFT, RL, validation and a held-out test split (ivgr.data.synthetic)
  base      a random-weight tiny Qwen3-VL (ivgr.models.build_tiny_model, family qwen3_vl)
  sft       cold-start SFT on grounded + some textual CoTs (ivgr.training.sft.run_sft; the paper's cold start),
            stopped once the grounded stream reads the validation split (`sft_stop_grounded_accuracy`)
  rl/<v>    GRPO with the rules judge, one run per variant of the paper's component ablation (ivgr.training.train)
  eval      held-out textual and grounded accuracy, box IoU, format rate per model
  report    OUT/metrics.json and a self-contained OUT/report.html

Library code: logs, never prints. The CLI (`ivgr/commands/demo_cmd.py`) draws the progress.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import logging
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ivgr.data.schema import pixel_targets  # the report draws the same boxes
from ivgr.errors import ConfigError
from ivgr.fileio import atomic_write_text

logger = logging.getLogger(__name__)

# RL variants of the paper's component ablation (arXiv 2605.31096), all starting from the same SFT model.
VARIANTS: dict[str, dict[str, Any]] = {
    "ivgr": {"streams": ["grounded", "textual"], "use_consistency": True},
    "no_consistency": {"streams": ["grounded", "textual"], "use_consistency": False},
    "textual_only": {"streams": ["textual"], "use_consistency": False},
    "no_archive": {"streams": ["grounded", "textual"], "use_consistency": True, "archive_persistent": False},
    "grounded_only": {"streams": ["grounded"], "use_consistency": False},
}
DEFAULT_VARIANTS = ("ivgr", "no_consistency")
MODES = ("textual", "grounded")
COLOUR_ANSWER_QTYPES = ("colour", "colour_choice", "colour_at")  # the answer is one object's colour
COLOUR_QTYPES = (*COLOUR_ANSWER_QTYPES, "colour_check")  # questions about one object's colour (yes/no too)


DEFAULTS = Path(__file__).with_name("demo.yaml")  # the default run's settings; ships in the package
SECTIONS = ("world", "rl_world", "model", "sft", "rl")  # mappings a YAML or override changes key by key
SEE_KEYS = "ivgr/demo.yaml (the defaults list every key)"


def _shipped(name: str) -> Any:
    """A DemoSettings field whose default is `name`'s value in DEFAULTS (a fresh copy each time)."""
    return field(default_factory=lambda: copy.deepcopy(_defaults()[name]))


@functools.cache
def _defaults() -> dict[str, Any]:
    from ivgr.recipes import read_yaml

    # The rl section is left to the rl stage's own check here (checking it imports TRL, seconds before
    # any error could print); tests/test_recipes.py checks the shipped values against IvgrTrainConfig.
    values = _typed(read_yaml(DEFAULTS, what="demo settings"), where=str(DEFAULTS), sections=SECTIONS[:-1])
    missing = [f.name for f in dataclasses.fields(DemoSettings) if f.name not in values]
    if missing:
        raise ConfigError(f"{DEFAULTS}: no default for {', '.join(missing)} (every DemoSettings key has one there)")
    return values


def _typed(values: dict[str, Any], *, where: str, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """Demo settings with keys checked and values converted by type, `sections` by the settings they feed."""
    from ivgr.recipes import coerce_mapping, field_types

    out = coerce_mapping(values, field_types(DemoSettings), where=where, see=SEE_KEYS)
    for name in sections:
        if name in out:
            typed = coerce_mapping(out[name], _section_types(name), where=where, prefix=f"{name}.")
            # A number stays as written (warmup_steps 5, not 5.0): OUT/settings.json decides whether
            # cached stages are reused, and a type check alone must not invalidate them.
            out[name] = {k: v if v == typed[k] and not isinstance(v, str) else typed[k] for k, v in out[name].items()}
    return out


def _section_types(name: str) -> dict[str, Any]:
    """{key: type} of a section: WorldConfig, the tiny-model knobs, SFTConfig or IvgrTrainConfig fields."""
    from ivgr.recipes import field_types

    if name in ("world", "rl_world"):
        from ivgr.data.synthetic import WorldConfig

        return field_types(WorldConfig)
    if name == "model":
        from ivgr.models.tiny import knob_types

        return knob_types()
    if name == "sft":
        from ivgr.training.sft_config import SFTConfig

        return field_types(SFTConfig)
    from ivgr.training.config import IvgrTrainConfig  # imports TRL: the rl stage needs it anyway

    return field_types(IvgrTrainConfig)


def _over(base: DemoSettings, values: dict[str, Any]) -> DemoSettings:
    """`base` with `values` on top; a section changes key by key."""
    return dataclasses.replace(base, **{key: {**getattr(base, key), **value} if key in SECTIONS else value
                                        for key, value in values.items()})


def _key_type(key: str) -> Any:
    """The type of an override key (`sft.max_steps` -> SFTConfig.max_steps's); None for an unknown key."""
    from ivgr.recipes import field_types

    head, dot, tail = key.partition(".")
    if dot and head in SECTIONS:
        return _section_types(head).get(tail)
    return field_types(DemoSettings).get(key)


# Deviation: the demo trains a 0.9M-parameter model from scratch on a CPU, so its settings differ from
# the authors' 7B run: a tiny Qwen3-VL (its vision tower's learned position embedding lets boxes follow
# the target), compact prompts, an answer-weighted SFT loss, mRoPE theta 10, a cold start that stops
# once the grounded stream reads and boxes the validation split, GRPO with N=8, lr 5e-5
# and batch-scaled advantages (why: docs/DEMO_RESULTS.md); options prompt_style, sft*, model.*, rl.*.
@dataclass
class DemoSettings:
    """Every knob of the demo. Defaults: the shipped ivgr/demo.yaml, the default run (why each value: its comments)."""

    seed: int = _shipped("seed")
    world: dict[str, Any] = _shipped("world")  # WorldConfig fields of every split
    rl_world: dict[str, Any] = _shipped("rl_world")  # WorldConfig fields that differ for the RL and test scenes
    prompt_style: str = _shipped("prompt_style")  # ivgr.prompts style for SFT data, RL rows and evaluation
    sft_scenes: int = _shipped("sft_scenes")
    rl_scenes: int = _shipped("rl_scenes")
    test_scenes: int = _shipped("test_scenes")
    val_scenes: int = _shipped("val_scenes")  # validation split the cold start checks itself on (never the test split)
    textual_fraction: float = _shipped("textual_fraction")
    model: dict[str, Any] = _shipped("model")  # build_tiny_model knobs
    # The cold start ends at the first check (every `sft_check_every` steps) where the grounded
    # stream answers this share of the validation split with at least this mean box IoU (None:
    # no IoU bar); a None accuracy = always run sft.max_steps.
    sft_stop_grounded_accuracy: float | None = _shipped("sft_stop_grounded_accuracy")
    sft_stop_box_iou: float | None = _shipped("sft_stop_box_iou")
    sft_check_every: int = _shipped("sft_check_every")
    sft: dict[str, Any] = _shipped("sft")  # SFTConfig fields
    rl: dict[str, Any] = _shipped("rl")  # IvgrTrainConfig (GRPOConfig) fields
    variants: list[str] = _shipped("variants")
    torch_threads: int = _shipped("torch_threads")  # a fixed count: the same numbers on any machine
    rl_workers: int = _shipped("rl_workers")  # RL variants trained side by side, one process each
    eval_batch_size: int = _shipped("eval_batch_size")
    eval_max_new_tokens: int = _shipped("eval_max_new_tokens")
    examples: int = _shipped("examples")  # example scenes drawn in the report

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or "ivgr" not in self.variants:
            raise ConfigError(f"demo variants must include 'ivgr' and come from {list(VARIANTS)}, got {self.variants}")
        from ivgr.prompts import check_prompt_style

        check_prompt_style(self.prompt_style)
        for name in ("sft_scenes", "rl_scenes", "val_scenes", "test_scenes"):
            if getattr(self, name) < 4:
                raise ConfigError(f"demo {name} must be >= 4, got {getattr(self, name)}")
        for name in ("sft_stop_grounded_accuracy", "sft_stop_box_iou"):
            stop = getattr(self, name)
            if stop is not None and not 0 < stop <= 1:
                raise ConfigError(f"demo {name} must be in (0, 1] or null, got {stop}")
        if self.torch_threads < 1:
            raise ConfigError(f"demo torch_threads must be >= 1, got {self.torch_threads}")
        if self.rl_workers < 1:
            raise ConfigError(f"demo rl_workers must be >= 1, got {self.rl_workers}")
        if self.sft_check_every < 1:
            raise ConfigError(f"demo sft_check_every must be >= 1, got {self.sft_check_every}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "demo settings",
                  base: DemoSettings | None = None) -> DemoSettings:
        """`values` over `base` (the shipped defaults); a section (world, model, sft, rl, ...) merges key by key.

        Keys are checked and values converted by type (`ivgr.recipes`), sections by the settings
        they feed (WorldConfig, the tiny-model knobs, SFTConfig, IvgrTrainConfig), so a misspelt
        `rl.lerning_rate` stops here, not after the cold start.
        """
        return _over(base or cls(), _typed(values, where=source))

    @classmethod
    def quick(cls, seed: int = 0) -> DemoSettings:
        """Tiny settings for tests and smoke runs (about a minute): plumbing, not learning."""
        return _over(cls(), {  # built-in, so not re-checked: its rl keys are checked by the rl stage and the tests
            "seed": seed, "sft_scenes": 16, "rl_scenes": 8, "val_scenes": 4, "test_scenes": 8,
            "sft_stop_grounded_accuracy": None,
            "model": {"hidden_size": 64, "intermediate_size": 128, "vision_depth": 1},
            "sft": {"max_steps": 4, "per_device_train_batch_size": 4},
            "rl": {"max_steps": 2, "num_generations": 2, "per_device_train_batch_size": 4,
                   "max_completion_length": 16},
            "eval_max_new_tokens": 24, "examples": 2})


def load_settings(path: str | Path | None, *, full: bool = False, seed: int | None = None,
                  quick: bool = False, overrides: list[str] | None = None) -> DemoSettings:
    """Settings from a YAML (or the shipped defaults), then `key=value` overrides, then --full / --seed / --quick.

    A YAML lists only the keys it changes; overrides reach a section with a dotted key (`sft.max_steps=300`).
    """
    from ivgr.recipes import merge, parse_overrides, read_yaml

    values = read_yaml(path, what="demo settings") if path is not None and not quick else {}
    extra = parse_overrides(overrides or [], _key_type)
    if extra:
        _typed(merge({}, extra, SECTIONS), where="the command line")  # its own errors name the command line
    settings = DemoSettings.from_dict(merge(values, extra, SECTIONS), base=DemoSettings.quick() if quick else None,
                                      source=str(path) if path is not None else "the command line")
    if full:
        settings.variants = list(VARIANTS)
    if seed is not None:
        settings.seed = seed
    return settings


# ----------------------------------------------------------------------------- stages
def stage_names(settings: DemoSettings) -> list[str]:
    """Stage labels in run order (the CLI's progress display uses them)."""
    return ["world", "base model", "sft", *map(_stage_label, _rl_stages(settings)), "eval", "report"]


def _rl_stages(settings: DemoSettings) -> list[list[str]]:
    """The RL variants grouped by the stages that train them side by side."""
    w = settings.rl_workers
    return [settings.variants[i:i + w] for i in range(0, len(settings.variants), w)]


def _stage_label(variants: list[str]) -> str:
    return "rl/" + " + ".join(variants)


def _world_cfg(settings: DemoSettings, split: str = "sft"):
    """The WorldConfig of a split: `world`, with `rl_world` on top for the rl and test splits."""
    from ivgr.data.synthetic import WorldConfig

    values = {**settings.world, **(settings.rl_world if split in ("rl", "test") else {})}
    values.setdefault("cell", 32 if _family(settings) == "qwen3_vl" else 28)
    for key in ("colours", "shapes"):
        if key in values:
            values[key] = tuple(values[key])
    try:
        return WorldConfig(**values)
    except TypeError as err:
        raise ConfigError(f"demo world settings: {err}") from None


def _family(settings: DemoSettings) -> str:
    return settings.model.get("family", "qwen2_5_vl")


def _frame(settings: DemoSettings) -> str:
    """The box frame of the demo's model family (Qwen3-VL grounds in 0-1000, Qwen2.5-VL in pixels)."""
    from ivgr.models.loader import model_frame

    return model_frame({"model_type": _family(settings)})


def make_world(out: Path, settings: DemoSettings) -> dict[str, Any]:
    """Write the four splits (sft, rl, val, test) and the SFT JSONL; returns their summaries."""
    from ivgr.data.synthetic import generate, write_sft_jsonl

    data = out / "data"
    summary = {}
    for split, n in (("sft", settings.sft_scenes), ("rl", settings.rl_scenes), ("val", settings.val_scenes),
                     ("test", settings.test_scenes)):
        summary[split] = generate(data / split, n=n, seed=settings.seed, split=split, cfg=_world_cfg(settings, split),
                                  frame=_frame(settings))
    summary["sft_jsonl"] = write_sft_jsonl(data / "sft.jsonl", data / "sft", textual_fraction=settings.textual_fraction,
                                           seed=settings.seed, cfg=_world_cfg(settings, "sft"), frame=_frame(settings),
                                           prompt_style=settings.prompt_style)
    return summary


def make_base(out: Path, settings: DemoSettings) -> Path:
    """Random tiny Qwen2.5-VL whose tokenizer has seen the world's words (fewer tokens per CoT)."""
    from ivgr.data.synthetic import world_vocabulary
    from ivgr.models import build_tiny_model

    words = {w for split in ("sft", "rl") for w in world_vocabulary(_world_cfg(settings, split))}
    corpus = tuple(" ".join(sorted(words)).split())
    try:
        return build_tiny_model(out / "base-model", seed=settings.seed, extra_corpus=corpus, **settings.model)
    except TypeError as err:
        raise ConfigError(f"demo model settings: {err}") from None


def run_sft_stage(out: Path, settings: DemoSettings, base: Path) -> Path:
    """Cold-start SFT through the shared `run_sft` (the same code `ivgr sft` runs).

    With `sft_stop_grounded_accuracy` set, the run also writes OUT/sft/checks.json: the grounded
    validation accuracy and box IoU at every check and the step it stopped at.
    """
    from ivgr.training.sft import run_sft
    from ivgr.training.sft_config import SFTConfig

    values = {"model_path": str(base), "data_path": str(out / "data" / "sft.jsonl"),
              "output_dir": str(out / "sft"), "seed": settings.seed, "report_to": ["none"],
              "logging_steps": 5, "dtype": "float32", "trainer_args": {"disable_tqdm": True}, **settings.sft}
    try:
        cfg = SFTConfig(**values)
    except TypeError as err:
        raise ConfigError(f"demo sft settings: {err}") from None
    if settings.sft_stop_grounded_accuracy is None:
        return run_sft(cfg, callbacks=[_QuietTrainerOutput()])
    checks: list[dict[str, Any]] = []
    final = run_sft(cfg, callbacks=[_QuietTrainerOutput(), _GroundedStop(out, settings, checks)])
    shutil.rmtree(out / "sft" / "check", ignore_errors=True)
    _write_json(out / "sft" / "checks.json", {
        "threshold": settings.sft_stop_grounded_accuracy, "box_iou_threshold": settings.sft_stop_box_iou,
        "every": settings.sft_check_every,
        "stopped_at_step": checks[-1]["step"] if checks and checks[-1]["stop"] else None, "checks": checks})
    return final


def _GroundedStop(out: Path, settings: DemoSettings, checks: list[dict[str, Any]]):  # noqa: N802 - lazy class
    """A callback that ends SFT once the grounded stream reads and boxes the validation split (appends to `checks`)."""
    from transformers import TrainerCallback

    class GroundedStop(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
            step = state.global_step
            if step % settings.sft_check_every or step >= state.max_steps:
                return control
            probe = out / "sft" / "check"
            with _no_hf_bars():
                model.save_pretrained(probe)
                processing_class.save_pretrained(probe)
                val = evaluate_model(probe, out / "data" / "val", settings, modes=("grounded",))["metrics"]
            accuracy, iou = val["grounded_accuracy"], val["grounded_box_iou"]
            stop = accuracy >= settings.sft_stop_grounded_accuracy and iou >= (settings.sft_stop_box_iou or 0.0)
            checks.append({"step": step, "grounded_accuracy": accuracy, "grounded_box_iou": iou, "stop": stop})
            logger.info("sft step %d: grounded validation accuracy %.3f, box IoU %.3f%s", step, accuracy, iou,
                        " -> stop" if stop else "")
            control.should_training_stop = stop
            return control

    return GroundedStop()


def run_rl_stage(out: Path, settings: DemoSettings, sft_model: Path, variant: str) -> dict[str, Any]:
    """One GRPO run of `variant` from the SFT model with the rules judge; returns history + archive sizes.

    Every variant sees the same questions per step: a one-stream variant (textual_only,
    grounded_only) gets half the rollouts of a two-stream one, so textual_only trains on exactly
    the textual rollouts iVGR trains on, without the grounded stream beside them.
    """
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    run_dir = out / "rl" / variant
    rl = dict(settings.rl)
    streams = VARIANTS[variant]["streams"]
    rl["per_device_train_batch_size"] = rl["per_device_train_batch_size"] * len(streams) // 2
    values = {"model_path": str(sft_model), "data_path": str(out / "data" / "rl"), "output_dir": str(run_dir),
              "seed": settings.seed, "report_to": "none", "logging_steps": 1, "save_strategy": "no",
              "use_cpu": True, "bf16": False, "activation_checkpointing": False, "dataloader_num_workers": 0,
              # Deviation: offline rules judge instead of the authors' Qwen2.5-72B endpoint (no network
              # in the demo; arXiv 2605.31096, consistency reward); option rl.judge.
              "model_dtype": "float32", "judge": {"kind": "rules"}, "log_completions": False,
              "prompt_style": settings.prompt_style,
              **VARIANTS[variant], **rl}
    cfg = config_from_dict(values, source=f"demo rl/{variant}")
    started = time.monotonic()
    result = train(cfg, callbacks=[_QuietTrainerOutput()])
    record = {"checkpoint": str(result.checkpoint), "history": result.history,
              "archive_size": len(result.archive) if result.archive is not None else 0,
              "global_step": result.global_step, "wall_s": round(time.monotonic() - started, 1)}
    (run_dir / "demo_rl.json").write_text(json.dumps(record, indent=1, default=str))
    return record


@contextlib.contextmanager
def _no_hf_bars():
    """Silence transformers' and datasets' own bars (weight loading, dataset casting) and TRL's use of
    a deprecated transformers name: the demo draws one progress display, and a pair of bars per
    model load would flood it."""
    import datasets
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        if was_enabled[0]:
            hf_logging.enable_progress_bar()
        if was_enabled[1]:
            datasets.enable_progress_bars()


def _QuietTrainerOutput():  # noqa: N802 - a factory standing in for a class built lazily
    """A no-op callback flagged `replaces_progress`, so `train` drops HF's printer/progress output
    (the demo draws its own stage progress)."""
    from transformers import TrainerCallback

    class QuietTrainerOutput(TrainerCallback):
        replaces_progress = True

    return QuietTrainerOutput()


# ----------------------------------------------------------------------------- evaluation
# Deviation: evaluation accuracy is normalised exact match, not an LLM judge (arXiv 2605.31096, accuracy reward): the
# world's answers are single words from a closed set; option none (ivgr.demo.normalise_answer).
def normalise_answer(text: str | None) -> str:
    """Lower-case, keep letters only: "Red." and " red" both match "red" (answers are one word)."""
    return re.sub(r"[^a-z]+", " ", (text or "").lower()).strip()


def stated_colour(reasoning: str | None) -> str | None:
    """The colour a reasoning concludes with: its last colour word (the world's CoTs end "... is red ."), or None."""
    from ivgr.data.synthetic import COLOURS

    words = [w for w in normalise_answer(reasoning).split() if w in COLOURS]
    return words[-1] if words else None


def _target_colours(samples: list, settings: DemoSettings) -> list[str | None]:
    """Per held-out sample, the colour of the object a colour question is about (None for other
    questions, or when the sample is not a scene of the settings' test world)."""
    from ivgr.data.synthetic import scenes_of

    scenes = scenes_of(samples, _world_cfg(settings, "test"))
    return [scene.objects[scene.targets[0]].colour
            if (scene.question, scene.answer) == (s.question, s.answer)
            and scene.qtype in COLOUR_QTYPES and len(scene.targets) == 1 else None
            for s, scene in zip(samples, scenes, strict=True)]


def evaluate_model(model_path: Path, test_dir: Path, settings: DemoSettings,
                   modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Greedy passes (textual and grounded by default) on a held-out split; metrics plus per-sample outputs."""
    from ivgr.data.prepared import read_prepared
    from ivgr.inference import InferenceEngine, InferenceRequest
    from ivgr.parsing import format_ok, has_box_trace
    from ivgr.rewards.terms import box_iou_reward

    samples = read_prepared(test_dir)
    engine = InferenceEngine(model_path, max_new_tokens=settings.eval_max_new_tokens, temperature=0.0,
                             batch_size=settings.eval_batch_size, dtype="float32",
                             prompt_style=settings.prompt_style)
    requests = [InferenceRequest(image=str(test_dir / s.image), question=s.question, request_id=s.sample_id)
                for s in samples]
    metrics: dict[str, Any] = {}
    outputs: dict[str, list[dict[str, Any]]] = {}
    for mode in modes:
        results = engine.run(requests, mode=mode)
        correct = [normalise_answer(r.answer) == normalise_answer(s.answer) for r, s in zip(results, samples, strict=True)]
        if mode == "textual":
            # A textual answer reached through a box (whole, or a fragment like "..,961]</box>") is
            # the grounded stream answering: it is counted wrong here (docs/scoring.md#box-free-textual-reasoning).
            traced = [has_box_trace(r.completion) for r in results]
            metrics["textual_box_trace_rate"] = sum(traced) / len(samples)
            correct = [c and not t for c, t in zip(correct, traced, strict=True)]
            # Whether the box-free reasoning names the target's colour: on a yes/no question ("Is the
            # leftmost object red?") the answer cannot show it, and it is what the consistency judge checks.
            named = [stated_colour(r.reasoning) == colour and not t
                     for r, t, colour in zip(results, traced, _target_colours(samples, settings), strict=True)
                     if colour is not None]
            if named:
                metrics["textual_reasoning_colour_rate"] = sum(named) / len(named)
        metrics[f"{mode}_accuracy"] = sum(correct) / len(samples)
        metrics[f"{mode}_format_rate"] = sum(format_ok(r.completion) for r in results) / len(samples)
        if mode == "grounded":
            ious = [box_iou_reward(list(r.boxes), pixel_targets(s)) or 0.0 for r, s in zip(results, samples)]
            metrics["grounded_box_iou"] = sum(ious) / len(samples)
        outputs[mode] = [{"sample_id": s.sample_id, "completion": r.completion, "answer": r.answer,
                          "boxes": [list(b) for b in r.boxes], "correct": c}
                         for r, s, c in zip(results, samples, correct)]
    # The contract's single format_rate: both modes together.
    metrics["format_rate"] = sum(metrics[f"{mode}_format_rate"] for mode in modes) / len(modes)
    return {"metrics": metrics, "outputs": outputs}


def _evaluate_with_probe(model_path: Path, test_dir: Path, settings: DemoSettings) -> dict[str, Any]:
    """`evaluate_model`, with the moved-box probe's rates added to its metrics."""
    result = evaluate_model(model_path, test_dir, settings)
    result["metrics"].update(moved_box_probe(model_path, test_dir, settings))
    return result


def moved_box_probe(model_path: Path, test_dir: Path, settings: DemoSettings) -> dict[str, float]:
    """Does the grounded stream read where its box points? A causal check of grounded reasoning.

    Each colour question's reference grounded CoT is forced up to the end of its first box, with
    that box moved onto another object of the scene (the next one in the scene graph), and the
    model finishes greedily. `moved_box_follow_rate` is the share of answers that name the
    moved-to object's colour; `moved_box_follow_baseline` the same share when the forced text
    stops before the box, so the model writes its own. Only where a colour names one object (a
    test world with distinct colours); {} otherwise.
    """
    from ivgr.data.prepared import read_prepared
    from ivgr.data.synthetic import box_text, frame_box, grounded_cot, scenes_of
    from ivgr.inference import InferenceEngine
    from ivgr.inference.engine import load_image
    from ivgr.parsing import extract_answer
    from ivgr.prompts import stream_prompt

    cfg = _world_cfg(settings, "test")
    if not cfg.distinct_colours:
        return {}
    samples = read_prepared(test_dir)
    frame = _frame(settings)
    cases = []  # (sample, prefix before the box, the moved box, colour of the moved-to object)
    for sample, scene in zip(samples, scenes_of(samples, cfg), strict=True):
        if scene.qtype not in COLOUR_ANSWER_QTYPES or len(scene.targets) != 1:
            continue
        target = scene.targets[0]
        other = scene.objects[(target + 1) % len(scene.objects)]
        cot = grounded_cot(scene, frame)
        cut = cot.index(box_text(frame_box(scene.objects[target].box, scene.canvas, frame)))
        cases.append((sample, cot[:cut], box_text(frame_box(other.box, scene.canvas, frame)), other.colour))
    if not cases:
        return {}
    engine = InferenceEngine(model_path, max_new_tokens=settings.eval_max_new_tokens, temperature=0.0,
                             batch_size=settings.eval_batch_size, dtype="float32", prompt_style=settings.prompt_style)

    inputs = [(stream_prompt("grounded", s.question, frame=engine.frame, style=engine.prompt_style),
               [engine.resize(load_image(test_dir / s.image))]) for s, *_ in cases]  # both passes read them
    size = settings.eval_batch_size

    def follow_rate(prefixes: list[str]) -> float:
        named = 0
        for start in range(0, len(cases), size):
            texts = engine.backend.generate(inputs[start:start + size], max_new_tokens=settings.eval_max_new_tokens,
                                            temperature=0.0, prefixes=prefixes[start:start + size])
            named += sum(normalise_answer(extract_answer(t)) == colour
                         for t, (*_, colour) in zip(texts, cases[start:start + size], strict=True))
        return named / len(cases)

    return {"moved_box_follow_rate": follow_rate([before + moved for _, before, moved, _ in cases]),
            "moved_box_follow_baseline": follow_rate([before for _, before, _, _ in cases])}


def constant_box_baseline(samples, *, step: int = 4) -> dict[str, Any]:
    """The single box that, predicted for every sample, gets the highest mean box IoU reward.

    A model whose boxes do not follow the target can reach this score (e.g. by always boxing the
    most common cell), so the demo's box IoU is read against it. Candidates are every box with
    corners on a `step`-pixel grid; the reward is `box_iou_reward` for one predicted box:
    1/2 * (mean_g IoU(g, p) + max_g IoU(p, g)).
    """
    import numpy as np

    side = max(max(s.image_size) for s in samples)
    coords = np.arange(0, side + 1, step, dtype=np.float64)
    lo, hi = np.triu_indices(len(coords), k=1)
    x1, x2 = coords[lo], coords[hi]
    cx1, cy1 = np.repeat(x1, len(x1)), np.tile(x1, len(x1))
    cx2, cy2 = np.repeat(x2, len(x2)), np.tile(x2, len(x2))
    cand_area = (cx2 - cx1) * (cy2 - cy1)
    total = np.zeros_like(cand_area)
    for sample in samples:
        ious = []
        for gx1, gy1, gx2, gy2 in pixel_targets(sample):
            inter = (np.clip(np.minimum(cx2, gx2) - np.maximum(cx1, gx1), 0, None)
                     * np.clip(np.minimum(cy2, gy2) - np.maximum(cy1, gy1), 0, None))
            ious.append(inter / (cand_area + (gx2 - gx1) * (gy2 - gy1) - inter))
        ious = np.stack(ious)
        total += 0.5 * (ious.mean(axis=0) + ious.max(axis=0))
    best = int(np.argmax(total))
    return {"box_iou": float(total[best] / len(samples)),
            "box": [float(cx1[best]), float(cy1[best]), float(cx2[best]), float(cy2[best])]}


# ----------------------------------------------------------------------------- orchestration
def _cached_json(path: Path) -> Any | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _exit_with_parent(parent: int) -> None:
    """End this worker when the demo process `parent` is gone: a SIGKILL reaches the parent only,
    and an orphaned worker would go on training for minutes. (A rerun trains the variant again.)"""
    import os
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _rl_worker(out: str, settings: dict[str, Any], sft_model: str, variant: str) -> dict[str, Any]:
    """`run_rl_stage` in a worker process (spawned: its own torch, threads and quiet bars)."""
    demo = DemoSettings(**settings)
    import torch

    torch.set_num_threads(demo.torch_threads)
    with _no_hf_bars():
        return run_rl_stage(Path(out), demo, Path(sft_model), variant)


def _run_rl_variants(out: Path, settings: DemoSettings, sft_model: Path, variants: list[str]) -> dict[str, dict[str, Any]]:
    """Train `variants` (cached ones are read back), side by side when more than one is left."""
    done = {v: _cached_json(out / "rl" / v / "demo_rl.json") for v in variants}
    todo = [v for v in variants if done[v] is None]
    if len(todo) == 1:
        done[todo[0]] = run_rl_stage(out, settings, sft_model, todo[0])
    elif todo:
        import concurrent.futures
        import multiprocessing
        import os

        with concurrent.futures.ProcessPoolExecutor(len(todo), mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
            jobs = {v: pool.submit(_rl_worker, str(out), dataclasses.asdict(settings), str(sft_model), v) for v in todo}
            done.update({v: job.result() for v, job in jobs.items()})
    return done


def run_demo(out: str | Path, settings: DemoSettings, *,
             on_stage: Callable[[str], None] | None = None,
             restart: bool = False) -> dict[str, Any]:
    """Run every stage into `out`; returns the metrics mapping written to OUT/metrics.json.

    A stage whose output already exists is skipped (same settings required: they are stored in
    OUT/settings.json and a mismatch restarts from scratch).
    """
    out = Path(out)
    settings_json = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    marker = out / "settings.json"
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise ConfigError(f"{out} exists and is not an ivgr demo directory (no settings.json); "
                          "choose another --out or empty it")
    if marker.is_file() and (restart or marker.read_text() != settings_json):
        logger.info("settings changed or restart asked: clearing %s", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(settings_json)
    import torch

    torch.set_num_threads(settings.torch_threads)
    notify = on_stage or (lambda name: None)
    walls: dict[str, float] = {}
    started = time.monotonic()

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        notify(name)
        t0 = time.monotonic()
        with _no_hf_bars():
            value = fn()
        walls[name] = round(time.monotonic() - t0, 1)
        logger.info("stage %s: %.1fs", name, walls[name])
        return value

    world = timed("world", lambda: _cached_json(out / "data" / "world.json") or _write_json(
        out / "data" / "world.json", make_world(out, settings)))
    base = timed("base model", lambda: out / "base-model" if (out / "base-model" / "config.json").is_file()
                 else make_base(out, settings))
    sft_model = timed("sft", lambda: out / "sft" / "final" if (out / "sft" / "final" / "config.json").is_file()
                      else run_sft_stage(out, settings, base))
    rl: dict[str, dict[str, Any]] = {}
    for group in _rl_stages(settings):
        rl.update(timed(_stage_label(group), lambda g=group: _run_rl_variants(out, settings, Path(sft_model), g)))

    def evaluate_all() -> dict[str, Any]:
        models = {"sft": Path(sft_model), **{v: Path(r["checkpoint"]) for v, r in rl.items()}}
        results = {}
        for name, path in models.items():
            cache = out / "eval" / f"{name}.json"
            results[name] = _cached_json(cache) or _write_json(cache, _evaluate_with_probe(path, out / "data" / "test",
                                                                                           settings))
        return results

    evals = timed("eval", evaluate_all)
    from ivgr.data.prepared import read_prepared

    metrics = {
        "chance_accuracy": world["test"]["chance_accuracy"],
        "box_iou_constant_baseline": constant_box_baseline(read_prepared(out / "data" / "test"))["box_iou"],
        "sft": {**evals["sft"]["metrics"], **_sft_steps(out, settings)},
        "ivgr": {**evals["ivgr"]["metrics"], "rl_wall_s": rl["ivgr"]["wall_s"], "archive_size": rl["ivgr"]["archive_size"]},
        "ablations": {v: {**evals[v]["metrics"], "rl_wall_s": rl[v]["wall_s"], "archive_size": rl[v]["archive_size"]}
                      for v in settings.variants if v != "ivgr"},
        "settings": dataclasses.asdict(settings),
        "test_questions": world["test"]["qtypes"],
    }

    def report() -> None:
        from ivgr.report import write_report

        metrics["wall_s"] = {**walls, "total": round(time.monotonic() - started, 1)}
        _write_json(out / "metrics.json", metrics)
        write_report(out / "report.html", metrics=metrics, histories={v: r["history"] for v, r in rl.items()},
                     evals=evals, test_dir=out / "data" / "test", n_examples=settings.examples)

    timed("report", report)
    metrics["wall_s"] = {**walls, "total": round(time.monotonic() - started, 1)}
    _write_json(out / "metrics.json", metrics)
    return metrics


def _sft_steps(out: Path, settings: DemoSettings) -> dict[str, Any]:
    """How long the cold start ran: its step count, and the validation checks when it could stop early."""
    checks = _cached_json(out / "sft" / "checks.json")
    if checks is None:
        return {"steps": settings.sft["max_steps"]}
    return {"steps": checks["stopped_at_step"] or settings.sft["max_steps"], "stopped_early": bool(checks["stopped_at_step"]),
            "stop_threshold": checks["threshold"], "stop_box_iou": checks["box_iou_threshold"],
            "validation_checks": [[c["step"], round(c["grounded_accuracy"], 3), round(c["grounded_box_iou"], 3)]
                                  for c in checks["checks"]]}


def _write_json(path: Path, value: Any) -> Any:
    atomic_write_text(path, json.dumps(value, indent=1, default=str))
    return value


__all__ = ["DemoSettings", "VARIANTS", "load_settings", "run_demo", "stage_names", "evaluate_model",
           "normalise_answer"]
