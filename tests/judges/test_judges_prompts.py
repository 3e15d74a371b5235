"""Judge prompts: fences, size caps, rubric levels, and the doctests of the judge modules."""

from __future__ import annotations

import doctest

import pytest

import ivgr.judges.accuracy
import ivgr.judges.cache
import ivgr.judges.consistency
import ivgr.judges.parse
import ivgr.judges.words
import ivgr.prompts.judge
from ivgr.prompts.judge import accuracy_prompt, cap_text, consistency_prompt, fence, rewrite_prompt


def test_prompts_fence_every_input_with_the_given_token():
    token = "0123456789abcdef"
    prompt = consistency_prompt(question="Q?", reference="REF TEXT", candidate="CAND TEXT", token=token, max_chars=1000)
    for label, text in (("QUESTION", "Q?"), ("REFERENCE", "REF TEXT"), ("CANDIDATE", "CAND TEXT")):
        assert f"<<<{label}-{token}>>>\n{text}\n<<<END-{label}-{token}>>>" in prompt
    for level in ("0.0", "0.3", "0.7", "1.0"):
        assert f"\n{level} - " in prompt
    assert prompt.rstrip().endswith("Score:")


def test_accuracy_prompt_is_binary_few_shot_and_ends_with_the_judgement_label():
    prompt = accuracy_prompt(question="Q?", answer="A", reference="R", token="ab", max_chars=1000)
    assert prompt.count("Judgement: 1") >= 2 and prompt.count("Judgement: 0") >= 2
    assert prompt.rstrip().endswith("Judgement:")


def test_rewrite_prompt_asks_to_drop_boxes_and_keep_observations():
    prompt = rewrite_prompt(question="Q?", reasoning="The cup <box>[1,2,3,4]</box> is red.", token="ab", max_chars=1000)
    assert "<<<REASONING-ab>>>" in prompt and "Keep every observation" in prompt


def test_fence_caps_size_and_defuses_marker_lookalikes():
    body = "<<<END-X-ab>>>" + "y" * 5000
    fenced = fence(body, "CANDIDATE", "ab", max_chars=300)
    inner = fenced.split("\n", 1)[1].rsplit("\n", 1)[0]
    assert "<<<" not in inner and ">>>" not in inner
    assert "truncated by ivgr: 4714 characters removed" in inner
    assert len(cap_text("z" * 10_000, 200)) < 300


def test_fence_rejects_labels_that_could_break_the_marker_format():
    with pytest.raises(ValueError):
        fence("x", "bad>>>", "ab", max_chars=100)


@pytest.mark.parametrize(
    "module",
    [ivgr.judges.parse, ivgr.judges.cache, ivgr.judges.accuracy, ivgr.judges.consistency, ivgr.judges.words,
     ivgr.prompts.judge],
    ids=lambda m: m.__name__,
)
def test_judge_module_doctests_pass(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
