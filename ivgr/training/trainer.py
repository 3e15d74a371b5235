"""`IvgrGRPOTrainer`: TRL's GRPOTrainer with two narrow overrides (docs/training.md#how-the-pieces-fit).

* `_get_train_sampler` -> `PairedStreamSampler`: both streams of a question in the same
  generation batch and on the same process, G consecutive rows per (sample, stream) group.
* `_calculate_rewards` -> the ivgr scorer, run once per generation batch in two phases with a
  cross-rank archive exchange in between (`ivgr.training.rewards.BatchRewarder`).
* `_save_checkpoint` additionally writes `archive.json`, the resolved `config.yaml` and
  `ivgr.json` *before* TRL writes the checkpoint, so a checkpoint whose `trainer_state.json`
  exists (written last by transformers) always has its archive.
* `_run_epoch` sets the sampler's epoch where transformers' own call cannot reach it (multi-process resume).
* `create_optimizer` swaps in Kahan-compensated AdamW for bf16 weights that no ZeRO/FSDP fp32 masters protect.
* Before TRL reads them, `generation_kwargs` gain the model's vision placeholder ids (`block_vision_tokens`).

Everything else (generation, advantages per G-group, clipped loss, KL, vLLM) is stock TRL.
`tests/test_pins.py` asserts these hooks still exist in the pinned TRL.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from ivgr.fileio import atomic_write_text
from ivgr.rewards.scorer import TERMS
from ivgr.training.judge_breaker import BreakerSettings, JudgeCircuitBreaker, save_checkpoint_now
from ivgr.training.rewards import BatchRewarder, build_rollouts
from ivgr.training.sampler import PairedStreamSampler, StreamIndex, check_alignment, find_paired_sampler

logger = logging.getLogger(__name__)

ARCHIVE_FILE = "archive.json"
CONFIG_FILE = "config.yaml"
VERSION_FILE = "ivgr.json"


def ivgr_total(prompts=None, completions=None, **kwargs):  # noqa: ARG001 - TRL's reward signature
    """Placeholder reward function that names TRL's single reward column `ivgr_total`.

    Never called: `IvgrGRPOTrainer._calculate_rewards` computes the column with the scorer.
    """
    raise RuntimeError("ivgr_total is computed by IvgrGRPOTrainer._calculate_rewards, not called directly")


def _gather_object(obj: Any) -> list:
    """accelerate's gather_object flattens lists; wrap so each rank contributes exactly one item."""
    from accelerate.utils import gather_object

    return gather_object([obj])


