"""The synthetic world: deterministic, exact answers and boxes, same schema as real data."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ivgr.data.prepared import read_prepared
from ivgr.data.synthetic import (
    COLOURS,
    WorldConfig,
    chance_accuracy,
    generate,
    grounded_cot,
    make_scene,
    object_mask,
    scene_seed,
    scenes_of,
    textual_cot,
    world_vocabulary,
    write_sft_jsonl,
)
from ivgr.errors import ConfigError
from ivgr.parsing import extract_answer, extract_boxes, strip_boxes


def _digest(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((directory / "images").iterdir())}


def test_same_seed_gives_identical_samples_and_pixels(tmp_path):
    generate(tmp_path / "a", n=6, seed=3, split="train")
    generate(tmp_path / "b", n=6, seed=3, split="train")
    rows_a = [s.model_dump() for s in read_prepared(tmp_path / "a")]
    rows_b = [s.model_dump() for s in read_prepared(tmp_path / "b")]
    assert rows_a == rows_b
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_other_seed_or_split_gives_other_scenes(tmp_path):
    generate(tmp_path / "a", n=6, seed=3, split="train")
    generate(tmp_path / "b", n=6, seed=4, split="train")
    generate(tmp_path / "c", n=6, seed=3, split="test")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")
    assert list(_digest(tmp_path / "a").values()) != list(_digest(tmp_path / "c").values())


def test_scene_seed_is_stable_across_processes():
    code = "from ivgr.data.synthetic import scene_seed; print(scene_seed(7, 'rl', 11))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) == scene_seed(7, "rl", 11)


@pytest.mark.parametrize("seed", range(40))
def test_target_box_is_exact_bbox_of_the_targets_painted_pixels(seed):
    cfg = WorldConfig()
    scene, image = make_scene(scene_seed(1, "test", seed), cfg)
    pixels = image.load()
    for index in scene.targets:
        obj = scene.objects[index]
        mask = object_mask(obj, cfg.canvas)
        assert mask.getbbox() == obj.box
        x1, y1, x2, y2 = obj.box
        inside = [(x, y) for y in range(y1, y2) for x in range(x1, x2) if mask.getpixel((x, y))]
        # every pixel of the object lies in its box and shows the object's colour (nothing covers it)
        assert inside and all(pixels[x, y] == COLOURS[obj.colour] for x, y in inside)


@pytest.mark.parametrize("seed", range(60))
def test_answer_follows_from_the_scene_graph(seed):
    scene, _ = make_scene(scene_seed(2, "test", seed), WorldConfig())
    objs = [scene.objects[i] for i in scene.targets]
    if scene.qtype in ("colour", "colour_choice"):
        assert scene.answer == objs[0].colour and objs[0].shape in scene.question
        if scene.qtype == "colour_choice":
            assert scene.answer in scene.options
    elif scene.qtype == "shape":
        assert scene.answer == objs[0].shape
        assert sum(o.colour == objs[0].colour for o in scene.objects) == 1  # the colour names one object
    else:
        a, b = objs
        assert scene.answer == ("left" if a.centre[0] < b.centre[0] else "right")


def test_prepared_dataset_round_trips_with_manifest(tmp_path):
    summary = generate(tmp_path / "d", n=12, seed=0, split="train")
    samples = read_prepared(tmp_path / "d")
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert len(samples) == manifest["count"] == 12
    assert manifest["frame"] == "pixel" and manifest["format"] == "ivgr-prepared"
    for sample in samples:
        with Image.open(tmp_path / "d" / sample.image) as im:
            assert im.size == tuple(sample.image_size)
        assert sample.kind == "paired" and sample.target_boxes
    assert summary["chance_accuracy"] == pytest.approx(manifest["chance_accuracy"])


def test_chance_accuracy_weights_each_question_type_by_its_answer_space():
    cfg = WorldConfig()
    scenes = [make_scene(scene_seed(0, "x", i), cfg)[0] for i in range(50)]
    per = {"colour": 1 / 4, "colour_choice": 1 / 3, "relation": 1 / 2, "shape": 1 / 4}
    expected = sum(per[s.qtype] for s in scenes) / len(scenes)
    assert chance_accuracy(scenes, cfg) == pytest.approx(expected)
    only_relation = WorldConfig(question_mix={"relation": 1.0})
    rel = [make_scene(scene_seed(0, "x", i), only_relation)[0] for i in range(10)]
    assert chance_accuracy(rel, only_relation) == pytest.approx(0.5)


def test_grounded_cot_boxes_every_mentioned_object_and_textual_cot_has_none():
    cfg = WorldConfig(question_mix={"relation": 1.0})
    scene, _ = make_scene(scene_seed(0, "x", 0), cfg)
    grounded, textual = grounded_cot(scene), textual_cot(scene)
    assert [tuple(int(v) for v in b) for b in extract_boxes(grounded)] == [scene.objects[i].box for i in scene.targets]
    assert "<box>" not in textual and extract_answer(textual) == extract_answer(grounded) == scene.answer
    assert " ".join(strip_boxes(grounded).split()) == " ".join(textual.split())


def test_sft_jsonl_is_mostly_grounded_with_some_textual(tmp_path):
    generate(tmp_path / "d", n=60, seed=0, split="sft")
    counts = write_sft_jsonl(tmp_path / "sft.jsonl", tmp_path / "d", textual_fraction=0.25, seed=0)
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert counts["grounded"] == 60 and 0 < counts["textual"] < 60
    assert {r["stream"] for r in rows} == {"grounded", "textual"}
    for row in rows:
        assert {"sample_id", "stream", "image", "prompt", "completion"} <= set(row)
        assert ("<box>" in row["completion"]) == (row["stream"] == "grounded")
        assert (tmp_path / "d").resolve() in Path(row["image"]).parents


def test_scenes_of_rebuilds_the_scene_graph_from_stored_seeds(tmp_path):
    generate(tmp_path / "d", n=5, seed=9, split="rl")
    samples = read_prepared(tmp_path / "d")
    for sample, scene in zip(samples, scenes_of(samples), strict=True):
        assert scene.question == sample.question and scene.answer == sample.answer
        assert [list(scene.objects[i].box) for i in scene.targets] == [list(map(int, b)) for b in sample.target_boxes]


@pytest.mark.parametrize("bad", [{"canvas": 100}, {"n_objects": 9}, {"question_mix": {"count": 1.0}}, {"n_choices": 1}])
def test_bad_world_settings_raise_config_error(bad):
    with pytest.raises(ConfigError):
        WorldConfig(**bad)


def test_synthetic_module_does_not_import_the_training_stack():
    code = "import sys, ivgr.data.synthetic; assert not {'torch', 'transformers', 'trl'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


SALIENT_GRID = WorldConfig(layout="grid", salient=True, min_size=18, max_size=24, noise=0, n_clutter=0,
                           question_mix={"colour": 0.5, "colour_choice": 0.25, "shape": 0.25})


@pytest.mark.parametrize("seed", range(20))
def test_grid_layout_puts_each_object_inside_one_28px_visual_token_cell(seed):
    scene, _ = make_scene(seed, SALIENT_GRID)
    cells = set()
    for obj in scene.objects:
        x1, y1, x2, y2 = obj.box
        assert x1 // 28 == (x2 - 1) // 28 and y1 // 28 == (y2 - 1) // 28, obj  # never straddles a cell
        cells.add((x1 // 28, y1 // 28))
    assert len(cells) == len(scene.objects)  # one object per cell


@pytest.mark.parametrize("seed", range(20))
def test_salient_world_asks_about_the_only_coloured_object(seed):
    scene, image = make_scene(seed, SALIENT_GRID)
    target, *distractors = scene.objects
    assert scene.targets == (0,) and target.colour in COLOURS
    assert all(o.colour == "grey" for o in distractors)
    if scene.qtype == "shape":
        assert scene.answer == target.shape
    else:
        assert scene.answer == target.colour
    # the painted pixels of a distractor are grey, the target's are its colour
    cx, cy = (int(v) for v in target.centre)
    assert image.getpixel((cx, cy)) == COLOURS[target.colour]


def test_grid_layout_rejects_objects_larger_than_a_cell():
    with pytest.raises(ConfigError, match="grid needs max_size <= 26"):
        WorldConfig(layout="grid", max_size=30)
    with pytest.raises(ConfigError, match="layout must be"):
        WorldConfig(layout="spiral")


# The demo's world: targets named by where they are, one object per 32-px Qwen3-VL token cell.
PLACE_GRID = WorldConfig(canvas=128, cell=32, n_objects=3, min_size=14, max_size=28, layout="grid", noise=0,
                         n_clutter=0, distinct_colours=True, question_mix={"colour_at": 1.0})


@pytest.mark.parametrize("seed", range(40))
def test_position_named_question_asks_about_the_clearly_most_extreme_object(seed):
    scene, image = make_scene(seed, PLACE_GRID)
    assert scene.qtype == "colour_at" and scene.question == f"What colour is the {scene.place} object?"
    axis, sign = {"leftmost": (0, -1), "rightmost": (0, 1), "topmost": (1, -1), "bottommost": (1, 1)}[scene.place]
    (target,) = (scene.objects[i] for i in scene.targets)
    others = [o for o in scene.objects if o is not target]
    # at least half a cell further that way than any other object, so the name is unambiguous
    assert all(sign * (target.centre[axis] - o.centre[axis]) >= 16 for o in others)
    assert scene.answer == target.colour
    assert len({o.colour for o in scene.objects}) == len(scene.objects)  # distinct: the answer says which was read
    cx, cy = (int(v) for v in target.centre)
    assert image.getpixel((cx, cy)) == COLOURS[target.colour]
    # the reasoning also says where the target lies along the other axis (thirds of the canvas)
    other = target.centre[1 - axis] / 128
    across = (("at the top", "in the middle", "at the bottom") if axis == 0 else
              ("on the left", "in the middle", "on the right"))[0 if other < 1 / 3 else 1 if other < 2 / 3 else 2]
    assert textual_cot(scene) == (f"<think>the {scene.place} object {across} is {target.colour} .</think>"
                                  f"<answer>{target.colour}</answer>")


@pytest.mark.parametrize("seed", range(10))
def test_grid_cells_follow_the_token_side(seed):
    scene, _ = make_scene(seed, PLACE_GRID)
    cells = {(o.box[0] // 32, o.box[1] // 32) for o in scene.objects}
    assert all(o.box[0] // 32 == (o.box[2] - 1) // 32 and o.box[1] // 32 == (o.box[3] - 1) // 32 for o in scene.objects)
    assert len(cells) == len(scene.objects)


def test_norm1000_world_writes_boxes_in_thousandths_of_the_canvas(tmp_path):
    generate(tmp_path / "px", n=6, seed=3, split="test", cfg=PLACE_GRID, frame="pixel")
    generate(tmp_path / "nm", n=6, seed=3, split="test", cfg=PLACE_GRID, frame="norm1000")
    for px, nm in zip(read_prepared(tmp_path / "px"), read_prepared(tmp_path / "nm"), strict=True):
        assert (px.frame, nm.frame) == ("pixel", "norm1000")
        for a, b in zip(px.target_boxes, nm.target_boxes, strict=True):
            assert all(abs(v * 1000 / 128 - w) <= 0.5 for v, w in zip(a, b))
    scene = scenes_of(read_prepared(tmp_path / "nm"), PLACE_GRID)[0]
    assert [list(b) for b in extract_boxes(grounded_cot(scene, "norm1000"))] == [
        [float(v) for v in read_prepared(tmp_path / "nm")[0].target_boxes[0]]]


def test_cell_must_match_a_qwen_token_and_divide_the_canvas():
    with pytest.raises(ConfigError, match="cell must be 28"):
        WorldConfig(cell=30)
    with pytest.raises(ConfigError, match="multiple of 32"):
        WorldConfig(canvas=112, cell=32)
    with pytest.raises(ConfigError, match="distinct_colours"):
        WorldConfig(n_objects=4, colours=("red", "blue", "green"), shapes=("circle", "square", "triangle", "diamond"),
                    distinct_colours=True)


CHECK_GRID = WorldConfig(canvas=128, cell=32, n_objects=3, min_size=14, max_size=22, layout="grid", noise=0,
                         n_clutter=0, distinct_colours=True, question_mix={"colour_check": 1.0})


def test_colour_check_asks_yes_or_no_about_the_named_object_half_and_half():
    scenes = [make_scene(seed, CHECK_GRID)[0] for seed in range(200)]
    assert {s.qtype for s in scenes} == {"colour_check"}
    assert 80 <= sum(s.answer == "yes" for s in scenes) <= 120
    for scene in scenes:
        (target,) = (scene.objects[i] for i in scene.targets)
        asked = scene.question.removeprefix(f"Is the {scene.place} object ").removesuffix("?")
        assert asked in COLOURS and scene.answer == ("yes" if asked == target.colour else "no")
        # the reasoning reads the target's colour; the answer compares it with the asked one
        assert textual_cot(scene).endswith(f" is {target.colour} .</think><answer>{scene.answer}</answer>")
    assert chance_accuracy(scenes, CHECK_GRID) == 0.5


def test_colour_check_consistency_rejects_a_wrong_reading_that_answers_right():
    from ivgr.judges.rules import compare_reasoning

    scene = next(s for s in (make_scene(seed, CHECK_GRID)[0] for seed in range(50)) if s.answer == "no")
    (target,) = (scene.objects[i] for i in scene.targets)
    asked = scene.question.removeprefix(f"Is the {scene.place} object ").removesuffix("?")
    wrong = next(c for c in COLOURS if c not in (target.colour, asked))  # read wrong, still answers "no"
    careless = textual_cot(scene).replace(f" is {target.colour} .", f" is {wrong} .")
    assert careless.endswith("<answer>no</answer>")
    assert compare_reasoning(grounded_cot(scene, "norm1000"), careless, question=scene.question).level == 0.0
    assert compare_reasoning(grounded_cot(scene, "norm1000"), textual_cot(scene), question=scene.question).level == 1.0


def test_yes_and_no_join_the_vocabulary_only_for_a_world_that_asks_them():
    assert {"yes", "no"} <= set(world_vocabulary(CHECK_GRID))
    assert not {"yes", "no"} & set(world_vocabulary(PLACE_GRID))
