"""Streaming readers for benchmark files as the public releases distribute them.

Why streaming: HR-Bench 8K is a 4.6 GB TSV / 2.8 GB parquet of base64 images
(HF dataset DreamMr/HR-Bench). Loading it with pandas holds every image string at once, so these
readers yield one row at a time (parquet row-group batches, csv reader with a huge field
limit) and keep images *encoded* until the engine decodes one batch of them (the loaders
live in `ivgr.data.images`, shared with the inference engine).

Every error names the file and the row (1-based data row) so a user can find it.
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.data.images import ImageLoader, b64_loader, bytes_loader, file_loader
from ivgr.errors import DataError
from ivgr.jsonl import iter_jsonl as _read_jsonl

log = logging.getLogger(__name__)

ROW_GROUP_WARN_BYTES = 1 << 30


def hf_image_loader(cell: Any, *, base_dir: Path, where: str) -> ImageLoader:
    """Loader for an HF `Image` cell: a struct with `bytes` (preferred) or a `path`."""
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes_loader(cell["bytes"], where=where)
        if cell.get("path"):
            return file_loader(base_dir / cell["path"], where=where)
    if isinstance(cell, (bytes, bytearray)) and cell:
        return bytes_loader(bytes(cell), where=where)
    if isinstance(cell, str) and cell:
        return b64_loader(cell, where=where)
    raise DataError(f"{where}: image cell is empty or not an HF Image struct {{bytes, path}}")


def _check_columns(path: Path, have: list[str], need: list[str]) -> None:
    missing = [c for c in need if c not in have]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {sorted(have)}. "
            "Is this the file as the benchmark's public release distributes it?"
        )


def iter_parquet(path: Path, *, required: list[str], batch_size: int = 1) -> Iterator[tuple[int, dict]]:
    """Yield (row_number, row dict) from a parquet file, a few rows in memory at a time."""
    import pyarrow.parquet as pq

    try:
        # A buffered stream reads a column chunk page by page; without it pyarrow loads the
        # whole chunk, which for a one-row-group HR-Bench 8K file is every image at once.
        pf = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except Exception as err:
        raise DataError(f"{path}: not a readable parquet file ({err})") from None
    _check_columns(path, pf.schema_arrow.names, required)
    if pf.metadata.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    biggest = max(pf.metadata.row_group(i).total_byte_size for i in range(pf.metadata.num_row_groups))
    if biggest > ROW_GROUP_WARN_BYTES:
        # pyarrow decodes a row group's column chunk before yielding its first row (measured:
        # ~2.5-3x the chunk size in RSS), so huge row groups defeat streaming; the TSV reader
        # does not (docs/PERFORMANCE.md, Evaluation).
        log.warning("%s: a row group holds %.0f MiB; reading it needs about 3x that in memory. "
                    "If memory is short, use the release's .tsv instead (streamed row by row).",
                    path, biggest / 2**20)
    import pyarrow as pa

    row = 0
    for i, batch in enumerate(pf.iter_batches(batch_size=batch_size, use_threads=False)):
        for rec in batch.to_pylist():
            row += 1
            yield row, rec
        if i % 16 == 15:  # give freed pool pages back to the OS (mimalloc keeps them otherwise)
            pa.default_memory_pool().release_unused()


def iter_tsv(path: Path, *, required: list[str]) -> Iterator[tuple[int, dict]]:
    """Yield (row_number, row dict) from a VLMEvalKit-style TSV with multi-MB base64 cells."""
    # The csv module caps fields at 128 KiB by default; one 8K base64 image is ~6 MB.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        fh = path.open("r", encoding="utf-8", newline="")
    except OSError as err:
        raise DataError(f"{path}: cannot open ({err.strerror})") from None
    with fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not reader.fieldnames:
            raise DataError(f"{path}: the file is empty (no header line)")
        _check_columns(path, list(reader.fieldnames), required)
        n = 0
        for n, rec in enumerate(reader, start=1):
            yield n, rec
        if n == 0:
            raise DataError(f"{path}: the file has a header but no rows")


def iter_jsonl(path: Path, *, required: list[str]) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) from a JSONL file, checking the keys of every line."""
    n_rows = 0
    for n, rec in _read_jsonl(path):
        missing = [k for k in required if k not in rec]
        if missing:
            raise DataError(f"{path}:{n}: missing key(s) {missing}")
        n_rows += 1
        yield n, rec
    if n_rows == 0:
        raise DataError(f"{path}: the file is empty")


def iter_table(path: Path, *, required: list[str]) -> Iterator[tuple[int, dict]]:
    """Dispatch on the suffix: .parquet, .tsv or .jsonl."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return iter_parquet(path, required=required)
    if suffix == ".tsv":
        return iter_tsv(path, required=required)
    if suffix == ".jsonl":
        return iter_jsonl(path, required=required)
    raise DataError(f"{path}: unsupported file type {suffix!r} (expected .parquet, .tsv or .jsonl)")


def find_files(root: Path, patterns: list[str], *, what: str) -> list[Path]:
    """Files under `root` matching the first pattern that matches anything (release layouts differ)."""
    if root.is_file():
        return [root]
    if not root.exists():
        raise DataError(f"{root}: no such file or directory (the {what} data)")
    for pattern in patterns:
        hits = sorted(p for p in root.glob(pattern) if p.is_file())
        if hits:
            return hits
    raise DataError(f"{root}: no {what} file found; looked for {patterns}")


def require(row: dict, key: str, *, where: str) -> Any:
    """A non-missing cell, or a DataError naming file, row and key."""
    value = row.get(key)
    if value is None or (isinstance(value, float) and value != value):  # NaN from TSV/pandas
        raise DataError(f"{where}: missing value for {key!r}")
    return value
