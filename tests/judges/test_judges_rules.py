"""The offline rules judge: accuracy table, decidability, and the lexical consistency rubric."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ivgr.judges import RulesJudge, build_judge, JudgeConfig, Judge
from ivgr.judges.rules import compare_reasoning, extract_facts, judge_answer, math_equivalent

# (answer, reference, question, score, decided)
ACCURACY = [
    # multiple-choice letters
    ("B", "B", "", 1.0, True),
    ("(B)", "B", "", 1.0, True),
    ("B. red", "B", "", 1.0, True),
    ("Option B", "B", "", 1.0, True),
    ("The answer is (b).", "B", "", 1.0, True),
    ("C", "B", "", 0.0, True),
    ("(C) blue", "(B) red", "", 0.0, True),
    ("red", "B", "What colour? (A) blue (B) red (C) green", 1.0, True),  # option text, options known
    ("green", "B", "What colour?\nA. blue\nB. red\nC. green", 0.0, True),
    ("a cat", "A", "", 0.0, False),  # article, not a letter: rules cannot read it
    # yes / no
    ("Yes.", "yes", "", 1.0, True),
    ("yes", "Yes", "", 1.0, True),
    ("No, there is no cat.", "no", "", 1.0, True),
    ("Yes, there is no dog in it", "yes", "", 1.0, True),  # inner "no" is a determiner
    ("No.", "yes", "", 0.0, True),
    ("yes, but no", "yes", "", 0.0, True),  # hedge: ambiguous -> 0
    ("There is a cat.", "yes", "", 0.0, False),
    # numbers and LaTeX
    ("3", "3", "", 1.0, True),
    ("three", "3", "", 1.0, True),
    ("There are 3 cats.", "3", "", 1.0, True),
    ("There are 4 cats.", "3", "", 0.0, True),
    ("0.5", "\\frac{1}{2}", "", 1.0, True),
    ("1/2", "0.5", "", 1.0, True),
    ("1,000", "1000", "", 1.0, True),
    ("twenty-one", "21", "", 1.0, True),
    ("$\\sqrt{9}$", "3", "", 1.0, True),  # via math-verify
    ("2\\pi", "\\pi \\cdot 2", "", 1.0, True),  # via math-verify
    ("2 cats and 3 dogs", "3", "", 0.0, False),  # two numbers: not decided
    # free text
    ("pink", "pink", "", 1.0, True),
    ("Pink!", "the pink", "", 1.0, True),  # case, punctuation, articles
    ("it is pink", "pink", "", 1.0, False),  # span rule
    ("The countertop is tan.", "tan", "", 1.0, False),
    ("pink", "It is pink.", "", 1.0, False),  # span in either direction
    ("pink and white", "pink", "", 0.0, False),  # competing colour
    ("it is not pink", "pink", "", 0.0, False),  # negation
    ("pink or red", "pink", "", 0.0, False),  # alternative
    ("is", "it is pink", "", 0.0, False),  # a span of filler words says nothing
    ("a dog", "a cat", "", 0.0, False),
    # no answer / too long (authors: > 1000 characters scores 0 with no call)
    ("", "pink", "", 0.0, True),
    ("pink " * 201, "pink", "", 0.0, True),
]


@pytest.mark.parametrize(("answer", "reference", "question", "score", "decided"), ACCURACY)
def test_rules_accuracy_table(answer, reference, question, score, decided):
    decision = judge_answer(answer, reference, question)
    assert (decision.score, decision.decided) == (score, decided), decision.rule


def test_rules_decides_is_true_only_for_confident_kinds():
    judge = RulesJudge()
    assert judge.decides("q", "(B)", "B")
    assert judge.decides("q", "No.", "no")
    assert judge.decides("q", "7", "7.0")
    assert not judge.decides("q", "it is pink", "pink")


def test_rules_math_verify_guard_refuses_huge_powers_without_hanging():
    assert math_equivalent("$9^{9^{9^{9}}}$", "$1$") is None


def test_rules_answers_longer_than_1000_chars_score_zero_even_when_they_contain_the_reference():
    judge = RulesJudge()
    assert judge.accuracy_sync(question="q", answer="B. " + "x" * 1000, reference="B").score == 0.0
    assert judge.accuracy_sync(question="q", answer="B. " + "x" * 900, reference="B").score == 1.0


REF = (
    "The red car <box>[10,20,50,60]</box> is parked on the left of the street. "
    "There are two people <box>[60, 10, 90, 80]</box> near the shop."
)


@pytest.mark.parametrize(
    ("candidate", "level"),
    [
        # same content, boxes removed, wording reordered
        ("There are two people near the shop. The red car is parked on the left of the street.", 1.0),
        # contradictions: colour, count, side
        ("The blue car is parked on the left of the street. There are two people near the shop.", 0.0),
        ("The red car is parked on the left of the street. There are three people near the shop.", 0.0),
        ("The red car is parked on the right of the street. There are two people near the shop.", 0.0),
        # missing only
        ("The red car is parked on the left of the street.", 0.7),
        # extra only
        (
            "The red car is parked on the left of the street. There are two people near the shop. "
            "A tall tree stands beside a bench.",
            0.7,
        ),
        # both extra and missing
        ("The red car is parked on the left of the street. A tall tree stands beside a bench.", 0.3),
        # nothing to compare
        ("", 0.0),
    ],
)
def test_rules_consistency_levels(candidate, level):
    judge = RulesJudge()
    assert judge.consistency_sync(question="What colour is the car?", reference=REF, candidate=candidate).score == level


def test_rules_consistency_ignores_boxes_so_a_copy_without_boxes_is_fully_consistent():
    stripped = REF.replace("<box>[10,20,50,60]</box>", "").replace("<box>[60, 10, 90, 80]</box>", "")
    assert compare_reasoning(REF, stripped).level == 1.0
    # box coordinates must not turn into counts or content words
    assert all(fact[1] != "count" or fact[0] == "people" for fact in extract_facts(REF))


def test_rules_consistency_report_names_the_contradiction():
    report = compare_reasoning(REF, "The blue car is parked on the left. There are two people near the shop.")
    assert report.contradictions == (("car", "colour"),)


def test_rules_judge_satisfies_protocol_and_counts_its_verdicts():
    judge = build_judge(JudgeConfig())
    assert isinstance(judge, Judge) and isinstance(judge, RulesJudge)
    judge.accuracy_sync(question="q", answer="B", reference="B")
    judge.consistency_sync(question="q", reference=REF, candidate=REF)
    assert judge.stats().rules == 2 and judge.stats().calls == 0


def test_rules_judge_modules_import_without_training_stack_or_openai_sdk():
    code = (
        "import sys, ivgr.judges, ivgr.judges.rules, ivgr.prompts.judge; "
        "bad = {'torch', 'transformers', 'trl', 'openai'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rules_judge_survives_hostile_text_in_bounded_time():
    huge = "The red car <box>[1,2,3,4]</box> is on the left. " * 40_000  # ~2 MB
    hostile = "<box>" * 5000 + "</box" * 5000 + "<think><answer>" + "\u202e\u0000" * 1000
    judge = RulesJudge()
    assert judge.consistency_sync(question="q", reference=huge, candidate=huge[:-7]).score == 1.0
    assert judge.consistency_sync(question="q", reference=REF, candidate=hostile).score in (0.0, 0.3, 0.7, 1.0)
    assert judge.accuracy_sync(question=hostile, answer=hostile[:900], reference="B").score == 0.0
