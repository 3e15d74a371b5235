"""`ivgr demo --quick` end to end in a real subprocess, then the report in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

MODEL_KEYS = {"textual_accuracy", "grounded_accuracy", "grounded_box_iou", "format_rate", "textual_box_trace_rate"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    """One reduced demo run shared by the tests below (tiny settings: plumbing, not learning)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.slow
def test_quick_demo_writes_metrics_with_every_key(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert {"chance_accuracy", "sft", "ivgr", "ablations"} <= set(metrics)
    assert 0 < metrics["chance_accuracy"] < 1 and 0 < metrics["box_iou_constant_baseline"] < 1
    assert MODEL_KEYS <= set(metrics["sft"]) and MODEL_KEYS <= set(metrics["ivgr"])
    assert set(metrics["ablations"]) == {"no_consistency"} and MODEL_KEYS <= set(metrics["ablations"]["no_consistency"])
    for model in (metrics["sft"], metrics["ivgr"], metrics["ablations"]["no_consistency"]):
        assert all(0.0 <= model[k] <= 1.0 for k in MODEL_KEYS)
    assert metrics["wall_s"]["total"] > 0 and "sft" in metrics["wall_s"]


@pytest.mark.slow
def test_quick_demo_report_is_self_contained(quick_run):
    page = (quick_run / "report.html").read_text()
    assert "<table" in page and len(re.findall(r"<img[^>]*src='data:image/png;base64,", page)) >= 3
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)


@pytest.mark.slow
def test_second_run_reuses_cached_stages(quick_run):
    before = (quick_run / "sft" / "final" / "model.safetensors").stat().st_mtime_ns
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--quick", "--out", str(quick_run)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (quick_run / "sft" / "final" / "model.safetensors").stat().st_mtime_ns == before
    # the summary hands over to the inspector with paths that exist
    hand_off = re.search(r"ivgr ui --model (\S+) --run (\S+)", " ".join(proc.stderr.split()))
    assert hand_off, proc.stderr[-2000:]
    assert (Path(hand_off.group(1)) / "config.json").is_file() and (Path(hand_off.group(1)) / "archive.json").is_file()
    assert Path(hand_off.group(2)).is_dir()


@pytest.mark.slow
def test_chromium_renders_the_report_with_images_and_table(quick_run, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is required (make test installs it: apt-get install -y chromium)"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    url = (quick_run / "report.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert "<table" in dom and dom.count("<img") >= 3
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2400", url],
                   capture_output=True, text=True, timeout=120)
    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((160, 300)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # a rendered page, not a blank canvas
    assert max(count for count, _ in colours) < 0.95 * 160 * 300


def test_bad_demo_config_is_one_red_line_and_exit_1(tmp_path):
    bad = tmp_path / "demo.yaml"
    bad.write_text("variants: [textual_only]\n")
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--config", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "variants" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_help_shows_examples():
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ivgr demo --out" in proc.stdout and "--full" in proc.stdout


def test_demo_refuses_to_wipe_a_directory_it_did_not_create(tmp_path):
    keep = tmp_path / "precious.txt"
    keep.write_text("not a demo")
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--quick", "--restart", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "not an ivgr demo directory" in proc.stderr
    assert keep.read_text() == "not a demo"


@pytest.mark.slow
def test_rl_variants_side_by_side_give_the_numbers_of_one_by_one(quick_run, tmp_path):
    """`rl_workers` only schedules: each variant in its own process trains exactly as in one process."""
    import dataclasses

    import yaml

    from ivgr.demo import DemoSettings

    assert DemoSettings.quick().rl_workers == 2  # quick_run trained its two variants side by side
    one_by_one = tmp_path / "one_by_one.yaml"
    one_by_one.write_text(yaml.safe_dump({**dataclasses.asdict(DemoSettings.quick()), "rl_workers": 1}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "ivgr.cli", "demo", "--config", str(one_by_one), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    timing = {"step_time", "scorer/wall_s", "judge/latency_s", "train_runtime", "train_samples_per_second",
              "train_steps_per_second"}
    for variant in ("ivgr", "no_consistency"):
        side, alone = (json.loads((run / "rl" / variant / "demo_rl.json").read_text())["history"] for run in (quick_run, out))
        assert [{k: v for k, v in h.items() if k not in timing} for h in side] == \
               [{k: v for k, v in h.items() if k not in timing} for h in alone]
        assert (quick_run / "eval" / f"{variant}.json").read_text() == (out / "eval" / f"{variant}.json").read_text()


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def _is_worker(pid: int) -> bool:
    """A live multiprocessing worker (a zombie or a gone process has no command line)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.slow
def test_rl_workers_end_when_the_demo_is_killed(tmp_path):
    """SIGKILL reaches the demo process only; its side-by-side RL workers must not train on as orphans."""
    import os
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "ivgr.cli", "demo", "--quick", "--out", str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        for _ in range(1200):  # the RL stage starts after world, base model and SFT (seconds, more on a busy box)
            workers = {c for c in _children(proc.pid) if _is_worker(c)}
            if len(workers) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert len(workers) >= 2, "the demo finished before its RL workers were seen"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for _ in range(600):
        alive = {w for w in workers if _is_worker(w)}
        if not alive:
            break
        time.sleep(0.1)
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, f"RL workers {sorted(alive)} outlived the killed demo"
