"""Build a tiny, random-weight Qwen2.5-VL checkpoint entirely offline.

Tests, the demo and CI have no model hub, yet the real code paths (loader, processor,
TRL trainers, inference) must run on a real architecture. `build_tiny_model` writes a normal
checkpoint directory with the *real* `Qwen2_5_VLForConditionalGeneration` class, shrunk, plus
a BPE tokenizer trained here with `tokenizers` on an in-repo corpus (docs/models.md).

Design choices that matter downstream:
- the Qwen special tokens are real special tokens (skipped by `decode(skip_special_tokens=True)`);
- `<think>`, `</think>`, `<answer>`, `</answer>`, `<box>`, `</box>` are single *added, non-special*
  tokens, so they survive a skip-special decode and the parser sees them;
- digits are split one per token, so `[12,340,56,78]` tokenizes the same way whatever the
  number, which is what lets a tiny model learn coordinates;
- the chat template mirrors Qwen2.5-VL's (default system prompt, one
  `<|vision_start|><|image_pad|><|vision_end|>` per image block, as Qwen2.5-VL's own template).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
FAMILIES = ("qwen2_5_vl", "qwen3_vl")
TAG_TOKENS = ("<think>", "</think>", "<answer>", "</answer>", "<box>", "</box>")
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# A Qwen2-VL-style chat template written for ivgr. String content is used as is; list content
# renders image blocks as the vision placeholder and text blocks verbatim. A conversation that
# does not start with a system turn gets the default system prompt, as Qwen2.5-VL's does.
CHAT_TEMPLATE = (
    # Every literal is emitted from an expression so whitespace control (`-`) cannot eat the
    # newlines that Qwen's format puts after each role name and each <|im_end|>.
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for block in message['content'] -%}"
    "{%- if block['type'] == 'image' or 'image' in block or 'image_url' in block -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif block['type'] == 'video' or 'video' in block -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in block -%}"
    "{{- block['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    """Size knobs of the tiny model. Defaults: ~1M parameters, a CPU forward in milliseconds.

    The demo tunes these; `hidden_size` must be divisible by `num_attention_heads`, and the
    per-head dimension by 2 for rotary embeddings (mRoPE splits it three ways).
    """

    hidden_size: int = 128  # LM width; also the vision merger's output width
    layers: int = 2  # LM decoder layers
    num_attention_heads: int = 4
    num_key_value_heads: int = 2  # GQA as in Qwen2.5-VL (7B uses 28 q / 4 kv heads)
    intermediate_size: int = 256
    vision_depth: int = 2  # ViT blocks
    vision_hidden_size: int = 64
    vision_num_heads: int = 4
    vision_intermediate_size: int = 128
    vocab_size: int = 1024  # BPE target; the real count may be lower on a small corpus
    max_position_embeddings: int = 4096
    # With head_dim 32, mRoPE gives the image's width axis the 6 lowest of 16 frequencies: at
    # theta 10000 they turn < 0.01 rad across a 4-token-wide image, so the LM cannot tell image
    # columns apart. The demo uses theta 10 (width frequencies 0.12-0.24 rad per token).
    rope_theta: float = 10000.0
    min_pixels: int = 56 * 56  # processor defaults; 112x112 -> 16 visual tokens after merge
    max_pixels: int = 224 * 224
    extra_corpus: tuple[str, ...] = field(default_factory=tuple)
    # `qwen2_5_vl` (14-px patches, boxes in resized-image pixels) or `qwen3_vl` (16-px patches,
    # boxes in 0-1000). Qwen3-VL's vision tower adds a learned absolute position embedding to
    # every patch, so a visual token's content says where it is; Qwen2.5-VL's tower has only
    # rotary (relative) positions, and a tiny LM cannot turn those into box coordinates.
    family: str = "qwen2_5_vl"

    def __post_init__(self) -> None:
        from ivgr.errors import ConfigError

        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if (self.hidden_size // self.num_attention_heads) % 4:
            raise ConfigError("hidden_size / num_attention_heads must be a multiple of 4 (mRoPE sections)")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.vision_hidden_size % self.vision_num_heads:
            raise ConfigError("vision_hidden_size must be divisible by vision_num_heads")
        if self.layers < 1 or self.vision_depth < 1:
            raise ConfigError("layers and vision_depth must be >= 1")
        if self.rope_theta <= 1:
            raise ConfigError(f"rope_theta must be > 1, got {self.rope_theta}")
        if self.family not in FAMILIES:
            raise ConfigError(f"family must be one of {FAMILIES}, got {self.family!r}")

    @property
    def patch_size(self) -> int:
        return 16 if self.family == "qwen3_vl" else 14


# Contract aliases (docs/CONTRACTS.md) `build_tiny_model` takes besides the TinyModelSpec fields:
# image_size=N keeps N x N images unresized; vocab_extra=[...] adds strings to the tokenizer corpus.
KNOB_ALIASES = {"image_size": int, "vocab_extra": list[str]}


def knob_types() -> dict:
    """{knob: type} of every keyword `build_tiny_model` takes (the keys of a recipe's tiny-model section)."""
    from ivgr.recipes import field_types

    return {**field_types(TinyModelSpec), **KNOB_ALIASES}


# ----------------------------------------------------------------------------- tokenizer corpus
_FILLER = (
    "The image shows a scene with several objects. Look closely at the region of interest. "
    "I first locate the object mentioned in the question, then I compare it with the others. "
    "The answer is the option that matches what I see. There is a small object near the top "
    "left corner, and a larger one at the bottom right. It is to the left of, to the right of, "
    "above, below, inside, next to the other one. Yes. No. Option A B C D. "
    "How many objects are there? Which one is bigger? Is it left or right? Count them. "
    "Let me think step by step. So the final answer is"
)
_WORDS = (
    "red green blue yellow orange purple pink brown black white gray grey cyan magenta "
    "circle square triangle star rectangle diamond hexagon cross ring dot shape colour color "
    "small large big tiny medium left right top bottom upper lower middle center centre "
    "first second third one two three four five six seven eight nine ten zero none both "
    "what which where how many is are the a an of in on at to with and or not it this that "
    "answer question image picture object objects box boxes think reasoning letter text"
)


def _prompt_corpus() -> list[str]:
    """Every stream prompt style and frame, so the tokenizer merges their words into few tokens."""
    from ivgr.prompts import PROMPT_STYLES, STREAMS, stream_prompt, tool_prompt

    q = "What colour is the small triangle?"
    texts = [stream_prompt(stream, q, frame=frame, style=style)
             for style in PROMPT_STYLES for stream in STREAMS for frame in ("pixel", "norm1000")]
    texts += [tool_prompt("Which object is red?", n_crops=2, has_union=True, style=style) for style in PROMPT_STYLES]
    return texts


def tokenizer_corpus(extra: tuple[str, ...] = ()) -> list[str]:
    """The in-repo strings the tiny tokenizer is trained on (deterministic order)."""
    lines = [_FILLER, _WORDS, " ".join(_WORDS.split()[::-1])]
    lines += [w.capitalize() + " " + w for w in _WORDS.split()]
    lines += _prompt_corpus()
    # Tagged CoT examples so tags and boxes sit in realistic contexts.
    lines += [
        "<think>The red circle <box>[12,34,56,78]</box> is left of the blue square "
        "<box>[90,10,120,40]</box>.</think><answer>A</answer>",
        "<think>I see a small green triangle in the upper left.</think><answer>green</answer>",
        DEFAULT_SYSTEM_PROMPT,
    ]
    lines += list(extra)
    return lines


def build_tokenizer(*, vocab_size: int = 1024, extra_corpus: tuple[str, ...] = ()):
    """Train a byte-level BPE tokenizer offline and wrap it as a transformers fast tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    # Digits first, one per pre-token: no merge can ever join two digits (coordinates).
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(tokenizer_corpus(extra_corpus), trainer)
    # Tags: added (matched before BPE, never split) but not special, so decode keeps them.
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|im_end|>", "<|endoftext|>")],
        padding_side="left",  # generation-friendly default; the SFT collator pads right itself
        model_max_length=32768,
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    return hf_tok


# ----------------------------------------------------------------------------- model
def _model_config(spec: TinyModelSpec, tokenizer):
    """A Qwen2_5_VLConfig or Qwen3VLConfig with the real architecture, shrunk to `spec`."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = spec.hidden_size // spec.num_attention_heads
    # mRoPE splits head_dim/2 rotary frequencies into (temporal, height, width) sections;
    # Qwen2.5-VL uses [16, 24, 24] for head_dim 128, i.e. 1/4, 3/8, 3/8. Keep the ratio.
    half = head_dim // 2
    t_sec = half // 4
    h_sec = (half - t_sec) // 2
    mrope_section = [t_sec, h_sec, half - t_sec - h_sec]
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "max_position_embeddings": spec.max_position_embeddings,
        "rope_parameters": {"rope_type": "default", "rope_theta": spec.rope_theta,
                            "mrope_section": mrope_section},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": spec.vision_intermediate_size,
        "num_heads": spec.vision_num_heads,
        "out_hidden_size": spec.hidden_size,
        "patch_size": spec.patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    tokens = {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
              "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
              "tie_word_embeddings": False}
    if spec.family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text_config["head_dim"] = head_dim
        text_config["rope_parameters"]["mrope_interleaved"] = True
        # One learned position per patch of the largest image (interpolated for smaller ones).
        side = max(2, int(spec.max_pixels ** 0.5) // spec.patch_size)
        vision_config |= {"num_position_embeddings": side * side,
                          "deepstack_visual_indexes": list(range(min(spec.vision_depth, spec.layers) - 1))}
        return Qwen3VLConfig(text_config=text_config, vision_config=vision_config, **tokens)
    from transformers import Qwen2_5_VLConfig

    text_config["max_window_layers"] = spec.layers
    vision_config |= {"window_size": 112,
                      # The last block attends globally, like every 8th block of the real 32-block ViT.
                      "fullatt_block_indexes": [spec.vision_depth - 1]}
    return Qwen2_5_VLConfig(text_config=text_config, vision_config=vision_config, **tokens)


def build_tiny_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    spec: TinyModelSpec | None = None,
    **knobs,
) -> Path:
    """Write a random-weight tiny Qwen2.5-VL checkpoint to `out_dir` and return its path.

    `knobs` override `TinyModelSpec` fields (`hidden_size=64, layers=2, vision_depth=1, ...`),
    plus `image_size=N` (processor max_pixels = N*N) and `vocab_extra=[str, ...]` (more
    tokenizer corpus). The same `seed` and knobs give byte-identical weights and tokenizer.
    """
    from ivgr.errors import ConfigError
    from ivgr.recipes import build, check_keys

    check_keys(knobs, knob_types(), where="the tiny-model knobs")  # before torch: a typo costs no import
    if "image_size" in knobs:
        side = int(knobs.pop("image_size"))
        knobs.setdefault("max_pixels", side * side)
    if "vocab_extra" in knobs:
        knobs["extra_corpus"] = tuple(knobs.get("extra_corpus", ())) + tuple(knobs.pop("vocab_extra"))
    if spec is None:
        spec = build(TinyModelSpec, knobs, where="the tiny-model knobs")
    elif knobs:
        raise ConfigError("build_tiny_model: pass either spec= or keyword knobs, not both")
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration

    from ivgr.models.processor import build_processor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(vocab_size=spec.vocab_size, extra_corpus=tuple(spec.extra_corpus))
    config = _model_config(spec, tokenizer)
    torch.manual_seed(seed)  # the only source of randomness in the weights
    model_class = Qwen3VLForConditionalGeneration if spec.family == "qwen3_vl" else Qwen2_5_VLForConditionalGeneration
    model = model_class(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=config.text_config.eos_token_id,  # <|im_end|>: one assistant turn
        pad_token_id=config.text_config.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    processor = build_processor(tokenizer, image_processor=_image_processor(spec), model_type=spec.family)
    save_processor(processor, out)
    (out / "ivgr_tiny.json").write_text(json.dumps({"seed": seed, **asdict(spec)}, indent=2, default=list))
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("built tiny Qwen2.5-VL (%d parameters, vocab %d) in %s", n_params, len(tokenizer), out)
    return out


def _image_processor(spec: TinyModelSpec):
    """The PIL image processor of the family: its patch size, the spec's pixel budget."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(patch_size=spec.patch_size, min_pixels=spec.min_pixels, max_pixels=spec.max_pixels)


def save_processor(processor, out: Path) -> None:
    """Save a processor so both ivgr's loader and stock `AutoProcessor` (with torchvision) read it."""
    from ivgr.models.processor import save_processor_files

    save_processor_files(processor, out)


__all__ = ["TinyModelSpec", "build_tiny_model", "build_tokenizer", "knob_types", "tokenizer_corpus", "CHAT_TEMPLATE"]
