"""Cold-start SFT (docs/method.md#sft-cold-start): teach the policy both answer formats before RL.

    from ivgr.commands.sft_cmd import make_synthetic_sft_data
    from ivgr.training.sft import run_sft
    from ivgr.training.sft_config import load_sft_config
    cfg = load_sft_config("recipes/sft_tiny_cpu.yaml", ["max_steps=5"])
    final_dir = run_sft(cfg, prepare_data=make_synthetic_sft_data)  # the recipe asks for synthetic scenes

`run_sft(cfg)` reads top to bottom: data -> model -> dataset/collator -> trainer -> train -> save.

Why a plain HF `Trainer` and not TRL's `SFTTrainer`: the policy's processor is ivgr's image-only
Qwen-VL processor (no torchvision, docs/models.md), and we want the loss mask and the prompt
tokens to match *exactly* what inference and GRPO feed the model (chat template + generation
prompt, then the completion). A 60-line collator does that with no dependence on SFTTrainer's
fast-moving VLM preprocessing; the loss is the standard token-mean cross-entropy over
completion tokens only (prompt and image tokens are masked with -100), optionally with the
`<answer>` and `<box>` spans weighted (`answer_loss_weight`, `box_loss_weight`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ivgr
from ivgr.errors import ConfigError, DataError, ModelError
from ivgr.jsonl import iter_jsonl
from ivgr.prompts import chat_messages
from ivgr.training.sft_config import TINY_MODEL, SFTConfig

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label value the HF causal-LM loss skips
FINAL_DIR = "final"
END_OF_TURN = "<|im_end|>\n"  # closes the assistant turn: the model learns to stop here
_REQUIRED_KEYS = ("prompt", "completion")
_ANSWER_SPAN = re.compile(r"<answer>(.*?)</answer>", re.S)
_BOX_SPAN = re.compile(r"<box>.*?</box>", re.S)


def completion_token_weights(completion: str, offsets: list[tuple[int, int]], *,
                             answer_weight: float = 1.0, box_weight: float = 1.0) -> list[float]:
    """Loss weight of each completion token, from its character span `offsets[i] = (start, end)`.

    w_i = answer_weight if token i lies inside an <answer>...</answer> body,
          box_weight    if it lies inside a <box>...</box> span (tags included),
          1             otherwise (and for tokens past the completion, e.g. the end of turn).
    The loss is then sum_i w_i * CE_i / (number of completion tokens).

    >>> completion_token_weights("<think><box>[1]</box></think><answer>red</answer>",
    ...     [(0, 7), (7, 12), (12, 15), (15, 21), (21, 29), (29, 37), (37, 40), (40, 49)],
    ...     answer_weight=5, box_weight=0.5)
    [1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 5.0, 1.0]
    """
    spans = [(m.start(1), m.end(1), answer_weight) for m in _ANSWER_SPAN.finditer(completion)]
    spans += [(m.start(), m.end(), box_weight) for m in _BOX_SPAN.finditer(completion)]
    weights = []
    for start, end in offsets:
        w = 1.0
        if end > start:
            for lo, hi, span_weight in spans:
                if lo <= start and end <= hi:
                    w = float(span_weight)
                    break
        weights.append(w)
    return weights


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class SFTExample:
    """One supervised example: user text + images in, completion out."""

    sample_id: str
    stream: str
    images: tuple[Path, ...]
    prompt: str
    completion: str


def _row_images(row: dict[str, Any], base: Path, where: str) -> tuple[Path, ...]:
    """Resolve `image` (one path) or `images` (a list) against `base`; every file must exist."""
    raw = row.get("images", row.get("image"))
    if raw is None:
        raise DataError(f"{where}: missing key 'image'")
    paths = raw if isinstance(raw, list) else [raw]
    out = []
    for item in paths:
        if not isinstance(item, str) or not item:
            raise DataError(f"{where}: image must be a path string, got {item!r}")
        path = Path(item).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise DataError(f"{where}: image {path} not found (relative paths resolve against {base}; "
                            "set image_dir)")
        out.append(path)
    return tuple(out)


def read_sft_jsonl(path: str | Path, *, image_dir: str | Path | None = None,
                   streams: tuple[str, ...] | list[str] = ("grounded", "textual", "single"),
                   limit: int | None = None) -> list[SFTExample]:
    """Read the SFT JSONL of docs/CONTRACTS.md; a bad line is a DataError naming file and line."""
    path = Path(path)
    base = Path(image_dir) if image_dir is not None else path.parent
    examples: list[SFTExample] = []
    skipped: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        for key in _REQUIRED_KEYS:
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(f"{where}: missing or empty key {key!r}")
        stream = row.get("stream", "single")
        if stream not in streams:
            skipped[stream] = skipped.get(stream, 0) + 1
            continue
        examples.append(SFTExample(
            sample_id=str(row.get("sample_id", f"line{lineno}")), stream=stream,
            images=_row_images(row, base, where), prompt=row["prompt"], completion=row["completion"],
        ))
        if limit is not None and len(examples) >= limit:
            break
    if skipped:
        logger.info("%s: skipped rows of streams not selected: %s", path, skipped)
    if not examples:
        raise DataError(f"{path}: no SFT examples for streams {list(streams)}")
    return examples


class SFTDataset:
    """Tokenises one example on access: prompt through the processor (images expand), then completion.

    Prompt and completion are tokenised separately and concatenated, which is exactly what the
    model sees at inference: the templated prompt ending in the generation prompt, then its own
    tokens. Labels are -100 over the prompt (system, user text, image pads).
    """

    def __init__(self, examples: list[SFTExample], processor, *, max_length: int,
                 answer_loss_weight: float = 1.0, box_loss_weight: float = 1.0) -> None:
        self.examples = examples
        self.processor = processor
        self.max_length = max_length
        self.truncated = 0
        self.answer_loss_weight = answer_loss_weight
        self.box_loss_weight = box_loss_weight
        # Plain token-mean loss unless a span is weighted: then items carry `loss_weights`.
        self.weighted = (answer_loss_weight, box_loss_weight) != (1.0, 1.0)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        import torch
        from PIL import Image

        ex = self.examples[idx]
        messages = chat_messages(ex.prompt, n_images=len(ex.images))
        prompt_text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        images = []
        for p in ex.images:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        enc = self.processor(images=images, text=[prompt_text], return_tensors="pt")
        prompt_ids = enc["input_ids"][0]
        tokens = self.processor.tokenizer(ex.completion + END_OF_TURN, add_special_tokens=False,
                                          return_offsets_mapping=self.weighted)
        completion_ids = torch.tensor(tokens["input_ids"], dtype=prompt_ids.dtype)
        # Deviation: never cut the prompt (the authors right-truncate to max_prompt_length, which
        # would drop the generation prompt; docs/method.md#bug-prompt-truncation); only the
        # completion is cut, and a prompt that alone is too long is a DataError; option max_length.
        room = self.max_length - prompt_ids.numel()
        if room < 1:
            raise DataError(f"example {ex.sample_id!r} ({ex.stream}): the prompt alone is {prompt_ids.numel()} "
                            f"tokens > max_length {self.max_length}; raise max_length or lower max_pixels")
        if completion_ids.numel() > room:
            self.truncated += 1
            completion_ids = completion_ids[:room]
        input_ids = torch.cat([prompt_ids, completion_ids])  # (T,)
        labels = torch.cat([torch.full_like(prompt_ids, IGNORE_INDEX), completion_ids])
        item = {"input_ids": input_ids, "labels": labels,
                "pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"]}
        if self.weighted:
            weights = completion_token_weights(ex.completion, tokens["offset_mapping"][: completion_ids.numel()],
                                               answer_weight=self.answer_loss_weight,
                                               box_weight=self.box_loss_weight)
            item["loss_weights"] = torch.cat([torch.zeros(prompt_ids.numel()), torch.tensor(weights)])  # (T,)
        if "mm_token_type_ids" in enc:
            mm = enc["mm_token_type_ids"][0]
            item["mm_token_type_ids"] = torch.cat([mm, torch.zeros_like(completion_ids)])
        return item


class SFTCollator:
    """Right-pads a batch; concatenates the images' patches (Qwen-VL takes them flat + grid_thw)."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(it["input_ids"].numel() for it in items)

        def pad(key: str, value: int) -> Any:
            out = torch.full((len(items), width), value, dtype=items[0][key].dtype)  # (B, T)
            for row, it in enumerate(items):
                out[row, : it[key].numel()] = it[key]
            return out

        batch = {"input_ids": pad("input_ids", self.pad_token_id), "labels": pad("labels", IGNORE_INDEX)}
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, it in enumerate(items):
            mask[row, : it["input_ids"].numel()] = 1
        batch["attention_mask"] = mask
        if all("mm_token_type_ids" in it for it in items):
            batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
        if all("loss_weights" in it for it in items):
            batch["loss_weights"] = pad("loss_weights", 0)
        batch["pixel_values"] = torch.cat([it["pixel_values"] for it in items])  # (sum patches, C*T*P*P)
        batch["image_grid_thw"] = torch.cat([it["image_grid_thw"] for it in items])  # (n_images, 3)
        return batch