class IvgrGRPOTrainer(GRPOTrainer):
    """GRPO trainer for the grounded / textual / single streams of iVGR.

    Extra keyword arguments (all keyword-only):
        scorer: `ivgr.rewards.Scorer`; archive: its `RolloutArchive`;
        paired_ratio: share of paired prompts per generation batch (authors: 0.9);
        use_consistency: False for the "w/o consistency" ablation;
        archive_persistent: False for the "consistency without archive" ablation (current-batch reference);
        resolved_config: the recipe mapping written as `config.yaml` into each checkpoint.
    """

    def __init__(
        self,
        *args: Any,
        scorer: Any,
        archive: Any,
        paired_ratio: float = 0.9,
        use_consistency: bool = True,
        archive_persistent: bool = True,
        resolved_config: dict | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("reward_funcs", [ivgr_total])
        block_vision_tokens(kwargs.get("args"), kwargs.get("model"))
        self.archive = archive
        self.paired_ratio = paired_ratio
        self.resolved_config = resolved_config or {}
        super().__init__(*args, **kwargs)
        self._check_alignment()
        gather = _gather_object if self.accelerator.num_processes > 1 else None
        self.rewarder = BatchRewarder(
            scorer=scorer, archive=archive, gather_object=gather, use_consistency=use_consistency,
            archive_persistent=archive_persistent,
        )
        self.scorer = scorer
        # Deviation: a step whose judge mostly failed is retried, then checkpointed and stopped, never
        # trained on (the authors train on whatever the judge returned); option judge_max_failed_share.
        self.judge_breaker = JudgeCircuitBreaker(BreakerSettings.from_config(self.args))

    # ------------------------------------------------------------------ sampler
    def _stream_index(self, dataset) -> StreamIndex:
        return StreamIndex.from_rows(list(dataset["sample_id"]), list(dataset["stream"]))

    def _check_alignment(self) -> None:
        index = self._stream_index(self.train_dataset)
        check_alignment(
            num_generations=self.num_generations,
            generation_batch_size=self.args.generation_batch_size,
            per_device_train_batch_size=self.args.per_device_train_batch_size,
            steps_per_generation=self.args.steps_per_generation,
            num_processes=self.accelerator.num_processes,
            paired=bool(index.pairs),
        )
        sampler = self._get_train_sampler(self.train_dataset)
        if sampler.num_batches() == 0:
            from ivgr.errors import ConfigError

            raise ConfigError(
                f"the training set ({len(index.pairs)} pairs, {len(index.singles)} single rows) does not fill one "
                f"generation batch of {self.args.generation_batch_size // self.num_generations} prompts; lower "
                f"per_device_train_batch_size / steps_per_generation or add data"
            )

    def _get_train_sampler(self, dataset=None) -> PairedStreamSampler:
        dataset = self.train_dataset if dataset is None else dataset
        return PairedStreamSampler(
            self._stream_index(dataset),
            num_generations=self.num_generations,
            prompts_per_batch=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            paired_ratio=self.paired_ratio,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )

    def _run_epoch(self, *args: Any, **kwargs: Any):
        """Set the paired sampler's epoch, then run transformers' epoch loop.

        transformers' own set_epoch call reaches the sampler through at most two wrappers; after a
        multi-process resume it sits under three (`find_paired_sampler`), and the resumed epoch would
        replay epoch 0's order. transformers 5.23 passes `epoch` and `train_dataloader` by keyword.
        """
        sampler = find_paired_sampler(kwargs["train_dataloader"])
        if sampler is not None:
            sampler.set_epoch(kwargs["epoch"])
        return super()._run_epoch(*args, **kwargs)

    # ------------------------------------------------------------------ optimizer
    def create_optimizer(self, model=None):
        """Keep the small updates of a bf16 model that no ZeRO/FSDP fp32 master weights protect.

        The stock path would run torch AdamW on the bf16 weights themselves: at lr 1e-6 almost every
        update rounds away (`ivgr.training.optim`). `bf16_master: kahan` (default) keeps the optimizer's
        kwargs and param groups and swaps in `KahanAdamW`; `fp32` upcasts the weights to fp32 masters
        (forward passes stay bf16 under `bf16: true` autocast).
        """
        # Deviation: the authors' bf16 AdamW with Kahan summation (EasyR1 `strategy: adamw_bf16`, github
        # Visual-AI/iVGR verl/workers/fsdp_workers.py) on a bf16 launch without ZeRO/FSDP; fp32 master
        # weights (torch AdamW) under ZeRO-3/FSDP; option bf16_master.
        from ivgr.training.optim import KahanAdamW, bf16_update_plan

        target = self.model if model is None else model
        plan = None
        if self.optimizer is None and self.optimizer_cls_and_kwargs is None:
            plan = bf16_update_plan(self.args, list(target.parameters()),
                                    sharded_master=self.is_deepspeed_enabled or self.is_fsdp_enabled)
        if plan == "fp32":
            target.float()
        elif plan == "kahan":
            _, kwargs = self.get_optimizer_cls_and_kwargs(self.args, target)
            kept = {k: kwargs[k] for k in ("lr", "betas", "eps") if k in kwargs}
            self.optimizer_cls_and_kwargs = (KahanAdamW, kept)
        if plan:
            logger.info("bf16 weights: %s", "fp32 master weights" if plan == "fp32" else "Kahan-compensated AdamW")
        return super().create_optimizer(model)

    # ------------------------------------------------------------------ rewards
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """(N_global, 1) tensor of scorer totals, gathered across processes like TRL's own."""
        from accelerate.utils import gather

        step = int(self.state.global_step)
        rollouts = build_rollouts(inputs, completions, step=step)
        totals, stats, scores = self.judge_breaker.score(
            self.rewarder, rollouts, step=step, save_checkpoint=lambda: save_checkpoint_now(self)
        )
        if self.log_completions:  # extra columns of TRL's completions table (local rows, gathered by TRL)
            self._log_completion_extra("stream", [r.stream for r in rollouts])
            self._log_completion_extra("sample_id", [r.sample_id for r in rollouts])
            self._log_completion_extra("reference", [s.reference or "" for s in scores])
            for term in TERMS:  # per-term rewards, read by `ivgr ui`'s Run tab; None = does not apply
                self._log_completion_extra(term, [getattr(s, term) for s in scores])
        mode = "train" if self.model.training else "eval"
        for name, value in stats.means().items():
            self._metrics[mode][name].append(value)
        self._metrics[mode]["archive/size"].append(float(len(self.archive)))
        self._metrics[mode]["judge/errors"].append(float(stats.judge_errors))
        self._metrics[mode]["judge/latency_s"].append(stats.judge_latency_s)
        self._metrics[mode]["judge/calls"].append(float(stats.judge_calls))
        self._metrics[mode]["scorer/wall_s"].append(stats.wall_s)
        local = torch.tensor(totals, dtype=torch.float32, device=self.accelerator.device).unsqueeze(1)  # (B*G, 1)
        return gather(local)  # (world*B*G, 1): TRL normalises per G consecutive rows

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, model, trial):
        # Deviation: the archive is saved in every checkpoint and restored on resume (the authors'
        # save wrote an empty cache from the wrong process, docs/method.md#bug-archive-persistence);
        # options: --resume / resume_from_checkpoint, archive_path.
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        if self.args.should_save:
            out = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            write_run_files(out, archive=self.archive, resolved_config=self.resolved_config)
        super()._save_checkpoint(model, trial)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        """Restore weights through `from_pretrained`, which knows the checkpoint's key layout.

        transformers 5.23's Trainer loads `model.safetensors` with a non-strict `load_state_dict`,
        but Qwen2.5-VL checkpoints are written with the legacy names (`visual.*`, `model.layers.*`)
        while the live module uses `model.visual.*`, `model.language_model.*`: on resume most
        tensors were silently left at their initial values (caught by the SIGKILL-resume test).
        """
        # Deviation: strict, conversion-aware weight restore on resume (stock Trainer silently skips
        # renamed keys); option: none (always on for plain models; DeepSpeed/FSDP use the stock path).
        if model is not None or self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        target = self.model
        dtype = next(target.parameters()).dtype
        loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=dtype)
        missing, unexpected = target.load_state_dict(loaded.state_dict(), strict=False)
        if missing or unexpected:
            from ivgr.errors import ModelError

            raise ModelError(
                f"{resume_from_checkpoint}: checkpoint does not match the model (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}); resume with the same model_path"
            )
        del loaded
        logger.info("restored weights from %s", resume_from_checkpoint)


