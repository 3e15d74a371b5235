"""Load a local multimodal checkpoint and its processor, with or without torchvision.

`load_model_and_processor` is the one place ivgr turns a checkpoint path into a model: the
trainer, SFT, inference and evaluation all call it. It reads only local paths (no hub), keeps
`trust_remote_code` off unless asked, and falls back to ivgr's image-only processor when stock
`AutoProcessor` cannot build the video processor (torchvision missing; docs/models.md).

Top-level imports are stdlib only so `model_frame` is cheap; torch/transformers load on use.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ivgr.errors import ModelError

logger = logging.getLogger(__name__)

# model_type -> box frame the model was trained to emit (docs/method.md#box-frame):
# Qwen2/2.5-VL ground in absolute pixels of the resized input; Qwen3-VL in 0-1000.
_PIXEL_TYPES = ("qwen2_vl", "qwen2_5_vl")
_NORM1000_PREFIX = "qwen3_vl"
_DTYPES = ("auto", "float32", "bfloat16", "float16")


def _model_type(path_or_config: Any) -> str:
    """The `model_type` of a checkpoint path, a config dict or a transformers config object."""
    if isinstance(path_or_config, (str, Path)):
        cfg_path = Path(path_or_config)
        if cfg_path.is_dir():
            cfg_path = cfg_path / "config.json"
        if not cfg_path.is_file():
            raise ModelError(f"{cfg_path}: no config.json; pass a checkpoint directory")
        try:
            data = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ModelError(f"{cfg_path}: unreadable config ({err})") from None
        return str(data.get("model_type", ""))
    if isinstance(path_or_config, dict):
        return str(path_or_config.get("model_type", ""))
    return str(getattr(path_or_config, "model_type", "") or "")


def model_frame(path_or_config: Any) -> str:
    """The coordinate frame a model writes boxes in: "pixel" or "norm1000".

    >>> model_frame({"model_type": "qwen2_5_vl"})
    'pixel'
    >>> model_frame({"model_type": "qwen3_vl_moe"})
    'norm1000'
    """
    model_type = _model_type(path_or_config)
    if model_type.startswith(_NORM1000_PREFIX):
        return "norm1000"
    if model_type not in _PIXEL_TYPES:
        logger.warning("unknown model_type %r: assuming boxes in the 'pixel' frame; set the frame explicitly "
                       "if this model uses 0-1000 coordinates", model_type)
    return "pixel"


def _check_checkpoint(path: str | Path) -> Path:
    """Resolve `path` and make sure it looks like a checkpoint directory, with a fix in the message."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"model path {p} does not exist; pass a local checkpoint directory "
                         "(ivgr never downloads from a hub)")
    if not p.is_dir():
        raise ModelError(f"model path {p} is a file; pass the checkpoint directory that holds config.json")
    if not (p / "config.json").is_file():
        raise ModelError(f"{p} is not a checkpoint: config.json is missing (did the save finish?)")
    has_weights = any(p.glob("*.safetensors")) or any(p.glob("*.bin")) or any(p.glob("*.safetensors.index.json"))
    if not has_weights:
        raise ModelError(f"{p} has config.json but no weights (*.safetensors / *.bin)")
    return p


def _resolve_dtype(dtype: Any):
    """Map "auto" / "bfloat16" / a torch.dtype to what `from_pretrained(dtype=...)` expects."""
    import torch

    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype not in _DTYPES:
        raise ModelError(f"dtype must be one of {', '.join(_DTYPES)} or a torch.dtype, got {dtype!r}")
    return getattr(torch, dtype)


def _missing_backend(err: Exception) -> bool:
    """True when AutoProcessor failed only because an optional backend (torchvision) is absent.

    transformers says so in two ways: `requires_backends` raises ImportError ("Qwen2VLVideoProcessor
    requires the Torchvision library"), and the fast image-processor lookup raises ValueError
    ("... requires `torchvision` to be installed").
    """
    return isinstance(err, ImportError) or (isinstance(err, ValueError) and "torchvision" in str(err).lower())