def weighted_token_loss(logits, labels, weights):
    """sum_i w_i * CE_i / (number of supervised tokens), next-token shifted like HF's causal-LM loss.

    logits (B, T, V), labels (B, T) with IGNORE_INDEX where unsupervised, weights (B, T).
    """
    import torch.nn.functional as F

    logits, labels, weights = logits[:, :-1], labels[:, 1:], weights[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                         ignore_index=IGNORE_INDEX, reduction="none").view_as(weights)  # (B, T-1)
    return (ce * weights).sum() / (labels != IGNORE_INDEX).sum().clamp(min=1)


def _weighted_trainer_class():
    """HF `Trainer` whose loss weights spans of the completion (items carry `loss_weights`)."""
    from transformers import Trainer

    class WeightedLossTrainer(Trainer):
        # A per-micro-batch mean: the Trainer divides it by the gradient-accumulation steps.
        loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            weights = inputs.pop("loss_weights")
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = weighted_token_loss(outputs.logits, labels, weights.to(outputs.logits.device))
            return (loss, outputs) if return_outputs else loss

    return WeightedLossTrainer


# ----------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class SFTData:
    """What SFT trains on: the JSONL, the folder its relative image paths start from (None: the
    JSONL's folder), and words a `model_path: tiny` tokenizer should hold whole (its `vocab_extra`
    unless the recipe sets one)."""

    path: Path
    image_dir: Path | None = None
    vocabulary: tuple[str, ...] = ()


