"""Inference: `InferenceEngine` with textual / grounded / tool modes (hf or vllm backend).

    from ivgr.inference import InferenceEngine, InferenceRequest
    engine = InferenceEngine("ckpt/")
    [res] = engine.run([InferenceRequest("img.jpg", "What is on the table?")], mode="grounded")

Attributes load lazily (PEP 562) so importing the package does not import torch.
"""

from __future__ import annotations

from ivgr._lazy import lazy_module_getattr

_EXPORTS = {
    "InferenceEngine": "ivgr.inference.engine",
    "load_image": "ivgr.inference.engine",
    "InferenceRequest": "ivgr.inference.types",
    "InferenceResult": "ivgr.inference.types",
    "ToolOptions": "ivgr.inference.types",
    "MODES": "ivgr.inference.types",
    "CROP_STYLES": "ivgr.inference.types",
    "draw_result": "ivgr.inference.vis",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
