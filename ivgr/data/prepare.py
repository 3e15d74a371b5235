"""`ivgr data prepare`: raw rows -> a prepared dataset the trainer reads (docs/CONTRACTS.md).

Per row, in one streaming pass:
1. map and check it (`ivgr.data.validate`); an unusable row is excluded with its reasons;
2. decide its kind from the datasource (paired -> grounded + textual, single -> single stream);
3. compute the size the model sees with Qwen's smart-resize rule and convert the ground-truth
   boxes from original-image pixels into the model's frame (pixel: scale per axis, round;
   norm1000: x / W * 1000), clipped to the image;
4. write the resized image once per distinct source image (content-addressed name) and the
   `Sample` line.

Nothing is dropped silently: every excluded row is counted by reason in the manifest and
listed in `DIR/excluded.jsonl`. Output goes through `PreparedWriter` (staging dir, then an
atomic rename). A re-run with the same input bytes and settings is skipped.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ivgr.data.prepared import IMAGES_DIR, PreparedWriter, read_manifest
from ivgr.data.readers import DataSource, ImageRef, count_rows, source_hash
from ivgr.data.schema import Box, Sample
from ivgr.data.validate import MAX_IMAGE_PIXELS, CheckedRow, iter_checked
from ivgr.errors import ConfigError, DataError
from ivgr.geometry import FRAMES, clip_box, is_valid_box, scale_box, smart_resize, to_frame

logger = logging.getLogger(__name__)

# The authors' lists (reference-implementation.md §2.2 step 4): treevgr rows become grounded +
# textual pairs, these nine sources single-stream rows.
PAIRED_SOURCES: tuple[str, ...] = ("treevgr",)
SINGLE_SOURCES: tuple[str, ...] = (
    "ours_arxivqa", "ours_mmk12", "ours_thinklite", "ours_tqa", "ours_virl",
    "ours_wemath_pro", "ours_wemath_std", "ours_docqa", "ours_infoqa",
)
UNKNOWN_POLICIES = ("drop", "paired", "single")
NORM1000 = 1000.0
JPEG_QUALITY = 95  # as the authors' offline resize script (reference-implementation.md §8.4)


@dataclass
class PrepareConfig:
    """Settings of one prepare run; all but `workers` go into the manifest and the idempotency key."""

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
    resize_images: bool = True
    """Write resized copies of the images; False records the target size only."""
    max_image_pixels: int = MAX_IMAGE_PIXELS
    """Decompression-bomb guard for input images."""
    columns: dict[str, str] = field(default_factory=dict)
    """User column mapping (field -> column), see ivgr.data.adapters."""
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    """Threads for image decode/resize/encode (does not change the output)."""

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
        >>> PrepareConfig().kind_for("treevgr"), PrepareConfig().kind_for("ours_tqa")
        ('paired', 'single')
        >>> PrepareConfig().kind_for("laion") is None
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

    def settings(self, image_dir: Path | None) -> dict[str, Any]:
        """JSON-able settings recorded in the manifest; equal settings + source = skip."""
        out = asdict(self)
        out.pop("workers")  # speed only: the same output for any value
        out["paired_sources"] = list(self.paired_sources)
        out["single_sources"] = list(self.single_sources)
        out["image_dir"] = str(image_dir.resolve()) if image_dir else None
        return out


def convert_box(box: Box, *, orig: tuple[int, int], new: tuple[int, int], frame: str) -> Box:
    """Original-image pixel box -> the model's frame, clipped to the image.

    pixel:    x' = round(x * W'/W), y' = round(y * H'/H)  (Python round, as the authors;
              reference-implementation.md §2.4 step 4), then clipped to [0, W'] x [0, H'].
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


@dataclass
class PrepareSummary:
    """What a prepare run did (also the core of the manifest)."""

    out_dir: str
    skipped: bool = False
    rows: int = 0
    kept: int = 0
    excluded: Counter = field(default_factory=Counter)  # reason -> rows
    warnings: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    datasources: dict[str, Counter] = field(default_factory=dict)
    images_written: int = 0
    boxes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "skipped": self.skipped,
            "rows": self.rows,
            "kept": self.kept,
            "excluded": dict(self.excluded),
            "warnings": dict(self.warnings),
            "kinds": dict(self.kinds),
            "datasources": {k: dict(v) for k, v in sorted(self.datasources.items())},
            "images_written": self.images_written,
            "boxes": self.boxes,
        }


