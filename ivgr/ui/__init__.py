"""`ivgr ui`: the local web inspector (Gradio; `pip install 'ivgr[ui]'`).

    ivgr ui --model CKPT [--run RUN_DIR]

- `ivgr.ui.upload`: size and pixel caps on uploads, checked before decoding (pure PIL);
- `ivgr.ui.inspector`: the Ask tab's logic around one loaded `InferenceEngine` (no gradio);
- `ivgr.ui.run`: readers of a training run's archive, completions and logged rewards (no torch);
- `ivgr.ui.app`: the Gradio page and its `/infer` API.

Attributes load lazily (PEP 562): importing the package imports neither gradio nor torch.
"""

from __future__ import annotations

from ivgr._lazy import lazy_module_getattr

_EXPORTS = {
    "Inspector": "ivgr.ui.inspector",
    "build_app": "ivgr.ui.app",
    "launch": "ivgr.ui.app",
    "open_run": "ivgr.ui.run",
    "UploadLimits": "ivgr.ui.upload",
    "open_upload": "ivgr.ui.upload",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
