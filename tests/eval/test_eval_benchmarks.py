"""Each benchmark: load its release format, prompt, extract and score under every profile.

Expected numbers are computed by hand in the comments next to each completion, following
the toolkits' own extraction code (quirks included; see each benchmark module's docstring).
"""

from __future__ import annotations

import base64
import json
import shutil

import pytest
from eval_fixture_builders import (records, write_cvbench, write_hrbench, write_mme_json,
                                   write_mme_parquet, write_pope, write_rwqa, write_vstar)

from ivgr.eval import get_benchmark


def headline(bench, recs, profile):
    return bench.evaluate(recs, profile)["headline"]


# ---------------------------------------------------------------------------------------- V*
VSTAR_ROWS = [
    {"category": "direct_attributes", "question": "What is the colour of the cup?",
     "options": ["white", "red", "blue", "green"], "label": "A"},
    {"category": "direct_attributes", "question": "What is the material of the glove?",
     "options": ["rubber", "cotton", "kevlar", "leather"], "label": "C"},
    {"category": "relative_position", "question": "Is the dog left or right of the cat?",
     "options": ["left", "right"], "label": "B"},
    {"category": "relative_position", "question": "Is the lamp above or below the table?",
     "options": ["above", "below"], "label": "A"},
]
VSTAR_OUT = [
    "<think>hmm</think><answer>D</answer>",  # wrong everywhere
    # ivgr: option text kevlar -> C; lmms-eval: starts with B ("Based") -> B (quirk);
    # VLMEvalKit: no letter token, option text "kevlar" -> C
    "<think>x</think><answer>Based on the image, the material is kevlar.</answer>",
    "<think>x</think><answer>The answer is B</answer>",  # right everywhere
    # ivgr: "A" before a lower-case word is an article; option text "above" -> A;
    # lmms-eval: starts with A -> A; VLMEvalKit: A is not among the last 4 tokens and the
    # answer is longer than 2x the option texts -> Z (wrong)
    "<think>x</think><answer>A is correct because the object sits clearly above the other one</answer>",
]


def test_vstar_loads_release_jsonl_with_image_folders_and_scores_each_profile(tmp_path):
    write_vstar(tmp_path, VSTAR_ROWS)
    bench = get_benchmark("vstar")
    items = list(bench.load(tmp_path))
    assert [i.answer for i in items] == ["A", "C", "B", "A"]
    assert items[1].question == "What is the material of the glove?"
    assert items[1].choices == {"A": "rubber", "B": "cotton", "C": "kevlar", "D": "leather"}
    assert items[0].image().size == (64, 48)
    prompt = bench.prompt(items[1])
    assert "C. kevlar" in prompt and prompt.count("Answer with the option's letter") == 1
    recs = records(bench, tmp_path, VSTAR_OUT)
    ivgr = bench.evaluate(recs, "ivgr")
    assert ivgr["headline"] == 75.0
    assert ivgr["metrics"]["direct_attributes"] == 50.0 and ivgr["metrics"]["relative_position"] == 100.0
    assert headline(bench, recs, "official") == 75.0
    lmms = bench.evaluate(recs, "lmms-eval")
    assert lmms["headline"] == 50.0 and lmms["metrics"]["direct_attributes"] == 0.0
    vk = bench.evaluate(recs, "vlmevalkit")
    assert vk["headline"] == 50.0 and vk["metrics"]["relative_position"] == 50.0


