"""The rules consistency judge on the synthetic world's own phrasing (`ivgr demo` trains with it).

Rubric targets: reasoning that agrees with the archived grounded reasoning scores 1.0, a
contradicted attribute scores <= 0.3, reasoning about another object scores <= 0.7.
"""

from __future__ import annotations

import itertools

import pytest

from ivgr.data.synthetic import COLOURS, SHAPES, WorldConfig, grounded_cot, make_scene, scene_seed, textual_cot
from ivgr.judges.rules import compare_reasoning, extract_facts
from ivgr.parsing import extract_think

BOX = "<box>[32,32,52,52]</box>"


def level(reference: str, candidate: str, question: str = "") -> float:
    return compare_reasoning(reference, candidate, question=question).level


@pytest.mark.parametrize("shape,colour", list(itertools.product(SHAPES, COLOURS)))
def test_every_shape_and_colour_agrees_with_itself_and_contradicts_the_others(shape, colour):
    question = f"What colour is the {shape}?"
    reference = f"the {shape} {BOX} is {colour} ."
    assert level(reference, f"the {shape} is {colour} .", question) == 1.0
    for other in set(COLOURS) - {colour}:
        assert level(reference, f"the {shape} is {other} .", question) <= 0.3, other
    for other in set(SHAPES) - {shape}:
        assert level(reference, f"the {other} is {colour} .", question) <= 0.7, other


@pytest.mark.parametrize(
    "reference,candidate,expected",
    [
        # the case: "square" is a shape word and must still name the object
        (f"the square {BOX} is red .", "the square is red .", 1.0),
        (f"the square {BOX} is red .", "the square is blue .", 0.0),
        # a shape question's phrasing: the generic "object" is the square
        (f"the red object {BOX} is a square .", "the red object is a square .", 1.0),
        (f"the red object {BOX} is a square .", "the square is red .", 1.0),
        (f"the red object {BOX} is a square .", "the red object is a circle .", 0.3),
        # sizes attach to the shape they modify
        (f"the small square {BOX} is red .", "the small square is red .", 1.0),
        (f"the small square {BOX} is red .", "the large square is red .", 0.0),
        # relations: sides of both objects, and the conclusion
        (f"the circle {BOX} is on the left . the square {BOX} is on the right . so the circle is left of the square .",
         "the circle is on the left . the square is on the right . so the circle is left of the square .", 1.0),
        (f"the circle {BOX} is on the left . the square {BOX} is on the right . so the circle is left of the square .",
         "the circle is on the right . the square is on the left . so the circle is right of the square .", 0.0),
        # objects named by where they are
        (f"the leftmost object {BOX} is red .", "the leftmost object is red .", 1.0),
        (f"the leftmost object {BOX} is red .", "the leftmost object is blue .", 0.0),
        # position words are one category, so two sides of one object read as a contradiction
        (f"the leftmost object {BOX} is red .", "the topmost object is red .", 0.0),
        (f"the leftmost object {BOX} is red .", "the rightmost object is red .", 0.0),
        # "square" before a noun is still an adjective
        ("a square table is red .", "a round table is red .", 0.0),
    ],
)
def test_hand_made_pairs(reference, candidate, expected):
    assert level(reference, candidate) == expected


def test_square_is_the_subject_of_its_clause():
    assert extract_facts(f"the square {BOX} is red .") == {("square", "colour", "red")}
    assert extract_facts("the red object is a square .") == {("square", "colour", "red")}


WORLD = WorldConfig(canvas=128, cell=32, layout="grid", noise=0, n_clutter=0, distinct_colours=True,
                    question_mix={"colour": 0.3, "colour_choice": 0.1, "relation": 0.2, "shape": 0.2, "colour_at": 0.2})
SCENES = [make_scene(scene_seed(7, "judge", i), WORLD)[0] for i in range(48)]


def _think(completion: str) -> str:
    return extract_think(completion) or ""


@pytest.mark.parametrize("frame", ["pixel", "norm1000"])
def test_world_textual_reasoning_agrees_with_its_grounded_reasoning(frame):
    for scene in SCENES:
        assert level(_think(grounded_cot(scene, frame)), _think(textual_cot(scene)), scene.question) == 1.0, scene.question


def test_world_reasoning_with_a_changed_attribute_scores_at_most_0_3():
    checked = 0
    for scene in SCENES:
        reference, textual = _think(grounded_cot(scene)), _think(textual_cot(scene))
        target = scene.objects[scene.targets[0]]
        if scene.qtype == "relation":
            flipped = {"left": "right", "right": "left"}
            wrong = " ".join(flipped.get(w, w) for w in textual.split())
        elif scene.qtype == "shape":
            other = next(s for s in SHAPES if s != target.shape)
            wrong = textual.replace(f"a {target.shape}", f"a {other}")
        else:
            other = next(c for c in COLOURS if c != target.colour)
            wrong = textual.replace(f"is {target.colour}", f"is {other}")
        assert wrong != textual
        assert level(reference, wrong, scene.question) <= 0.3, (reference, wrong)
        checked += 1
    assert checked == len(SCENES)


def _named(scene) -> tuple[str, ...]:
    """How the reasoning names its objects: the position word, else the shapes."""
    return (scene.place,) if scene.place else tuple(scene.objects[i].shape for i in scene.targets)


def test_world_reasoning_about_another_object_scores_at_most_0_7():
    pairs = 0
    for a, b in itertools.combinations(SCENES[:32], 2):
        if a.qtype != b.qtype or _named(a) == _named(b):
            continue
        assert level(_think(grounded_cot(a)), _think(textual_cot(b)), a.question) <= 0.7, (a.question, b.question)
        pairs += 1
    assert pairs > 20
