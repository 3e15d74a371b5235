"""Tool-mode geometry: model boxes back to original pixels, crop regions, margins, upscaling."""

from __future__ import annotations

import pytest
from PIL import Image

from ivgr.errors import ConfigError
from ivgr.inference.crops import crop_regions, cut, expand, to_original
from ivgr.inference.types import ToolOptions


def test_pixel_frame_boxes_are_divided_by_the_resize_scale():
    # a 1000x500 image resized to 280x140: x scale 1000/280, y scale 500/140
    box = to_original((28, 14, 140, 70), frame="pixel", model_size=(280, 140), image_size=(1000, 500))
    assert box == pytest.approx((100.0, 50.0, 500.0, 250.0))


def test_norm1000_boxes_scale_with_the_original_size_and_are_clipped():
    box = to_original((100, 200, 1200, 900), frame="norm1000", model_size=(280, 140), image_size=(1000, 500))
    assert box == pytest.approx((100.0, 100.0, 1000.0, 450.0))
    assert to_original((50, 50, 50, 80), frame="pixel", model_size=(100, 100), image_size=(100, 100)) is None


def test_margin_grows_boxes_and_stays_inside_the_image():
    assert expand((10, 10, 30, 50), margin=0.5, min_margin_px=0, width=35, height=100) == (0.0, 0.0, 35.0, 70.0)
    assert expand((10, 10, 12, 12), margin=0.1, min_margin_px=4, width=100, height=100) == (6.0, 6.0, 16.0, 16.0)


@pytest.mark.parametrize("style, n_crops, has_union", [("crops", 2, False), ("union", 0, True), ("crops+union", 2, True)])
def test_crop_styles_choose_local_crops_and_or_the_union(style, n_crops, has_union):
    boxes = [(10.0, 10.0, 20.0, 20.0), (50.0, 60.0, 70.0, 90.0), (10.0, 10.0, 20.0, 20.0)]  # one duplicate
    crops, union = crop_regions(boxes, image_size=(100, 100), opts=ToolOptions(style=style, margin=0, min_margin_px=0))
    assert len(crops) == n_crops and (union is not None) == has_union
    if union is not None:
        assert union == (10.0, 10.0, 70.0, 90.0)


def test_max_crops_caps_local_crops_but_the_union_covers_every_box():
    boxes = [(float(i * 10), 0.0, float(i * 10 + 5), 5.0) for i in range(6)]
    crops, union = crop_regions(boxes, image_size=(100, 100), opts=ToolOptions(max_crops=2, margin=0, min_margin_px=0))
    assert len(crops) == 2 and union == (0.0, 0.0, 55.0, 5.0)


def test_single_box_is_not_fed_twice_as_crop_and_union():
    crops, union = crop_regions([(1.0, 1.0, 9.0, 9.0)], image_size=(10, 10), opts=ToolOptions())
    assert len(crops) == 1 and union is None


def test_tiny_crops_are_upscaled_to_the_minimum_side():
    img = Image.new("RGB", (400, 300))
    crop = cut(img, (10, 10, 30, 50), min_side=112)
    assert crop.size == (112, 224)
    assert cut(img, (0, 0, 200, 150), min_side=112).size == (200, 150)


def test_bad_tool_options_are_refused_with_the_allowed_values():
    with pytest.raises(ConfigError, match="crops, union, crops\\+union"):
        ToolOptions(style="all")


def test_visualisation_draws_boxes_crops_and_union_in_original_pixels():
    from ivgr.inference import InferenceResult, draw_result

    res = InferenceResult(mode="tool", completion="", reasoning=None, answer=None,
                          boxes=[(10.0, 10.0, 50.0, 50.0)], crops=[(100.0, 100.0, 150.0, 150.0)],
                          union=(5.0, 120.0, 190.0, 190.0))
    out = draw_result(Image.new("RGB", (200, 200), "white"), res)
    assert out.getpixel((30, 10)) == (0, 200, 0)  # box edge, green
    assert out.getpixel((125, 100)) == (255, 140, 0)  # crop edge, orange
    assert out.getpixel((100, 190)) == (30, 110, 255)  # union edge, blue
    assert out.getpixel((100, 50)) == (255, 255, 255)