# ------------------------------------------------------------------------------------ HR-Bench
HR_ROWS = [  # options A red, B blue, C green, D pink
    {"cycle": "c0", "category": "single", "answer": "B"},
    {"cycle": "c0", "category": "single", "answer": "A"},
    {"cycle": "c0", "category": "cross", "answer": "B"},
    {"cycle": "c0", "category": "cross", "answer": "C"},
    {"cycle": "c1", "category": "single", "answer": "A"},
    {"cycle": "c1", "category": "single", "answer": "C"},
    {"cycle": "c1", "category": "cross", "answer": "D"},
    {"cycle": "c1", "category": "cross", "answer": "A"},
]
HR_OUT = [
    "<answer>B</answer>",  # right everywhere
    "<answer>D</answer>",  # wrong everywhere
    # legacy can_infer (lmms-eval): B anywhere -> right; VLMEvalKit: B not in last 4 tokens and
    # too long for the text match -> Z; ivgr: a single stand-alone letter -> B
    "<answer>B is the right one here for sure</answer>",
    # VLMEvalKit "answer is X" regex -> C; legacy has no regex, 3 letters -> Z; ivgr -> C
    "<answer>the correct answer is C, not A or B</answer>",
    "<answer>A</answer>",  # right everywhere
    "<answer>green</answer>",  # option text -> C everywhere
    "<answer>pink or red</answer>",  # two option texts: ambiguous, wrong everywhere
    "<answer>A</answer>",  # right everywhere
]
# per cycle (all, single, cross):
#   ivgr/official: c0 = (75, 50, 100), c1 = (75, 100, 50) -> average 75, single 75, cross 75
#   lmms-eval:     c0 = (50, 50, 50),  c1 = (75, 100, 50) -> 62.5, 75, 50
#   vlmevalkit:    c0 = (50, 50, 50),  c1 = (75, 100, 50) -> 62.5, 75, 50


@pytest.mark.parametrize("fmt", ["parquet", "tsv"])
def test_hrbench_reads_base64_release_and_averages_over_cycles(tmp_path, fmt):
    write_hrbench(tmp_path, "4k", HR_ROWS, fmt=fmt)
    bench = get_benchmark("hrbench4k")
    items = list(bench.load(tmp_path))
    assert len(items) == 8 and items[0].meta["cycle_category"] == "c0"
    assert items[3].image().size == (80, 60)
    assert bench.prompt(items[0]) == ("Question 0?\nA. red\nB. blue\nC. green\nD. pink\n"
                                      "Answer with the option's letter from the given choices.")
    recs = records(bench, tmp_path, HR_OUT)
    ivgr = bench.evaluate(recs, "ivgr")
    assert (ivgr["headline"], ivgr["metrics"]["single"], ivgr["metrics"]["cross"]) == (75.0, 75.0, 75.0)
    assert ivgr["metrics"]["per_cycle"]["c0"] == {"all": 75.0, "cross": 100.0, "single": 50.0}
    lmms = bench.evaluate(recs, "lmms-eval")
    assert (lmms["headline"], lmms["metrics"]["single"], lmms["metrics"]["cross"]) == (62.5, 75.0, 50.0)
    vk = bench.evaluate(recs, "vlmevalkit")
    assert (vk["headline"], vk["metrics"]["single"], vk["metrics"]["cross"]) == (62.5, 75.0, 50.0)


def test_hrbench_resolves_an_image_cell_that_names_another_rows_index(tmp_path):
    rows = [dict(HR_ROWS[0]), dict(HR_ROWS[1], image="0")]  # VLMEvalKit's space-saving reference
    write_hrbench(tmp_path, "8k", rows, fmt="tsv")
    items = list(get_benchmark("hrbench8k").load(tmp_path))
    assert items[1].image().size == items[0].image().size == (80, 60)


# ------------------------------------------------------------------------------- MME-RW-Lite
MME_ROWS = [
    {"category": "Perception/Remote Sensing", "l2": "position", "answer": "A"},
    {"category": "Perception/Remote Sensing", "l2": "color", "answer": "C"},
    {"category": "Reasoning/Monitoring", "l2": "vehicle_attribute", "answer": "D"},
    {"category": "Reasoning/Monitoring", "l2": "counting", "answer": "A"},
]
MME_OUT = [
    "<answer>A</answer>",  # right everywhere
    "<answer>Answer: C</answer>",  # extract_characters_regex: first capital A-E is the A of "Answer"
    # official script: the missing-comma bug leaves "Best option:" unremoved -> B; others -> D
    "<answer>Best option: D</answer>",
    "",  # empty response: the toolkits' extractor returns A ("" is in "(a) ..."), ivgr: unparsed
]
# ivgr: 1 1 1 0 -> 75 (Perception 100, Reasoning 50); official: 1 0 0 1 -> 50;
# lmms-eval and vlmevalkit: 1 0 1 1 -> 75 (Perception 50, Reasoning 100)


