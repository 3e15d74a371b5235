"""MME-RealWorld-Lite: each profile reads an answer the way its scorer does (issue 20).

Expected verdicts were worked out by hand from each scorer's source:
- lmms-eval `lmms_eval/tasks/mme_realworld/utils.py`: `mme_realworld_process_results` calls
  `extract_characters_regex(pred)` with its default choices "(A)".."(E)"; correct when
  `pred == ans or ans in pred` (lower case).
- VLMEvalKit `vlmeval/dataset/image_mcq.py`, `MMERealWorld.evaluate`: the same extractor with
  the same defaults (`vlmeval/dataset/utils/multiple_choice.py`); correct when equal.
- official, MME-RealWorld `evaluation/eval_your_results.py`: the extractor called with the
  item's "(A) text" options (and two prefixes glued together by missing commas).
- ivgr: `ivgr_choice` (labels in any case, option text).
"""

from __future__ import annotations

import pytest

from ivgr.eval import Item, get_benchmark
from ivgr.eval.extraction import answer_text

DRIVE = ["(A) Turn left", "(B) Go straight", "(C) Turn right", "(D) Stop", "(E) Reverse"]
CHART = ["(A) Red", "(B) Blue", "(C) Yellow", "(D) Purple", "(E) This image doesn't feature the chart."]
COLOUR = ["(A) Red", "(B) Green", "(C) Blue", "(D) Black", "(E) White"]
COUNT = ["(A) 1", "(B) 2", "(C) 3", "(D) 221", "(E) 4"]
VEHICLE = ["(A) Bicycle", "(B) Car", "(C) Truck", "(D) Bus", "(E) Van"]

PROFILES = ("ivgr", "official", "lmms-eval", "vlmevalkit")
R, W = True, False

# (answer, options, gold) -> verdict under ivgr, official, lmms-eval, vlmevalkit
ROWS = [
    # --- the rows of issue 20: toolkits wrong, ivgr right ---
    ("Go straight", DRIVE, "B", (R, R, W, W)),  # option text; official finds it in "(b) go straight"
    ("This image doesn't feature the chart.", CHART, "E", (R, R, W, W)),
    ("b) Green", COLOUR, "B", (R, R, W, W)),  # no capital A-E; "b) green" is inside "(b) green"
    ("d) 221", COUNT, "D", (R, R, W, W)),
    ("c) 3", COUNT, "C", (R, R, W, W)),
    ("221", COUNT, "D", (R, R, W, W)),
    ("3", COUNT, "C", (R, R, W, W)),
    # --- the rows of issue 20: toolkits right; official's option texts catch the letter first ---
    ("c", VEHICLE, "C", (R, W, R, R)),  # official quirk: "c" is inside "(a) bicycle" -> A
    ("e", VEHICLE, "E", (R, W, R, R)),  # official quirk: "e" is inside "(a) bicycle" -> A
    # --- lower-case letters ---
    ("b", COLOUR, "B", (R, R, R, R)),  # official: not in "(a) red", in "(b) green"
    ("b", VEHICLE, "B", (R, W, R, R)),  # official quirk: "b" is inside "(a) bicycle"
    ("(b)", VEHICLE, "B", (R, R, R, R)),  # "(b)" is inside "(B)" and "(b) car"
    ("b.", VEHICLE, "B", (R, W, W, W)),  # "b." is inside no label and no option
    ("a", COLOUR, "A", (R, R, R, R)),  # a lone "a" is the label, not the article
    # --- upper-case labels ---
    ("(E)", VEHICLE, "E", (R, R, R, R)),
    ("E.", VEHICLE, "E", (R, R, R, R)),
    ("E", CHART, "E", (R, R, R, R)),
    # --- option text with punctuation ---
    ("go straight.", DRIVE, "B", (R, W, W, W)),  # official: "go straight." is inside no option
    ("This image doesn't feature the chart", CHART, "E", (R, R, W, W)),  # official: a substring of (E)
    ("Turn right!", DRIVE, "C", (R, W, W, W)),
    # --- quirks all toolkits share: the first capital A-E anywhere ---
    ("Answer: C", COLOUR, "C", (R, W, W, W)),  # the "A" of "Answer"
    ("The answer is B because it is green.", COLOUR, "B", (R, R, R, R)),  # prefix removed, then B
    ("Best option: D", COLOUR, "D", (R, W, R, R)),  # official: "Best option:" is never removed -> B
    ("Car", VEHICLE, "B", (R, W, W, W)),  # the C of "Car"
]


def _item(options: list[str], gold: str) -> Item:
    """An item as `MMERealWorldLite.load` builds it from "(X) text" options."""
    choices = {o[1]: o[4:] for o in options}
    return Item(item_id="q", question="Which one?", answer=gold, choices=choices, category="Perception/Monitoring",
                meta={"options": options, "task": "Perception", "subtask": "Monitoring", "l2": "position"})


@pytest.mark.parametrize("answer, options, gold, verdicts", ROWS, ids=[f"{r[0]}[{r[2]}]" for r in ROWS])
def test_mme_realworld_lite_reads_each_answer_as_its_scorer_does(answer, options, gold, verdicts):
    bench = get_benchmark("mme_realworld_lite")
    item = _item(options, gold)
    response = answer_text(f"<think>...</think><answer>{answer}</answer>")  # what every profile is handed
    got = tuple(bench.score(item, bench.extract(item, response, p), p) for p in PROFILES)
    assert dict(zip(PROFILES, got, strict=True)) == dict(zip(PROFILES, verdicts, strict=True))


def test_toolkit_profiles_never_read_option_text_but_official_does():
    bench = get_benchmark("mme_realworld_lite")
    item = _item(DRIVE, "B")
    assert bench.extract(item, "Go straight", "lmms-eval") == bench.extract(item, "Go straight", "vlmevalkit") == ""
    assert bench.extract(item, "Go straight", "official") == "B"
