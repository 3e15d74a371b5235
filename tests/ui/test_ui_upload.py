"""Upload checks of `ivgr ui`: caps on bytes and pixels before decoding, one message per bad file."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ivgr.errors import ConfigError, DataError
from ivgr.ui.upload import UploadLimits, open_upload


def _png(path, size=(64, 48), colour="red"):
    Image.new("RGB", size, colour).save(path)
    return path


def test_a_normal_image_opens_as_rgb_at_its_own_size(tmp_path):
    Image.new("RGBA", (64, 48)).save(tmp_path / "a.png")
    img = open_upload(tmp_path / "a.png", limits=UploadLimits())
    assert img.mode == "RGB" and img.size == (64, 48)


def test_a_non_image_is_one_message(tmp_path):
    path = tmp_path / "doc.png"
    path.write_bytes(b"%PDF-1.4 this is not an image")
    with pytest.raises(DataError, match="doc.png is not an image"):
        open_upload(path, limits=UploadLimits(), name="doc.png")


def test_an_oversized_file_is_refused_before_it_is_opened(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"\0" * (2 * 1024 * 1024))  # not even an image: the size check comes first
    with pytest.raises(DataError, match="limit is 1 MB"):
        open_upload(path, limits=UploadLimits(max_upload_mb=1))


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    # 12000 x 12000 px of one colour: a small file that would decode to 432 MB.
    path = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(path)
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(DataError, match="144 MP; the limit is 67 MP"):
        open_upload(path, limits=UploadLimits())


def test_pillows_own_bomb_guard_stays_on(tmp_path, monkeypatch):
    # Other ivgr modules raise Pillow's process-wide limit (ivgr.eval.readers: 16384^2 px) when
    # imported; pin Pillow's stock limit so the test does not depend on which tests ran before.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)
    with pytest.raises(DataError, match="decompression-bomb guard"):
        open_upload(path, limits=UploadLimits(max_pixels=10**12))


def test_a_truncated_image_is_one_message(tmp_path):
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buf, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match="damaged"):
        open_upload(path, limits=UploadLimits())


def test_limits_are_checked():
    with pytest.raises(ConfigError, match="max-upload-mb"):
        UploadLimits(max_upload_mb=0)
