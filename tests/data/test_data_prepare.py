"""`ivgr data prepare`: split, conversion, exclusions with reasons, idempotence, atomicity."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from data_fixture_builder import authors_row, good_dataset, write_image, write_parquet
from PIL import Image

from ivgr.data.prepare import PrepareConfig, prepare
from ivgr.data.prepared import read_manifest, read_prepared, resolve_image
from ivgr.data.readers import open_source
from ivgr.errors import ConfigError


def _mixed(root):
    write_image(root / "images" / "big.png", (640, 480))
    write_image(root / "images" / "small.jpg", (300, 200), fmt="JPEG")
    rows = [
        authors_row("images/big.png", query="p0", boxes=[[100, 50, 300, 250]], datasource="treevgr"),
        authors_row("images/small.jpg", query="s0", datasource="ours_mmk12"),
        authors_row("images/big.png", query="u0", datasource="laion"),             # unknown source
        authors_row("images/small.jpg", query="p1", boxes=[[0, 0, 30, 20]], datasource="treevgr"),
        authors_row("images/gone.png", query="p2", datasource="treevgr"),          # missing image
        authors_row("images/big.png", query="s1", datasource="ours_infoqa"),
    ]
    return write_parquet(root / "mixed.parquet", rows)


def test_prepare_splits_paired_and_single_and_counts_every_exclusion(tmp_path):
    src = open_source(_mixed(tmp_path))
    summary = prepare(src, tmp_path / "out")
    samples = read_prepared(tmp_path / "out")
    assert [(s.question, s.kind) for s in samples] == [("p0", "paired"), ("s0", "single"), ("p1", "paired"), ("s1", "single")]
    assert summary.excluded == {"unknown_datasource": 1, "missing_image": 1}
    manifest = read_manifest(tmp_path / "out")
    assert manifest["rows"] == 6 and manifest["count"] == 4
    assert manifest["excluded"] == {"missing_image": 1, "unknown_datasource": 1}
    assert manifest["counts"]["by_datasource"]["treevgr"] == {"paired": 2}
    excluded = [json.loads(x) for x in (tmp_path / "out" / "excluded.jsonl").read_text().splitlines()]
    assert [(e["index"], e["reason"]) for e in excluded] == [(2, "unknown_datasource"), (4, "missing_image")]


def test_prepared_images_have_the_smart_resize_size_and_boxes_follow(tmp_path):
    prepare(open_source(_mixed(tmp_path)), tmp_path / "out")
    p0 = read_prepared(tmp_path / "out")[0]
    assert p0.image_size == (644, 476)  # smart_resize(480, 640) = (476, 644)
    with Image.open(resolve_image(tmp_path / "out", p0)) as img:
        assert img.size == (644, 476)
    assert p0.target_boxes == [(101.0, 50.0, 302.0, 248.0)]
    assert p0.meta["original_size"] == [640, 480]
    # rows sharing a source image share one resized file
    s1 = read_prepared(tmp_path / "out")[3]
    assert s1.image == p0.image


def test_norm1000_frame_and_small_max_pixels(tmp_path):
    config = PrepareConfig(frame="norm1000", max_pixels=56 * 56 * 4)
    prepare(open_source(_mixed(tmp_path)), tmp_path / "out", config=config)
    p0 = read_prepared(tmp_path / "out")[0]
    assert p0.frame == "norm1000"
    assert p0.image_size[0] * p0.image_size[1] <= 56 * 56 * 4
    assert p0.target_boxes == [(100 / 640 * 1000, 50 / 480 * 1000, 300 / 640 * 1000, 250 / 480 * 1000)]


@pytest.mark.parametrize(
    "config, kinds",
    [
        (PrepareConfig(paired_sources=("*",)), ["paired", "single", "paired", "paired", "single"]),  # exact names win
        (PrepareConfig(paired_sources=("*",), single_sources=()), ["paired"] * 5),
        (PrepareConfig(unknown_sources="single"), ["paired", "single", "single", "paired", "single"]),
        (PrepareConfig(paired_sources=("treevgr", "laion"), single_sources=("ours_mmk12",)), ["paired", "single", "paired", "paired"]),
    ],
)
def test_source_lists_are_configurable(tmp_path, config, kinds):
    prepare(open_source(_mixed(tmp_path)), tmp_path / "out", config=config)
    assert [s.kind for s in read_prepared(tmp_path / "out")] == kinds


def test_conflicting_source_lists_are_a_config_error():
    with pytest.raises(ConfigError, match="in both --paired-sources and --single-sources"):
        PrepareConfig(paired_sources=("a",), single_sources=("a",))


def test_rerun_with_same_input_and_settings_is_skipped_and_output_unchanged(tmp_path):
    src = open_source(good_dataset(tmp_path))
    first = prepare(src, tmp_path / "out")
    before = (tmp_path / "out" / "manifest.json").read_bytes()
    again = prepare(src, tmp_path / "out")
    assert not first.skipped and again.skipped and again.kept == first.kept
    assert (tmp_path / "out" / "manifest.json").read_bytes() == before
    changed = prepare(src, tmp_path / "out", config=PrepareConfig(frame="norm1000"))
    assert not changed.skipped
    assert read_manifest(tmp_path / "out")["frame"] == "norm1000"


def test_interrupted_run_is_not_accepted_and_next_run_rebuilds(tmp_path):
    src = open_source(good_dataset(tmp_path))
    out = tmp_path / "out"
    # a hard-killed earlier run: staging dir of a dead process + a target dir with no manifest
    (tmp_path / "out.partial-999999" / "images").mkdir(parents=True)
    out.mkdir()
    (out / "samples.jsonl").write_text("{}\n")
    with pytest.raises(Exception, match="manifest.json is missing"):
        read_prepared(out)
    summary = prepare(src, out)
    assert not summary.skipped and len(read_prepared(out)) == 5
    assert not (tmp_path / "out.partial-999999").exists()


def test_failure_midway_keeps_previous_output(tmp_path, monkeypatch):
    src = open_source(good_dataset(tmp_path))
    prepare(src, tmp_path / "out")
    import ivgr.data.prepare as prep

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(prep, "write_row", boom)
    with pytest.raises(RuntimeError):
        prepare(src, tmp_path / "out", force=True)
    assert len(read_prepared(tmp_path / "out")) == 5
    assert not list(tmp_path.glob("out.partial-*"))


def test_no_resize_records_target_size_and_keeps_original_files(tmp_path):
    src = open_source(good_dataset(tmp_path))
    prepare(src, tmp_path / "out", config=PrepareConfig(resize_images=False))
    sample = read_prepared(tmp_path / "out")[0]
    assert sample.image_size == (644, 476)
    assert sample.image == str((tmp_path / "images" / "scene.png").resolve())
    assert not any((tmp_path / "out" / "images").iterdir())


def test_truncated_image_found_on_full_decode_is_excluded(tmp_path):
    write_image(tmp_path / "full.jpg", (400, 300), fmt="JPEG")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    rows = [authors_row("cut.jpg", query="a", datasource="treevgr")]
    summary = prepare(open_source(write_parquet(tmp_path / "d.parquet", rows)), tmp_path / "out")
    assert summary.kept == 0 and summary.excluded == {"undecodable_image": 1}


def test_cli_prepare_prints_summary_and_is_idempotent(tmp_path):
    path = _mixed(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ivgr.cli", "data", "prepare", str(path), "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "kept 4 of 6 rows" in first.stdout and "unknown_datasource" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode == 0 and "nothing to do" in second.stdout


def test_output_is_identical_for_any_number_of_image_workers(tmp_path):
    for i in range(6):
        write_image(tmp_path / "images" / f"{i}.png", (100 + 30 * i, 90), colour=(40 * i, 20, 20))
    (tmp_path / "images" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    rows = [authors_row(f"images/{i % 6}.png", query=f"q{i}", boxes=[[1, 1, 20, 20]]) for i in range(14)]
    rows.insert(5, authors_row("images/bad.png", query="broken"))
    src = open_source(write_parquet(tmp_path / "d.parquet", rows))
    prepare(src, tmp_path / "one", config=PrepareConfig(workers=1))
    prepare(src, tmp_path / "three", config=PrepareConfig(workers=3))
    for name in ("samples.jsonl", "excluded.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "three" / name).read_bytes()
    one = sorted(p.name for p in (tmp_path / "one" / "images").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "three" / "images").iterdir()) and len(one) == 6
    assert [s.question for s in read_prepared(tmp_path / "three")] == [f"q{i}" for i in range(14)]


def test_hard_killed_prepare_leaves_nothing_a_trainer_accepts(tmp_path):
    import os
    import signal
    import time

    for i in range(60):
        write_image(tmp_path / "images" / f"{i}.png", (300 + i, 200), colour=(i * 4, 50, 90))
    rows = [authors_row(f"images/{i}.png", query=f"q{i}", boxes=[[5, 5, 50, 50]]) for i in range(60)]
    path = write_parquet(tmp_path / "d.parquet", rows)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ivgr.cli", "data", "prepare", str(path), "--out", str(out),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / f"out.partial-{proc.pid}"
    deadline = time.monotonic() + 60
    while not (partial / "samples.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # a hard kill: no cleanup code runs
    proc.wait()
    assert partial.is_dir() and not out.exists()
    with pytest.raises(Exception, match="interrupted"):
        read_prepared(partial)
    summary = prepare(open_source(path), out)
    assert summary.kept == 60 and not partial.exists()


def test_generated_sample_id_is_the_hash_of_image_bytes_and_question(tmp_path):
    from ivgr.data.schema import make_sample_id

    prepare(open_source(good_dataset(tmp_path)), tmp_path / "out")
    first = read_prepared(tmp_path / "out")[0]
    assert first.sample_id == make_sample_id((tmp_path / "images" / "scene.png").read_bytes(), "Where is object 0?")


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_every_run_removes_staging_folders_of_dead_processes_even_with_nothing_to_do(tmp_path):
    path = good_dataset(tmp_path)
    out = tmp_path / "out"
    prepare(open_source(path), out)
    # a killed `--force` rebuild: its staging copy of the dataset, and a swapped-out old copy
    dead = tmp_path / f"out.partial-{_dead_pid()}"
    (dead / "images").mkdir(parents=True)
    (dead / "images" / "big.png").write_bytes(b"\0" * 4096)
    old = tmp_path / f"out.old-{_dead_pid()}"
    old.mkdir()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        live = tmp_path / f"out.partial-{running.pid}"  # another run still writing: left alone
        live.mkdir()
        cmd = [sys.executable, "-m", "ivgr.cli", "data", "prepare", str(path), "--out", str(out)]
        rerun = subprocess.run(cmd, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        assert "nothing to do" in rerun.stdout
        assert not dead.exists() and not old.exists()
        assert live.is_dir() and len(read_prepared(out)) == 5
    finally:
        running.kill()
        running.wait()
