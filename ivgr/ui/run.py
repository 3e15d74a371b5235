"""Read what an `ivgr train` run leaves on disk, for the inspector's Run tab.

A run directory (`output_dir` of `ivgr train`, or `OUT/rl/<variant>` of `ivgr demo`) holds:

    final/ or checkpoint-N/   weights, archive.json (the rollout archive), config.yaml (the recipe)
    completions/              completions_NNNNN.parquet per logged step (with `log_completions: true`):
                              TRL's table (step, prompt, completion, ivgr_total, advantage) plus the
                              columns ivgr adds (stream, sample_id, reference, one per reward term)
    runs/<date_host>/         TensorBoard event files (`report_to: tensorboard`, the default)
    checkpoint-N/trainer_state.json   the logged metrics up to step N (`log_history`)
    demo_rl.json              `ivgr demo` runs: the logged metrics (`history`)

Every reader here returns what it found and an empty result for what the run did not write,
so a run still in progress, or one trained with `log_completions: false`, still opens.
Pure python + PIL/yaml/pandas; no torch or gradio.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.errors import DataError
from ivgr.rewards.scorer import TERMS

log = logging.getLogger(__name__)

ARCHIVE_FILE = "archive.json"  # written by ivgr.training.trainer.write_run_files (not imported: it pulls in trl)
CONFIG_FILE = "config.yaml"
_CURVE_KEY = re.compile(r"^(?:train/)?reward/(grounded|textual|single)/(\w+)$")
SizeRule = Callable[[tuple[int, int]], tuple[int, int]]  # original (w, h) -> (w, h) the model saw


@dataclass
class RunDir:
    """Where a run's files are. `checkpoint` is the directory holding archive.json, if any."""

    root: Path
    checkpoint: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None


@dataclass
class Reference:
    """One archived grounded rollout, with the question it answers (when the dataset is found)."""

    sample_id: str
    think: str
    box_iou: float
    step: int
    question: str = ""
    answer: str = ""
    image: Path | None = None
    target_boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    target_frame: str = "pixel"
    target_size: tuple[int, int] | None = None  # (w, h) the target boxes refer to

    @property
    def label(self) -> str:
        question = f" | {self.question[:60]}" if self.question else ""
        return f"{self.sample_id} | IoU {self.box_iou:.2f} | step {self.step}{question}"


def _checkpoint_number(path: Path) -> int:
    suffix = path.name.split("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def _newest_checkpoint(root: Path, needs: str) -> Path | None:
    found = [p for p in root.glob("checkpoint-*") if (p / needs).is_file() and _checkpoint_number(p) >= 0]
    return max(found, key=_checkpoint_number) if found else None


def open_run(path: str | Path) -> RunDir:
    """Locate a run from its output directory, or from a checkpoint (final/, checkpoint-N/) inside it."""
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"--run {p}: no such directory")
    if (p / ARCHIVE_FILE).is_file():
        checkpoint = p
        root = p.parent if p.name == "final" or p.name.startswith("checkpoint-") else p
    else:
        root = p
        final = root / "final"
        checkpoint = final if (final / ARCHIVE_FILE).is_file() else _newest_checkpoint(root, ARCHIVE_FILE)
    has_logs = (root / "completions").is_dir() or (root / "demo_rl.json").is_file() or (root / "runs").is_dir()
    if checkpoint is None and not has_logs:
        raise DataError(f"--run {p}: not an `ivgr train` output directory (no {ARCHIVE_FILE} in it, in final/ "
                        "or in a checkpoint-N/, and no logs)")
    config = _read_config(checkpoint / CONFIG_FILE) if checkpoint is not None else {}
    return RunDir(root=root, checkpoint=checkpoint, config=config, data_dir=_data_dir(root, config))


