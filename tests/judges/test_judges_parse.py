"""Strict score parsing: exact rubric tokens only; everything else is unparseable (None), not 0."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivgr.judges.parse import parse_binary_score, parse_rubric_score

# (reply, binary, rubric)
CASES = [
    ("1", 1.0, 1.0),
    ("0", 0.0, 0.0),
    ("1.0", 1.0, 1.0),
    ("0.0", 0.0, 0.0),
    ("0.3", None, 0.3),
    ("0.7", None, 0.7),
    ("  0.7\n", None, 0.7),  # surrounding whitespace
    ("Score: 0.7", None, 0.7),  # label as the consistency prompt ends
    ("score:0.3", None, 0.3),
    ("Judgement: 1", 1.0, 1.0),  # label as the accuracy prompt ends
    ("Judgment: 0.", 0.0, 0.0),
    ("**0.3**", None, 0.3),  # markdown emphasis is punctuation
    ('"1"', 1.0, 1.0),
    ("(0.7)", None, 0.7),
    ("<think>0.5 maybe</think>\n0.7", None, 0.7),  # a reasoning judge's thinking is dropped
    # the authors' parser turned these into rubric levels; here they are unparseable
    ("0.5", None, None),  # theirs: 0.0
    ("0.9", None, None),  # theirs: 0.0
    ("10", None, None),  # theirs: 1.0
    ("-1", None, None),  # theirs: 1.0
    ("2", None, None),  # accuracy theirs: 2.0
    ("2.5", None, None),  # theirs: clamped to 1.0
    (".1", None, None),
    ("1.00", None, None),
    ("0 or 1", None, None),
    ("The answer is consistent, so 1", None, None),
    ("Score: -1", None, None),
    ("", None, None),
    (None, None, None),
    ("1" + " " * 3000, None, None),  # absurdly long replies are refused
]


@pytest.mark.parametrize(("reply", "binary", "rubric"), CASES)
def test_parse_accepts_only_exact_score_tokens(reply, binary, rubric):
    assert parse_binary_score(reply) == binary
    assert parse_rubric_score(reply) == rubric


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-10, max_value=10, allow_nan=False).map(lambda x: f"{x:.{abs(hash(x)) % 4}f}"))
def test_parse_never_turns_an_off_rubric_number_into_a_score(reply):
    value = float(reply)
    rubric = parse_rubric_score(reply)
    if rubric is not None:
        assert reply in {"0", "1", "0.0", "1.0", "0.3", "0.7"} and rubric == value
    binary = parse_binary_score(reply)
    assert binary is None or (reply in {"0", "1", "0.0", "1.0"} and binary == value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_is_total_on_arbitrary_text(reply):
    assert parse_rubric_score(reply) in (None, 0.0, 0.3, 0.7, 1.0)
    assert parse_binary_score(reply) in (None, 0.0, 1.0)