# Deviation: images are resized with the same smart-resize rule (28-aligned) that the boxes
# are converted with, in one step; the authors' offline resize script was not 28-aligned and
# left box annotations untouched (reference-implementation.md §8.4); option resize_images
# (--no-resize-images records the size only).
class _ImageStore:
    """Writes each distinct (source image, target size) once; rows sharing it reuse the file.

    Image work (decode, resize, encode) runs on a thread pool when `workers > 1`: Pillow
    releases the GIL for it, so threads give real parallelism without pickling rows.
    `submit` returns a future of the image path; the caller keeps rows in order.
    """

    def __init__(self, writer: PreparedWriter, config: PrepareConfig):
        self.writer = writer
        self.config = config
        self._done: dict[tuple[bytes, tuple[int, int]], Future] = {}
        self._pool = ThreadPoolExecutor(config.workers, thread_name_prefix="ivgr-prepare") if config.workers > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, row: CheckedRow, size: tuple[int, int]) -> tuple[Future, bool]:
        """(future of the sample's image path, whether this row's request writes a new file)."""
        assert row.image_ref is not None and row.image_digest is not None and row.image_size is not None
        key = (row.image_digest, size)
        if key in self._done:
            return self._done[key], False
        ref, orig, digest = row.image_ref, row.image_size, row.image_digest
        if not self.config.resize_images and ref.path is not None:
            # keep the original file; the processor resizes it to `size` at training time
            future: Future = Future()
            future.set_result(str(ref.path.resolve()))
            self._done[key] = future
            return future, False
        if self._pool is not None:
            future = self._pool.submit(self._write, ref, orig, size, digest)
        else:
            future = Future()
            try:
                future.set_result(self._write(ref, orig, size, digest))
            except Exception as err:  # noqa: BLE001 - delivered through the future, as with threads
                future.set_exception(err)
        self._done[key] = future
        return future, True

    def _write(self, ref: ImageRef, orig: tuple[int, int], size: tuple[int, int], digest: bytes) -> str:
        data = ref.read_bytes()
        if self.config.resize_images:
            data, ext = _resized_bytes(data, orig, size)
        else:
            ext = _extension_of(data)
        rel = f"{IMAGES_DIR}/{digest.hex()[:20]}_{size[0]}x{size[1]}.{ext}"
        self.writer.add_image(rel, data)
        return rel


def _extension_of(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}.get(img.format or "", "img")


