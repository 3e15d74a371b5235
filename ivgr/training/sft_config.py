"""Typed configuration of cold-start SFT (`ivgr sft`), read from a YAML recipe plus overrides.

Pure python (no torch/transformers at import) so `ivgr sft --help` and config errors are fast.
Recipes list only the keys they change; every key is a field below with its help text. Any
Hugging Face `TrainingArguments` key that is not a field here goes under `trainer_args:`.

docs/method.md#sft-cold-start: the authors' SFT hyper-parameters (lr, epochs, framework) were not recoverable;
the defaults here are ordinary full-model VLM SFT values, not theirs.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError
from ivgr.overrides import coerce_value, parse_overrides

STREAMS = ("grounded", "textual", "single")
TINY_MODEL = "tiny"  # model_name_or_path value that builds a tiny random-weight model


@dataclass
class SFTConfig:
    """Everything `run_sft` needs. Field docs double as `ivgr sft --help-config` text."""

    # --- model ---------------------------------------------------------------------------
    model_name_or_path: str = field(default="", metadata={
        "help": "Local checkpoint directory to fine-tune, or 'tiny' to build a random-weight tiny "
                "Qwen2.5-VL (tests, demo)."})
    tiny_model: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Size knobs for model_name_or_path=tiny (TinyModelSpec fields: hidden_size, layers, ...)."})
    dtype: str = field(default="auto", metadata={"help": "Weights dtype: auto | float32 | bfloat16 | float16."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow custom model code (off by default)."})
    freeze_vision_tower: bool = field(default=False, metadata={
        "help": "Keep the ViT and merger frozen. The authors train the vision tower in RL "
                "(docs/method.md#hyper-parameters: the vision tower is trained)."})
    min_pixels: int | None = field(default=None, metadata={"help": "Processor min pixels (None: checkpoint's)."})
    max_pixels: int | None = field(default=None, metadata={"help": "Processor max pixels (None: checkpoint's)."})

    # --- data ----------------------------------------------------------------------------
    train_file: str | None = field(default=None, metadata={
        "help": "SFT JSONL (docs/CONTRACTS.md): sample_id, stream, image, prompt, completion per line."})
    image_dir: str | None = field(default=None, metadata={
        "help": "Base directory of relative image paths (default: the JSONL file's directory)."})
    streams: list[str] = field(default_factory=lambda: list(STREAMS), metadata={
        "help": "Which streams' examples to train on."})
    max_examples: int | None = field(default=None, metadata={"help": "Use only the first N examples (smoke runs)."})
    max_length: int = field(default=4096, metadata={
        "help": "Max tokens per example (prompt incl. image tokens + completion). Completions are cut "
                "to fit; a prompt that alone is longer is a DataError (lower max_pixels)."})
    synthetic_scenes: int = field(default=0, metadata={
        "help": "If > 0 and train_file is unset, generate this many synthetic scenes "
                "(ivgr.data.synthetic) and their cold-start CoTs under output_dir/data."})
    synthetic_textual_fraction: float = field(default=0.1, metadata={
        "help": "Share of synthetic scenes that also get a textual CoT (docs/method.md#sft-cold-start: 3K of 35K)."})

    # --- optimisation ---------------------------------------------------------------------
    output_dir: str = field(default="runs/sft", metadata={"help": "Run directory; the model goes to OUTPUT_DIR/final."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs over the SFT data."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "Examples per device per micro-step."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-steps per optimizer step."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Peak learning rate (AdamW)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Fraction of steps with linear warm-up."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "HF scheduler name (cosine, constant, linear)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient-norm clip."})
    answer_loss_weight: float = field(default=1.0, metadata={
        "help": "Loss weight of the completion tokens inside <answer>...</answer> (1 = plain token mean). "
                "Tiny models trained from scratch need > 1 to learn the answer under long box-laden CoTs."})
    box_loss_weight: float = field(default=1.0, metadata={
        "help": "Loss weight of the completion tokens of <box>...</box> spans (1 = plain token mean)."})
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (GPU)."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Trade compute for memory (large models)."})
    seed: int = field(default=0, metadata={"help": "Seed for data order, dropout and the tiny model."})

    # --- logging and saving ---------------------------------------------------------------
    logging_steps: int = field(default=1, metadata={"help": "Log loss every N optimizer steps."})
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"], metadata={
        "help": "Trackers: tensorboard (default, local files), none, wandb, ..."})
    save_steps: int = field(default=0, metadata={
        "help": "Save an intermediate checkpoint every N steps (0: only the final model)."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N intermediate checkpoints."})
    deepspeed: str | None = field(default=None, metadata={"help": "DeepSpeed JSON config path (multi-GPU)."})
    trainer_args: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Extra Hugging Face TrainingArguments, passed through verbatim."})

    def __post_init__(self) -> None:
        if not self.model_name_or_path:
            raise ConfigError("model_name_or_path is required (a local checkpoint directory, or 'tiny')")
        if self.model_name_or_path != TINY_MODEL and not Path(self.model_name_or_path).expanduser().is_dir():
            raise ConfigError(f"model_name_or_path {self.model_name_or_path} is not a directory; pass a local "
                              "checkpoint (ivgr never downloads) or 'tiny'")
        bad = [s for s in self.streams if s not in STREAMS]
        if bad or not self.streams:
            raise ConfigError(f"streams must be a non-empty subset of {list(STREAMS)}, got {self.streams}")
        if self.train_file is None and self.synthetic_scenes <= 0:
            raise ConfigError("set train_file (an SFT JSONL) or synthetic_scenes > 0")
        if self.train_file is not None and not Path(self.train_file).expanduser().is_file():
            raise ConfigError(f"train_file {self.train_file} does not exist; write it with `ivgr data sft-build` "
                              "or point train_file at an SFT JSONL")
        if self.image_dir is not None and not Path(self.image_dir).expanduser().is_dir():
            raise ConfigError(f"image_dir {self.image_dir} is not a directory")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise ConfigError("set num_train_epochs > 0 or max_steps > 0")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("answer_loss_weight", "box_loss_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        if self.report_to in (["none"], "none"):
            self.report_to = []

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the resolved-config YAML written next to the checkpoint."""
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- parsing
def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(SFTConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(SFTConfig)}