def test_mme_realworld_lite_lmms_parquet_scores_quirks_per_profile(tmp_path):
    write_mme_parquet(tmp_path, MME_ROWS)
    bench = get_benchmark("mme_realworld_lite")
    items = list(bench.load(tmp_path))
    assert items[0].choices["E"] == "option e" and items[2].meta["l2"] == "vehicle_attribute/attribute"
    assert items[0].image().size == (32, 32)
    assert "The choices are listed below:\n(A) option a" in bench.prompt(items[0])
    recs = records(bench, tmp_path, MME_OUT)
    ivgr = bench.evaluate(recs, "ivgr")
    assert (ivgr["headline"], ivgr["metrics"]["Perception"], ivgr["metrics"]["Reasoning"]) == (75.0, 100.0, 50.0)
    assert ivgr["unparsed"] == 1
    assert headline(bench, recs, "official") == 50.0
    lmms = bench.evaluate(recs, "lmms-eval")
    assert (lmms["headline"], lmms["metrics"]["Perception"], lmms["metrics"]["Reasoning"]) == (75.0, 50.0, 100.0)
    assert lmms["metrics"]["Perception/Remote Sensing/color"] == 0.0
    assert headline(bench, recs, "vlmevalkit") == 75.0


def test_mme_realworld_lite_reads_the_official_json_and_image_folder(tmp_path):
    write_mme_json(tmp_path, [{"answer": "B", "l2": "position", "task": "Perception", "subtask": "OCR"}])
    [item] = list(get_benchmark("mme_realworld_lite").load(tmp_path))
    assert (item.answer, item.category, item.choices["B"]) == ("B", "Perception/OCR", "thing B")
    assert item.image().size == (32, 32)


# ---------------------------------------------------------------------------------------- POPE
POPE_ROWS = [
    {"category": "adversarial", "answer": "yes"}, {"category": "adversarial", "answer": "no"},
    {"category": "popular", "answer": "yes"}, {"category": "popular", "answer": "no"},
    {"category": "random", "answer": "yes"}, {"category": "random", "answer": "no"},
]
POPE_OUT = [
    "<answer>Yes.</answer>",  # lmms-eval: "yes." != "yes" (wrong, and not a yes prediction)
    "<answer>no</answer>",
    "<answer>There is not a dog, no.</answer>",  # a "no" for every rule
    "<answer>I cannot tell</answer>",  # ivgr: unparsed; POPE official: no negation word -> yes
    "<answer>yes</answer>",
    "<answer>Yes</answer>",  # a false positive
]