# (cfg, write) -> SFTData for a recipe without data_path; only the call with write=True writes files.
PrepareData = Callable[[SFTConfig, bool], SFTData]


def _prepare_data(cfg: SFTConfig, *, write: bool, prepare: PrepareData | None) -> SFTData:
    """The SFT data to train on: the recipe's data_path, or what `prepare` makes (the synthetic
    world behind `synthetic_scenes` is made by the command layer: the trainer reads prepared data)."""
    if cfg.data_path is not None:
        return SFTData(Path(cfg.data_path), Path(cfg.image_dir) if cfg.image_dir else None)
    if prepare is None:
        raise ConfigError("synthetic_scenes is made by the `ivgr sft` command; from Python, pass "
                          "prepare_data=ivgr.commands.sft_cmd.make_synthetic_sft_data, or set data_path")
    return prepare(cfg, write)


def _model_path(cfg: SFTConfig, *, write: bool, vocabulary: tuple[str, ...] = ()) -> Path:
    """The checkpoint to start from; builds the tiny model for model_path=tiny (if `write`)."""
    if cfg.model_path != TINY_MODEL:
        return Path(cfg.model_path)
    path = Path(cfg.output_dir) / "base-model"
    if not write:
        return path
    from ivgr.models.tiny import build_tiny_model

    knobs = dict(cfg.tiny_model)
    if vocabulary and "vocab_extra" not in knobs:
        knobs["vocab_extra"] = list(vocabulary)  # the data's words merge into tokens
    return build_tiny_model(path, seed=cfg.seed, **knobs)  # a misspelt knob: one ConfigError line naming it