def _unknown_key_error(key: str, where: str) -> ConfigError:
    names = [f.name for f in dataclasses.fields(SFTConfig)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}.{hint} Known keys: `ivgr sft --help-config`; "
                       "other HF TrainingArguments go under trainer_args:")


def load_sft_config(path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None) -> SFTConfig:
    """Read a YAML recipe, apply overrides, and return a validated `SFTConfig`.

    Relative paths in the recipe (train_file, image_dir, output_dir, deepspeed) stay relative to the
    working directory, as in HF/TRL recipes.
    """
    import yaml

    data: dict[str, Any] = {}
    where = "overrides"
    if path is not None:
        p = Path(path)
        where = str(p)
        if not p.is_file():
            raise ConfigError(f"recipe {p} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{p}{line}: invalid YAML ({getattr(err, 'problem', err)})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: a recipe must be a mapping of key: value")
        data.update(loaded)
    types = _field_types()
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides, types)  # the same parser as `ivgr train`
    known = set(types)
    checked: dict[str, Any] = {}
    for source, mapping in ((where, data), ("override", overrides or {})):
        for key, value in mapping.items():
            if key not in known:
                raise _unknown_key_error(key, source)
            checked[key] = coerce_value(key, value, types[key], where=source)
    return SFTConfig(**checked)


def config_help() -> str:
    """One line per key: name, default and help; for `ivgr sft --help-config`."""
    lines = []
    for f in dataclasses.fields(SFTConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"{f.name} (default {default!r}): {f.metadata.get('help', '')}")
    return "\n".join(lines)


__all__ = ["SFTConfig", "load_sft_config", "config_help", "STREAMS", "TINY_MODEL"]
