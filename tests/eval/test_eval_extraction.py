"""Answer extractors: ours is robust where the toolkits are brittle; theirs keep their quirks."""

from __future__ import annotations

import pytest

from ivgr.eval.extraction import (answer_text, cambrian_letter, ivgr_choice, ivgr_yes_no, lmms_first_letter,
                                  lmms_mcq_extract, lmms_vstar_letter, mme_extract, pope_official, vk_can_infer,
                                  vk_yes_no)

OPTS = {"A": "red", "B": "blue", "C": "green", "D": "pink"}


@pytest.mark.parametrize("response, expected", [
    ("B", "B"), ("(B)", "B"), ("B.", "B"), ("B: blue", "B"), ("blue", "B"), ("**B**", "B"),
    ("The answer is (C).", "C"), ("Answer: D", "D"), ("Based on the colour, it is green", "C"),
    ("Clearly the pink one", "D"),
    ("A red car", "A"),  # the article is skipped; "red" is option A's text
    ("It could be red or blue", None), ("", None), ("I do not know", None),
])
def test_ivgr_choice_reads_labels_phrases_and_option_texts(response, expected):
    assert ivgr_choice(response, OPTS) == expected


FIVE = {"A": "left", "B": "right", "C": "top", "D": "bottom", "E": "center"}
PHRASINGS = [
    "{x}", "({x})", "{x}.", "{x}, because it is closer.", "{x} because the object is clearly visible.",
    "The answer is {x} because the object is clearly visible.", "The answer is {x}.", "The answer is ({x}).",
    "The correct answer is {x} since it is closer.", "Answer: {x} because it is closer.",
    "**The answer is {x}** because it is closer.", "Option {x} is correct because it is closer.",
    "I think the answer is {x} because it is closer.", "{x_lower}", "({x_lower})", "{x_lower})",
]


@pytest.mark.parametrize("letter", list(FIVE))
@pytest.mark.parametrize("phrasing", PHRASINGS)
def test_ivgr_choice_reads_every_letter_in_every_phrasing(phrasing, letter):
    # Issue 12.8: "The answer is A because ..." lost its lead phrase, then "A" before a
    # lower-case word was taken for the article, so only option A was dropped.
    assert ivgr_choice(phrasing.format(x=letter, x_lower=letter.lower()), FIVE) == letter


def test_first_letter_extractors_misread_words_as_options_but_ivgr_does_not():
    text = "Based on the picture, the answer is C"
    assert lmms_vstar_letter(text) == "B"  # lmms-eval V*: a response starting with B
    assert lmms_first_letter("The answer is C") == "T"  # lmms-eval CV-Bench: first letter
    assert mme_extract("Answer: C", ["(A) x", "(B) y", "(C) z"]) == "A"  # first capital A-E
    assert ivgr_choice(text, OPTS) == "C"


def test_yes_with_a_period_is_wrong_under_lmms_eval_but_yes_for_the_others():
    from ivgr.eval import Item, get_benchmark

    pope = get_benchmark("pope")
    item = Item(item_id="1", question="Is there a cat?", answer="yes", kind="yesno", category="random")
    assert not pope.score(item, pope.extract(item, "Yes.", "lmms-eval"), "lmms-eval")
    assert pope.score(item, pope.extract(item, "Yes.", "ivgr"), "ivgr")
    assert ivgr_yes_no("Yes.") == "yes" and vk_yes_no("Yes.") == "Yes" and pope_official("Yes.") == "yes"


def test_pope_official_treats_any_reply_without_negation_as_yes():
    assert pope_official("I cannot tell") == "yes"
    assert pope_official("There is no cat. Yes really") == "no"
    assert ivgr_yes_no("I cannot tell") is None


def test_vlmevalkit_position_rule_and_legacy_copy_differ():
    long = "B is the colour that I can see on the object"
    assert vk_can_infer(long, OPTS) is False  # B is not among the last 4 tokens
    assert vk_can_infer(long, OPTS, legacy=True) == "B"
    assert vk_can_infer("Cannot determine the answer", OPTS) == "Z"
    assert vk_can_infer("So the correct answer is **C**, since A and B are wrong", OPTS) == "C"
    assert vk_can_infer("So the correct answer is **C**, since A and B are wrong", OPTS, legacy=True) is False


def test_mme_empty_response_is_read_as_a_and_official_prefix_bug_is_kept():
    opts = ["(A) x", "(B) y", "(C) z", "(D) w", "(E) none"]
    assert mme_extract("", opts) == "A"
    assert mme_extract("Best option: D", opts) == "D"
    from ivgr.eval.extraction import MME_PREFIXES_OFFICIAL

    assert mme_extract("Best option: D", opts, prefixes=MME_PREFIXES_OFFICIAL) == "B"
    assert mme_extract("this sentence has more than ten words and none of the letters at all", opts) == ""


def test_lmms_mcq_extract_prefers_leading_letter_then_latest_position():
    letters = ["A", "B", "C", "D"]
    assert lmms_mcq_extract("B. blue, not (C)", letters) == "B"
    assert lmms_mcq_extract("I pick (C)", letters) == "C"
    assert lmms_mcq_extract("nothing here", letters) is None


def test_cambrian_keeps_the_first_character_after_answer_phrase():
    assert cambrian_letter("The answer is: (C)") == "c"
    assert cambrian_letter("Bottom") == "b"


def test_answer_text_prefers_answer_tag_then_text_after_think():
    assert answer_text("<think>a B c</think><answer>C</answer>") == "C"
    assert answer_text("<think>long reasoning</think> so D") == "so D"
    assert answer_text("plain") == "plain"