def _freeze_vision(model) -> int:
    """Freeze the ViT + merger; returns how many parameters were frozen."""
    visual = getattr(model, "visual", None) or getattr(getattr(model, "model", None), "visual", None)
    if visual is None:
        raise ModelError(f"{type(model).__name__} has no vision tower attribute 'visual'; "
                         "set freeze_vision_tower: false")
    n = 0
    for p in visual.parameters():
        p.requires_grad_(False)
        n += p.numel()
    return n


def _training_arguments(cfg: SFTConfig):
    """HF TrainingArguments from the typed config (plus pass-through `trainer_args`)."""
    import torch
    from transformers import TrainingArguments

    kwargs: dict[str, Any] = dict(
        output_dir=cfg.output_dir, num_train_epochs=cfg.num_train_epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio, lr_scheduler_type=cfg.lr_scheduler_type,
        max_grad_norm=cfg.max_grad_norm, bf16=cfg.bf16,
        seed=cfg.seed, logging_steps=cfg.logging_steps, report_to=list(cfg.report_to) or "none",
        save_strategy="steps" if cfg.save_steps > 0 else "no", save_steps=max(cfg.save_steps, 1),
        save_total_limit=cfg.save_total_limit, deepspeed=cfg.deepspeed,
        remove_unused_columns=False,  # our dataset yields model inputs already
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning without a GPU only warns
        # Without a GPU, say so: it is what makes torchrun/accelerate on CPU use DDP over gloo.
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every trainable parameter is used in each forward
    )
    if cfg.gradient_checkpointing:  # transformers 5 renamed it; the old name warns
        kwargs["activation_checkpointing"] = True
    kwargs.update(cfg.trainer_args)
    try:
        return TrainingArguments(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"invalid training arguments: {err}") from None


def _save_final(trainer, processor, cfg: SFTConfig, *, base_model: Path, stats: dict[str, Any]) -> Path:
    """Model + processor files + resolved config + ivgr version: a checkpoint `ivgr infer` can load."""
    import yaml

    final = Path(cfg.output_dir) / FINAL_DIR
    trainer.save_model(str(final))  # weights + processor (processing_class)
    if trainer.is_world_process_zero():
        resolved = {**cfg.to_dict(), "base_model": str(base_model)}
        (final / "sft_config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        meta = {"ivgr_version": ivgr.__version__, "stage": "sft", **stats}
        (final / "ivgr_run.json").write_text(json.dumps(meta, indent=2) + "\n")
        (Path(cfg.output_dir) / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1))
    return final


def _inference_record(examples: list[SFTExample], processor, model_config):
    """What `ivgr infer` needs to prompt this checkpoint as it was trained (read off the SFT prompts)."""
    from ivgr.models import model_frame
    from ivgr.models.inference_record import styles_of_prompts, training_record

    style, frame = styles_of_prompts((ex.stream, ex.prompt) for ex in examples)
    if style is None:
        logger.warning("the SFT prompts are not all one ivgr prompt style; the checkpoint records none, so "
                       "inference will use its default (standard) unless told --prompt-style")
    return training_record("sft", prompt_style=style, frame=frame or model_frame(model_config), processor=processor)


