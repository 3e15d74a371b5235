"""Row checks shared by `ivgr data validate` and `ivgr data prepare`.

Every row is checked for: a present, decodable image; a non-empty question and answer; boxes
that are four finite numbers with x1<x2 and y1<y2 and that still cover part of the image after
clipping; a sample_id not seen before. A problem makes the row *unusable* (prepare excludes it
and counts the reason); a warning (a box partly outside the image, clipped; extra images after
the first) does not.

PIL is imported lazily; no torch/transformers/trl.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.data.adapters import ColumnMap, RowRecord, adapt_row, resolve_columns
from ivgr.data.readers import DataSource, ImageRef, RawRow, column_names, iter_rows, load_image_ref
from ivgr.data.schema import sample_id_from_digest
from ivgr.errors import DataError
from ivgr.geometry import clip_box, is_valid_box

logger = logging.getLogger(__name__)

# Deviation: the authors disabled Pillow's decompression-bomb guard (MAX_IMAGE_PIXELS=None);
# we raise the limit to 16384x16384 (far above any V*/HR-Bench image) but keep it;
# option max_image_pixels (--max-image-pixels).
MAX_IMAGE_PIXELS = 16384 * 16384
EXAMPLES_PER_PROBLEM = 5
_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")
_IMAGE_CACHE_SIZE = 4096  # shared images are checked once; bounded so memory stays flat

PROBLEMS: dict[str, str] = {
    "bad_row": "row could not be read (invalid JSON or not an object)",
    "missing_image": "no image, or the image file does not exist",
    "undecodable_image": "image cannot be decoded",
    "image_too_large": "image exceeds the pixel limit (decompression-bomb guard)",
    "empty_question": "question is empty",
    "empty_answer": "answer is empty",
    "bad_box": "box is not four numbers (e.g. bbox missing)",
    "box_not_finite": "box has a NaN or infinite coordinate",
    "box_degenerate": "box has x1>=x2 or y1>=y2",
    "box_outside_image": "box lies entirely outside the image",
    "duplicate_sample_id": "sample_id already used by an earlier row",
}
WARNINGS: dict[str, str] = {
    "box_clipped": "box partly outside the image; clipped to it",
    "extra_images": "row has more than one image; the first is used and its boxes refer to it",
}


@dataclass(frozen=True)
class Issue:
    """One problem or warning of a row: a code from PROBLEMS/WARNINGS and a detail string."""

    code: str
    detail: str


@dataclass
class CheckedRow:
    """A row after checking: its mapped record, resolved image and every issue found."""

    raw: RawRow
    record: RowRecord
    sample_id: str | None
    image_ref: ImageRef | None
    image_size: tuple[int, int] | None  # (width, height) of the original image
    image_digest: bytes | None = None  # sha256 of the encoded image bytes
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


@dataclass
class ImageInfo:
    """Cached result of opening one image: its size or why it failed, and its content hash."""

    size: tuple[int, int] | None
    problem: Issue | None
    sha256: bytes | None


class RowChecker:
    """Checks rows one at a time; remembers sample_ids (duplicates) and recent image results."""

    def __init__(self, *, image_dir: Path | None, base_dir: Path, max_image_pixels: int = MAX_IMAGE_PIXELS):
        self.image_dir = image_dir
        self.base_dir = base_dir
        self.max_image_pixels = max_image_pixels
        self._seen_ids: set[str] = set()
        self._images: OrderedDict[str, ImageInfo] = OrderedDict()

    def check(self, raw: RawRow, columns: ColumnMap) -> CheckedRow:
        """Map and check one row; never raises for a bad row (issues are recorded)."""
        record = adapt_row(raw.data, columns)
        row = CheckedRow(raw, record, record.sample_id, None, None)
        if record.error:
            row.problems.append(Issue("bad_row", record.error))
            return row
        info = self._check_image(row, raw.data.get(columns["image"]) if columns["image"] else None)
        if not record.question:
            row.problems.append(Issue("empty_question", f"column {columns['question']!r} is empty"))
        if not record.answer:
            row.problems.append(Issue("empty_answer", f"column {columns['answer']!r} is empty"))
        self._check_boxes(row)
        if row.sample_id is None and info is not None and info.sha256 is not None:
            row.sample_id = sample_id_from_digest(info.sha256, record.question)
        # Only a usable row claims its id: a broken first copy must not make a good second
        # copy look like a duplicate (prepare then keeps the good one).
        if row.sample_id is not None and not row.problems:
            if row.sample_id in self._seen_ids:
                row.problems.append(Issue("duplicate_sample_id", f"sample_id {row.sample_id!r} repeats"))
            else:
                self._seen_ids.add(row.sample_id)
        return row

    def _check_image(self, row: CheckedRow, value: Any) -> ImageInfo | None:
        # Deviation: boxes are converted with the size of the *same* image they annotate (the
        # first); the authors mixed image 0's resized size with the last image's original size
        # on multi-image rows (reference-implementation.md §2.4 step 4); option none.
        if isinstance(value, (list, tuple)) and len(value) > 1:
            row.warnings.append(Issue("extra_images", f"{len(value)} images; using the first"))
        try:
            ref = load_image_ref(value, image_dir=self.image_dir, base_dir=self.base_dir)
        except ValueError as err:
            row.problems.append(Issue("undecodable_image", str(err)))
            return None
        if ref is None:
            row.problems.append(Issue("missing_image", "no image in the row"))
            return None
        row.image_ref = ref
        info = self._image_info(ref)
        if info.problem is not None:
            row.problems.append(info.problem)
        row.image_size = info.size
        row.image_digest = info.sha256
        return info

    def _image_info(self, ref: ImageRef) -> ImageInfo:
        key = ref.key
        cached = self._images.get(key)
        if cached is not None:
            self._images.move_to_end(key)
            return cached
        info = inspect_image(ref, max_image_pixels=self.max_image_pixels)
        self._images[key] = info
        if len(self._images) > _IMAGE_CACHE_SIZE:
            self._images.popitem(last=False)
        return info

    def _check_boxes(self, row: CheckedRow) -> None:
        for detail in row.record.box_problems:
            row.problems.append(Issue("bad_box", detail))
        for box in row.record.boxes:
            shown = [round(v, 3) if v == v else v for v in box]
            if not all(abs(v) < float("inf") for v in box):
                row.problems.append(Issue("box_not_finite", f"box {shown}"))
            elif not (box[0] < box[2] and box[1] < box[3]):
                row.problems.append(Issue("box_degenerate", f"box {shown} needs x1<x2 and y1<y2"))
            elif row.image_size is not None:
                width, height = row.image_size
                clipped = clip_box(box, width, height)
                if not is_valid_box(clipped):
                    row.problems.append(Issue("box_outside_image", f"box {shown} vs image {width}x{height}"))
                elif clipped != tuple(float(v) for v in box):
                    row.warnings.append(Issue("box_clipped", f"box {shown} clipped to image {width}x{height}"))


def allow_large_images(max_image_pixels: int) -> None:
    """Raise Pillow's global decompression-bomb limit to ours (never lower it, never disable it).

    Set once per process instead of per call: prepare decodes images on worker threads, and a
    per-call save/restore of this global would race with them. Our own check in
    `inspect_image` (width*height > max_image_pixels -> image_too_large) runs before any decode.
    """
    from PIL import Image

    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_image_pixels:
        Image.MAX_IMAGE_PIXELS = max_image_pixels


def inspect_image(ref: ImageRef, *, max_image_pixels: int = MAX_IMAGE_PIXELS) -> ImageInfo:
    """Open an image cheaply (header + `verify()`), returning its size or the problem.

    `verify()` checks the file's structure without decoding all pixels, so this costs far less
    than a full load; prepare fully decodes later anyway when it resizes.
    """
    import hashlib

    from PIL import Image, UnidentifiedImageError

    if ref.path is not None and not ref.path.is_file():
        return ImageInfo(None, Issue("missing_image", f"file not found: {ref.path}"), None)
    try:
        data = ref.read_bytes()
    except OSError as err:
        return ImageInfo(None, Issue("missing_image", f"cannot read {ref.path}: {err.strerror}"), None)
    digest = hashlib.sha256(data).digest()
    allow_large_images(max_image_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            size = (int(img.width), int(img.height))
            if size[0] * size[1] > max_image_pixels:
                return ImageInfo(None, Issue("image_too_large", f"{size[0]}x{size[1]} > {max_image_pixels} pixels"), digest)
            img.verify()
    except Image.DecompressionBombError as err:
        return ImageInfo(None, Issue("image_too_large", str(err)[:160]), digest)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        where = f"{ref.path}: " if ref.path is not None else ""
        # Pillow names the in-memory buffer with its address; drop it so reports are reproducible
        detail = _OBJECT_REPR.sub("", str(err))[:160]
        return ImageInfo(None, Issue("undecodable_image", f"{where}{detail}"), digest)
    if size[0] <= 0 or size[1] <= 0:
        return ImageInfo(None, Issue("undecodable_image", f"image has size {size}"), digest)
    return ImageInfo(size, None, digest)


def iter_checked(
    source: DataSource,
    *,
    image_dir: Path | None,
    columns: Mapping[str, str],
    progress: Callable[[int], None] | None = None,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> Iterator[CheckedRow]:
    """Check every row of `source` in order (streaming). Raises DataError for a missing column."""
    colmap = resolve_columns(column_names(source), columns, where=str(source.path))
    checker = RowChecker(image_dir=image_dir, base_dir=source.base_dir, max_image_pixels=max_image_pixels)
    for raw in iter_rows(source):
        yield checker.check(raw, colmap)
        if progress is not None:
            progress(1)


@dataclass
class ValidationSummary:
    """Counts of a validate pass: rows, usable rows, and per problem/warning code with examples."""

    path: str
    rows: int = 0
    usable: int = 0
    problems: Counter = field(default_factory=Counter)  # code -> rows having it
    warnings: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # code -> "where: detail"
    datasources: Counter = field(default_factory=Counter)

    @property
    def unusable(self) -> int:
        return self.rows - self.usable

    def add(self, row: CheckedRow) -> None:
        """Fold one checked row into the counts (each code counted once per row)."""
        self.rows += 1
        self.usable += row.usable
        self.datasources[row.record.datasource] += 1
        for bucket, issues in ((self.problems, row.problems), (self.warnings, row.warnings)):
            for code in dict.fromkeys(i.code for i in issues):
                bucket[code] += 1
                shown = self.examples.setdefault(code, [])
                if len(shown) < EXAMPLES_PER_PROBLEM:
                    detail = next(i.detail for i in issues if i.code == code)
                    shown.append(f"{row.raw.where}: {detail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "usable": self.usable,
            "unusable": self.unusable,
            "problems": dict(self.problems),
            "warnings": dict(self.warnings),
            "examples": self.examples,
            "datasources": dict(self.datasources),
        }


def issue_record(row: CheckedRow) -> dict[str, Any]:
    """The JSON object written to a --report file for one row with problems or warnings."""
    return {
        "index": row.raw.index,
        "where": row.raw.where,
        "sample_id": row.sample_id,
        "usable": row.usable,
        "problems": [{"code": i.code, "detail": i.detail} for i in row.problems],
        "warnings": [{"code": i.code, "detail": i.detail} for i in row.warnings],
    }


def validate(
    source: DataSource,
    *,
    image_dir: Path | None = None,
    columns: Mapping[str, str] | None = None,
    report: Path | None = None,
    progress: Callable[[int], None] | None = None,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> ValidationSummary:
    """Check every row; write each row with an issue to `report` (JSONL) as it is found."""
    summary = ValidationSummary(path=str(source.path))
    report_fh = None
    if report:
        try:
            report.parent.mkdir(parents=True, exist_ok=True)
            report_fh = open(report, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as err:
            raise DataError(f"--report {report}: cannot write ({err.strerror})") from err
    try:
        for row in iter_checked(
            source, image_dir=image_dir, columns=columns or {}, progress=progress,
            max_image_pixels=max_image_pixels,
        ):
            summary.add(row)
            if report_fh is not None and (row.problems or row.warnings):
                report_fh.write(json.dumps(issue_record(row), ensure_ascii=False) + "\n")
    finally:
        if report_fh is not None:
            report_fh.close()
    logger.info("validated %s: %d rows, %d usable", source.path, summary.rows, summary.usable)
    return summary


__all__ = [
    "MAX_IMAGE_PIXELS",
    "PROBLEMS",
    "WARNINGS",
    "CheckedRow",
    "Issue",
    "RowChecker",
    "ValidationSummary",
    "allow_large_images",
    "inspect_image",
    "issue_record",
    "iter_checked",
    "validate",
]
