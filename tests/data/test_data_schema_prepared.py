"""Sample schema and the prepared-dataset directory: atomic writes, refusals of incomplete dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ivgr.data.prepared import (
    MANIFEST_NAME,
    SAMPLES_NAME,
    PreparedWriter,
    read_manifest,
    read_prepared,
    stale_partials,
    write_prepared,
)
from ivgr.data.schema import Sample, make_sample_id
from ivgr.errors import DataError


def _sample(i: int = 0, **kw) -> Sample:
    base = dict(sample_id=f"s{i}", image=f"images/{i}.png", question="What colour?", answer="red",
                target_boxes=[(1, 2, 30, 40)], image_size=(56, 56), datasource="treevgr")
    base.update(kw)
    return Sample(**base)


def test_sample_id_is_stable_and_depends_on_image_and_question():
    a = make_sample_id(b"\x89PNG...", "What colour?")
    assert a == make_sample_id(b"\x89PNG...", "What colour?")
    assert a != make_sample_id(b"\x89PNG..!", "What colour?")
    assert a != make_sample_id(b"\x89PNG...", "What shape?")


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(target_boxes=[(10, 2, 5, 40)]), "x1<x2"),  # inverted box
        (dict(target_boxes=[(1, 2, float("nan"), 40)]), "non-finite"),
        (dict(target_boxes=[(1, 2, 60, 40)]), "outside"),  # x2 beyond the 56-px image
        (dict(image_size=None), "need image_size"),  # pixel boxes without the size they refer to
        (dict(frame="norm1"), "frame"),
        (dict(kind="grounded"), "kind"),
        (dict(frame="norm1000", target_boxes=[(0, 0, 1001, 10)]), "outside"),
    ],
)
def test_sample_rejects_boxes_inconsistent_with_their_image(change, needle):
    with pytest.raises(ValueError, match=needle):
        _sample(**change)


def test_written_dataset_reads_back_with_manifest_counts(tmp_path):
    out = tmp_path / "prep"
    samples = [_sample(0), _sample(1, kind="single", target_boxes=[], datasource="ours_tqa")]
    write_prepared(out, samples, {"images/0.png": b"a", "images/1.png": b"b"}, {"frame": "pixel"})
    assert read_prepared(out) == samples
    manifest = read_manifest(out)
    assert manifest["count"] == 2 and manifest["frame"] == "pixel"
    assert manifest["counts"]["by_kind"] == {"paired": 1, "single": 1}
    assert manifest["counts"]["by_datasource"] == {"ours_tqa": {"single": 1}, "treevgr": {"paired": 1}}
    assert (out / "images" / "1.png").read_bytes() == b"b"
    assert not stale_partials(out)


def test_read_refuses_dir_without_manifest(tmp_path):
    out = tmp_path / "prep"
    out.mkdir()
    (out / SAMPLES_NAME).write_text(_sample().model_dump_json() + "\n")
    with pytest.raises(DataError, match="manifest.json is missing"):
        read_prepared(out)


def test_read_refuses_leftover_partial_dir(tmp_path):
    out = tmp_path / "prep"
    write_prepared(out, [_sample()], {}, {})
    partial = tmp_path / "prep.partial-999999"
    os.rename(out, partial)
    with pytest.raises(DataError, match="interrupted"):
        read_prepared(partial)


def test_read_refuses_truncated_samples_file(tmp_path):
    out = tmp_path / "prep"
    write_prepared(out, [_sample(0), _sample(1)], {}, {})
    lines = (out / SAMPLES_NAME).read_text().splitlines(keepends=True)
    (out / SAMPLES_NAME).write_text(lines[0])
    with pytest.raises(DataError, match="has 1 samples but"):
        read_prepared(out)


def test_read_refuses_samples_edited_after_prepare(tmp_path):
    out = tmp_path / "prep"
    write_prepared(out, [_sample(0)], {}, {})
    path = out / SAMPLES_NAME
    path.write_text(path.read_text().replace('"red"', '"blue"'))
    with pytest.raises(DataError, match="checksum"):
        read_prepared(out)


def test_read_names_file_and_line_of_a_bad_sample(tmp_path):
    out = tmp_path / "prep"
    write_prepared(out, [_sample(0)], {}, {})
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest.pop("samples_sha256")
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    (out / SAMPLES_NAME).write_text('{"sample_id": "x", "image": "a.png", "question": "q"}\n')
    with pytest.raises(DataError, match=r"samples.jsonl:1: key 'answer'"):
        read_prepared(out)


def test_interrupted_writer_leaves_no_output_and_old_dataset_intact(tmp_path):
    out = tmp_path / "prep"
    write_prepared(out, [_sample(0)], {}, {"tag": "old"})
    with pytest.raises(KeyboardInterrupt):
        with PreparedWriter(out) as writer:
            writer.add_sample(_sample(1))
            raise KeyboardInterrupt
    assert read_manifest(out)["tag"] == "old"
    assert [s.sample_id for s in read_prepared(out)] == ["s0"]
    assert not list(tmp_path.glob("prep.partial-*"))


def test_writer_removes_stale_partial_of_dead_process_and_replaces_old_output(tmp_path):
    out = tmp_path / "prep"
    stale = tmp_path / "prep.partial-999999"  # no such pid: a hard-killed earlier run
    (stale / "images").mkdir(parents=True)
    write_prepared(out, [_sample(0)], {}, {})
    assert not stale.exists()
    write_prepared(out, [_sample(5)], {}, {})
    assert [s.sample_id for s in read_prepared(out)] == ["s5"]


def test_writer_refuses_to_replace_a_foreign_directory(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="not part of a prepared dataset"):
        write_prepared(out, [_sample()], {}, {})
    assert (out / "thesis.tex").read_text() == "precious"


def test_data_modules_import_without_training_stack():
    code = (
        "import sys, ivgr.data, ivgr.data.readers, ivgr.data.adapters, ivgr.data.validate, "
        "ivgr.data.prepare, ivgr.data.sft_build, ivgr.commands.data_cmd; "
        "bad = {'torch', 'transformers', 'trl'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
