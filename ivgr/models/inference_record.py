"""What a checkpoint needs at inference, recorded next to its config.json (`ivgr_inference.json`).

Every checkpoint ivgr writes (`ivgr sft`, `ivgr train`, the demo's stages, and their intermediate
`checkpoint-N` folders) carries this small versioned JSON:

    {"format": "ivgr-inference", "version": 1, "prompt_style": "compact", "frame": "pixel",
     "min_pixels": 12544, "max_pixels": 12544, "stream_prompt_version": 1,
     "stage": "sft", "ivgr_version": "0.1.0"}

`InferenceEngine` (hence `ivgr infer`, `ivgr eval`, `ivgr ui`) uses it for every setting the caller
leaves unset; an explicit setting that differs from the record wins, with one warning line. A
checkpoint without the file (a stock Qwen2.5-VL) keeps the plain defaults. docs/models.md.

Stdlib only at import: reading a record must not load torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import ModelError
from ivgr.fileio import atomic_write_text

RECORD_FILE = "ivgr_inference.json"
RECORD_FORMAT = "ivgr-inference"
RECORD_VERSION = 1  # bump when a field changes meaning; readers refuse newer versions
# The settings a caller may pass explicitly, in the order warnings list them.
SETTINGS = ("prompt_style", "frame", "min_pixels", "max_pixels")


@dataclass(frozen=True)
class InferenceRecord:
    """The training conditions inference must reproduce (None: the stage did not know it)."""

    prompt_style: str | None
    frame: str | None
    min_pixels: int | None
    max_pixels: int | None
    stream_prompt_version: int | None
    stage: str = ""  # "sft" | "train": which ivgr stage wrote it
    ivgr_version: str = ""

    def to_json(self) -> str:
        return json.dumps({"format": RECORD_FORMAT, "version": RECORD_VERSION, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> InferenceRecord:
        """Check a parsed record; a wrong one is a ModelError naming `where` and the fix."""
        from ivgr.geometry import FRAMES
        from ivgr.prompts import PROMPT_STYLES

        fix = "fix or delete the file (then pass --prompt-style etc. yourself)"
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise ModelError(f"{where}: not an ivgr inference record (format {RECORD_FORMAT!r}); {fix}")
        version = data.get("version")
        if not isinstance(version, int) or version > RECORD_VERSION:
            raise ModelError(f"{where}: record version {version!r} is newer than this ivgr reads "
                             f"({RECORD_VERSION}); upgrade ivgr")
        checks = {"prompt_style": lambda v: v in PROMPT_STYLES, "frame": lambda v: v in FRAMES,
                  "min_pixels": _positive_int, "max_pixels": _positive_int, "stream_prompt_version": _positive_int}
        for key, ok in checks.items():
            value = data.get(key)
            if value is not None and not ok(value):
                raise ModelError(f"{where}: invalid {key} {value!r}; {fix}")
        return cls(prompt_style=data.get("prompt_style"), frame=data.get("frame"),
                   min_pixels=data.get("min_pixels"), max_pixels=data.get("max_pixels"),
                   stream_prompt_version=data.get("stream_prompt_version"),
                   stage=str(data.get("stage", "")), ivgr_version=str(data.get("ivgr_version", "")))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def write_inference_record(checkpoint: str | Path, record: InferenceRecord) -> Path:
    """Write `record` into the checkpoint folder atomically; returns the file's path."""
    path = Path(checkpoint) / RECORD_FILE
    atomic_write_text(path, record.to_json())
    return path


def read_inference_record(checkpoint: str | Path) -> InferenceRecord | None:
    """The record of a checkpoint folder, or None when ivgr did not write it (a stock model)."""
    path = Path(checkpoint) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: unreadable inference record ({err}); fix or delete the file") from None
    return InferenceRecord.from_dict(data, where=str(path))


