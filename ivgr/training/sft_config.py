"""Typed configuration of cold-start SFT (`ivgr sft`), read from a YAML recipe plus overrides.

Pure python (no torch/transformers at import) so `ivgr sft --help` and config errors are fast.
Recipes list only the keys they change; every key is a field below with its help text. Any
Hugging Face `TrainingArguments` key that is not a field here goes under `trainer_args:`.
The recipe is read by `ivgr.recipes`, the loader `ivgr train` uses (same overrides, same errors),
and the keys the two share have the same names: `model_path`, `data_path` (the old names
`model_name_or_path` and `train_file` still work, with a one-line warning).

docs/method.md#sft-cold-start: the authors' SFT hyper-parameters (lr, epochs, framework) were not recoverable;
the defaults here are ordinary full-model VLM SFT values, not theirs.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError
from ivgr.recipes import check_keys, coerce_mapping, field_types, parse_overrides, read_yaml

logger = logging.getLogger(__name__)

STREAMS = ("grounded", "textual", "single")
TINY_MODEL = "tiny"  # model_path value that builds a tiny random-weight model
# Old key -> the name `ivgr train` uses for the same thing; the old names keep working (with a warning).
RENAMED = {"model_name_or_path": "model_path", "train_file": "data_path"}
SEE_KEYS = "`ivgr sft --help-config` (other HF TrainingArguments go under trainer_args:)"


@dataclass
class SFTConfig:
    """Everything `run_sft` needs. Field docs double as `ivgr sft --help-config` text."""

    # --- model ---------------------------------------------------------------------------
    model_path: str = field(default="", metadata={
        "help": "Local checkpoint directory to fine-tune, or 'tiny' to build a random-weight tiny "
                "Qwen2.5-VL (tests, demo). Old name: model_name_or_path."})
    tiny_model: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Size knobs for model_path=tiny (TinyModelSpec fields: hidden_size, layers, ...)."})
    dtype: str = field(default="auto", metadata={"help": "Weights dtype: auto | float32 | bfloat16 | float16."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow custom model code (off by default)."})
    freeze_vision_tower: bool = field(default=False, metadata={
        "help": "Keep the ViT and merger frozen. The authors train the vision tower in RL "
                "(docs/method.md#hyper-parameters: the vision tower is trained)."})
    min_pixels: int | None = field(default=None, metadata={"help": "Processor min pixels (None: checkpoint's)."})
    max_pixels: int | None = field(default=None, metadata={"help": "Processor max pixels (None: checkpoint's)."})

    # --- data ----------------------------------------------------------------------------
    data_path: str | None = field(default=None, metadata={
        "help": "SFT JSONL (docs/CONTRACTS.md): sample_id, stream, image, prompt, completion per line. "
                "Old name: train_file."})
    image_dir: str | None = field(default=None, metadata={
        "help": "Base directory of relative image paths (default: the JSONL file's directory)."})
    streams: list[str] = field(default_factory=lambda: list(STREAMS), metadata={
        "help": "Which streams' examples to train on."})
    max_examples: int | None = field(default=None, metadata={"help": "Use only the first N examples (smoke runs)."})
    max_length: int = field(default=4096, metadata={
        "help": "Max tokens per example (prompt incl. image tokens + completion). Completions are cut "
                "to fit; a prompt that alone is longer is a DataError (lower max_pixels)."})
    synthetic_scenes: int = field(default=0, metadata={
        "help": "If > 0 and data_path is unset, generate this many synthetic scenes "
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
        if not self.model_path:
            raise ConfigError("model_path is required (a local checkpoint directory, or 'tiny')")
        if self.model_path != TINY_MODEL and not Path(self.model_path).expanduser().is_dir():
            raise ConfigError(f"model_path {self.model_path} is not a directory; pass a local "
                              "checkpoint (ivgr never downloads) or 'tiny'")
        bad = [s for s in self.streams if s not in STREAMS]
        if bad or not self.streams:
            raise ConfigError(f"streams must be a non-empty subset of {list(STREAMS)}, got {self.streams}")
        if self.data_path is None and self.synthetic_scenes <= 0:
            raise ConfigError("set data_path (an SFT JSONL) or synthetic_scenes > 0")
        if self.data_path is not None and not Path(self.data_path).expanduser().is_file():
            raise ConfigError(f"data_path {self.data_path} does not exist; write it with `ivgr data sft-build` "
                              "or point data_path at an SFT JSONL")
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
def _renamed(values: dict[str, Any], where: str) -> dict[str, Any]:
    """`values` with the old key names (model_name_or_path, train_file) moved to the new ones, with a warning."""
    out = dict(values)
    for old, new in RENAMED.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{where}: give {new} only ({old} is its old name)")
            logger.warning("%s: key '%s' is now '%s' (as in `ivgr train`); the old name still works", where, old, new)
            out[new] = out.pop(old)
    return out


def load_sft_config(path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None) -> SFTConfig:
    """Read a YAML recipe, apply overrides, and return a validated `SFTConfig`.

    Relative paths in the recipe (data_path, image_dir, output_dir, deepspeed) stay relative to the
    working directory, as in HF/TRL recipes.
    """
    types = field_types(SFTConfig)
    where = str(path) if path is not None else "the SFT settings"
    values = coerce_mapping(_renamed(read_yaml(path) if path is not None else {}, where), types, where=where,
                            see=SEE_KEYS)
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides, lambda key: types.get(RENAMED.get(key, key)))
    values.update(coerce_mapping(_renamed(overrides or {}, "the command line"), types, where="the command line",
                                 see=SEE_KEYS))
    from ivgr.models.tiny import knob_types

    check_keys(values.get("tiny_model") or {}, knob_types(), where=where, prefix="tiny_model.")
    return SFTConfig(**values)


def config_help() -> str:
    """One line per key: name, default and help; for `ivgr sft --help-config`."""
    lines = []
    for f in dataclasses.fields(SFTConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"{f.name} (default {default!r}): {f.metadata.get('help', '')}")
    return "\n".join(lines)


__all__ = ["SFTConfig", "load_sft_config", "config_help", "RENAMED", "STREAMS", "TINY_MODEL"]
