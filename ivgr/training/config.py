"""Typed trainer configuration: a TRL `GRPOConfig` subclass plus the ivgr fields, read from YAML.

A recipe is a flat YAML mapping whose keys are spelled exactly like the dataclass fields
(open-r1 style), with two nested mappings, `scorer:` (-> `ivgr.rewards.config.ScorerConfig`) and
`judge:` (-> `ivgr.judges.config.JudgeConfig`). CLI overrides are `key=value` (or `--key=value`,
`--key value`, a bare `--flag` for a true/false key); dotted keys reach the nested mappings
(`judge.kind=rules`). Reading, overrides, key checks and value conversion are `ivgr.recipes`,
the loader `ivgr sft`, `ivgr demo` and `ivgr score` share, so `learning_rate=1e-6`,
`learning_rate=.5`, `streams=[textual]` and `bf16=false` all work, and a bad value is one line
naming the key.

Unknown keys, unreadable files, a missing dataset and invalid combinations raise one-line
`ConfigError`s that name the file, the key and the fix.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import GRPOConfig

from ivgr.errors import ConfigError
from ivgr.recipes import check_keys, coerce_value, field_types, merge, parse_overrides, read_yaml

logger = logging.getLogger(__name__)

STREAMS = ("grounded", "textual", "single")
TINY_MODEL = "tiny"  # `model_path: tiny` = build the random tiny model into OUTPUT_DIR/tiny-model on first use
NESTED = ("scorer", "judge")
SYNTHETIC_DATA = "synthetic"  # `data_path: synthetic` = generate the synthetic world into OUTPUT_DIR/synthetic-data
SEE_KEYS = "docs/training.md and TRL's GRPOConfig"  # where an unknown key's message points when nothing is close


# TRL's GRPO update against the authors' EasyR1 one (github Visual-AI/iVGR: verl/trainer/core_algos.py,
# DataParallelPPOActor.update_policy); the shipped recipes set every knob TRL has.
# Deviation: loss_type dapo divides an update's summed token loss by the generation batch's completion
# tokens (all ranks) / updates per generation batch, where the authors divide by the exact token count of
# that update's mini-batch (recipes/ivgr_qwen2_5_vl_7b.yaml spells it out); option loss_type.
# Deviation: the k3 KL is not clamped to [-10, 10] (TRL has no clamp); option beta.
# Deviation: the group std gets + 1e-4 (TRL), the authors' + 1e-6; option scale_rewards.
# Deviation: TRL's default use_bias_correction_kl=true multiplies the k3 KL by the importance ratio; the
# authors do not, so the shipped recipes set false (the demo keeps TRL's default); option use_bias_correction_kl.
@dataclass
class IvgrTrainConfig(GRPOConfig):
    """GRPOConfig + what dual-stream iVGR needs. TRL fields keep their TRL names and meaning."""

    data_path: str = field(default="", metadata={"help": "Prepared dataset dir (DIR/samples.jsonl, images/)."})
    model_path: str = field(
        default="",
        metadata={"help": "Local checkpoint dir (e.g. the SFT model), or 'tiny' to build a random tiny model."},
    )
    paired_ratio: float = field(
        default=0.9,
        metadata={"help": "Fraction of each generation batch's prompts that are grounded/textual pairs (authors: 0.9)."},
    )
    streams: list[str] = field(
        default_factory=lambda: list(STREAMS),
        metadata={"help": "Streams to train: subset of grounded, textual, single (ablations)."},
    )
    use_consistency: bool = field(
        default=True,
        metadata={"help": "Reward textual rollouts for consistency with the archived grounded CoT (ablation: false)."},
    )
    archive_persistent: bool = field(
        default=True,
        metadata={"help": "Keep the rollout archive across steps; false = the reference is the best grounded "
                          "rollout of the current batch only (ablation 'consistency without archive')."},
    )
    archive_path: str | None = field(
        default=None,
        metadata={"help": "Seed the rollout archive from this archive.json (multi-stage schedules)."},
    )
    frame: str | None = field(
        default=None, metadata={"help": "Box frame of the grounded prompt: pixel | norm1000; None = the model's."}
    )
    prompt_style: str = field(
        default="standard",
        metadata={"help": "Stream prompt wording: standard | compact (short prompts for tiny models; see ivgr.prompts)."},
    )
    min_pixels: int | None = field(default=None, metadata={"help": "Processor min_pixels (None: processor's)."})
    max_pixels: int | None = field(default=None, metadata={"help": "Processor max_pixels (None: processor's)."})
    max_samples: int | None = field(default=None, metadata={"help": "Use only the first N samples (debugging)."})
    model_dtype: str = field(default="auto", metadata={"help": "Weights dtype when loading: auto|bfloat16|float32."})
    freeze_vision_tower: bool = field(
        default=False, metadata={"help": "Freeze the ViT (the authors train it: false)."}
    )
    bf16_master: str = field(
        default="kahan",
        metadata={"help": "How a model whose weights are bf16 keeps updates below bf16 rounding when no ZeRO/FSDP fp32 "
                          "master weights do (one-GPU launch): kahan = AdamW with Kahan-compensated updates (the "
                          "authors' optimizer; replaces optim adamw_torch), fp32 = upcast the weights to fp32 masters "
                          "(2x weight memory; forward stays bf16 under bf16: true), off = plain bf16 AdamW."},
    )
    block_vision_tokens: bool = field(
        default=True,
        metadata={"help": "Never sample the model's vision placeholder tokens (image/video pad, vision start/end) in "
                          "rollouts, HF generate and vLLM alike: one sampled <|image_pad|> makes the log-prob forward "
                          "fail. The authors bias <|image_pad|> by -100 in vLLM."},
    )
    report_to: None | str | list[str] = field(
        default_factory=lambda: ["tensorboard"],
        metadata={"help": "Loggers; TensorBoard by default (local files, no external service); 'none' to disable."},
    )
    scorer: dict[str, Any] = field(default_factory=dict, metadata={"help": "ScorerConfig fields (reward settings)."})
    judge: dict[str, Any] = field(default_factory=dict, metadata={"help": "JudgeConfig fields (judge backend)."})
    # Judge outage handling (docs/judges.md, "When the judge fails"); the authors' code had neither.
    judge_preflight: bool = field(
        default=True,
        metadata={"help": "Before loading the model, send one request to each openai judge endpoint; stop with one "
                          "line if it fails (--skip-judge-preflight sets false)."},
    )
    judge_max_failed_share: float = field(
        default=0.2,
        metadata={"help": "Circuit breaker: a step in which more than this share of judge questions fell back after "
                          "failed calls is retried, never trained on; 1 turns it off."},
    )
    judge_outage_wait_s: float = field(
        default=900.0,
        metadata={"help": "How long a failing step's judge calls are retried before the run saves a checkpoint and "
                          "stops with exit status 75 (resume with --resume)."},
    )
    judge_outage_backoff_s: float = field(
        default=10.0, metadata={"help": "First wait before retrying a failing step; doubles each retry, at most 120 s."}
    )

    def __post_init__(self) -> None:
        unknown = [s for s in self.streams if s not in STREAMS]
        if unknown or not self.streams:
            raise ConfigError(f"streams={self.streams}: each must be one of {list(STREAMS)} and at least one given")
        if not 0.0 <= self.paired_ratio <= 1.0:
            raise ConfigError(f"paired_ratio={self.paired_ratio} must be in [0, 1]")
        from ivgr.training.optim import BF16_MASTER

        if self.bf16_master == "false":  # a recipe's bare `bf16_master: off`, which YAML 1.1 reads as false
            self.bf16_master = "off"
        if self.bf16_master not in BF16_MASTER:
            raise ConfigError(f"bf16_master={self.bf16_master!r} must be one of {', '.join(BF16_MASTER)}")
        if self.frame is not None and self.frame not in ("pixel", "norm1000"):
            raise ConfigError(f"frame={self.frame!r} must be pixel, norm1000 or null (the model's own frame)")
        from ivgr.prompts import check_prompt_style

        check_prompt_style(self.prompt_style)
        from ivgr.training.judge_breaker import BreakerSettings

        BreakerSettings.from_config(self)  # ConfigError now for a bad judge_max_failed_share / judge_outage_*
        try:
            super().__post_init__()
        except ValueError as err:  # TRL/transformers validation: surface as one line
            raise ConfigError(str(err).strip().splitlines()[0]) from err
        # Fail before loading anything when the batch layout could split a (grounded, textual) pair;
        # the trainer re-checks against the actual rows (ivgr/training/sampler.py, check_alignment).
        from ivgr.training.sampler import check_alignment

        check_alignment(
            num_generations=self.num_generations,
            generation_batch_size=self.generation_batch_size,
            per_device_train_batch_size=self.per_device_train_batch_size,
            steps_per_generation=self.steps_per_generation,
            num_processes=self.world_size,
            paired={"grounded", "textual"} <= set(self.streams),
        )

    def scorer_config(self):
        """The ScorerConfig built from `scorer:`."""
        from ivgr.rewards.config import ScorerConfig

        return _build_nested(ScorerConfig, self.scorer, "scorer")

    def judge_config(self):
        """The JudgeConfig built from `judge:`."""
        from ivgr.judges.config import JudgeConfig

        return _build_nested(JudgeConfig, self.judge, "judge")


def _build_nested(cls: type, values: dict[str, Any], name: str):
    check_keys(values, field_types(cls), where=f"the {name} settings", prefix=f"{name}.")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: {err}") from err


def field_type(key: str) -> Any:
    """Type annotation of a recipe key (`judge.n` -> JudgeConfig.n's); None for an unknown key.

    >>> field_type("learning_rate"), field_type("judge.n"), field_type("no_such_key")
    (<class 'float'>, <class 'int'>, None)
    """
    head, dot, tail = key.partition(".")
    if dot and head in NESTED:
        return _nested_types(head).get(tail)
    return field_types(IvgrTrainConfig).get(key)


@functools.cache
def _nested_types(name: str) -> dict[str, Any]:
    from ivgr.judges.config import JudgeConfig
    from ivgr.rewards.config import ScorerConfig

    return field_types({"scorer": ScorerConfig, "judge": JudgeConfig}[name])


def coerce_recipe(values: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Recipe values converted by their field types (YAML 1.1 reads `learning_rate: 1e-6` as text)."""
    out = {}
    for key, value in values.items():
        if key in NESTED and isinstance(value, dict):
            out[key] = {k: coerce_value(f"{key}.{k}", v, field_type(f"{key}.{k}"), where=source)
                        for k, v in value.items()}
        else:
            out[key] = coerce_value(key, value, field_type(key), where=source)
    return out


def config_from_dict(values: dict[str, Any], *, source: str = "recipe", check_data: bool = True) -> IvgrTrainConfig:
    """Validate keys, then build the config. `source` names the file in error messages."""
    check_keys(values, field_types(IvgrTrainConfig), where=source, see=SEE_KEYS)
    for name in NESTED:
        if name in values and not isinstance(values[name], dict):
            raise ConfigError(f"{source}: key '{name}' must be a mapping of {name} settings")
        check_keys(values.get(name, {}), _nested_types(name), where=source, prefix=f"{name}.")
    if not values.get("data_path"):
        raise ConfigError(f"{source}: key 'data_path' is required (a prepared dataset dir from `ivgr data prepare`)")
    if not values.get("model_path"):
        raise ConfigError(f"{source}: key 'model_path' is required (a local checkpoint dir, or 'tiny')")
    if check_data and values["data_path"] != SYNTHETIC_DATA:
        samples = Path(values["data_path"]) / "samples.jsonl"
        if not samples.is_file():
            raise ConfigError(
                f"{source}: key 'data_path': {samples} not found; point data_path at a prepared dataset "
                f"(`ivgr data prepare`)"
            )
    values = coerce_recipe(values, source=source)
    if "activation_checkpointing" not in values:
        # transformers 5 renamed gradient_checkpointing; map the old key (GRPOConfig's default: on)
        # so recipes may use either name and no FutureWarning is raised on every run.
        values["activation_checkpointing"] = values.pop("gradient_checkpointing", True)
    try:
        cfg = IvgrTrainConfig(**values)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err
    except TypeError as err:
        raise ConfigError(f"{source}: {err}") from err
    try:
        cfg.scorer_config()  # validate nested settings now, not at step 1
        cfg.judge_config()
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err
    return cfg


def load_config(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> tuple[IvgrTrainConfig, dict]:
    """Recipe + overrides -> (config, resolved raw mapping to save beside checkpoints)."""
    recipe = read_yaml(path)
    if isinstance(overrides, list):
        extra = parse_overrides(overrides, field_type)
        for key in extra:
            head, dot, tail = key.partition(".")
            if dot and head in NESTED:
                check_keys([tail], _nested_types(head), where="the command line", prefix=f"{head}.")
            else:
                check_keys([key], field_types(IvgrTrainConfig), where="the command line", see=SEE_KEYS)
    else:
        extra = dict(overrides or {})
    resolved = merge(recipe, extra, NESTED)
    return config_from_dict(resolved, source=str(path)), resolved


__all__ = [
    "IvgrTrainConfig",
    "TINY_MODEL",
    "config_from_dict",
    "load_config",
    "field_type",
]
