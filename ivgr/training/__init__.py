"""Dual-stream GRPO training on TRL (and cold-start SFT).

    from ivgr.commands.train_cmd import make_synthetic_data
    from ivgr.training.config import load_config
    from ivgr.training.train import train      # the module `train` holds the function `train`
    cfg, resolved = load_config("recipes/tiny_cpu.yaml", ["max_steps=2", "output_dir=runs/t"])
    # `data_path: synthetic` is written into OUTPUT_DIR/synthetic-data by the command layer's helper
    result = train(cfg, resolved=resolved, prepare_data=make_synthetic_data)  # TrainResult(checkpoint, history, ...)

Attributes load lazily (PEP 562) so `import ivgr.training` does not import torch or trl.
"""

from __future__ import annotations

from ivgr._lazy import lazy_module_getattr

_EXPORTS = {
    "IvgrTrainConfig": "ivgr.training.config",
    "load_config": "ivgr.training.config",
    "config_from_dict": "ivgr.training.config",
    "PairedStreamSampler": "ivgr.training.sampler",
    "StreamIndex": "ivgr.training.sampler",
    "check_alignment": "ivgr.training.sampler",
    "build_rows": "ivgr.training.rows",
    "IvgrGRPOTrainer": "ivgr.training.trainer",
    "find_resumable_checkpoint": "ivgr.training.trainer",
    "TrainResult": "ivgr.training.train",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
