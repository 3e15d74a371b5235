"""A Qwen-VL processor that works without torchvision.

In transformers 5.x, `AutoProcessor` / `Qwen2_5_VLProcessor` insist on a video processor, and
building one imports torchvision, which cannot be imported on CPU machines (docs/models.md).
ivgr only feeds images, so `ImageOnlyQwenVLProcessor` accepts `video_processor=None` and is
otherwise the stock Qwen2.5-VL processor: same `<|image_pad|>` expansion, same
`mm_token_type_ids`, same chat template handling. The image side is the PIL backend
(`Qwen2VLImageProcessorPil`), which needs no torchvision.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor, Qwen3VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

logger = logging.getLogger(__name__)

# What processor_config.json advertises: the stock class, so that `AutoProcessor` on a machine
# with torchvision (GPU boxes with vLLM) loads our checkpoints the ordinary way.
STOCK_PROCESSOR_CLASS = "Qwen2_5_VLProcessor"


class _NoVideoMixin:
    """Lets a Qwen-VL processor be built with `video_processor=None` (no torchvision needed)."""

    def check_argument_for_proper_class(self, argument_name, argument):
        """Accept a missing video processor; check everything else as the stock class does."""
        if argument_name == "video_processor" and argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs):
        """Save like a stock processor (trainers call this on checkpoints); see `save_processor_files`."""
        if getattr(self, "video_processor", None) is not None:
            return super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        if push_to_hub:
            from ivgr.errors import ModelError

            raise ModelError("ivgr never pushes to a hub; save locally and upload yourself")
        save_processor_files(self, Path(save_directory))
        return [str(Path(save_directory) / "processor_config.json")]

    def __call__(self, images=None, text=None, videos=None, **kwargs):
        """Refuse videos clearly instead of failing deep inside transformers."""
        if videos is not None and getattr(self, "video_processor", None) is None:
            from ivgr.errors import ModelError

            raise ModelError("this processor was built without a video processor (no torchvision); pass images only")
        return super().__call__(images=images, text=text, videos=videos, **kwargs)


class ImageOnlyQwenVLProcessor(_NoVideoMixin, Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` whose video processor may be `None`."""


class ImageOnlyQwen2VLProcessor(_NoVideoMixin, Qwen2VLProcessor):
    """`Qwen2VLProcessor` whose video processor may be `None`."""


class ImageOnlyQwen3VLProcessor(_NoVideoMixin, Qwen3VLProcessor):
    """`Qwen3VLProcessor` whose video processor may be `None` (Qwen3-VL: patch 16, norm1000 boxes)."""


# model_type -> image-only processor class. Unknown types use the Qwen2.5-VL one, which expands
# <|image_pad|> from `image_grid_thw` exactly like the other two.
_PROCESSOR_BY_MODEL_TYPE = {
    "qwen2_vl": ImageOnlyQwen2VLProcessor,
    "qwen2_5_vl": ImageOnlyQwenVLProcessor,
    "qwen3_vl": ImageOnlyQwen3VLProcessor,
    "qwen3_vl_moe": ImageOnlyQwen3VLProcessor,
}


def build_processor(tokenizer, *, image_processor=None, min_pixels: int | None = None,
                    max_pixels: int | None = None, chat_template: str | None = None,
                    model_type: str = "qwen2_5_vl"):
    """Assemble the image-only processor from a tokenizer and a (PIL) Qwen2-VL image processor."""
    if image_processor is None:
        kwargs = {}
        if min_pixels is not None:
            kwargs["min_pixels"] = min_pixels
        if max_pixels is not None:
            kwargs["max_pixels"] = max_pixels
        image_processor = Qwen2VLImageProcessorPil(**kwargs)
    else:
        set_pixel_limits(image_processor, min_pixels=min_pixels, max_pixels=max_pixels)
    template = chat_template or getattr(tokenizer, "chat_template", None)
    cls = _PROCESSOR_BY_MODEL_TYPE.get(model_type, ImageOnlyQwenVLProcessor)
    return cls(image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=template)


