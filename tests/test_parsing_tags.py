"""Tag normalisation and extraction (ivgr.parsing), including hostile inputs."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivgr.parsing import (
    MAX_BOXES,
    extract_answer,
    extract_boxes,
    extract_think,
    find_box_spans,
    format_ok,
    has_box_trace,
    normalize_tags,
    parse_box,
    strip_boxes,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" <think> a </think> \n <answer> b </answer> \n", "<think>a</think><answer>b</answer>"),
        ("<think>1 / 2 and a < b</think>", "<think>1 / 2 and a < b</think>"),  # prose untouched
        ("<think>ball <box> [1,2,3,4] </box> is</think>", "<think>ball <box>[1,2,3,4]</box> is</think>"),
        ("no tags at all  ", "no tags at all  "),
        ("<think>unclosed", "<think>unclosed"),
        ("<THINK> upper </THINK>", "<THINK> upper </THINK>"),  # tags are case-sensitive, as the authors'
    ],
)
def test_normalize_tags_strips_whitespace_only_at_tag_delimiters(text, expected):
    assert normalize_tags(text) == expected


def test_normalize_tags_authors_mode_rewrites_prose_like_theirs():
    assert normalize_tags("<answer> 1 / 2 and a < b </answer>", mode="authors") == "<answer>1/2 and a<b</answer>"


@pytest.mark.parametrize(
    ("text", "think", "answer"),
    [
        ("<think> t </think><answer> a </answer>", "t", "a"),
        ("<answer>a</answer>", None, "a"),
        ("<think>t<think>u</think>", "t<think>u", None),  # nested: first open, first later close
        ("</think>x<think>y</think>", "y", None),
        ("<think>never closed", None, None),
        ("<answer>first</answer><answer>second</answer>", None, "first"),
        ("<think>日本語 ✓</think><answer>é</answer>", "日本語 ✓", "é"),
    ],
)
def test_extract_think_and_answer_take_the_first_closed_block(text, think, answer):
    assert extract_think(text) == think
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("[1,2,3,4]", (1.0, 2.0, 3.0, 4.0)),
        ("[1, 2, 3, 4]", (1.0, 2.0, 3.0, 4.0)),  # spaces: rejected by the authors' regex
        (" [ 1.5 ,2.25,3.,.5 ] ", (1.5, 2.25, 3.0, 0.5)),  # decimals
        ("[+1,2,3,4]", (1.0, 2.0, 3.0, 4.0)),
        ("[-1,2,3,4]", None),  # negative coordinates are invalid
        ("[1,2,3]", None),
        ("[1,2,3,4,5]", None),
        ("1,2,3,4", None),
        ("[nan,2,3,4]", None),
        ("[inf,2,3,4]", None),
        ("[1e3,2,3,4]", None),  # no exponents
        ("[1,2,3,9999999]", None),  # absurd
        ("[" + "9" * 400 + ",1,2,3]", None),  # would overflow to inf
        ("[1,2,3,4] trailing", None),
        ("[１,２,３,４]", None),  # full-width digits are not ASCII digits for us
        ("", None),
    ],
)
def test_parse_box_cases(span, expected):
    assert parse_box(span) == expected


def test_parse_box_authors_syntax_accepts_only_compact_integers():
    assert parse_box("[1,2,3,4]", syntax="authors") == (1.0, 2.0, 3.0, 4.0)
    assert parse_box("[1, 2, 3, 4]", syntax="authors") is None
    assert parse_box("[1.5,2,3,4]", syntax="authors") is None


@settings(deadline=None)  # timing varies on shared CI cores; bounds are asserted elsewhere
@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=4, max_size=4), st.sampled_from(["", " ", "  "]))
def test_parse_box_round_trips_formatted_boxes(values, sep):
    span = "[" + f",{sep}".join(repr(v) if "e" not in repr(v) else f"{v:.6f}" for v in values) + "]"
    parsed = parse_box(span)
    assert parsed is not None
    assert parsed == pytest.approx(values, rel=1e-6, abs=1e-6)


def test_extract_boxes_keeps_valid_boxes_in_order():
    text = "<box>[0,0,5,5]</box> <box>[5,5,1,1]</box> <box>bad</box> <box>[1, 1, 2, 2]</box>"
    assert extract_boxes(text) == [(0.0, 0.0, 5.0, 5.0), (1.0, 1.0, 2.0, 2.0)]


def test_find_box_spans_is_capped():
    text = "<box>[1,2,3,4]</box>" * (MAX_BOXES + 50)
    assert len(find_box_spans(text)) == MAX_BOXES
    assert len(find_box_spans(text, max_boxes=7)) == 7


def test_strip_boxes_removes_spans_and_collapses_spaces():
    assert strip_boxes("the ball <box>[1,2,3,4]</box> is  blue") == "the ball is blue"
    assert strip_boxes("unclosed <box>[1,2") == "unclosed <box>[1,2"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<think>a</think><answer>b</answer>", True),
        ("  <think>a</think>\n\n<answer>b</answer>\n  ", True),  # whitespace around tags tolerated
        ("<think></think><answer></answer>", True),
        ("<think>a</think>between<answer>b</answer>", True),
        ("<think>a</think><answer>b</answer> trailing", False),
        ("lead <think>a</think><answer>b</answer>", False),
        ("<answer>b</answer>", False),
        ("<think>a</think>", False),
        ("<think>a<answer>b</answer></think>", False),  # answer must follow </think>
        ("<think>a</think><answer>b", False),
        ("<think>a</think></answer>", False),
        ("<think>a</think><answer></answer></answer>", True),  # greedy .* as the authors
    ],
)
def test_format_ok_matches_the_authors_rule(text, ok):
    assert format_ok(text) is ok


TOKENS = list("ab <>/[],.0123\n\u00a0") + ["<think>", "</think>", "<answer>", "</answer>", "<box>", "</box>"]


@pytest.mark.parametrize(
    ("text", "carries"),
    [
        ("<think>the ball <box>[1,2,3,4]</box> is blue</think>", True),
        ("<think>the ball is4797,797,461,961]</box> blue</think>", True),  # closing tag only
        ("<think>the ball <BOX>[1,2,3,4</think>", True),  # opening tag only, upper case
        ("<think>the ball at [10, 20.5, 30, 40] is blue</think>", True),  # bare coordinate list
        ("<think>a box of apples, three boxes in all</think>", False),  # the word, not a tag
        ("<think>the list [1, 2, 3] has three numbers</think>", False),  # not four
        ("<think>the ball is blue</think><answer>blue</answer>", False),
        ("", False),
    ],
)
def test_has_box_trace_finds_whole_boxes_fragments_and_coordinate_lists(text, carries):
    assert has_box_trace(text) is carries


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_parsers_never_raise_on_arbitrary_tag_soup(text):
    normalize_tags(text)
    normalize_tags(text, mode="authors")
    extract_think(text), extract_answer(text), strip_boxes(text)
    for span in find_box_spans(text):
        parse_box(span)
    assert isinstance(format_ok(text), bool)
    assert normalize_tags(normalize_tags(text)) == normalize_tags(text)  # idempotent


HOSTILE = {
    "1 MB of spaces": " " * 1_000_000,
    "1 MB of '<'": "<" * 1_000_000,
    "1 MB of '</'": "</" * 500_000,
    "200k unclosed box tags": "<box>" * 200_000,
    "10 000 boxes": "<think>" + "x <box>[1, 2, 3, 4]</box> " * 10_000 + "</think><answer>a</answer>",
    "nested think": "<think>" * 100_000 + "</think>" * 100_000,
    "unicode whitespace runs": "\u3000\u00a0 " * 300_000 + "<answer>",
    "huge box span": "<box>[" + "1," * 500_000 + "]</box>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_is_parsed_in_bounded_time_without_exceptions(name):
    text = HOSTILE[name]
    start = time.perf_counter()
    normalize_tags(text)
    normalize_tags(text, mode="authors")
    format_ok(text)
    extract_think(text)
    extract_answer(text)
    boxes = extract_boxes(text)
    strip_boxes(text)
    has_box_trace(text)
    assert len(boxes) <= MAX_BOXES
    # Loose bound: a quadratic regex takes minutes here; linear code takes well under a second.
    assert time.perf_counter() - start < 20


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_format_ok_agrees_with_the_authors_regex(text):
    import re

    normalized = normalize_tags(text)
    expected = re.fullmatch(r"<think>.*</think>.*<answer>.*</answer>", normalized, re.DOTALL) is not None
    assert format_ok(text) is expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS + ["\t", "  ", "x/y"]), max_size=40).map("".join))
def test_authors_mode_normalisation_equals_their_regex(text):
    import re

    assert normalize_tags(text, mode="authors") == re.sub(r"\s*(<|>|/)\s*", r"\1", text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_box_spans_and_blocks_agree_with_the_authors_regexes(text):
    import re

    assert find_box_spans(text) == re.findall(r"<box>(.*?)</box>", text, re.DOTALL)
    m = re.search(r"<think>(.*?)</think>", text, re.DOTALL)
    assert extract_think(text) == (m.group(1).strip() if m else None)