def resolve_settings(record: InferenceRecord | None, asked: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Settings to use: each `asked` value (None = not given) wins, else the record's, else None.

    Also returns one warning line naming each explicit value that differs from the record.

    >>> rec = InferenceRecord("compact", "pixel", 3136, 12544, 1)
    >>> resolve_settings(rec, {"prompt_style": None, "frame": None, "min_pixels": None, "max_pixels": None})
    ({'prompt_style': 'compact', 'frame': 'pixel', 'min_pixels': 3136, 'max_pixels': 12544}, None)
    >>> resolve_settings(rec, {"prompt_style": "standard", "frame": None, "min_pixels": None, "max_pixels": 12544})[1]
    'the checkpoint was trained with prompt_style=compact; using prompt_style=standard as asked'
    >>> resolve_settings(None, {"prompt_style": None, "frame": None, "min_pixels": None, "max_pixels": 50176})
    ({'prompt_style': None, 'frame': None, 'min_pixels': None, 'max_pixels': 50176}, None)
    """
    recorded = {key: getattr(record, key) if record is not None else None for key in SETTINGS}
    resolved = {key: asked.get(key) if asked.get(key) is not None else recorded[key] for key in SETTINGS}
    differing = [key for key in SETTINGS
                 if asked.get(key) is not None and recorded[key] is not None and asked[key] != recorded[key]]
    if not differing:
        return resolved, None
    trained = ", ".join(f"{key}={recorded[key]}" for key in differing)
    used = ", ".join(f"{key}={asked[key]}" for key in differing)
    return resolved, f"the checkpoint was trained with {trained}; using {used} as asked"


def prompt_version_warning(record: InferenceRecord | None) -> str | None:
    """A warning line when the checkpoint was trained on another version of the stream prompts."""
    from ivgr.prompts import STREAM_PROMPT_VERSION

    trained = record.stream_prompt_version if record is not None else None
    if trained is None or trained == STREAM_PROMPT_VERSION:
        return None
    return (f"the checkpoint was trained with stream prompts version {trained}, this ivgr writes version "
            f"{STREAM_PROMPT_VERSION}; answers may not follow the trained format")


# ----------------------------------------------------------------------------- writers' side
def styles_of_prompts(rows: Iterable[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(prompt_style, frame) shared by every (stream, prompt) row; None where rows disagree or match no style.

    SFT reads its prompts ready-made from a JSONL, so the style it trained with is read off them.

    >>> from ivgr.prompts import stream_prompt
    >>> styles_of_prompts([("grounded", stream_prompt("grounded", "Q?", style="compact")),
    ...                    ("textual", stream_prompt("textual", "Q?", style="compact"))])
    ('compact', None)
    >>> styles_of_prompts([("grounded", stream_prompt("grounded", "Q?")), ("textual", "Say it.")])
    (None, 'pixel')
    """
    from ivgr.prompts import match_stream_prompt

    styles: set[str | None] = set()
    frames: set[str] = set()
    for stream, prompt in rows:
        found = match_stream_prompt(stream, prompt)
        styles.add(found[0] if found else None)
        if found and found[1] is not None:
            frames.add(found[1])
    style = styles.pop() if len(styles) == 1 else None
    return style, frames.pop() if len(frames) == 1 else None


def training_record(stage: str, *, prompt_style: str | None, frame: str, processor: Any) -> InferenceRecord:
    """The record of a checkpoint trained with these prompts, this frame and `processor`'s pixel budget."""
    import ivgr
    from ivgr.models.processor import pixel_limits
    from ivgr.prompts import STREAM_PROMPT_VERSION

    min_pixels, max_pixels = pixel_limits(processor)
    return InferenceRecord(prompt_style=prompt_style, frame=frame, min_pixels=min_pixels, max_pixels=max_pixels,
                           stream_prompt_version=STREAM_PROMPT_VERSION, stage=stage, ivgr_version=ivgr.__version__)


def record_callback(record: InferenceRecord) -> Any:
    """A `TrainerCallback` that writes `record` into every intermediate `checkpoint-N` the trainer saves."""
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    class WriteInferenceRecord(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                write_inference_record(folder, record)
            return control

    return WriteInferenceRecord()


__all__ = ["RECORD_FILE", "InferenceRecord", "prompt_version_warning", "read_inference_record", "record_callback",
           "resolve_settings", "styles_of_prompts", "training_record", "write_inference_record"]
