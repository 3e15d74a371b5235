"""Every Pillow image mode reaches 8-bit RGB without losing its contrast, and is counted.

High-bit-depth and float modes are scaled (a 16-bit 0..65535 gradient must not come out
white, as Pillow's clipping `convert("RGB")` made it); the other modes keep Pillow's own
conversion, as the authors' `convert("RGB")`.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from data_fixture_builder import authors_row, write_parquet
from PIL import Image

from ivgr.data.images import ImageDecodeError, decode_image, to_rgb
from ivgr.data.prepare import PrepareConfig, prepare
from ivgr.data.prepared import read_manifest, read_prepared, resolve_image
from ivgr.data.readers import open_source
from ivgr.data.validate import validate

W, H = 64, 32


def _ramp(lo: float, hi: float, dtype: str) -> np.ndarray:
    """A left-to-right gradient from lo to hi, H x W."""
    return np.tile(np.linspace(lo, hi, W), (H, 1)).astype(dtype)


def _scaled(mode: str) -> Image.Image:
    """A full-range gradient in a high-bit-depth or float mode."""
    if mode == "F":
        return Image.fromarray(_ramp(0.0, 1.0, "float32"), mode="F")
    if mode == "I":
        return Image.fromarray(_ramp(0, 65535, "int32"), mode="I")
    # frombytes, not convert: Pillow's I;16 -> I;16B conversion itself clips at 255
    byte_order = {"I;16": "<", "I;16L": "<", "I;16B": ">", "I;16N": "="}[mode]
    return Image.frombytes(mode, (W, H), _ramp(0, 65535, byte_order + "u2").tobytes())


def _palette(transparency: bool) -> Image.Image:
    img = Image.fromarray(_ramp(0, 255, "uint8"), mode="L").convert("P")
    if transparency:
        img.info["transparency"] = 0
    return img


def _eight_bit(mode: str) -> Image.Image:
    """A gradient in an 8-bit mode (Pillow's own converters do it)."""
    rgb = Image.merge("RGB", [Image.fromarray(_ramp(a, b, "uint8"), mode="L") for a, b in ((0, 255), (255, 0), (90, 90))])
    if mode == "La":
        return rgb.convert("LA").convert("La")
    if mode == "PA":
        return rgb.convert("RGBA").convert("PA")
    return rgb.convert(mode)


SCALED = ["I;16", "I;16L", "I;16B", "I;16N", "I", "F"]
EIGHT_BIT = ["1", "L", "LA", "La", "PA", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV"]


@pytest.mark.parametrize("mode", SCALED)
def test_high_bit_depth_and_float_modes_are_scaled_not_clipped(mode):
    img = _scaled(mode)
    assert img.mode == mode
    rgb, how = to_rgb(img)
    values = np.asarray(rgb)
    assert rgb.mode == "RGB" and rgb.size == (W, H) and how == mode
    assert values[0, 0].tolist() == [0, 0, 0] and values[0, -1].tolist() == [255, 255, 255]
    assert abs(values.mean() - 127.5) < 2  # a linear ramp stays linear; clipping gave ~255 (or ~0 for F)
    assert (np.diff(values[0, :, 0].astype(int)) >= 0).all()


@pytest.mark.parametrize(
    "mode, values, expected",
    [
        ("F", [0.0, 0.5], [0, 128]),            # 0..1 float
        ("F", [0.0, 200.0], [0, 200]),          # 0..255 float: the first nominal range holding it
        ("F", [-1.0, 1.0], [0, 255]),           # no nominal range holds it: min..max
        ("F", [0.0, float("nan")], [0, 0]),     # NaN -> 0
        ("I", [0, 255], [0, 255]),              # 8-bit values in a 32-bit image: unchanged
        ("I", [0, 32768], [0, 128]),            # 16-bit values: v * 255 / 65535
        ("I", [-100, 100000], [0, 255]),        # beyond 16 bits: min..max
    ],
)
def test_i_and_f_images_use_the_smallest_range_that_holds_them(mode, values, expected):
    img = Image.fromarray(np.array([values], dtype="float32" if mode == "F" else "int32"), mode=mode)
    assert np.asarray(to_rgb(img)[0])[0, :, 0].tolist() == expected


@pytest.mark.parametrize("mode", EIGHT_BIT)
def test_eight_bit_modes_keep_pillows_conversion(mode):
    img = _eight_bit(mode)
    assert img.mode == mode
    rgb, how = to_rgb(img)
    assert rgb.mode == "RGB" and how == mode
    expected = img.convert("LA").convert("RGB") if mode == "La" else img.convert("RGB")
    assert rgb.tobytes() == expected.tobytes()


@pytest.mark.parametrize("transparency", [False, True])
def test_palette_images_keep_their_colours_with_or_without_transparency(transparency):
    img = _palette(transparency)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns when P with transparency goes straight to RGB
        rgb, how = to_rgb(img)
    assert how == ("P+transparency" if transparency else "P")
    assert rgb.tobytes() == img.convert("RGBA").convert("RGB").tobytes()
    assert np.asarray(rgb)[0, :, 0].tolist() == np.asarray(img.convert("L"))[0].tolist()


def test_lab_is_converted_to_srgb_not_copied_band_by_band():
    rgb = Image.new("RGB", (4, 4), (200, 30, 30))
    from PIL import ImageCms

    lab = ImageCms.applyTransform(rgb, ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"))
    back, how = to_rgb(lab)
    assert how == "LAB"
    assert all(abs(a - b) <= 3 for a, b in zip(back.getpixel((0, 0)), (200, 30, 30), strict=True))


def test_rgb_is_not_a_conversion():
    img = Image.new("RGB", (3, 3), (1, 2, 3))
    assert to_rgb(img) == (img, None)


def test_an_unconvertible_mode_is_a_decode_error_not_a_crash(monkeypatch):
    img = Image.new("L", (2, 2))
    monkeypatch.setattr(Image.Image, "convert", lambda self, mode=None, *a, **k: (_ for _ in ()).throw(ValueError("no converter")))
    with pytest.raises(ImageDecodeError, match="cannot convert image mode L to RGB"):
        to_rgb(img)


# Every mode a file can hold, through the files prepare reads: (mode, Pillow format, suffix).
FILE_MODES = [
    ("1", "PNG", "png"), ("L", "PNG", "png"), ("P", "PNG", "png"), ("LA", "PNG", "png"),
    ("RGBA", "PNG", "png"), ("I;16", "PNG", "png"), ("I;16B", "TIFF", "tif"), ("I", "TIFF", "tif"),
    ("F", "TIFF", "tif"), ("CMYK", "JPEG", "jpg"), ("LAB", "TIFF", "tif"), ("RGB", "JPEG", "jpg"),
]


def _image_of_mode(mode: str) -> Image.Image:
    if mode in SCALED:
        return _scaled(mode)
    if mode == "LAB":
        return Image.new("LAB", (W, H), (50, 10, -20))
    return _eight_bit(mode)


def test_prepare_converts_every_file_mode_and_counts_each_conversion(tmp_path):
    rows = []
    for i, (mode, fmt, suffix) in enumerate(FILE_MODES):
        _image_of_mode(mode).save(tmp_path / f"{i}.{suffix}", format=fmt)
        with Image.open(tmp_path / f"{i}.{suffix}") as check:
            assert check.mode == mode, (mode, fmt)
        rows.append(authors_row(f"{i}.{suffix}", query=f"q{i}"))
    path = write_parquet(tmp_path / "d.parquet", rows)
    expected = {mode: 1 for mode, _, _ in FILE_MODES if mode != "RGB"}

    summary = prepare(open_source(path), tmp_path / "out")
    assert summary.kept == len(FILE_MODES)
    assert dict(summary.conversions) == expected
    assert read_manifest(tmp_path / "out")["conversions"] == expected
    assert dict(validate(open_source(path)).conversions) == expected
    for sample, (mode, _, _) in zip(read_prepared(tmp_path / "out"), FILE_MODES, strict=True):
        with Image.open(resolve_image(tmp_path / "out", sample)) as out:
            assert out.mode == "RGB", mode
            if mode in SCALED:
                assert abs(np.asarray(out).mean() - 127.5) < 3, mode


def test_a_16_bit_png_gradient_is_not_white_after_prepare(tmp_path):
    # The case: 0..65535 came out 99.6 % white through convert("RGB").
    _scaled("I;16").save(tmp_path / "g16.png")
    path = write_parquet(tmp_path / "d.parquet", [authors_row("g16.png")])
    summary = prepare(open_source(path), tmp_path / "out")
    with Image.open(resolve_image(tmp_path / "out", read_prepared(tmp_path / "out")[0])) as out:
        values = np.asarray(out.convert("L"))
    assert (values >= 250).mean() < 0.05 and abs(values.mean() - 127.5) < 3
    assert summary.conversions == {"I;16": 1}


def test_no_resize_keeps_8_bit_originals_but_stores_a_scaled_copy_of_16_bit_ones(tmp_path):
    _scaled("I;16").save(tmp_path / "g16.png")
    Image.new("RGB", (W, H), (9, 9, 9)).save(tmp_path / "rgb.png")
    path = write_parquet(tmp_path / "d.parquet", [authors_row("g16.png", query="a"), authors_row("rgb.png", query="b")])
    prepare(open_source(path), tmp_path / "out", config=PrepareConfig(resize_images=False))
    g16, rgb = read_prepared(tmp_path / "out")
    assert rgb.image == str((tmp_path / "rgb.png").resolve())
    with Image.open(resolve_image(tmp_path / "out", g16)) as out:
        assert out.mode == "RGB" and out.size == (W, H) and abs(np.asarray(out).mean() - 127.5) < 3
    assert g16.image_size == (84, 56)  # the size the processor will produce; the file keeps the original


def test_decode_reports_a_truncated_file_that_verify_accepts(tmp_path):
    Image.new("RGB", (300, 200), (5, 6, 7)).save(tmp_path / "a.jpg", quality=90)
    data = (tmp_path / "a.jpg").read_bytes()
    with Image.open(tmp_path / "a.jpg") as img:
        img.verify()  # the old, header-only check
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(data[: len(data) // 2], max_image_pixels=10**9)


def test_validate_summary_lists_conversions_in_json(tmp_path):
    _scaled("I;16").save(tmp_path / "g16.png")
    summary = validate(open_source(write_parquet(tmp_path / "d.parquet", [authors_row("g16.png")])))
    assert json.loads(json.dumps(summary.to_dict()))["conversions"] == {"I;16": 1}
