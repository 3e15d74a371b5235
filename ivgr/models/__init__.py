"""Models: load local checkpoints (Qwen2/2.5/3-VL, any image-text model) and build tiny ones.

    from ivgr.models import build_tiny_model, load_model_and_processor, model_frame
    path = build_tiny_model("tiny-vlm", seed=0)          # offline, seconds
    model, processor = load_model_and_processor(path)     # no torchvision needed

Attributes load lazily so `import ivgr.models` does not import torch or transformers.
"""

from __future__ import annotations

from ivgr._lazy import lazy_module_getattr

_EXPORTS = {
    "build_tiny_model": "ivgr.models.tiny",
    "TinyModelSpec": "ivgr.models.tiny",
    "load_model_and_processor": "ivgr.models.loader",
    "load_processor": "ivgr.models.loader",
    "model_frame": "ivgr.models.loader",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
