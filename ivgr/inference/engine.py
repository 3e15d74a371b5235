"""`InferenceEngine`: textual, grounded and tool-assisted inference with the training prompts.

    engine = InferenceEngine("ckpt/", max_new_tokens=512)
    [res] = engine.run([InferenceRequest("cat.jpg", "What colour is the cat?")], mode="tool")
    res.answer, res.boxes            # boxes in the original image's pixels

Modes (docs/method.md#tool-assisted-inference, docs/evaluation.md#inference-modes):
- textual  : the textual-stream prompt (iVGR's default at inference);
- grounded : the grounded-stream prompt; boxes are mapped back to original pixels;
- tool     : a grounded pass, then crops of each predicted box and/or their union, fed with
             the original image as a multi-image input to a textual pass (`tool_prompt`);
             with no predicted box, the textual pass runs alone.

Prompt style, box frame and pixel budget default to what the checkpoint records
(`ivgr.models.inference_record`, docs/models.md); an explicit argument wins, with one warning
line where it differs from the record.

Images are decoded one batch at a time and resized by the model's own smart-resize rule, so
boxes in the `pixel` frame refer to exactly the image the model saw.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError, DataError
from ivgr.inference.crops import crop_regions, cut, to_original
from ivgr.inference.types import MODES, InferenceRequest, InferenceResult, ToolOptions

log = logging.getLogger(__name__)


def load_image(source: Any, fit: Any = None) -> Any:
    """PIL image (RGB) from a PIL image, a path or a loader callable.

    `fit` (see `ivgr.data.images.decode_image_bytes`) lets a JPEG decode at a reduced scale.
    """
    from PIL import Image

    from ivgr.data.images import file_loader

    if isinstance(source, Image.Image):
        img = source
    elif callable(source):
        img = source(fit=fit) if fit is not None else source()
    elif isinstance(source, (str, Path)):
        img = file_loader(Path(source), where=str(source))(fit=fit)
    else:
        raise DataError(f"unsupported image source {type(source).__name__}; pass a PIL image, a path or a callable")
    return img.convert("RGB") if img.mode != "RGB" else img


class InferenceEngine:
    """Batched inference for one local checkpoint; see the module docstring."""

    def __init__(self, model_path: str | Path, *, backend: str = "hf", min_pixels: int | None = None,
                 max_pixels: int | None = None, max_new_tokens: int = 1024, temperature: float = 0.0,
                 batch_size: int = 4, device: str | None = None, dtype: str = "auto",
                 tool: ToolOptions | None = None, frame: str | None = None, trust_remote_code: bool = False,
                 jpeg_draft: bool = False, prompt_style: str | None = None):
        from ivgr.models.inference_record import prompt_version_warning, read_inference_record, resolve_settings
        from ivgr.prompts import check_prompt_style

        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0:  # was read as greedy, silently
            raise ConfigError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 (or unset: the checkpoint's value), got {value}")
        if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
            raise ConfigError(f"min_pixels ({min_pixels}) must be <= max_pixels ({max_pixels})")
        self.model_path = str(model_path)
        # Settings left unset come from the checkpoint's record (ivgr_inference.json), so a model
        # is prompted as it was trained; a stock checkpoint has none and keeps the defaults.
        self.record = read_inference_record(model_path)
        if prompt_style is not None:
            check_prompt_style(prompt_style)
        settings, mismatch = resolve_settings(self.record, {"prompt_style": prompt_style, "frame": frame,
                                                            "min_pixels": min_pixels, "max_pixels": max_pixels})
        for warning in (mismatch, prompt_version_warning(self.record)):
            if warning:
                log.warning("%s: %s", self.model_path, warning)
        self.prompt_style = settings["prompt_style"] or "standard"  # the style the model was trained with
        min_pixels, max_pixels, frame = settings["min_pixels"], settings["max_pixels"], settings["frame"]
        self.max_new_tokens = max_new_tokens
        # Deviation: greedy decoding (temperature 0) instead of the authors' near-greedy
        # validation sampling (temperature 0.01, top_p 0.01; docs/method.md#hyper-parameters),
        # so results are reproducible bit for bit; option --temperature
        self.temperature = float(temperature)
        self.batch_size = batch_size
        self.tool = tool or ToolOptions()
        # Decode JPEGs at 1/2-1/8 scale when the model needs far fewer pixels (textual and
        # grounded modes only: tool mode crops the full-resolution original). Same model
        # input size; the resampling path differs slightly, hence opt-in.
        self.jpeg_draft = jpeg_draft
        if backend == "hf":
            from ivgr.inference.backends import HFBackend

            self.backend: Any = HFBackend(self.model_path, min_pixels=min_pixels, max_pixels=max_pixels,
                                          device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        elif backend == "vllm":
            from ivgr.inference.backends import VLLMBackend

            max_images = 1 + self.tool.max_crops + 1
            self.backend = VLLMBackend(self.model_path, min_pixels=min_pixels, max_pixels=max_pixels,
                                       max_images=max_images, trust_remote_code=trust_remote_code)
        else:
            raise ConfigError(f"unknown backend {backend!r}; use 'hf' or 'vllm'")
        self.backend_name = backend
        from ivgr.models import model_frame

        self.frame = frame or model_frame(self.backend.config)
        self.min_pixels, self.max_pixels = self.backend.min_pixels, self.backend.max_pixels

    # -- images ---------------------------------------------------------------------------
    def target_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(w, h) the model sees for an image of `size`: smart-resize with its factor and budget."""
        from ivgr.geometry import smart_resize

        kwargs = {k: v for k, v in (("min_pixels", self.min_pixels), ("max_pixels", self.max_pixels)) if v}
        h, w = smart_resize(size[1], size[0], factor=self.backend.factor, **kwargs)
        return w, h

    def draft_fit(self, mode: str) -> Any:
        """The `fit` callback for reduced-scale JPEG decoding, or None when it must not be used."""
        return self.target_size if self.jpeg_draft and mode != "tool" else None

    def resize(self, img: Any) -> Any:
        """Resize to the target of the image's ORIGINAL size (a draft-decoded image is smaller)."""
        from PIL import Image

        from ivgr.data.images import ORIGINAL_SIZE

        w, h = self.target_size(img.info.get(ORIGINAL_SIZE, img.size))
        return img if (w, h) == img.size else img.resize((w, h), Image.BICUBIC)

    # -- public API -----------------------------------------------------------------------
    def run(self, items: list[InferenceRequest], *, mode: str = "textual") -> list[InferenceResult]:
        """Answer every request; results are in input order.

        Images are decoded batch by batch, so requests that carry loaders (callables) hold
        at most one batch of decoded images at a time.
        """
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        results: list[InferenceResult] = []
        for start in range(0, len(items), self.batch_size):
            results.extend(self._run_batch(items[start:start + self.batch_size], mode))
        return results

    # -- internals ------------------------------------------------------------------------
    def _generate(self, batch: list[tuple[str, list[Any]]]) -> list[str]:
        return self.backend.generate(batch, max_new_tokens=self.max_new_tokens, temperature=self.temperature)

    def _stream_prompt(self, stream: str, question: str) -> str:
        from ivgr.prompts import stream_prompt

        return stream_prompt(stream, question, frame=self.frame, style=self.prompt_style)

    def _run_batch(self, reqs: list[InferenceRequest], mode: str) -> list[InferenceResult]:
        from ivgr.data.images import ORIGINAL_SIZE
        from ivgr.parsing import extract_answer, extract_boxes, extract_think
        from ivgr.prompts import tool_prompt

        fit = self.draft_fit(mode)
        originals = [load_image(r.image, fit) for r in reqs]
        sizes = [img.info.get(ORIGINAL_SIZE, img.size) for img in originals]
        resized = [self.resize(img) for img in originals]
        first_stream = "textual" if mode == "textual" else "grounded"
        first = self._generate([(self._stream_prompt(first_stream, r.question), [img]) for r, img in zip(reqs, resized)])
        results = []
        for r, size, small, text in zip(reqs, sizes, resized, first):
            res = InferenceResult(mode=mode, completion=text, reasoning=extract_think(text),
                                  answer=extract_answer(text), image_size=size, model_size=small.size,
                                  request_id=r.request_id)
            if mode != "textual":
                boxes = [to_original(b, frame=self.frame, model_size=small.size, image_size=size)
                         for b in extract_boxes(text)]
                res.boxes = [b for b in boxes if b is not None]
            results.append(res)
        if mode != "tool":
            return results

        second: list[tuple[str, list[Any]]] = []
        for r, orig, small, res in zip(reqs, originals, resized, results):
            res.grounded_completion = res.completion
            res.crops, res.union = crop_regions(res.boxes, image_size=orig.size, opts=self.tool)
            regions = res.crops + ([res.union] if res.union else [])
            if not regions:
                # Deviation: the paper does not say what happens without boxes (docs/method.md#tool-assisted-inference);
                # we answer like the textual mode and count it (tool_fallback); option --mode textual
                res.tool_fallback = True
                second.append((self._stream_prompt("textual", r.question), [small]))
                continue
            crops = [self.resize(cut(orig, reg, min_side=self.tool.min_side)) for reg in regions]
            text = tool_prompt(r.question, n_crops=len(res.crops), has_union=res.union is not None,
                               style=self.prompt_style)
            second.append((text, [small, *crops]))
        for res, text in zip(results, self._generate(second)):
            res.completion, res.reasoning, res.answer = text, extract_think(text), extract_answer(text)
        return results
