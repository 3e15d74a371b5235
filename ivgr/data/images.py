"""Image decoding for every part of ivgr: data preparation, inference and evaluation.

Two ways in, one module (inference and evaluation both load images, so neither imports the other):
- `decode_image`: decode fully, check the size first, convert without losing contrast; data
  preparation and validation use it and report what they find;
- loaders (`file_loader`, `bytes_loader`, `b64_loader`): callables that decode only when called,
  optionally at a reduced JPEG scale (`decode_image_bytes`); the inference engine and the
  benchmark readers hand them around so only one batch of images is decoded at a time.

`decode_image` brings an image fully to 8-bit RGB without losing its contrast.

Pillow's `convert("RGB")` clips the values of high-bit-depth and float modes at 255: a 16-bit
PNG holding 0..65535 comes out almost all white, and a float image in 0..1 almost all black.
`to_rgb` scales those modes into 0..255 instead (`scaled_range` says how); every other mode
goes through Pillow's own converter, as the authors' `convert("RGB")` did (github
Visual-AI/iVGR, verl/utils/dataset.py `process_image`), so RGBA/LA drop their alpha and CMYK
is converted naively.

| mode                          | to 8-bit RGB                                                  |
|-------------------------------|---------------------------------------------------------------|
| RGB                           | unchanged (not counted as a conversion)                       |
| I;16, I;16L, I;16B, I;16N     | v * 255 / 65535, rounded                                      |
| I, F                          | (v - lo) * 255 / (hi - lo), rounded; [lo, hi] from scaled_range |
| P with transparency           | via RGBA (no Pillow warning; same pixels as P -> RGB)          |
| LAB                           | CIE L*a*b* -> sRGB with littlecms (Pillow's convert gives wrong colours) |
| La (premultiplied)            | via LA (Pillow has no La -> RGB)                              |
| anything else (1, L, P, LA, RGBA, CMYK, YCbCr, HSV, ...) | Pillow's `convert("RGB")`          |

Only PIL and numpy; imported lazily by callers that need them (no torch/transformers/trl).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import DataError

UINT16_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
SCALED_MODES = (*UINT16_MODES, "I", "F")
# Nominal ranges tried in order for I and F images: the first that holds every value is used.
_NOMINAL_RANGES: dict[str, tuple[tuple[float, float], ...]] = {
    "F": ((0.0, 1.0), (0.0, 255.0), (0.0, 65535.0)),
    "I": ((0.0, 255.0), (0.0, 65535.0)),
}
_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can fully decode and convert to RGB (message is short)."""


class ImageTooLarge(ValueError):
    """The image has more pixels than the decompression-bomb limit."""


@dataclass(frozen=True)
class Decoded:
    """A fully decoded input image: 8-bit RGB pixels, its source format and how it was converted."""

    rgb: Any  # PIL.Image.Image in mode RGB
    fmt: str | None  # Pillow's format name of the source bytes (JPEG, PNG, ...)
    conversion: str | None  # source mode key when converted (see `conversion_key`), None for RGB

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.rgb.width), int(self.rgb.height))


def conversion_key(img: Any) -> str | None:
    """How an image's mode is named in the conversion counts; None when it is already RGB.

    >>> from PIL import Image
    >>> conversion_key(Image.new("I;16", (2, 2))), conversion_key(Image.new("RGB", (2, 2)))
    ('I;16', None)
    """
    if img.mode == "RGB":
        return None
    if img.mode == "P" and "transparency" in img.info:
        return "P+transparency"
    return str(img.mode)