def set_pixel_limits(image_processor, *, min_pixels: int | None, max_pixels: int | None) -> None:
    """Override a Qwen-VL image processor's pixel budget in place (`size` holds it in transformers 5)."""
    if min_pixels is None and max_pixels is None:
        return
    size = dict(getattr(image_processor, "size", None) or {})
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
        if hasattr(image_processor, "min_pixels"):
            image_processor.min_pixels = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
        if hasattr(image_processor, "max_pixels"):
            image_processor.max_pixels = int(max_pixels)
    from transformers.image_utils import SizeDict

    image_processor.size = SizeDict(**size) if isinstance(image_processor.size, SizeDict) else size


def pixel_limits(processor) -> tuple[int | None, int | None]:
    """(min_pixels, max_pixels) the processor currently enforces (None where it sets none)."""
    ip = processor.image_processor
    size = getattr(ip, "size", None) or {}
    get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    lo = getattr(ip, "min_pixels", None) or get("shortest_edge")
    hi = getattr(ip, "max_pixels", None) or get("longest_edge")
    return (int(lo) if lo else None, int(hi) if hi else None)


def resize_factor(processor) -> int:
    """Side multiple of the vision tower: patch size × spatial merge (28 for Qwen2.5-VL, 32 for Qwen3-VL)."""
    ip = processor.image_processor
    return int(getattr(ip, "patch_size", 14) or 14) * int(getattr(ip, "merge_size", 2) or 2)


def save_processor_files(processor, out: Path) -> None:
    """Save tokenizer, image processor and chat template as a stock Qwen2.5-VL checkpoint would.

    `processor.save_pretrained` cannot serialise a `None` video processor and would record our
    subclass name, which stock `AutoProcessor` cannot resolve; so each part is saved on its own
    and processor_config.json names the stock class.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = processor.tokenizer
    if processor.chat_template and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = processor.chat_template
    tokenizer.save_pretrained(out)
    processor.image_processor.save_pretrained(out)  # preprocessor_config.json
    if isinstance(processor.chat_template, str):
        (out / "chat_template.jinja").write_text(processor.chat_template)
    cfg = {"processor_class": _stock_class_name(processor)}
    (out / "processor_config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def _stock_class_name(processor) -> str:
    """The transformers processor class ours extends (what stock AutoProcessor should build)."""
    for cls in type(processor).__mro__:
        if cls.__module__.startswith("transformers.models."):
            return cls.__name__
    return STOCK_PROCESSOR_CLASS


def processor_from_pretrained(path: Path, *, min_pixels: int | None = None, max_pixels: int | None = None,
                              trust_remote_code: bool = False, model_type: str = "qwen2_5_vl"):
    """Load tokenizer + PIL image processor from a checkpoint directory and build the image-only processor."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    pre_cfg = Path(path) / "preprocessor_config.json"
    if pre_cfg.exists():
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    else:
        image_processor = Qwen2VLImageProcessorPil()
    template = _read_chat_template(Path(path)) or getattr(tokenizer, "chat_template", None)
    if template and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    return build_processor(tokenizer, image_processor=image_processor, min_pixels=min_pixels,
                           max_pixels=max_pixels, chat_template=template, model_type=model_type)


def _read_chat_template(path: Path) -> str | None:
    """The checkpoint's chat template, from `chat_template.jinja` or the legacy `chat_template.json`."""
    jinja = path / "chat_template.jinja"
    if jinja.exists():
        return jinja.read_text()
    legacy = path / "chat_template.json"
    if legacy.exists():
        return json.loads(legacy.read_text()).get("chat_template")
    return None


__all__ = ["pixel_limits", "resize_factor", "ImageOnlyQwenVLProcessor", "ImageOnlyQwen2VLProcessor", "ImageOnlyQwen3VLProcessor", "build_processor", "processor_from_pretrained", "save_processor_files",
           "set_pixel_limits"]
