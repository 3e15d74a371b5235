"""Training rows: one row per (sample, stream), as a map-style `datasets.Dataset`.

A paired sample becomes a grounded row and a textual row that share `sample_id`; a single
sample becomes one single row (docs/method.md#streams, #data-mixing). Each row holds
the conversational `prompt` TRL needs for VLMs (content as a list of blocks, TRL's VLM dataset format),
the `image` (decoded lazily from its path by `datasets.Image`), and the columns the scorer
reads (`sample_id`, `stream`, `question`, `answer`, `target_boxes`, `datasource`).

Map-style on purpose: with an IterableDataset TRL reorders the stream and bypasses the
paired sampler (docs/training.md#how-the-pieces-fit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ivgr.errors import DataError
from ivgr.geometry import scale_box

# (width, height) of a prepared image -> (width, height) the processor will feed the model
ResizeRule = Callable[[int, int], tuple[int, int]]

logger = logging.getLogger(__name__)

STREAMS_OF_KIND = {"paired": ("grounded", "textual"), "single": ("single",)}


def row_dicts(
    samples: Sequence,
    dataset_dir: str | Path,
    *,
    frame: str,
    streams: Sequence[str],
    resize: ResizeRule | None = None,
    prompt_style: str = "standard",
) -> list[dict]:
    """Plain-dict rows (no `datasets` import): the stream expansion, testable on its own.

    Grounded rows come before their textual twin; sample order is kept. A sample whose frame
    differs from the model's `frame` is refused: boxes are converted once, at prepare time.
    `resize` is the processor's smart-resize rule: when it would feed the model a different size
    than the prepared `image_size` (another max_pixels at training time, `--no-resize-images`),
    pixel-frame boxes are rescaled to the size the model actually sees, so the box reward
    compares like with like.
    """
    from ivgr.data.prepared import resolve_image
    from ivgr.prompts import chat_messages, stream_prompt

    rows: list[dict] = []
    for sample in samples:
        if sample.kind == "paired" and sample.target_boxes and sample.frame != frame:
            raise DataError(
                f"{dataset_dir}: sample {sample.sample_id!r} has boxes in frame {sample.frame!r} but the model "
                f"uses {frame!r}; re-run `ivgr data prepare` for this model (or set frame: {sample.frame})"
            )
        boxes = [tuple(map(float, b)) for b in sample.target_boxes]
        if resize is not None and boxes and sample.frame == "pixel" and sample.image_size:
            boxes = _boxes_for_model_size(boxes, sample.image_size, resize)
        image = resolve_image(dataset_dir, sample)
        if not image.is_file():
            raise DataError(f"{dataset_dir}: sample {sample.sample_id!r}: image {image} not found")
        for stream in STREAMS_OF_KIND[sample.kind]:
            if stream not in streams:
                continue
            rows.append(
                {
                    "sample_id": sample.sample_id,
                    "stream": stream,
                    "prompt": chat_messages(stream_prompt(stream, sample.question, frame=frame, style=prompt_style), n_images=1),
                    "image": str(image),
                    "question": sample.question,
                    "answer": sample.answer,
                    "target_boxes": [list(b) for b in boxes],
                    "datasource": sample.datasource,
                }
            )
    if not rows:
        raise DataError(f"{dataset_dir}: no training rows for streams {list(streams)}")
    return rows


def _boxes_for_model_size(boxes: list, image_size, resize: ResizeRule) -> list:
    width, height = image_size
    new_width, new_height = resize(width, height)
    if (new_width, new_height) == (width, height):
        return boxes
    logger.debug("image %dx%d is fed as %dx%d: rescaling its boxes", width, height, new_width, new_height)
    return [scale_box(b, new_width / width, new_height / height) for b in boxes]


def processor_resize_rule(processor) -> ResizeRule | None:
    """The processor's own smart-resize as a (w, h) -> (w, h) rule, or None if it has no pixel budget."""
    from ivgr.geometry import smart_resize
    from ivgr.models.processor import pixel_limits, resize_factor

    if getattr(processor, "image_processor", None) is None:
        return None
    low, high = pixel_limits(processor)
    if not (low and high):
        return None
    factor = resize_factor(processor)

    def rule(width: int, height: int) -> tuple[int, int]:
        h, w = smart_resize(height, width, factor=factor, min_pixels=low, max_pixels=high)
        return w, h

    return rule


def build_rows(
    samples: Sequence,
    dataset_dir: str | Path,
    *,
    frame: str,
    streams: Sequence[str],
    resize: ResizeRule | None = None,
    prompt_style: str = "standard",
):
    """The training `datasets.Dataset` (images decoded lazily from their paths)."""
    import datasets

    rows = row_dicts(samples, dataset_dir, frame=frame, streams=streams, resize=resize, prompt_style=prompt_style)
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    # `prompt` is left to inference (its blocks are whatever chat_messages builds); images are
    # stored as paths and decoded on access, boxes typed explicitly so all-empty columns still work.
    dataset = datasets.Dataset.from_dict(columns)
    dataset = dataset.cast_column("image", datasets.Image())
    dataset = dataset.cast_column("target_boxes", datasets.List(datasets.List(datasets.Value("float64"))))
    counts = {s: sum(r["stream"] == s for r in rows) for s in ("grounded", "textual", "single")}
    logger.info("training rows: %s", counts)
    return dataset


__all__ = ["build_rows", "processor_resize_rule", "row_dicts"]
