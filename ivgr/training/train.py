"""`train(cfg)`: the dual-stream GRPO run, top to bottom.

    load rows -> build streams -> load model -> build scorer -> build trainer -> train -> save with archive

Used by `ivgr train` and, in-process, by the demo:

    from ivgr.commands.train_cmd import make_synthetic_data
    from ivgr.training.config import load_config
    from ivgr.training.train import train
    cfg, resolved = load_config("recipes/tiny_cpu.yaml", ["max_steps=2"])
    # the recipe says `data_path: synthetic`: the command layer makes it, after the judge preflight
    result = train(cfg, resolved=resolved, prepare_data=make_synthetic_data)
    result.checkpoint, result.history[-1], len(result.archive)
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError
from ivgr.training.config import SYNTHETIC_DATA, TINY_MODEL, IvgrTrainConfig

logger = logging.getLogger(__name__)

FINAL_DIR = "final"


@dataclass
class TrainResult:
    """What a run leaves behind: the final checkpoint, the logged metrics, the archive."""

    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    archive: Any = None
    global_step: int = 0


def train(
    cfg: IvgrTrainConfig,
    *,
    resolved: dict | None = None,
    resume: bool | str | Path | None = None,
    callbacks: Sequence[Any] = (),
    sink: Callable[[str], None] | None = None,
    prepare_data: Callable[[IvgrTrainConfig], None] | None = None,
) -> TrainResult:
    """Run GRPO with the iVGR streams and rewards; returns where the final model went.

    Args:
        cfg: the typed config (see `load_config`).
        resolved: the recipe mapping to record as `config.yaml` (defaults to the non-default fields).
        resume: True = newest complete checkpoint in `cfg.output_dir` (fresh start if none);
            a path = that checkpoint; None/False = `cfg.resume_from_checkpoint` if set.
        callbacks: extra `TrainerCallback`s (the CLI adds a rich progress bar).
        sink: receives one summary line per logged step.
        prepare_data: called with `cfg` after the judge preflight, before the dataset is read;
            it may write data and point `cfg.data_path` at it (`ivgr train` passes
            `make_synthetic_data`, which makes `data_path: synthetic`).
    """
    from ivgr.models.inference_record import record_callback, training_record, write_inference_record
    from ivgr.training.callbacks import MetricsHistory, drop_hf_progress
    from ivgr.training.trainer import IvgrGRPOTrainer, write_run_files

    live = None
    if cfg.judge_preflight:  # one request per judge endpoint, before anything expensive is loaded
        from ivgr.judges.preflight import check_judge_endpoints

        live = check_judge_endpoints(cfg.judge_config())  # a fleet's failed endpoints leave the rotation
    model_path = resolve_model_path(cfg)
    if prepare_data is not None:
        prepare_data(cfg)
    data_path = resolve_data_path(cfg)
    frame = cfg.frame or _model_frame(model_path)
    model, processor = load_policy(cfg, model_path)
    dataset = load_rows(cfg, data_path, frame=frame, processor=processor)
    checkpoint = resolve_resume(cfg, resume)
    archive = load_archive(cfg, checkpoint)
    scorer = build_scorer(cfg, archive, live_endpoints=live)
    record = training_record("train", prompt_style=cfg.prompt_style, frame=frame, processor=processor)

    history = MetricsHistory(sink=sink)
    trainer = IvgrGRPOTrainer(
        model=model,
        args=cfg,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[history, record_callback(record), *callbacks],
        scorer=scorer,
        archive=archive,
        paired_ratio=cfg.paired_ratio,
        use_consistency=cfg.use_consistency,
        archive_persistent=cfg.archive_persistent,
        resolved_config=resolved if resolved is not None else non_default_fields(cfg),
    )
    drop_hf_progress(trainer, callbacks)  # the CLI's rich bar + summary line replace them
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    final = Path(cfg.output_dir) / FINAL_DIR
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(final))
        write_run_files(final, archive=archive, resolved_config=trainer.resolved_config)
        write_inference_record(final, record)
    trainer.accelerator.wait_for_everyone()
    logger.info("final checkpoint: %s (archive %d entries)", final, len(archive))
    return TrainResult(checkpoint=final, history=history.history, archive=archive, global_step=trainer.state.global_step)


# ---------------------------------------------------------------------- stages
def resolve_model_path(cfg: IvgrTrainConfig) -> Path:
    """`model_path: tiny` builds the random tiny Qwen2.5-VL once into OUTPUT_DIR/tiny-model."""
    if cfg.model_path != TINY_MODEL:
        path = Path(cfg.model_path)
        if not (path / "config.json").is_file():
            raise ConfigError(f"key 'model_path': {path} is not a checkpoint directory (no config.json)")
        return path
    from accelerate import PartialState

    from ivgr.models import build_tiny_model

    path = Path(cfg.output_dir) / "tiny-model"
    with PartialState().main_process_first():  # one rank builds, the others then read it
        if not (path / "config.json").is_file():
            build_tiny_model(path, seed=cfg.seed)
    return path


def resolve_data_path(cfg: IvgrTrainConfig) -> Path:
    """The prepared dataset to train on. Training reads prepared data only: the synthetic world
    behind `data_path: synthetic` is made by the command layer (`prepare_data=make_synthetic_data`)."""
    if cfg.data_path == SYNTHETIC_DATA:
        raise ConfigError("key 'data_path': 'synthetic' is made by the `ivgr train` command; from Python, pass "
                          "prepare_data=ivgr.commands.train_cmd.make_synthetic_data, or give a prepared dataset")
    return Path(cfg.data_path)


def _model_frame(model_path: Path) -> str:
    from ivgr.models import model_frame

    return model_frame(model_path)


def load_rows(cfg: IvgrTrainConfig, data_path: Path, *, frame: str, processor=None):
    """Prepared samples -> (sample, stream) rows for the configured streams (boxes in the model's input size)."""
    from ivgr.data.prepared import read_prepared
    from ivgr.training.rows import build_rows, processor_resize_rule

    samples = read_prepared(data_path)
    if cfg.max_samples is not None:
        samples = samples[: cfg.max_samples]
    resize = processor_resize_rule(processor) if processor is not None else None
    return build_rows(samples, data_path, frame=frame, streams=cfg.streams, resize=resize,
                      prompt_style=cfg.prompt_style)


def load_policy(cfg: IvgrTrainConfig, model_path: Path):
    """Policy + processor from a local checkpoint; optionally freeze the vision tower."""
    from ivgr.models import load_model_and_processor

    model, processor = load_model_and_processor(
        model_path, dtype=cfg.model_dtype, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels
    )
    if cfg.freeze_vision_tower:
        frozen = 0
        for name, param in model.named_parameters():
            if ".visual." in f".{name}":
                param.requires_grad_(False)
                frozen += 1
        logger.info("froze %d vision-tower tensors", frozen)
    return model, processor


def resolve_resume(cfg: IvgrTrainConfig, resume: bool | str | Path | None) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run."""
    from ivgr.training.trainer import ARCHIVE_FILE, find_resumable_checkpoint

    if resume is None and str(cfg.resume_from_checkpoint).lower() in ("true", "last"):
        resume = True  # `resume_from_checkpoint: true` in a recipe means "the newest one"
    if resume is True:
        found = find_resumable_checkpoint(cfg.output_dir)
        if found is None:
            logger.warning("--resume: no complete checkpoint in %s; starting from scratch", cfg.output_dir)
        return found
    target = resume or cfg.resume_from_checkpoint
    if not target:
        return None
    path = Path(target)
    if not (path / "trainer_state.json").is_file():
        raise ConfigError(f"key 'resume_from_checkpoint': {path} is not a complete checkpoint (no trainer_state.json)")
    if not (path / ARCHIVE_FILE).is_file():
        raise ConfigError(f"key 'resume_from_checkpoint': {path} has no {ARCHIVE_FILE}; it was not written by ivgr")
    return path


def load_archive(cfg: IvgrTrainConfig, checkpoint: Path | None):
    """Checkpoint archive on resume; else the seed file (`archive_path`); else empty."""
    from ivgr.archive import RolloutArchive
    from ivgr.training.trainer import ARCHIVE_FILE

    if checkpoint is not None:
        archive = RolloutArchive.load(checkpoint / ARCHIVE_FILE)
        logger.info("restored archive (%d entries) from %s", len(archive), checkpoint)
        return archive
    if cfg.archive_path:
        if not Path(cfg.archive_path).is_file():
            raise ConfigError(f"key 'archive_path': {cfg.archive_path} not found")
        archive = RolloutArchive.load(cfg.archive_path)
        logger.info("seeded archive (%d entries) from %s", len(archive), cfg.archive_path)
        return archive
    return RolloutArchive()


def build_scorer(cfg: IvgrTrainConfig, archive, live_endpoints: list | None = None):
    """Scorer with the configured judge; the consistency ablation zeroes its weight.

    `live_endpoints`: the judge endpoints that passed the preflight; the others are left out.
    """
    from ivgr.judges import build_judge
    from ivgr.rewards import Scorer

    scorer_cfg = cfg.scorer_config()
    if not cfg.use_consistency:
        # Ablation "w/o consistency" (docs/method.md#ablations): textual total = format + accuracy.
        scorer_cfg = dataclasses.replace(scorer_cfg, textual_consistency_weight=0.0)
    judge = build_judge(cfg.judge_config())
    if live_endpoints is not None and hasattr(judge, "use_preflight"):
        judge.use_preflight(live_endpoints)
    return Scorer(config=scorer_cfg, judge=judge, archive=archive)


def non_default_fields(cfg: IvgrTrainConfig) -> dict[str, Any]:
    """The init fields that differ from their defaults (a reloadable recipe of this run)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if not f.init:
            continue
        value = getattr(cfg, f.name)
        if isinstance(value, enum.Enum):  # transformers stores strategies as str-Enums
            value = value.value
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name == "generation_batch_size":  # derived from steps_per_generation in __post_init__
            continue
        if value != default and isinstance(value, (str, int, float, bool, list, dict, type(None))):
            out[f.name] = value
    return out


def shutdown_distributed() -> None:
    """Tear down the process group at the end of a multi-process run.

    Exiting with a live gloo/NCCL group lets its C++ threads be destroyed mid-flight, which
    aborts a rank ("terminate called without an active exception", SIGABRT) after training has
    already succeeded; torch asks callers to destroy the group explicitly.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


__all__ = ["TrainResult", "load_archive", "resolve_resume", "shutdown_distributed", "train"]