def test_pope_parquet_metrics_per_split_and_pooled_for_each_profile(tmp_path):
    write_pope(tmp_path, POPE_ROWS)
    bench = get_benchmark("pope")
    items = list(bench.load(tmp_path))
    assert [i.kind for i in items] == ["yesno"] * 6 and items[0].image().size == (40, 30)
    assert bench.prompt(items[0]).endswith("Answer yes or no.")
    recs = records(bench, tmp_path, POPE_OUT)
    ivgr = bench.evaluate(recs, "ivgr")["metrics"]
    # preds yes,no,no,None,yes,yes: TP 2, FP 1, FN 1
    assert ivgr["pooled"]["accuracy"] == 50.0
    assert round(ivgr["pooled"]["precision"], 2) == round(ivgr["pooled"]["recall"], 2) == 66.67
    assert ivgr["pooled"]["yes_ratio"] == 50.0
    assert ivgr["adversarial"]["f1"] == 100.0 and ivgr["popular"]["accuracy"] == 0.0
    assert round(ivgr["random"]["f1"], 2) == 66.67 and ivgr["random"]["yes_ratio"] == 100.0
    off = bench.evaluate(recs, "official")
    # preds yes,no,no,yes,yes,yes: TP 2, FP 2, FN 1
    assert off["headline"] == 50.0 and off["metrics"]["pooled"]["precision"] == 50.0
    assert round(off["metrics"]["pooled"]["f1"], 2) == 57.14 and round(off["metrics"]["pooled"]["yes_ratio"], 2) == 66.67
    lmms = bench.evaluate(recs, "lmms-eval")["metrics"]["pooled"]
    # exact-string rule: only p2, p5 right; TP 1 (p5), FP 1 (p6), FN 0; yes_ratio = gold share
    assert round(lmms["accuracy"], 2) == 33.33 and lmms["precision"] == 50.0 and lmms["recall"] == 100.0
    assert lmms["yes_ratio"] == 50.0
    vk = bench.evaluate(recs, "vlmevalkit")
    assert round(vk["headline"], 2) == 66.67 and vk["headline_name"] == "pooled F1"
    assert vk["metrics"]["pooled"]["accuracy"] == 50.0


# --------------------------------------------------------------------------------- RealWorldQA
RWQA_ROWS = [
    {"question": "Which way does the car turn?", "options": ["Left", "Straight", "Right"], "answer": "C"},
    {"question": "Which way does the truck turn?", "options": ["Left", "Straight", "Right"], "answer": "A"},
    {"question": "How many cars are there?", "answer": "2"},
]
RWQA_OUT = [
    "<answer>C</answer>",
    # ivgr and VLMEvalKit match the option text "left"; lmms-eval's extract_mcq_answer finds no letter
    "<answer>The car turns left</answer>",
    "<answer>Two.</answer>",  # ivgr: number word -> 2; the toolkits compare "two" with "2"
]


def test_realworldqa_parses_embedded_options_and_scores_open_items(tmp_path):
    write_rwqa(tmp_path, RWQA_ROWS)
    bench = get_benchmark("realworldqa")
    items = list(bench.load(tmp_path))
    assert items[0].choices == {"A": "Left", "B": "Straight", "C": "Right"} and items[0].kind == "mcq"
    assert items[2].kind == "open" and len({i.item_id for i in items}) == 3
    assert "Please answer directly" not in bench.prompt(items[0])
    recs = records(bench, tmp_path, RWQA_OUT)
    assert headline(bench, recs, "ivgr") == 100.0
    assert headline(bench, recs, "official") == 100.0
    assert round(headline(bench, recs, "lmms-eval"), 2) == 33.33
    assert round(headline(bench, recs, "vlmevalkit"), 2) == 66.67


# ------------------------------------------------------------------------------------ CV-Bench
CV2D_ROWS = [
    {"task": "Count", "source": "ADE20K", "question": "How many chairs?", "choices": ["3", "2", "1", "0"], "answer": "(A)"},
    {"task": "Count", "source": "ADE20K", "question": "How many lamps?", "choices": ["3", "2", "1", "0"], "answer": "(B)"},
    {"task": "Relation", "source": "ADE20K", "question": "Is the bed left of the door?", "choices": ["yes", "no"], "answer": "(A)"},
    {"task": "Relation", "source": "COCO", "question": "Which is closer?", "choices": ["cup", "plate"], "answer": "(A)"},
]
CV2D_OUT = [
    "<answer>A</answer>",
    "<answer>The answer is B</answer>",  # lmms-eval reads the first letter: T (quirk)
    "<answer>(B)</answer>",  # wrong everywhere
    # Cambrian keeps the first character (b), lmms-eval too (B); ivgr and VLMEvalKit read the final A
    "<answer>Bottom one is closer, so A</answer>",
]
# ivgr/vlmevalkit: ADE 2/3, COCO 1/1 -> mean 83.33; official: ADE 2/3, COCO 0 -> 33.33; lmms-eval pooled 1/4