def _read_config(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: not a readable recipe ({err})") from None
    return config if isinstance(config, dict) else {}


def _data_dir(root: Path, config: dict[str, Any]) -> Path | None:
    """The prepared dataset the run trained on (`data_path: synthetic` lives in the run)."""
    data_path = config.get("data_path")
    if not data_path:
        return None
    candidates = [root / "synthetic-data"] if data_path == "synthetic" else [Path(data_path), root / data_path]
    for candidate in candidates:
        if (candidate / "samples.jsonl").is_file():
            return candidate
    log.warning("run %s: its dataset %s is not here; the archive is shown without images", root, data_path)
    return None


# ---------------------------------------------------------------------------------- archive
def references(run: RunDir) -> list[Reference]:
    """The run's rollout archive, best box IoU first, joined with its dataset where found."""
    from ivgr.archive import RolloutArchive

    if run.checkpoint is None:
        return []
    archive = RolloutArchive.load(run.checkpoint / ARCHIVE_FILE)
    samples = {}
    if run.data_dir is not None:
        from ivgr.data.prepared import read_prepared, resolve_image

        samples = {s.sample_id: (s, resolve_image(run.data_dir, s)) for s in read_prepared(run.data_dir)}
    out = []
    for sample_id, entry in archive.items():
        ref = Reference(sample_id=sample_id, think=entry.think, box_iou=entry.box_iou, step=entry.step)
        if sample_id in samples:
            sample, image = samples[sample_id]
            ref.question, ref.answer, ref.image = sample.question, sample.answer, image
            ref.target_boxes = [tuple(map(float, b)) for b in sample.target_boxes]
            ref.target_frame, ref.target_size = sample.frame, sample.image_size
        out.append(ref)
    return sorted(out, key=lambda r: (-r.box_iou, r.sample_id))


def draw_reference(ref: Reference, *, frame: str, model_size: SizeRule) -> Any:
    """The question's image with its target boxes (orange) and the reference's boxes (green).

    The reference's boxes are in the model's `frame` on the image as the model saw it
    (`model_size` of the image); both sets are drawn in the image's own pixels.
    """
    from PIL import Image

    from ivgr.inference.crops import to_original
    from ivgr.inference.types import InferenceResult
    from ivgr.inference.vis import draw_result
    from ivgr.parsing import extract_boxes

    if ref.image is None or not ref.image.is_file():
        return None
    with Image.open(ref.image) as img:
        img = img.convert("RGB")
    size = img.size
    predicted = [to_original(b, frame=frame, model_size=model_size(size), image_size=size)
                 for b in extract_boxes(ref.think)]
    targets = [to_original(b, frame=ref.target_frame, model_size=ref.target_size or size, image_size=size)
               for b in ref.target_boxes]
    result = InferenceResult(mode="grounded", completion=ref.think, reasoning=ref.think, answer=None,
                             boxes=[b for b in predicted if b is not None], crops=[t for t in targets if t is not None])
    return draw_result(img, result)  # crops are drawn orange: here, the ground truth


# ------------------------------------------------------------------------------ completions
def completion_steps(run: RunDir) -> list[int]:
    """Steps with a logged completions table, ascending."""
    folder = run.root / "completions"
    steps = []
    for path in folder.glob("completions_*.parquet") if folder.is_dir() else []:
        suffix = path.stem.split("_", 1)[1]
        if suffix.isdigit():
            steps.append(int(suffix))
    return sorted(steps)


def completions(run: RunDir, step: int) -> Any:
    """The completions logged at `step`, one row per rollout, with its per-term rewards (pandas)."""
    import pandas as pd

    path = run.root / "completions" / f"completions_{step:05d}.parquet"
    if not path.is_file():
        return pd.DataFrame()
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable completions table ({err})") from None
    table = table.rename(columns={"ivgr_total": "total"})
    if "completion" in table.columns:
        table["completion"] = table["completion"].map(message_text)
    first = ["step", "stream", "sample_id", "total", *TERMS, "advantage", "completion", "reference"]
    keep = [c for c in first if c in table.columns]
    return table[keep]


def message_text(value: Any) -> str:
    """TRL logs a VLM completion as chat messages; the text a person reads is their content.

    >>> message_text([{"role": "assistant", "content": "<think>a</think>"}]), message_text("plain")
    ('<think>a</think>', 'plain')
    """
    if isinstance(value, str):
        return value
    try:
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    except TypeError:
        return str(value)


# --------------------------------------------------------------------------------- rewards
def history(run: RunDir) -> list[dict[str, Any]]:
    """Logged metrics, one dict per logged step: the first source the run has.

    demo_rl.json (ivgr demo) > newest checkpoint's trainer_state.json > TensorBoard events.
    """
    demo = run.root / "demo_rl.json"
    if demo.is_file():
        return list(_read_json(demo).get("history") or [])
    state = _newest_checkpoint(run.root, "trainer_state.json")
    if state is not None:
        return list(_read_json(state / "trainer_state.json").get("log_history") or [])
    return _tensorboard_history(run.root / "runs")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not readable JSON ({err})") from None
    return value if isinstance(value, dict) else {}


def _tensorboard_history(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    by_step: dict[int, dict[str, Any]] = {}
    for events in sorted({p.parent for p in folder.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            for event in acc.Scalars(tag):
                by_step.setdefault(event.step, {"step": event.step})[tag] = event.value
    return [by_step[s] for s in sorted(by_step)]


def reward_curves(records: list[dict[str, Any]], term: str = "total") -> list[dict[str, Any]]:
    """Long-format points {step, stream, value} of `reward/<stream>/<term>` for a line plot.

    >>> reward_curves([{"step": 1, "reward/grounded/total": 0.5, "reward/textual/total": 0.25, "loss": 1.0},
    ...                {"step": 2, "train/reward/grounded/total": 0.75}])
    [{'step': 1, 'stream': 'grounded', 'value': 0.5}, {'step': 1, 'stream': 'textual', 'value': 0.25}, {'step': 2, 'stream': 'grounded', 'value': 0.75}]
    """
    points = []
    for record in records:
        step = record.get("step")
        if not isinstance(step, int):
            continue
        for key, value in record.items():
            match = _CURVE_KEY.match(key)
            if match and match.group(2) == term and isinstance(value, (int, float)):
                points.append({"step": step, "stream": match.group(1), "value": float(value)})
    return points


__all__ = ["Reference", "RunDir", "completion_steps", "completions", "draw_reference", "history", "open_run",
           "references", "reward_curves"]
