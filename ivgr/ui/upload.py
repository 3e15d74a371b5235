"""Checks on what a browser uploads to `ivgr ui`: a size cap and a pixel cap before decoding.

The page is a server: a hostile or mistaken upload (a PDF, a 200 MB file, a 40 KB PNG that
decodes to 10 gigapixels) must give the user a message and leave the server serving. So:

- the file size is checked before it is opened (Gradio's `max_file_size` also rejects it at
  upload time);
- the header is read first (PIL reads only the header in `Image.open`) and an image above
  `max_pixels` is refused before any pixel is decoded;
- Pillow's own decompression-bomb guard stays on as a backstop (its error at 2x
  `Image.MAX_IMAGE_PIXELS`); nothing in this module raises that limit.

Pure PIL, no gradio: the checks are testable on their own.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

from ivgr.errors import ConfigError, DataError

# 64 MP: an 8K benchmark image (7680x4320, 33 MP) passes, a decompression bomb does not. Below
# Pillow's own limit (89 MP warns, 179 MP errors), so ours speaks first with a clearer message.
DEFAULT_MAX_PIXELS = 8192 * 8192
DEFAULT_MAX_UPLOAD_MB = 25


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may be: bytes on disk and decoded pixels."""

    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if not self.max_upload_mb > 0:
            raise ConfigError(f"--max-upload-mb must be > 0, got {self.max_upload_mb}")
        if self.max_pixels < 1:
            raise ConfigError(f"max_pixels must be >= 1, got {self.max_pixels}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def open_upload(path: str | os.PathLike, *, limits: UploadLimits, name: str = "the upload") -> Any:
    """The uploaded file as an RGB PIL image, or DataError with a message for the page.

    >>> open_upload("/no/such/file.png", limits=UploadLimits())
    Traceback (most recent call last):
    ...
    ivgr.errors.DataError: the upload: cannot read the file (No such file or directory)
    """
    from PIL import Image, UnidentifiedImageError

    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise DataError(f"{name}: cannot read the file ({err.strerror})") from None
    if size > limits.max_bytes:
        raise DataError(f"{name} is {size / 2**20:.1f} MB; the limit is {limits.max_upload_mb:g} MB "
                        "(ivgr ui --max-upload-mb)")
    with warnings.catch_warnings():
        # Pillow warns from 89 MP; our own cap below speaks instead. Its error (179 MP) stays on.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)  # reads the header only
            width, height = img.size
            if width * height > limits.max_pixels:
                raise DataError(f"{name} is {width}x{height} = {width * height / 1e6:.0f} MP; the limit is "
                                f"{limits.max_pixels / 1e6:.0f} MP (a guard against decompression bombs)")
            img.load()
        except DataError:
            raise
        except Image.DecompressionBombError as err:
            raise DataError(f"{name}: refused by the decompression-bomb guard ({err})") from None
        except UnidentifiedImageError:
            raise DataError(f"{name} is not an image Pillow can read (PNG, JPEG, WebP, ...)") from None
        except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt image data
            raise DataError(f"{name}: the image is damaged ({err})") from None
    return img.convert("RGB") if img.mode != "RGB" else img


__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_MB", "UploadLimits", "open_upload"]
