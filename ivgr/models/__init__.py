"""Models: load local checkpoints (Qwen2/2.5/3-VL, any image-text model) and build tiny ones.

    from ivgr.models import build_tiny_model, load_model_and_processor, model_frame
    path = build_tiny_model("tiny-vlm", seed=0)          # offline, seconds
    model, processor = load_model_and_processor(path)     # no torchvision needed

Attributes load lazily so `import ivgr.models` does not import torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_tiny_model": "ivgr.models.tiny",
    "TinyModelSpec": "ivgr.models.tiny",
    "load_model_and_processor": "ivgr.models.loader",
    "load_processor": "ivgr.models.loader",
    "model_frame": "ivgr.models.loader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the owning submodule on first access (PEP 562)."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ivgr.models' has no attribute {name!r}")
