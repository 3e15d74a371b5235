"""Model shapes for the capacity planner: shipped configs, local checkpoints, exact parameter counts.

ivgr ships the `config.json` of each supported model (facts, no weights) in `ivgr/plan/configs/`,
so `ivgr plan --model qwen2.5-vl-7b` works offline. A local checkpoint directory works too.

`count_parameters` counts what `model.parameters()` of the transformers model would hold (tied
embeddings once), from closed-form per-module formulas for Qwen2.5-VL and Qwen3-VL; for any other
`model_type` it builds the model on the meta device (no memory, needs transformers). The test
suite checks the formulas against the meta-device build for every shipped config.

Only the stdlib is imported at module level: `ivgr --help` imports this through the command.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError, ModelError

CONFIG_DIR = Path(__file__).with_name("configs")


def shipped_models() -> list[str]:
    """Names of the configs ivgr ships, e.g. `qwen2.5-vl-7b`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def _normalize(name: str) -> str:
    """'Qwen/Qwen2.5-VL-7B-Instruct' -> 'qwen2.5-vl-7b' (hub-style names map to the shipped file)."""
    name = name.strip().lower().rsplit("/", 1)[-1]
    name = name.replace("_", "-")
    name = re.sub(r"-(instruct|thinking)$", "", name)
    return re.sub(r"^qwen2-5", "qwen2.5", name)


def load_model_config(name_or_dir: str) -> tuple[dict[str, Any], str]:
    """(config dict, where it came from) for a local checkpoint dir / config.json or a shipped name."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir() or path.suffix == ".json":
        cfg_path = path / "config.json" if path.is_dir() else path
        if not cfg_path.is_file():
            raise ModelError(f"{cfg_path}: no config.json; pass a checkpoint directory or one of "
                             f"{', '.join(shipped_models())}")
        try:
            return json.loads(cfg_path.read_text(encoding="utf-8")), str(cfg_path)
        except (OSError, json.JSONDecodeError) as err:
            raise ModelError(f"{cfg_path}: unreadable config ({err})") from None
    key = _normalize(name_or_dir)
    shipped = CONFIG_DIR / f"{key}.json"
    if not shipped.is_file():
        known = shipped_models()
        close = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model {name_or_dir!r} (not a directory, not a shipped config).{hint} "
                          f"Known: {', '.join(known)}")
    return json.loads(shipped.read_text(encoding="utf-8")), f"shipped config {key}"


@dataclass(frozen=True)
class ModelShape:
    """The sizes the planner needs, read once from a config.json (flat legacy or nested layout)."""

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    patch_size: int
    temporal_patch_size: int
    spatial_merge_size: int
    in_channels: int
    out_hidden: int
    num_position_embeddings: int = 0  # Qwen3-VL learned ViT position table
    deepstack_layers: int = 0  # Qwen3-VL: one extra patch merger per deepstack index
    attention_bias: bool = False  # Qwen3-VL text attention; Qwen2.5 has q/k/v bias, no o bias

    @property
    def family(self) -> str:
        return "qwen3_vl" if self.model_type.startswith("qwen3_vl") else "qwen2_5_vl"

    @property
    def vision_patch_pixels(self) -> int:
        """Pixels per ViT patch (14² for Qwen2.5-VL, 16² for Qwen3-VL)."""
        return self.patch_size * self.patch_size

    @property
    def llm_token_pixels(self) -> int:
        """Pixels per LLM image token after the 2×2 merge (28² / 32²)."""
        return (self.patch_size * self.spatial_merge_size) ** 2


SUPPORTED_TYPES = ("qwen2_5_vl", "qwen3_vl")  # others: counted on the meta device


def model_shape(config: dict[str, Any]) -> ModelShape:
    """Read a ModelShape; ModelError naming the missing key if the config is not a Qwen-VL one."""
    model_type = str(config.get("model_type", ""))
    if model_type not in SUPPORTED_TYPES:
        raise ModelError(f"model_type {model_type!r}: the planner's formulas cover {', '.join(SUPPORTED_TYPES)}")
    text = dict(config.get("text_config") or {})
    # Legacy (transformers 4.x) Qwen2.5-VL configs keep the text fields at the top level.
    merged = {**config, **text}
    vision = config.get("vision_config") or {}
    try:
        heads = int(merged["num_attention_heads"])
        hidden = int(merged["hidden_size"])
        deepstack = vision.get("deepstack_visual_indexes") or []
        return ModelShape(
            model_type=model_type,
            vocab_size=int(merged["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(merged["intermediate_size"]),
            num_layers=int(merged["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(merged.get("num_key_value_heads") or heads),
            head_dim=int(merged.get("head_dim") or hidden // heads),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
            vision_depth=int(vision["depth"]),
            vision_hidden=int(vision.get("hidden_size") or vision.get("embed_dim")),
            vision_intermediate=int(vision["intermediate_size"]),
            patch_size=int(vision.get("patch_size", 14)),
            temporal_patch_size=int(vision.get("temporal_patch_size", 2)),
            spatial_merge_size=int(vision.get("spatial_merge_size", 2)),
            in_channels=int(vision.get("in_channels", vision.get("in_chans", 3))),
            out_hidden=int(vision.get("out_hidden_size") or hidden),
            num_position_embeddings=int(vision.get("num_position_embeddings", 0)),
            deepstack_layers=len(deepstack),
            attention_bias=bool(merged.get("attention_bias", False)),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"config of model_type {model_type!r} lacks or garbles {err}; is it a full config.json?") from None


# ----------------------------------------------------------------------------- parameter counts
def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def vision_parameters(s: ModelShape) -> int:
    """ViT + patch merger(s), as transformers' Qwen2.5-VL / Qwen3-VL vision towers hold them."""
    hv, iv, m2 = s.vision_hidden, s.vision_intermediate, s.spatial_merge_size ** 2
    conv = s.in_channels * s.temporal_patch_size * s.patch_size * s.patch_size * hv
    attn = _linear(hv, 3 * hv) + _linear(hv, hv)  # fused qkv and the output projection, both with bias
    if s.family == "qwen3_vl":
        # Conv3d with bias, a learned position table, LayerNorm (weight+bias), a plain GELU MLP.
        block = 2 * (2 * hv) + attn + _linear(hv, iv) + _linear(iv, hv)
        merger = 2 * hv + _linear(hv * m2, hv * m2) + _linear(hv * m2, s.out_hidden)
        deepstack = 2 * hv * m2 + _linear(hv * m2, hv * m2) + _linear(hv * m2, s.out_hidden)  # post-shuffle norm
        return conv + hv + s.num_position_embeddings * hv + s.vision_depth * block + merger + s.deepstack_layers * deepstack
    # Qwen2.5-VL: bias-free Conv3d, RMSNorm (weight only), a gated SiLU MLP with biases.
    block = 2 * hv + attn + 2 * _linear(hv, iv) + _linear(iv, hv)
    merger = hv + _linear(hv * m2, hv * m2) + _linear(hv * m2, s.out_hidden)
    return conv + s.vision_depth * block + merger