def _stock_processor(path: Path, *, trust_remote_code: bool):
    """AutoProcessor's processor; None when it needs torchvision or is not a VLM processor.

    Any other failure (an unknown image processor type, a broken config) is a ModelError: a
    silent fallback would preprocess images differently from the checkpoint's own processor.
    """
    from transformers import AutoProcessor

    if not (path / "preprocessor_config.json").is_file():  # AutoProcessor needs it; ours uses defaults
        logger.info("%s has no preprocessor_config.json; building the image-only processor", path)
        return None
    try:
        processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (ImportError, ValueError, OSError, TypeError, KeyError) as err:
        if not _missing_backend(err):
            first_line = next(iter(str(err).strip().splitlines()), "")
            raise ModelError(f"{path}: AutoProcessor cannot load this checkpoint's processor "
                             f"({type(err).__name__}: {first_line})") from None
        logger.info("AutoProcessor needs torchvision for %s; building the image-only processor", path)
        return None
    if not hasattr(processor, "image_processor"):  # a bare tokenizer: not a VLM processor
        logger.info("AutoProcessor returned %s for %s; building the image-only processor", type(processor).__name__, path)
        return None
    return processor


def load_processor(path: str | Path, *, min_pixels: int | None = None, max_pixels: int | None = None,
                   trust_remote_code: bool = False):
    """Stock `AutoProcessor` when it can be built, else ivgr's image-only Qwen-VL processor."""
    from ivgr.models.processor import processor_from_pretrained, set_pixel_limits

    p = _check_checkpoint(path) if not Path(path).is_dir() else Path(path)
    model_type = _model_type(p) if (p / "config.json").is_file() else "qwen2_5_vl"
    # Deviation: the authors load AutoProcessor only (Visual-AI/iVGR verl/utils/tokenizer.py), which needs
    # torchvision in transformers 5; we fall back to an image-only Qwen-VL processor built from the
    # PIL image processor when it cannot be built; option: automatic (no switch needed).
    processor = _stock_processor(p, trust_remote_code=trust_remote_code)
    if processor is not None:
        set_pixel_limits(processor.image_processor, min_pixels=min_pixels, max_pixels=max_pixels)
    else:
        try:
            processor = processor_from_pretrained(p, min_pixels=min_pixels, max_pixels=max_pixels,
                                                  trust_remote_code=trust_remote_code, model_type=model_type)
        except (OSError, ValueError, TypeError) as err:
            raise ModelError(f"{p}: cannot build a processor ({type(err).__name__}: {err}); the directory "
                             "needs tokenizer files and preprocessor_config.json") from None
    tokenizer = processor.tokenizer
    if tokenizer.pad_token is None:  # as in Visual-AI/iVGR verl/utils/tokenizer.py: pad falls back to eos
        tokenizer.pad_token = tokenizer.eos_token
    return processor


def load_model_and_processor(path: str | Path, *, dtype: Any = "auto", device: Any = None,
                             min_pixels: int | None = None, max_pixels: int | None = None,
                             trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load `(model, processor)` from a local checkpoint directory.

    Works for Qwen2-VL, Qwen2.5-VL, Qwen3-VL and any `AutoModelForImageTextToText` checkpoint.
    `min_pixels`/`max_pixels` override the processor's image budget (the training recipe's
    values, so prompts match what the model saw). The model is returned in eval mode.
    """
    p = _check_checkpoint(path)
    torch_dtype = _resolve_dtype(dtype)
    from safetensors import SafetensorError
    from transformers import AutoModelForImageTextToText

    try:
        model = AutoModelForImageTextToText.from_pretrained(p, dtype=torch_dtype,
                                                            trust_remote_code=trust_remote_code)
    except SafetensorError as err:  # a truncated or corrupt weights file: every command gets one line
        raise ModelError(f"{p}: the weights cannot be read ({err}); is the checkpoint copy complete?") from None
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{p}: cannot load the model ({type(err).__name__}: {err}); is it an image-text "
                         "checkpoint? Custom architectures need trust_remote_code=True") from None
    if device is not None:
        model = model.to(device)
    model.eval()
    processor = load_processor(p, min_pixels=min_pixels, max_pixels=max_pixels,
                               trust_remote_code=trust_remote_code)
    logger.info("loaded %s (%s) from %s with %s", type(model).__name__, model_frame(model.config), p,
                type(processor).__name__)
    return model, processor


__all__ = ["load_model_and_processor", "load_processor", "model_frame"]