# Deviation: SFT runs on a plain HF Trainer with a completion-only loss; the authors' SFT framework
# and hyper-parameters are unknown (docs/method.md#sft-cold-start; their data is LLaMA-Factory format). The
# defaults are ordinary VLM SFT values; options learning_rate, num_train_epochs, max_length, ...
def run_sft(cfg: SFTConfig, *, callbacks: list[Any] | None = None, prepare_data: PrepareData | None = None) -> Path:
    """Cold-start SFT of `cfg.model_path` on `cfg.data_path`; returns OUTPUT_DIR/final.

    Without data_path, `prepare_data` makes the data (`ivgr.commands.sft_cmd.make_synthetic_sft_data`
    for `synthetic_scenes`); the recorded sft_config.yaml keeps the recipe as given.

    Loss: token-mean cross-entropy over completion tokens (incl. the closing <|im_end|>), with the
    <answer> / <box> spans weighted when `answer_loss_weight` / `box_loss_weight` differ from 1.
    """
    from transformers import Trainer

    from ivgr.models.inference_record import record_callback, write_inference_record
    from ivgr.models.loader import load_model_and_processor
    from ivgr.training.callbacks import drop_hf_progress

    started = time.monotonic()
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    args = _training_arguments(cfg)
    # 1. data, then base model. Under accelerate/torchrun only each node's main process generates
    # synthetic data or builds the tiny model; the others wait (main_process_first), then read.
    write = args.local_process_index == 0
    with args.main_process_first(desc="SFT data"):
        data = _prepare_data(cfg, write=write, prepare=prepare_data)
    # Every row is read and checked before the model is built or loaded: a bad data file is one
    # error line in seconds, not after the tiny model's build (~30 s) or a large checkpoint's load.
    examples = read_sft_jsonl(data.path, image_dir=data.image_dir, streams=cfg.streams, limit=cfg.max_examples)
    counts = {s: sum(e.stream == s for e in examples) for s in cfg.streams}
    logger.info("SFT on %d examples from %s: %s", len(examples), data.path, counts)
    with args.main_process_first(desc="SFT base model"):
        base = _model_path(cfg, write=write, vocabulary=data.vocabulary)
    # 2. model
    model, processor = load_model_and_processor(base, dtype=cfg.dtype, min_pixels=cfg.min_pixels,
                                                max_pixels=cfg.max_pixels,
                                                trust_remote_code=cfg.trust_remote_code)
    model.train()
    if cfg.freeze_vision_tower:
        logger.info("froze %d vision-tower parameters", _freeze_vision(model))
    if cfg.gradient_checkpointing:
        model.config.use_cache = False
    record = _inference_record(examples, processor, model.config)
    # 3. dataset + collator
    dataset = SFTDataset(examples, processor, max_length=cfg.max_length,
                         answer_loss_weight=cfg.answer_loss_weight, box_loss_weight=cfg.box_loss_weight)
    collator = SFTCollator(pad_token_id=processor.tokenizer.pad_token_id)
    # 4. trainer
    # processing_class: the Trainer then saves the processor into every checkpoint (loadable alone).
    trainer_class = _weighted_trainer_class() if dataset.weighted else Trainer
    trainer = trainer_class(model=model, args=args, train_dataset=dataset, data_collator=collator,
                      processing_class=processor, callbacks=[*(callbacks or []), record_callback(record)])
    drop_hf_progress(trainer, callbacks)
    # 5. train
    result = trainer.train()
    if dataset.truncated:
        logger.warning("%d completion(s) were cut to max_length=%d", dataset.truncated, cfg.max_length)
    # 6. save
    stats = {"examples": len(examples), "streams": counts, "global_step": trainer.state.global_step,
             "train_loss": result.training_loss, "truncated": dataset.truncated,
             "wall_s": round(time.monotonic() - started, 2)}
    final = _save_final(trainer, processor, cfg, base_model=base, stats=stats)
    if trainer.is_world_process_zero():
        write_inference_record(final, record)
    logger.info("SFT done in %.1fs: %s", stats["wall_s"], final)
    return final


__all__ = ["run_sft", "SFTData", "PrepareData", "read_sft_jsonl", "SFTExample", "SFTDataset", "SFTCollator",
           "IGNORE_INDEX", "completion_token_weights", "weighted_token_loss"]