def scaled_range(mode: str, values: Any) -> tuple[float, float]:
    """The value range of a high-bit-depth or float image that maps onto 0..255.

    I;16*: 0..65535 (the storage range). I and F have no fixed range: the first nominal range
    holding every finite value (F: 0..1, 0..255, 0..65535; I: 0..255, 0..65535), else the
    image's own min..max, so nothing is clipped.

    >>> import numpy as np
    >>> scaled_range("F", np.array([0.0, 0.5])), scaled_range("I", np.array([0, 4000]))
    ((0.0, 1.0), (0.0, 65535.0))
    >>> scaled_range("I", np.array([-5, 70000]))
    (-5.0, 70000.0)
    """
    import numpy as np

    if mode in UINT16_MODES:
        return (0.0, 65535.0)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    for nominal in _NOMINAL_RANGES.get(mode, ()):
        if nominal[0] <= lo and hi <= nominal[1]:
            return nominal
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _scaled_to_l(img: Any) -> Any:
    """A one-band high-bit-depth/float image -> mode L, scaled (not clipped) into 0..255."""
    import numpy as np
    from PIL import Image

    values = np.asarray(img, dtype=np.float64)
    lo, hi = scaled_range(img.mode, values)
    scaled = np.nan_to_num((values - lo) * (255.0 / (hi - lo)), nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


@functools.lru_cache(maxsize=1)
def _lab_to_srgb() -> Any:
    from PIL import ImageCms

    # NOCACHE: littlecms' one-pixel cache is per transform, and worker threads share this one
    return ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB", flags=ImageCms.Flags.NOCACHE
    )


def to_rgb(img: Any) -> tuple[Any, str | None]:
    """(8-bit RGB image, conversion key or None); see the module docstring for each mode.

    Raises ImageDecodeError for a mode Pillow cannot bring to RGB.

    >>> from PIL import Image
    >>> rgb, how = to_rgb(Image.new("I;16", (1, 1), 65535))
    >>> rgb.getpixel((0, 0)), how
    ((255, 255, 255), 'I;16')
    """
    key = conversion_key(img)
    if key is None:
        return img, None
    if img.mode in SCALED_MODES:
        # Deviation: 16-bit and float images are scaled into 0..255; the authors' convert("RGB")
        # clipped them at 255 (a 16-bit PNG came out white); option none.
        return _scaled_to_l(img).convert("RGB"), key
    try:
        if key == "P+transparency":
            # Going through RGBA keeps P -> RGB's pixels and avoids Pillow's transparency warning.
            return img.convert("RGBA").convert("RGB"), key
        if img.mode == "LAB":
            from PIL import ImageCms

            return ImageCms.applyTransform(img, _lab_to_srgb()), key
        if img.mode == "La":
            return img.convert("LA").convert("RGB"), key
        return img.convert("RGB"), key
    except (ValueError, OSError) as err:  # a mode without a converter; a littlecms failure
        raise ImageDecodeError(f"cannot convert image mode {img.mode} to RGB ({err})") from err


