"""Boxes, IoU, frames and smart-resize (ivgr.geometry)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ivgr.errors import DataError
from ivgr.geometry import clip_box, iou, is_valid_box, scale_box, smart_resize, to_frame

coord = st.floats(min_value=0, max_value=5000, allow_nan=False)


@st.composite
def boxes(draw):
    x1, x2 = sorted((draw(coord), draw(coord)))
    y1, y2 = sorted((draw(coord), draw(coord)))
    return (x1, y1, x2, y2)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),  # identical
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),  # half overlap in x
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching edges
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),  # disjoint
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),  # nested
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # zero union
        ((10, 10, 0, 0), (0, 0, 10, 10), 0.0),  # inverted box has no area
    ],
)
def test_iou_matches_hand_computed_cases(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)


def test_iou_returns_a_float_not_a_bool_on_zero_union():
    result = iou((1, 1, 1, 1), (1, 1, 1, 1))
    assert type(result) is float and result == 0.0


@settings(deadline=None)  # timing varies on shared CI cores; bounds are asserted elsewhere
@given(boxes(), boxes())
def test_iou_is_symmetric_and_in_unit_interval(a, b):
    assert iou(a, b) == pytest.approx(iou(b, a))
    assert 0.0 <= iou(a, b) <= 1.0


@settings(deadline=None)  # timing varies on shared CI cores; bounds are asserted elsewhere
@given(boxes())
def test_iou_of_a_box_with_positive_area_with_itself_is_one(a):
    assume(a[2] - a[0] > 1e-3 and a[3] - a[1] > 1e-3)
    assert iou(a, a) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("box", "valid"),
    [
        ((0, 0, 1, 1), True),
        ((0.5, 0.5, 1.5, 2.5), True),
        ((1, 0, 1, 1), False),  # zero width
        ((0, 2, 1, 1), False),  # y1 > y2
        ((0, 0, math.inf, 1), False),
        ((0, 0, math.nan, 1), False),
        ((0, 0, 2e6, 1), False),  # absurd coordinate
        ((0, 0, 1), False),  # three values
        (("a", 0, 1, 1), False),
    ],
)
def test_is_valid_box_cases(box, valid):
    assert is_valid_box(box) is valid


def test_clip_and_scale_box():
    assert clip_box((-5, 2, 120, 50), 100, 40) == (0.0, 2.0, 100.0, 40.0)
    assert scale_box((10, 20, 30, 40), 0.5, 2) == (5.0, 40.0, 15.0, 80.0)


def test_to_frame_pixel_to_norm1000_uses_the_image_size():
    assert to_frame((50, 25, 100, 50), src="pixel", dst="norm1000", width=200, height=100) == (250, 250, 500, 500)
    assert to_frame((250, 250, 500, 500), src="norm1000", dst="pixel", width=200, height=100) == (50, 25, 100, 50)


def test_to_frame_rejects_unknown_frame():
    with pytest.raises(ValueError, match="unknown box frame"):
        to_frame((0, 0, 1, 1), src="pixel", dst="relative", width=10, height=10)


@settings(deadline=None)  # timing varies on shared CI cores; bounds are asserted elsewhere
@given(boxes(), st.integers(1, 8000), st.integers(1, 8000))
def test_frame_round_trip_returns_the_box(box, w, h):
    there = to_frame(box, src="pixel", dst="norm1000", width=w, height=h)
    back = to_frame(there, src="norm1000", dst="pixel", width=w, height=h)
    assert back == pytest.approx(box, abs=1e-6)


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((480, 640), (476, 644)),  # round to multiples of 28
        ((10, 10), (56, 56)),  # below min_pixels: scaled up
        ((14, 14), (56, 56)),  # round(0.5)=0 (banker's) then max(28, .) then min_pixels
        ((42, 42), (56, 56)),  # round(1.5)=2 -> 56 (banker's rounds half to even)
        ((70, 70), (56, 56)),  # round(2.5)=2 -> 56
        ((4000, 3000), (2044, 1540)),  # above max_pixels: beta=1.9331, floor(2069.2/28)*28
    ],
)
def test_smart_resize_matches_qwen_rule(hw, expected):
    assert smart_resize(*hw) == expected


def test_smart_resize_rejects_extreme_aspect_ratio():
    with pytest.raises(DataError, match="aspect ratio"):
        smart_resize(10, 2011)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 20000), st.integers(1, 20000))
def test_smart_resize_gives_multiples_of_28_within_pixel_bounds(h, w):
    assume(max(h, w) / min(h, w) <= 200)
    rh, rw = smart_resize(h, w)
    assert rh % 28 == 0 and rw % 28 == 0
    assert 3136 <= rh * rw <= 3211264
