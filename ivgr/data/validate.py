"""The row check shared by `ivgr data validate` and `ivgr data prepare`.

One check decides whether a row is usable for training, so `validate` predicts exactly which
rows `prepare` keeps and why it leaves the others out (same rows, same reason codes). In order:

1. the row is readable (`bad_row`);
2. the image is present (`missing_image`), below the pixel limit (`image_too_large`) and
   decodes fully, to the last pixel, and converts to RGB (`undecodable_image`);
3. question and answer are non-empty (`empty_question`, `empty_answer`);
4. every box is four finite numbers with x1<x2 and y1<y2 that still covers part of the image
   after clipping (`bad_box`, `box_not_finite`, `box_degenerate`, `box_outside_image`);
5. the datasource is trained as paired or single (`unknown_datasource`);
6. Qwen's smart-resize accepts the image (`bad_aspect_ratio`: a side ratio above 200) and
   every box is still at least one pixel wide and high after conversion to the model's
   frame (`box_vanished_after_resize`);
7. the sample_id was not used by an earlier usable row (`duplicate_sample_id`).

Every problem of a row is recorded; the first is the reason prepare gives. Warnings
(`box_clipped`, `extra_images`) do not make a row unusable. Images are decoded on `workers`
threads (Pillow releases the GIL) while rows are finished in input order, so the result does
not depend on the number of workers.

PIL is imported lazily; no torch/transformers/trl.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.data.adapters import ColumnMap, RowRecord, adapt_row, resolve_columns
from ivgr.data.images import Decoded, ImageDecodeError, ImageTooLarge, decode_image
from ivgr.data.readers import DataSource, ImageRef, RawRow, column_names, iter_rows, load_image_ref
from ivgr.data.schema import Box, sample_id_from_digest
from ivgr.errors import ConfigError, DataError
from ivgr.geometry import FRAMES, clip_box, is_valid_box, scale_box, smart_resize, to_frame

logger = logging.getLogger(__name__)

# Deviation: the authors disabled Pillow's decompression-bomb guard (MAX_IMAGE_PIXELS=None);
# we raise the limit to 16384x16384 (far above any V*/HR-Bench image) but keep it;
# option max_image_pixels (--max-image-pixels).
MAX_IMAGE_PIXELS = 16384 * 16384
EXAMPLES_PER_PROBLEM = 5
_IMAGE_CACHE_SIZE = 4096  # shared images are checked once; bounded so memory stays flat
NORM1000 = 1000.0

# The authors' lists (github Visual-AI/iVGR, verl/utils/dataset.py, `RLHFDataset.__init__`): treevgr rows become grounded +
# textual pairs, these nine sources single-stream rows.
PAIRED_SOURCES: tuple[str, ...] = ("treevgr",)
SINGLE_SOURCES: tuple[str, ...] = (
    "ours_arxivqa", "ours_mmk12", "ours_thinklite", "ours_tqa", "ours_virl",
    "ours_wemath_pro", "ours_wemath_std", "ours_docqa", "ours_infoqa",
)
UNKNOWN_POLICIES = ("drop", "paired", "single")

PROBLEMS: dict[str, str] = {
    "bad_row": "row could not be read (invalid JSON or not an object)",
    "missing_image": "no image, or the image file does not exist",
    "image_too_large": "image exceeds the pixel limit (decompression-bomb guard)",
    "undecodable_image": "image cannot be fully decoded (corrupt or truncated) or converted to RGB",
    "empty_question": "question is empty",
    "empty_answer": "answer is empty",
    "bad_box": "box is not four numbers (e.g. bbox missing)",
    "box_not_finite": "box has a NaN or infinite coordinate",
    "box_degenerate": "box has x1>=x2 or y1>=y2",
    "box_outside_image": "box lies entirely outside the image",
    "unknown_datasource": "datasource is in neither --paired-sources nor --single-sources",
    "bad_aspect_ratio": "image side ratio above 200 (smart-resize refuses it)",
    "box_vanished_after_resize": "a box is under one pixel in the model's frame",
    "duplicate_sample_id": "sample_id already used by an earlier usable row",
}
WARNINGS: dict[str, str] = {
    "box_clipped": "box partly outside the image; clipped to it",
    "extra_images": "row has more than one image; the first is used and its boxes refer to it",
}


def _default_workers() -> int:
    return min(4, os.cpu_count() or 1)


@dataclass
class RowRules:
    """The settings a row is checked against; `prepare` adds only how it writes the output."""

    frame: str = "pixel"
    """Frame of the output boxes: pixel (Qwen2.5-VL, resized-image pixels) or norm1000 (Qwen3-VL)."""
    min_pixels: int = 3136
    """Smart-resize lower bound on width*height (authors: 4*28*28)."""
    max_pixels: int = 3211264
    """Smart-resize upper bound on width*height (authors: 4096*28*28)."""
    factor: int = 28
    """Side multiple of smart-resize (patch 14 x merge 2 for Qwen-VL)."""
    paired_sources: tuple[str, ...] = PAIRED_SOURCES
    """Datasources whose rows feed the grounded + textual streams; '*' matches every source."""
    single_sources: tuple[str, ...] = SINGLE_SOURCES
    """Datasources whose rows feed the single stream; '*' matches every source."""
    unknown_sources: str = "drop"
    """What to do with a datasource in neither list: drop (counted) | paired | single."""
    max_image_pixels: int = MAX_IMAGE_PIXELS
    """Decompression-bomb guard for input images."""
    columns: dict[str, str] = field(default_factory=dict)
    """User column mapping (field -> column), see ivgr.data.adapters."""
    workers: int = field(default_factory=_default_workers)
    """Threads for image decoding (and, in prepare, resizing and encoding); never changes a result."""

    def __post_init__(self) -> None:
        if self.frame not in FRAMES:
            raise ConfigError(f"--frame must be one of {', '.join(FRAMES)}, got {self.frame!r}")
        if self.unknown_sources not in UNKNOWN_POLICIES:
            raise ConfigError(
                f"--unknown-sources must be one of {', '.join(UNKNOWN_POLICIES)}, got {self.unknown_sources!r}"
            )
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ConfigError(
                f"--min-pixels ({self.min_pixels}) must be positive and <= --max-pixels ({self.max_pixels})"
            )
        if self.max_image_pixels <= 0:
            raise ConfigError(f"--max-image-pixels must be positive, got {self.max_image_pixels}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.factor <= 0:
            raise ConfigError(f"factor must be positive, got {self.factor}")
        both = (set(self.paired_sources) & set(self.single_sources)) - {"*"}
        if both:
            raise ConfigError(
                f"datasource(s) {', '.join(sorted(both))} are in both --paired-sources and --single-sources; "
                "remove them from one list"
            )
        if "*" in self.paired_sources and "*" in self.single_sources:
            raise ConfigError("'*' can be in --paired-sources or --single-sources, not both")

    def kind_for(self, datasource: str) -> str | None:
        """paired | single for a datasource; None = excluded (unknown source, policy drop).

        Exact names win over '*'.
        >>> RowRules().kind_for("treevgr"), RowRules().kind_for("ours_tqa")
        ('paired', 'single')
        >>> RowRules().kind_for("laion") is None
        True
        """
        if datasource in self.single_sources:
            return "single"
        if datasource in self.paired_sources:
            return "paired"
        if "*" in self.paired_sources:
            return "paired"
        if "*" in self.single_sources:
            return "single"
        # Deviation: the authors dropped unlisted sources only when the file had >10000 rows
        # (a magic threshold) and kept them as pairs otherwise; we treat every file alike and
        # count what is excluded; option unknown_sources.
        return None if self.unknown_sources == "drop" else self.unknown_sources

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """(W', H') the model sees for a W x H image (smart-resize); DataError for a bad ratio.

        >>> RowRules().target_size(640, 480)
        (644, 476)
        """
        new_h, new_w = smart_resize(
            height, width, factor=self.factor, min_pixels=self.min_pixels, max_pixels=self.max_pixels
        )
        return (new_w, new_h)


def convert_box(box: Box, *, orig: tuple[int, int], new: tuple[int, int], frame: str) -> Box:
    """Original-image pixel box -> the model's frame, clipped to the image.

    pixel:    x' = round(x * W'/W), y' = round(y * H'/H)  (Python round, as the authors;
              github Visual-AI/iVGR, verl/utils/dataset.py `process_target_boxes`), then clipped to [0, W'] x [0, H'].
    norm1000: x' = x / W * 1000, y' = y / H * 1000 (exact, not rounded), clipped to [0, 1000].
    `orig` = (W, H) of the original image, `new` = (W', H') the model sees.

    >>> convert_box((10, 20, 110, 220), orig=(200, 400), new=(100, 100), frame="pixel")
    (5.0, 5.0, 55.0, 55.0)
    >>> convert_box((50, 100, 150, 300), orig=(200, 400), new=(112, 224), frame="norm1000")
    (250.0, 250.0, 750.0, 750.0)
    """
    (w0, h0), (w1, h1) = orig, new
    clipped = clip_box(box, w0, h0)
    if frame == "pixel":
        scaled = scale_box(clipped, w1 / w0, h1 / h0)
        return clip_box(tuple(float(round(v)) for v in scaled), w1, h1)  # type: ignore[arg-type]
    x1, y1, x2, y2 = clip_box(to_frame(clipped, src="pixel", dst="norm1000", width=w0, height=h0), NORM1000, NORM1000)
    # Dividing by W can round two distinct coordinates to one float; keep a real box a box.
    if clipped[2] > clipped[0]:
        x1, x2 = _keep_extent(x1, x2)
    if clipped[3] > clipped[1]:
        y1, y2 = _keep_extent(y1, y2)
    return (x1, y1, x2, y2)


def _keep_extent(lo: float, hi: float) -> tuple[float, float]:
    """(lo, hi) with hi > lo by at least one ulp, staying inside [0, 1000]."""
    if hi > lo:
        return lo, hi
    if lo < NORM1000:
        return lo, math.nextafter(lo, math.inf)
    return math.nextafter(hi, -math.inf), hi


@dataclass(frozen=True)
class Issue:
    """One problem or warning of a row: a code from PROBLEMS/WARNINGS and a detail string."""

    code: str
    detail: str


@dataclass(frozen=True)
class ImageInfo:
    """Result of opening one image: its size or why it failed, content hash and conversion.

    `stored` is set by prepare's image task: the image path the prepared sample refers to.
    """

    size: tuple[int, int] | None
    problem: Issue | None
    sha256: bytes | None
    conversion: str | None = None  # source mode converted to RGB (ivgr.data.images), None for RGB
    stored: str | None = None


@dataclass
class CheckedRow:
    """A row after checking: its mapped record, resolved image, every issue, and its plan.

    For a usable row `kind`, `target_size` (W', H') and `target_boxes` (in the rules' frame)
    are what prepare writes.
    """

    raw: RawRow
    record: RowRecord
    sample_id: str | None
    image_ref: ImageRef | None
    image_size: tuple[int, int] | None = None  # (width, height) of the original image
    image_digest: bytes | None = None  # sha256 of the encoded image bytes
    image: ImageInfo | None = None
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    kind: str | None = None
    target_size: tuple[int, int] | None = None
    target_boxes: list[Box] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


def allow_large_images(max_image_pixels: int) -> None:
    """Raise Pillow's global decompression-bomb limit to ours (never lower it, never disable it).

    Set once per process instead of per call: images are decoded on worker threads, and a
    per-call save/restore of this global would race with them. Our own check (width*height >
    max_image_pixels -> image_too_large) runs on the header, before any decode.
    """
    from PIL import Image

    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_image_pixels:
        Image.MAX_IMAGE_PIXELS = max_image_pixels


def open_image(ref: ImageRef, *, max_image_pixels: int = MAX_IMAGE_PIXELS) -> tuple[ImageInfo, Decoded | None]:
    """Read and fully decode one image: (its info, the RGB pixels or None when it failed).

    A full decode (not Pillow's `verify()`) is what finds a truncated file, and converting to
    RGB here is what finds a mode that cannot be converted, so the check sees every failure
    that writing the image would meet.
    """
    if ref.path is not None and not ref.path.is_file():
        return ImageInfo(None, Issue("missing_image", f"file not found: {ref.path}"), None), None
    try:
        data = ref.read_bytes()
    except OSError as err:
        return ImageInfo(None, Issue("missing_image", f"cannot read {ref.path}: {err.strerror}"), None), None
    digest = hashlib.sha256(data).digest()
    allow_large_images(max_image_pixels)
    try:
        decoded = decode_image(data, max_image_pixels=max_image_pixels)
    except ImageTooLarge as err:
        return ImageInfo(None, Issue("image_too_large", str(err)), digest), None
    except ImageDecodeError as err:
        where = f"{ref.path}: " if ref.path is not None else ""
        return ImageInfo(None, Issue("undecodable_image", f"{where}{err}"), digest), None
    return ImageInfo(decoded.size, None, digest, decoded.conversion), decoded


def inspect_image(ref: ImageRef, *, max_image_pixels: int = MAX_IMAGE_PIXELS) -> ImageInfo:
    """`open_image` without the pixels: what validate needs."""
    return open_image(ref, max_image_pixels=max_image_pixels)[0]


class RowChecker:
    """Checks rows in input order; remembers the sample_ids of usable rows (duplicates).

    `start` maps a row and resolves its image reference; `finish` takes the opened image and
    runs every remaining check. Between the two, the image can be decoded on another thread.
    """

    def __init__(self, rules: RowRules, columns: ColumnMap, *, image_dir: Path | None, base_dir: Path):
        self.rules = rules
        self.columns = columns
        self.image_dir = image_dir
        self.base_dir = base_dir
        self._seen_ids: set[str] = set()

    def start(self, raw: RawRow) -> CheckedRow:
        """Map the row and resolve its image reference (recording why it has none)."""
        columns = self.columns
        record = adapt_row(raw.data, columns)
        row = CheckedRow(raw, record, record.sample_id, None)
        if record.error:
            row.problems.append(Issue("bad_row", record.error))
            return row
        value = raw.data.get(columns["image"]) if columns["image"] else None
        # Deviation: boxes are converted with the size of the *same* image they annotate (the
        # first); the authors mixed image 0's resized size with the last image's original size
        # on multi-image rows (verl/utils/dataset.py `process_target_boxes`); option none.
        if isinstance(value, (list, tuple)) and len(value) > 1:
            row.warnings.append(Issue("extra_images", f"{len(value)} images; using the first"))
        try:
            row.image_ref = load_image_ref(value, image_dir=self.image_dir, base_dir=self.base_dir)
        except ValueError as err:
            row.problems.append(Issue("undecodable_image", str(err)))
            return row
        if row.image_ref is None:
            row.problems.append(Issue("missing_image", "no image in the row"))
        return row

    def finish(self, row: CheckedRow, info: ImageInfo | None) -> CheckedRow:
        """Every check after the image is opened (`info` is None when the row has no image)."""
        if row.record.error:
            return row
        if info is not None:
            row.image, row.image_size, row.image_digest = info, info.size, info.sha256
            if info.problem is not None:
                row.problems.append(info.problem)
        record = row.record
        if not record.question:
            row.problems.append(Issue("empty_question", f"column {self.columns['question']!r} is empty"))
        if not record.answer:
            row.problems.append(Issue("empty_answer", f"column {self.columns['answer']!r} is empty"))
        self._check_boxes(row)
        row.kind = self.rules.kind_for(record.datasource)
        if row.kind is None:
            row.problems.append(Issue("unknown_datasource", f"datasource {record.datasource!r} is in neither source list"))
        if row.image_size is not None:
            self._plan_model_view(row)
        if row.sample_id is None and row.image_digest is not None:
            row.sample_id = sample_id_from_digest(row.image_digest, record.question)
        # Only a usable row claims its id: a broken first copy must not make a good second
        # copy look like a duplicate (prepare then keeps the good one).
        if row.sample_id is not None and not row.problems:
            if row.sample_id in self._seen_ids:
                row.problems.append(Issue("duplicate_sample_id", f"sample_id {row.sample_id!r} repeats"))
            else:
                self._seen_ids.add(row.sample_id)
        return row

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

    def _plan_model_view(self, row: CheckedRow) -> None:
        """Size the model sees and the boxes in its frame; problems when either fails."""
        assert row.image_size is not None
        try:
            row.target_size = self.rules.target_size(*row.image_size)
        except DataError as err:
            row.problems.append(Issue("bad_aspect_ratio", str(err)))
            return
        if any(p.code in _BOX_PROBLEMS for p in row.problems):
            return  # a box that is already unusable is not converted
        row.target_boxes = [
            convert_box(b, orig=row.image_size, new=row.target_size, frame=self.rules.frame) for b in row.record.boxes
        ]
        if any(not is_valid_box(b) for b in row.target_boxes):
            width, height = row.target_size
            row.problems.append(Issue("box_vanished_after_resize", f"a box is under one pixel at {width}x{height}"))


ImageTask = Callable[[ImageRef], ImageInfo]
_BOX_PROBLEMS = frozenset({"bad_box", "box_not_finite", "box_degenerate", "box_outside_image"})


class _ImagePipeline:
    """Runs the image task once per distinct image (bounded LRU), on threads when workers > 1."""

    def __init__(self, task: ImageTask, workers: int):
        self._task = task
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ivgr-image") if workers > 1 else None
        self._futures: OrderedDict[str, Future] = OrderedDict()

    def get(self, ref: ImageRef) -> Future:
        key = ref.key
        future = self._futures.get(key)
        if future is not None:
            self._futures.move_to_end(key)
            return future
        if self._pool is not None:
            future = self._pool.submit(self._task, ref)
        else:
            future = Future()
            try:
                future.set_result(self._task(ref))
            except Exception as err:  # noqa: BLE001 - re-raised by result(), as with threads
                future.set_exception(err)
        self._futures[key] = future
        if len(self._futures) > _IMAGE_CACHE_SIZE:
            self._futures.popitem(last=False)
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def check_rows(
    source: DataSource,
    rules: RowRules,
    *,
    image_dir: Path | None,
    progress: Callable[[int], None] | None = None,
    image_task: ImageTask | None = None,
) -> Iterator[CheckedRow]:
    """Check every row of `source`, yielding them in input order (streaming).

    Images are opened by `image_task` (default: `inspect_image`) on `rules.workers` threads,
    at most `4 * workers` rows ahead. Raises DataError for a missing column before any row is
    read. Close the iterator (or exhaust it) to stop the threads.
    """
    colmap = resolve_columns(column_names(source), rules.columns, where=str(source.path))
    checker = RowChecker(rules, colmap, image_dir=image_dir, base_dir=source.base_dir)
    task = image_task or (lambda ref: inspect_image(ref, max_image_pixels=rules.max_image_pixels))
    return _checked_in_order(source, checker, _ImagePipeline(task, rules.workers), progress)


def _checked_in_order(
    source: DataSource, checker: RowChecker, images: _ImagePipeline, progress: Callable[[int], None] | None
) -> Iterator[CheckedRow]:
    ahead = 4 * checker.rules.workers
    window: deque[tuple[CheckedRow, Future | None]] = deque()

    def finish_head() -> CheckedRow:
        row, future = window.popleft()
        done = checker.finish(row, future.result() if future is not None else None)
        if progress is not None:
            progress(1)
        return done

    try:
        for raw in iter_rows(source):
            row = checker.start(raw)
            window.append((row, images.get(row.image_ref) if row.image_ref is not None else None))
            while window and (len(window) > ahead or window[0][1] is None or window[0][1].done()):
                yield finish_head()
        while window:
            yield finish_head()
    finally:
        images.close()


@dataclass
class ValidationSummary:
    """Counts of a validate pass: rows, usable rows, per problem/warning code with examples,
    and the usable rows whose image is converted to RGB, by source mode."""

    path: str
    rows: int = 0
    usable: int = 0
    problems: Counter = field(default_factory=Counter)  # code -> rows having it
    warnings: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)  # source mode -> usable rows
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
        if row.usable and row.image is not None and row.image.conversion:
            self.conversions[row.image.conversion] += 1
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
            "conversions": dict(self.conversions),
            "examples": self.examples,
            "datasources": dict(self.datasources),
        }


def issue_record(row: CheckedRow) -> dict[str, Any]:
    """The JSON object written to a --report file for one row with problems or warnings.

    `reason` (the first problem) is what prepare writes for the row in excluded.jsonl.
    """
    return {
        "index": row.raw.index,
        "where": row.raw.where,
        "sample_id": row.sample_id,
        "usable": row.usable,
        "reason": row.problems[0].code if row.problems else None,
        "problems": [{"code": i.code, "detail": i.detail} for i in row.problems],
        "warnings": [{"code": i.code, "detail": i.detail} for i in row.warnings],
    }


def open_report(path: Path) -> Any:
    """Open a --report file for writing; DataError (one line) when that is impossible."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")  # noqa: SIM115 - the caller closes it
    except OSError as err:
        raise DataError(f"--report {path}: cannot write ({err.strerror})") from err


def validate(
    source: DataSource,
    *,
    rules: RowRules | None = None,
    image_dir: Path | None = None,
    report: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ValidationSummary:
    """Check every row as prepare would; write each row with an issue to `report` (JSONL)."""
    rules = rules or RowRules()
    summary = ValidationSummary(path=str(source.path))
    rows = check_rows(source, rules, image_dir=image_dir, progress=progress)
    with contextlib.ExitStack() as stack:
        report_fh = stack.enter_context(open_report(report)) if report else None
        for row in stack.enter_context(contextlib.closing(rows)):
            summary.add(row)
            if report_fh is not None and (row.problems or row.warnings):
                report_fh.write(json.dumps(issue_record(row), ensure_ascii=False) + "\n")
    logger.info("validated %s: %d rows, %d usable", source.path, summary.rows, summary.usable)
    return summary


__all__ = [
    "MAX_IMAGE_PIXELS",
    "PAIRED_SOURCES",
    "PROBLEMS",
    "SINGLE_SOURCES",
    "UNKNOWN_POLICIES",
    "WARNINGS",
    "CheckedRow",
    "ImageInfo",
    "Issue",
    "RowChecker",
    "RowRules",
    "ValidationSummary",
    "allow_large_images",
    "check_rows",
    "convert_box",
    "inspect_image",
    "issue_record",
    "open_image",
    "open_report",
    "validate",
]