def _resized_bytes(data: bytes, orig: tuple[int, int], size: tuple[int, int]) -> tuple[bytes, str]:
    """Encoded image at `size` (W, H); the source bytes untouched when nothing would change."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format
        if tuple(size) == tuple(orig) and img.mode == "RGB" and fmt in ("JPEG", "PNG"):
            # Deviation: a truncated image is excluded (undecodable_image) instead of being
            # loaded with gray padding (the authors set LOAD_TRUNCATED_IMAGES=True); option none.
            img.load()
            return data, "jpg" if fmt == "JPEG" else "png"
        # Deviation: convert to RGB *before* resizing, so palette/1-bit images are resized with
        # bicubic filtering rather than PIL's nearest-neighbour default for those modes
        # (the authors resized first, reference-implementation.md §2.4 step 3); option none.
        rgb = img.convert("RGB") if img.mode != "RGB" else img
        out = rgb.resize(size, Image.Resampling.BICUBIC) if rgb.size != tuple(size) else rgb.copy()
    buf = io.BytesIO()
    if fmt == "JPEG":
        out.save(buf, format="JPEG", quality=JPEG_QUALITY)
        return buf.getvalue(), "jpg"
    out.save(buf, format="PNG")
    return buf.getvalue(), "png"


def _excluded_record(row: CheckedRow, reason: str, detail: str) -> dict[str, Any]:
    return {
        "index": row.raw.index,
        "where": row.raw.where,
        "sample_id": row.sample_id,
        "reason": reason,
        "detail": detail,
        "problems": [{"code": i.code, "detail": i.detail} for i in row.problems],
    }


def already_prepared(out_dir: Path, src_hash: str, settings: Mapping[str, Any]) -> bool:
    """True when `out_dir` is a complete prepared dataset of the same source and settings."""
    try:
        manifest = read_manifest(out_dir)
    except DataError:
        return False
    return manifest.get("source_hash") == src_hash and manifest.get("settings") == dict(settings)


def prepare(
    source: DataSource,
    out_dir: str | Path,
    *,
    config: PrepareConfig | None = None,
    image_dir: Path | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int | None], None] | None = None,
) -> PrepareSummary:
    """Prepare `source` into `out_dir` (see module docstring). Idempotent unless `force`."""
    config = config or PrepareConfig()
    out = Path(out_dir)
    src_hash = source_hash(source)
    settings = config.settings(image_dir)
    if not force and already_prepared(out, src_hash, settings):
        logger.info("%s is already prepared from the same input and settings; skipping", out)
        summary = PrepareSummary(out_dir=str(out), skipped=True)
        manifest = read_manifest(out)
        summary.rows, summary.kept = manifest.get("rows", 0), manifest["count"]
        summary.excluded.update(manifest.get("excluded", {}))
        summary.kinds.update(manifest["counts"].get("by_kind", {}))
        return summary
    if on_total is not None:
        on_total(count_rows(source))
    summary = PrepareSummary(out_dir=str(out))
    with PreparedWriter(out) as writer:
        store = _ImageStore(writer, config)
        try:
            _prepare_rows(source, image_dir, config, writer, store, summary, progress)
        finally:
            store.close()
        writer.commit(_manifest(summary, config, settings, src_hash, source))
    logger.info("prepared %s: kept %d of %d rows", out, summary.kept, summary.rows)
    return summary


@dataclass
class _Pending:
    """A row whose image is being written; its sample is emitted when the image is done."""

    row: CheckedRow
    kind: str
    boxes: list[Box]
    size: tuple[int, int]
    image: Future
    writes: bool


def _prepare_rows(
    source: DataSource, image_dir: Path | None, config: PrepareConfig, writer: PreparedWriter,
    store: _ImageStore, summary: PrepareSummary, progress: Callable[[int], None] | None,
) -> None:
    """Stream rows; keep at most `4 * workers` rows waiting for images, emitted in input order."""
    rows = iter_checked(
        source, image_dir=image_dir, columns=config.columns, progress=progress,
        max_image_pixels=config.max_image_pixels,
    )
    window: deque[_Pending] = deque()
    for row in rows:
        pending = _plan_row(row, config, writer, store, summary)
        if pending is not None:
            window.append(pending)
        while window and (len(window) > 4 * config.workers or window[0].image.done()):
            _finish_row(window.popleft(), config, writer, summary)
    while window:
        _finish_row(window.popleft(), config, writer, summary)


def _exclude(row: CheckedRow, reason: str, detail: str, writer: PreparedWriter, summary: PrepareSummary) -> None:
    summary.excluded[reason] += 1
    writer.add_excluded(_excluded_record(row, reason, detail))


def _plan_row(
    row: CheckedRow, config: PrepareConfig, writer: PreparedWriter, store: _ImageStore, summary: PrepareSummary
) -> _Pending | None:
    """Decide kind, size and boxes of a row and start its image; None when it is excluded."""
    summary.rows += 1
    for code in dict.fromkeys(i.code for i in row.warnings):
        summary.warnings[code] += 1
    if row.problems:
        _exclude(row, row.problems[0].code, row.problems[0].detail, writer, summary)
        return None
    datasource = row.record.datasource
    kind = config.kind_for(datasource)
    if kind is None:
        _exclude(row, "unknown_datasource", f"datasource {datasource!r} is in neither source list", writer, summary)
        return None
    assert row.image_size is not None and row.sample_id is not None
    width, height = row.image_size
    try:
        new_h, new_w = smart_resize(
            height, width, factor=config.factor, min_pixels=config.min_pixels, max_pixels=config.max_pixels
        )
    except DataError as err:
        _exclude(row, "bad_aspect_ratio", str(err), writer, summary)
        return None
    boxes = [convert_box(b, orig=(width, height), new=(new_w, new_h), frame=config.frame) for b in row.record.boxes]
    if any(not is_valid_box(b) for b in boxes):
        _exclude(row, "box_vanished_after_resize", f"a box is under one pixel at {new_w}x{new_h}", writer, summary)
        return None
    future, writes = store.submit(row, (new_w, new_h))
    return _Pending(row, kind, boxes, (new_w, new_h), future, writes)


def _finish_row(p: _Pending, config: PrepareConfig, writer: PreparedWriter, summary: PrepareSummary) -> None:
    """Wait for the row's image; write its sample, or exclude it if the image failed to decode."""
    from PIL import Image

    try:
        image_rel = p.image.result()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:  # corrupt data on full decode
        _exclude(p.row, "undecodable_image", str(err)[:160], writer, summary)
        return
    row = p.row
    assert row.sample_id is not None and row.image_size is not None
    sample = Sample(
        sample_id=row.sample_id,
        image=image_rel,
        question=row.record.question,
        answer=row.record.answer,
        target_boxes=p.boxes,
        frame=config.frame,
        image_size=p.size,
        datasource=row.record.datasource,
        kind=p.kind,
        meta={**row.record.meta, "source_index": row.raw.index, "original_size": list(row.image_size)},
    )
    writer.add_sample(sample)
    summary.kept += 1
    summary.images_written += p.writes
    summary.boxes += len(p.boxes)
    summary.kinds[p.kind] += 1
    summary.datasources.setdefault(row.record.datasource, Counter())[p.kind] += 1


def _manifest(
    summary: PrepareSummary, config: PrepareConfig, settings: Mapping[str, Any], src_hash: str, source: DataSource
) -> dict[str, Any]:
    return {
        "source": str(source.path.resolve()),
        "source_format": source.fmt,
        "source_hash": src_hash,
        "settings": dict(settings),
        "frame": config.frame,
        "min_pixels": config.min_pixels,
        "max_pixels": config.max_pixels,
        "rows": summary.rows,
        "excluded": dict(sorted(summary.excluded.items())),
        "warnings": dict(sorted(summary.warnings.items())),
        "images_written": summary.images_written,
        "images_resized": config.resize_images,
    }


def parse_sources(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    """`a,b,c` -> ("a", "b", "c"); None -> the default; '' -> none.

    >>> parse_sources("treevgr, mine", ())
    ('treevgr', 'mine')
    """
    if text is None:
        return tuple(default)
    return tuple(s.strip() for s in text.split(",") if s.strip())


__all__ = [
    "PAIRED_SOURCES",
    "SINGLE_SOURCES",
    "PrepareConfig",
    "PrepareSummary",
    "already_prepared",
    "convert_box",
    "parse_sources",
    "prepare",
]
