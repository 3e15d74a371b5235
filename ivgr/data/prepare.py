"""`ivgr data prepare`: raw rows -> a prepared dataset the trainer reads (docs/CONTRACTS.md).

Per row, in one streaming pass, in input order:
1. check it with the row check that `ivgr data validate` runs (`ivgr.data.validate`): the image
   is decoded fully, the datasource picks the kind (paired -> grounded + textual, single ->
   single stream), Qwen's smart-resize rule gives the size the model sees, and the
   ground-truth boxes are converted from original-image pixels into the model's frame (pixel:
   scale per axis, round; norm1000: x / W * 1000), clipped to the image. An unusable row is
   excluded with its reasons, exactly as validate reports it;
2. the image, converted to 8-bit RGB (`ivgr.data.images`: high-bit-depth modes are scaled,
   not clipped), is resized and written once per distinct source image (content-addressed
   name), on the same worker thread that decoded it;
3. the `Sample` line is written.

Nothing is dropped silently: every excluded row is counted by reason in the manifest and
listed in `DIR/excluded.jsonl`, in row order. Output goes through `PreparedWriter` (staging
dir, then an atomic rename). A re-run with the same input bytes and settings is skipped.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ivgr.data.images import SCALED_MODES, Decoded
from ivgr.data.prepared import IMAGES_DIR, PreparedWriter, read_manifest, remove_stale_staging
from ivgr.data.readers import DataSource, ImageRef, count_rows, source_hash
from ivgr.data.schema import Sample
from ivgr.data.validate import (
    PAIRED_SOURCES,
    SINGLE_SOURCES,
    CheckedRow,
    ImageInfo,
    RowRules,
    check_rows,
    convert_box,
    open_image,
)
from ivgr.errors import DataError

logger = logging.getLogger(__name__)

JPEG_QUALITY = 95  # as the authors' offline resize script (github Visual-AI/iVGR, process_images.py)
# Recorded in the settings, so a change of what prepare writes for the same input (a check, an
# image conversion) makes an older output out of date. 2: full decode and scaled 16-bit/float.
RULES_VERSION = 2
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


@dataclass
class PrepareConfig(RowRules):
    """Settings of one prepare run: the row rules (shared with validate) plus how images are written.

    All but `workers` go into the manifest and the idempotency key.
    """

    resize_images: bool = True
    """Write resized copies of the images; False records the target size only."""

    def settings(self, image_dir: Path | None) -> dict[str, Any]:
        """JSON-able settings recorded in the manifest; equal settings + source = skip."""
        out = asdict(self)
        out.pop("workers")  # speed only: the same output for any value
        out["paired_sources"] = list(self.paired_sources)
        out["single_sources"] = list(self.single_sources)
        out["image_dir"] = str(image_dir.resolve()) if image_dir else None
        out["rules_version"] = RULES_VERSION
        return out


@dataclass
class PrepareSummary:
    """What a prepare run did (also the core of the manifest)."""

    out_dir: str
    skipped: bool = False
    rows: int = 0
    kept: int = 0
    excluded: Counter = field(default_factory=Counter)  # reason -> rows
    warnings: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)  # source image mode -> kept rows converted to RGB
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
            "conversions": dict(self.conversions),
            "kinds": dict(self.kinds),
            "datasources": {k: dict(v) for k, v in sorted(self.datasources.items())},
            "images_written": self.images_written,
            "boxes": self.boxes,
        }


# Deviation: images are resized with the same smart-resize rule (28-aligned) that the boxes
# are converted with, in one step; the authors' offline resize script was not 28-aligned and
# left box annotations untouched (the authors' process_images.py); option resize_images
# (--no-resize-images records the size only).
class _ImageStore:
    """The image task of prepare: decode (the row check's decode), resize, encode, write.

    Called on the row check's worker threads, once per distinct source image: the pixels
    decoded for the check are the ones resized, so no image is decoded twice. Files are
    content-addressed (`images/<sha>_<W>x<H>.<ext>`), so rows sharing an image share a file;
    a file whose rows were all excluded is deleted before commit (`drop_unreferenced`).
    """

    def __init__(self, writer: PreparedWriter, config: PrepareConfig):
        self.writer = writer
        self.config = config
        self._lock = threading.Lock()
        self._written: set[str] = set()

    def __call__(self, ref: ImageRef) -> ImageInfo:
        info, decoded = open_image(ref, max_image_pixels=self.config.max_image_pixels)
        if decoded is None or info.sha256 is None:
            return info
        try:
            size = self.config.target_size(*decoded.size)
        except DataError:
            return info  # the row check reports bad_aspect_ratio
        return replace(info, stored=self._store(ref, decoded, info.sha256, size))

    def _store(self, ref: ImageRef, decoded: Decoded, digest: bytes, size: tuple[int, int]) -> str:
        scaled = decoded.conversion in SCALED_MODES
        if not self.config.resize_images and not scaled and ref.path is not None:
            # keep the original file; the processor resizes it to `size` at training time
            return str(ref.path.resolve())
        if self.config.resize_images:
            ext = "jpg" if decoded.fmt == "JPEG" else "png"
        else:
            # A 16-bit/float original would be clipped by the trainer's convert("RGB"):
            # store its scaled 8-bit copy at the original size instead.
            ext = "png" if scaled else _EXTENSIONS.get(decoded.fmt or "", "img")
        rel = f"{IMAGES_DIR}/{digest.hex()[:20]}_{size[0]}x{size[1]}.{ext}"
        with self._lock:
            if rel in self._written:
                return rel
            self._written.add(rel)
        if self.config.resize_images:
            data = _resized_bytes(ref, decoded, size)
        elif scaled:
            data = _encoded(decoded.rgb, "PNG")
        else:
            data = ref.read_bytes()
        self.writer.add_image(rel, data)
        return rel

    def drop_unreferenced(self, referenced: set[str]) -> int:
        """Delete written files no kept sample uses; returns how many files are used."""
        for rel in self._written - referenced:
            self.writer.image_path(rel).unlink(missing_ok=True)
        return len(self._written & referenced)


def _encoded(img: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


def _resized_bytes(ref: ImageRef, decoded: Decoded, size: tuple[int, int]) -> bytes:
    """Encoded image at `size` (W, H); the source bytes untouched when nothing would change."""
    from PIL import Image

    if tuple(size) == decoded.size and decoded.conversion is None and decoded.fmt in ("JPEG", "PNG"):
        return ref.read_bytes()
    # Deviation: convert to RGB *before* resizing, so palette/1-bit images are resized with
    # bicubic filtering rather than PIL's nearest-neighbour default for those modes
    # (the authors resized first, verl/utils/dataset.py `process_image`); option none.
    rgb = decoded.rgb
    out = rgb.resize(size, Image.Resampling.BICUBIC) if rgb.size != tuple(size) else rgb
    return _encoded(out, "JPEG" if decoded.fmt == "JPEG" else "PNG")


def excluded_record(row: CheckedRow) -> dict[str, Any]:
    """The excluded.jsonl line of an unusable row: its first problem is the reason."""
    first = row.problems[0]
    return {
        "index": row.raw.index,
        "where": row.raw.where,
        "sample_id": row.sample_id,
        "reason": first.code,
        "detail": first.detail,
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
    # Every run, including one with nothing to do: a killed rebuild must not leave a copy of
    # the dataset behind until the next rebuild.
    remove_stale_staging(out)
    src_hash = source_hash(source)
    settings = config.settings(image_dir)
    if not force and already_prepared(out, src_hash, settings):
        logger.info("%s is already prepared from the same input and settings; skipping", out)
        summary = PrepareSummary(out_dir=str(out), skipped=True)
        manifest = read_manifest(out)
        summary.rows, summary.kept = manifest.get("rows", 0), manifest["count"]
        summary.excluded.update(manifest.get("excluded", {}))
        summary.conversions.update(manifest.get("conversions", {}))
        summary.kinds.update(manifest["counts"].get("by_kind", {}))
        return summary
    summary = PrepareSummary(out_dir=str(out))
    with PreparedWriter(out) as writer:
        store = _ImageStore(writer, config)
        rows = check_rows(source, config, image_dir=image_dir, progress=progress, image_task=store)
        if on_total is not None:
            on_total(count_rows(source))
        referenced: set[str] = set()
        with contextlib.closing(rows):
            for row in rows:
                write_row(row, writer, summary, referenced, frame=config.frame)
        summary.images_written = store.drop_unreferenced(referenced)
        writer.commit(_manifest(summary, config, settings, src_hash, source))
    logger.info("prepared %s: kept %d of %d rows", out, summary.kept, summary.rows)
    return summary


def write_row(
    row: CheckedRow, writer: PreparedWriter, summary: PrepareSummary, referenced: set[str], *, frame: str
) -> None:
    """Write one checked row: its sample, or its excluded.jsonl line; count it either way."""
    summary.rows += 1
    for code in dict.fromkeys(i.code for i in row.warnings):
        summary.warnings[code] += 1
    if row.problems:
        summary.excluded[row.problems[0].code] += 1
        writer.add_excluded(excluded_record(row))
        return
    image = row.image
    assert image is not None and image.stored is not None and row.kind is not None
    assert row.sample_id is not None and row.image_size is not None and row.target_size is not None
    sample = Sample(
        sample_id=row.sample_id,
        image=image.stored,
        question=row.record.question,
        answer=row.record.answer,
        target_boxes=row.target_boxes,
        frame=frame,
        image_size=row.target_size,
        datasource=row.record.datasource,
        kind=row.kind,
        meta={**row.record.meta, "source_index": row.raw.index, "original_size": list(row.image_size)},
    )
    writer.add_sample(sample)
    referenced.add(image.stored)
    summary.kept += 1
    summary.boxes += len(row.target_boxes)
    summary.kinds[row.kind] += 1
    summary.datasources.setdefault(row.record.datasource, Counter())[row.kind] += 1
    if image.conversion:
        summary.conversions[image.conversion] += 1


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
        "conversions": dict(sorted(summary.conversions.items())),
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
    "excluded_record",
    "parse_sources",
    "prepare",
    "write_row",
]