def text_parameters(s: ModelShape) -> int:
    """Decoder stack + embeddings + LM head (counted once when tied)."""
    h, hd = s.hidden_size, s.head_dim
    q, kv = s.num_heads * hd, s.num_kv_heads * hd
    if s.family == "qwen3_vl":
        bias = s.attention_bias
        attn = _linear(h, q, bias) + 2 * _linear(h, kv, bias) + _linear(q, h, bias) + 2 * hd  # + q/k RMSNorm
    else:
        attn = _linear(h, q) + 2 * _linear(h, kv) + _linear(q, h, bias=False)
    layer = attn + 3 * h * s.intermediate_size + 2 * h  # gated MLP without bias, two RMSNorms
    embed = s.vocab_size * h
    head = 0 if s.tie_word_embeddings else s.vocab_size * h
    return embed + s.num_layers * layer + h + head


def count_parameters(config: dict[str, Any]) -> int:
    """Parameters of the model `config` describes, as `sum(p.numel() for p in model.parameters())`."""
    if str(config.get("model_type", "")) in SUPPORTED_TYPES:
        s = model_shape(config)
        return vision_parameters(s) + text_parameters(s)
    return meta_parameter_count(config)


def meta_parameter_count(config: dict[str, Any]) -> int:
    """Build the model on the meta device (no memory) and count; needs torch and transformers."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText
    except ImportError as err:  # pragma: no cover - the package depends on both
        raise ModelError(f"counting an unknown architecture needs torch and transformers ({err})") from None
    model_type = config.get("model_type")
    try:
        cfg = AutoConfig.for_model(**config)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(cfg)
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"cannot build model_type {model_type!r} from its config ({err})") from None
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ModelShape",
    "count_parameters",
    "load_model_config",
    "meta_parameter_count",
    "model_shape",
    "shipped_models",
]