def decode_image(data: bytes, *, max_image_pixels: int) -> Decoded:
    """Fully decode encoded image bytes and convert them to 8-bit RGB.

    Raises ImageTooLarge above `max_image_pixels` (checked from the header, before decoding)
    and ImageDecodeError for anything Pillow cannot open, decode to the last pixel (a
    truncated file) or convert. Messages are short and name no memory addresses.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = int(img.width), int(img.height)
            if width * height > max_image_pixels:
                raise ImageTooLarge(f"{width}x{height} > {max_image_pixels} pixels")
            if width <= 0 or height <= 0:
                raise ImageDecodeError(f"image has size {(width, height)}")
            fmt = img.format
            # Deviation: a truncated image is excluded (undecodable_image) instead of being
            # loaded with gray padding (the authors set LOAD_TRUNCATED_IMAGES=True); option none.
            img.load()
            rgb, conversion = to_rgb(img)
            if rgb is img:
                rgb = img.copy()  # detach from the file before it is closed
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(str(err)[:160]) from err
    except (ImageTooLarge, ImageDecodeError):
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        # Pillow names an in-memory buffer with its address; drop it so reports are reproducible
        raise ImageDecodeError(_OBJECT_REPR.sub("", str(err))[:160]) from err
    return Decoded(rgb, fmt, conversion)


# --------------------------------------------------------------------------- lazy loaders
# PIL refuses images above ~179 MP as "decompression bombs"; 8K benchmark images are ~33 MP and
# MME-RealWorld remote-sensing ones exceed 25 MP. VLMEvalKit raises the limit to 1e9 too, so
# the loaders do the same, but only inside their decoder.
LOADER_MAX_IMAGE_PIXELS = 1_000_000_000
ORIGINAL_SIZE = "ivgr_original_size"  # PIL info key: (w, h) before a JPEG draft decode
FitFn = Callable[[tuple[int, int]], tuple[int, int]]
ImageLoader = Callable[..., Any]  # (fit: FitFn | None = None) -> PIL.Image.Image (RGB)


def _decode_failure(data: bytes, err: Exception) -> str:
    """Why Pillow could not decode `data`, in words (its own text names the buffer's memory address).

    >>> from PIL import UnidentifiedImageError
    >>> _decode_failure(b"hello", UnidentifiedImageError("cannot identify image file <_io.BytesIO object at 0x7f>"))
    'not an image Pillow can read (PNG, JPEG, WebP, ...)'
    """
    from PIL import UnidentifiedImageError

    if not data:
        return "the file is empty"
    if isinstance(err, UnidentifiedImageError):
        return "not an image Pillow can read (PNG, JPEG, WebP, ...)"
    return f"{type(err).__name__}: {_OBJECT_REPR.sub('', str(err))[:160]}"


def decode_image_bytes(data: bytes, *, where: str, fit: FitFn | None = None) -> Any:
    """Decode encoded image bytes to an RGB PIL image, or raise DataError naming `where`.

    `fit(original (w, h)) -> (w, h)` is the size the caller will resize to. For a JPEG, the
    decoder then works at the smallest 1/2, 1/4 or 1/8 scale that is still at least that
    size (PIL `draft`), which cuts decode time and memory for 8K images; the original size
    is kept in `img.info[ORIGINAL_SIZE]` so boxes still map to original pixels.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, LOADER_MAX_IMAGE_PIXELS)
    try:
        img = Image.open(io.BytesIO(data))
        original = img.size
        if fit is not None and img.format == "JPEG":
            img.draft("RGB", fit(original))
        img.load()
        if img.size != original:  # only a draft-decoded image carries its original size
            img.info[ORIGINAL_SIZE] = original
    except Exception as err:  # PIL raises many types for bad bytes
        raise DataError(f"{where}: cannot decode image: {_decode_failure(data, err)}") from None
    # lmms-eval converts RGBA/P to RGB before the processor; so do we.
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def b64_loader(value: str, *, where: str) -> ImageLoader:
    """A loader that decodes a base64 image string only when called."""

    def load(fit: FitFn | None = None) -> Any:
        try:
            raw = base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as err:
            raise DataError(f"{where}: image is not valid base64 ({err})") from None
        return decode_image_bytes(raw, where=where, fit=fit)

    return load


def bytes_loader(data: bytes, *, where: str) -> ImageLoader:
    """A loader for raw encoded bytes (HF `Image` feature `{"bytes": ..., "path": ...}`)."""
    return lambda fit=None: decode_image_bytes(data, where=where, fit=fit)


def file_loader(path: Path, *, where: str) -> ImageLoader:
    """A loader that opens an image file when called; a missing file names the row."""

    def load(fit: FitFn | None = None) -> Any:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DataError(f"{where}: cannot read image file {path} ({err.strerror})") from None
        return decode_image_bytes(data, where=where, fit=fit)

    return load


__all__ = [
    "LOADER_MAX_IMAGE_PIXELS",
    "ORIGINAL_SIZE",
    "SCALED_MODES",
    "UINT16_MODES",
    "Decoded",
    "FitFn",
    "ImageDecodeError",
    "ImageLoader",
    "ImageTooLarge",
    "b64_loader",
    "bytes_loader",
    "conversion_key",
    "decode_image",
    "decode_image_bytes",
    "file_loader",
    "scaled_range",
    "to_rgb",
]
