"""Map raw input columns onto ivgr's fields: the authors' column names, or a user mapping.

The authors' released RL parquet (HF dataset allencbzhang/iVGR-RL-51K; docs/method.md#data-mixing) has:

| column             | ivgr field   | notes                                                        |
|--------------------|--------------|--------------------------------------------------------------|
| `query`            | question     | the bare question; preferred                                  |
| `problem`          | question     | fallback when `query` is absent; its `<image>` token is removed|
| `answer`           | answer       |                                                              |
| `images`           | image        | list of paths/bytes; the first one is used                    |
| `target_instances` | boxes        | list of `{"bbox": [x1, y1, x2, y2]}` in original-image pixels |
| `datasource`       | datasource   | decides paired vs single; "unknown" when absent               |
| `question_type`    | meta         | kept, never used for rewards (as in the authors' code)        |

Common alternatives (`question`, `image`, `target_boxes`, `boxes`, `sample_id`, `id`) are
recognised too. A user mapping (`--columns question=q,answer=a,image=img,boxes=bb`) names
exact columns and wins over the defaults.

Pure python: no torch/transformers/trl, no PIL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivgr.errors import ConfigError, DataError

FIELDS = ("sample_id", "question", "answer", "image", "boxes", "datasource")
REQUIRED_FIELDS = ("question", "answer", "image")

# Candidate columns per field, in order of preference (authors' names first).
AUTHORS_COLUMNS: dict[str, tuple[str, ...]] = {
    "sample_id": ("sample_id", "id"),
    "question": ("query", "question", "problem"),
    "answer": ("answer",),
    "image": ("images", "image"),
    "boxes": ("target_instances", "target_boxes", "boxes"),
    "datasource": ("datasource",),
}
META_COLUMNS = ("question_type",)
_IMAGE_TOKEN = re.compile(r"<image>\s*")


@dataclass
class RowRecord:
    """One row mapped onto ivgr fields, before images are opened or boxes converted.

    `boxes` are raw values (whatever the cell held, one per instance); `box_problems` lists
    instances that could not even be read as four numbers.
    """

    sample_id: str | None
    question: str
    answer: str
    image: Any
    boxes: list[tuple[float, float, float, float]]
    box_problems: list[str] = field(default_factory=list)
    datasource: str = "unknown"
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # a row-level read error (e.g. invalid JSON line)


def parse_columns(spec: str | None) -> dict[str, str]:
    """Parse `question=q,answer=a,...` into {field: column}; ConfigError on an unknown field.

    >>> parse_columns("question=q, image=img")
    {'question': 'q', 'image': 'img'}
    """
    mapping: dict[str, str] = {}
    if not spec:
        return mapping
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ConfigError(f"--columns: {part!r} must look like field=column (e.g. question=q)")
        if name not in FIELDS:
            raise ConfigError(f"--columns: unknown field {name!r}; known fields: {', '.join(FIELDS)}")
        mapping[name] = column
    return mapping


@dataclass(frozen=True)
class ColumnMap:
    """Resolved column per field for one input (None = the input has no such column)."""

    columns: dict[str, str | None]

    def __getitem__(self, name: str) -> str | None:
        return self.columns[name]


def resolve_columns(available: Sequence[str], user: Mapping[str, str], *, where: str) -> ColumnMap:
    """Pick a column for each field; DataError naming the file when a required one is missing."""
    present = set(available)
    chosen: dict[str, str | None] = {}
    for name in FIELDS:
        if name in user:
            if user[name] not in present:
                raise DataError(
                    f"{where}: column {user[name]!r} (mapped to {name} by --columns) not found; "
                    f"columns are: {', '.join(sorted(present))}"
                )
            chosen[name] = user[name]
            continue
        chosen[name] = next((c for c in AUTHORS_COLUMNS[name] if c in present), None)
    missing = [n for n in REQUIRED_FIELDS if chosen[n] is None]
    if missing:
        hints = "; ".join(f"{n}: one of {', '.join(AUTHORS_COLUMNS[n])}" for n in missing)
        raise DataError(
            f"{where}: missing column for {', '.join(missing)} ({hints}); columns are: "
            f"{', '.join(sorted(present)) or 'none'}. Map yours with --columns {missing[0]}=<column>"
        )
    return ColumnMap(chosen)


def clean_question(text: str) -> str:
    """The bare question: `<image>` placeholders removed, whitespace stripped.

    >>> clean_question("<image>\\nWhat colour is the car?")
    'What colour is the car?'
    """
    return _IMAGE_TOKEN.sub("", text).strip()


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (list, tuple)):  # some datasets store answers as a one-element list
        return ", ".join(_as_text(v) for v in value)
    return str(value).strip()


def read_box(item: Any) -> tuple[float, float, float, float]:
    """Four floats from a box cell: `[x1,y1,x2,y2]` or a dict with `bbox`/`box`.

    Raises ValueError with a short reason otherwise (e.g. the authors' `bbox: None`, which
    crashed their preprocessing; docs/method.md#bug-multi-image-boxes).
    """
    if isinstance(item, Mapping):
        item = item.get("bbox", item.get("box"))
    # Deviation: a null bbox is a reported row problem (bad_box), not a preprocessing crash
    # as in the authors' code; option none.
    if item is None:
        raise ValueError("bbox is missing")
    if isinstance(item, str):
        item = [v for v in re.split(r"[\s,\[\]()]+", item) if v]
    values = list(item) if isinstance(item, (list, tuple)) else None
    if values is None or len(values) != 4:
        raise ValueError(f"bbox {item!r} is not 4 numbers")
    try:
        x1, y1, x2, y2 = (float(v) if v is not None else math.nan for v in values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bbox {item!r} is not 4 numbers") from err
    return (x1, y1, x2, y2)


def adapt_row(data: Mapping[str, Any], columns: ColumnMap) -> RowRecord:
    """Map one raw row onto a `RowRecord` (never raises: problems are recorded on the record)."""
    if "__error__" in data:
        return RowRecord(None, "", "", None, [], error=str(data["__error__"]))
    question = clean_question(_as_text(data.get(columns["question"])))
    sid_col = columns["sample_id"]
    sample_id = _as_text(data.get(sid_col)) if sid_col else ""
    ds_col = columns["datasource"]
    datasource = _as_text(data.get(ds_col)) if ds_col else ""
    boxes, problems = [], []
    raw_boxes = data.get(columns["boxes"]) if columns["boxes"] else None
    for item in raw_boxes or []:
        try:
            boxes.append(read_box(item))
        except ValueError as err:
            problems.append(str(err))
    meta = {k: data[k] for k in META_COLUMNS if k in data and data[k] is not None}
    return RowRecord(
        sample_id=sample_id or None,
        question=question,
        answer=_as_text(data.get(columns["answer"])),
        image=data.get(columns["image"]),
        boxes=boxes,
        box_problems=problems,
        datasource=datasource or "unknown",
        meta=meta,
    )


__all__ = [
    "AUTHORS_COLUMNS",
    "FIELDS",
    "ColumnMap",
    "RowRecord",
    "adapt_row",
    "clean_question",
    "parse_columns",
    "read_box",
    "resolve_columns",
]