def test_cvbench2d_official_is_the_mean_of_source_accuracies(tmp_path):
    write_cvbench(tmp_path, "2D", CV2D_ROWS)
    bench = get_benchmark("cvbench2d")
    items = list(bench.load(tmp_path))
    assert items[0].answer == "A" and items[0].meta["source"] == "ADE20K" and items[0].image().size == (32, 32)
    assert "A. 3\nB. 2" in bench.prompt(items[0])
    recs = records(bench, tmp_path, CV2D_OUT)
    ivgr = bench.evaluate(recs, "ivgr")
    assert round(ivgr["headline"], 2) == 83.33 and ivgr["metrics"]["pooled"] == 75.0
    assert round(headline(bench, recs, "official"), 2) == 33.33
    assert headline(bench, recs, "lmms-eval") == 25.0
    assert round(headline(bench, recs, "vlmevalkit"), 2) == 83.33


def test_cvbench3d_reads_jsonl_with_image_files_and_reports_omni3d_accuracy(tmp_path):
    rows = [{"task": "Depth", "source": "Omni3D", "question": "Which is closer?", "choices": ["a", "b"], "answer": "(A)"},
            {"task": "Distance", "source": "Omni3D", "question": "Which is nearer?", "choices": ["a", "b"], "answer": "(B)"}]
    write_cvbench(tmp_path, "3D", rows, fmt="jsonl")
    bench = get_benchmark("cvbench3d")
    items = list(bench.load(tmp_path))
    assert items[1].image().size == (32, 32)
    recs = records(bench, tmp_path, ["<answer>A</answer>", "<answer>A</answer>"])
    for profile in ("ivgr", "official", "lmms-eval", "vlmevalkit"):
        assert headline(bench, recs, profile) == 50.0
    assert bench.evaluate(recs, "official")["headline_name"] == "Omni3D accuracy"


def test_hrbench_undecodable_base64_image_names_file_and_row(tmp_path):
    from ivgr.errors import DataError

    bad = base64.b64encode(b"not an image at all").decode() * 4
    write_hrbench(tmp_path, "4k", [HR_ROWS[0], dict(HR_ROWS[1], image=bad)], fmt="parquet")
    items = list(get_benchmark("hrbench4k").load(tmp_path))
    assert items[0].image().size == (80, 60)
    with pytest.raises(DataError, match=r"hr_bench_4k\.parquet: row 2: cannot decode image"):
        items[1].image()


def test_pope_full_config_files_load_each_split(tmp_path):
    for split in ("adversarial", "popular", "random"):
        write_pope(tmp_path / split, [{"category": split, "answer": "yes"}, {"category": split, "answer": "no"}])
        (tmp_path / "Full").mkdir(exist_ok=True)
        shutil.move(tmp_path / split / "data" / "test-00000-of-00001.parquet",
                    tmp_path / "Full" / f"{split}-00000-of-00001.parquet")
    items = list(get_benchmark("pope").load(tmp_path))
    assert [i.category for i in items] == ["adversarial"] * 2 + ["popular"] * 2 + ["random"] * 2


def test_cvbench_old_combined_test_file_is_filtered_by_type(tmp_path):
    rows2d = [dict(CV2D_ROWS[0])]
    write_cvbench(tmp_path, "2D", rows2d, fmt="jsonl")
    path = tmp_path / "test_2d.jsonl"
    lines = path.read_text().splitlines()
    three = dict(json.loads(lines[0]), idx=7, type="3D", source="Omni3D", task="Depth")
    (tmp_path / "test.jsonl").write_text(lines[0] + "\n" + json.dumps(three) + "\n")
    path.unlink()
    assert [i.item_id for i in get_benchmark("cvbench2d").load(tmp_path)] == ["0"]
    assert [i.item_id for i in get_benchmark("cvbench3d").load(tmp_path)] == ["7"]