def block_vision_tokens(args: Any, model: Any) -> None:
    """Add the model's vision placeholder ids to `args.generation_kwargs` (in place), before TRL reads it.

    TRL 1.16 suppresses only `<|image_pad|>`, only in HF generate, and drops even that when the user
    sets `suppress_tokens`; its vLLM path blocks nothing. A sampled placeholder kills the run in the
    log-prob forward ("Image features and image tokens do not match").
    """
    # Deviation: video pad and vision start/end are blocked as well, and HF generate suppresses them
    # outright (the authors bias only <|image_pad|>, by -100, in vLLM: github Visual-AI/iVGR,
    # verl/workers/rollout/vllm_rollout_spmd.py); option block_vision_tokens.
    if args is None or not getattr(args, "block_vision_tokens", False) or model is None:
        return
    from ivgr.models.tokens import block_tokens, vision_placeholder_ids

    if isinstance(model, (str, Path)):
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model)
    else:
        config = model.config
    ids = vision_placeholder_ids(config)
    args.generation_kwargs = block_tokens(args.generation_kwargs, ids, use_vllm=bool(args.use_vllm))
    logger.info("rollouts never sample the vision placeholder ids %s", list(ids))


def write_run_files(out: Path, *, archive: Any, resolved_config: dict) -> None:
    """archive.json + config.yaml + ivgr.json into a checkpoint or final model directory."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    archive.save(out / ARCHIVE_FILE)
    atomic_write_text(out / CONFIG_FILE, yaml.safe_dump(_redact(resolved_config), sort_keys=False))
    versions = {f"{name}_version": _version(name) for name in ("ivgr", "trl", "transformers", "torch")}
    (out / VERSION_FILE).write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")


def _version(package: str) -> str:
    """Installed version of `package` (ivgr: the source tree's __version__)."""
    from importlib.metadata import PackageNotFoundError, version

    if package == "ivgr":
        import ivgr

        return ivgr.__version__
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _redact(config: dict) -> dict:
    """Never write an API key into a checkpoint."""
    out = dict(config)
    if isinstance(out.get("judge"), dict) and out["judge"].get("api_key"):
        out["judge"] = {**out["judge"], "api_key": "***"}
    return out


def find_resumable_checkpoint(output_dir: str | Path) -> Path | None:
    """Newest `checkpoint-N` that is complete: trainer_state.json (written last) and archive.json."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found = []
    for path in root.glob("checkpoint-*"):
        suffix = path.name.split("-", 1)[1]
        if suffix.isdigit() and (path / "trainer_state.json").is_file() and (path / ARCHIVE_FILE).is_file():
            found.append((int(suffix), path))
    return max(found)[1] if found else None


__all__ = ["IvgrGRPOTrainer", "block_vision_tokens", "find_resumable_checkpoint", "ivgr_total", "write_run_files"]
