"""Streaming readers: parquet, JSONL and Hugging Face `datasets` directories -> raw row dicts.

Every reader yields `RawRow(index, where, data)` one row at a time, so validate/prepare keep
memory flat on 100k-row inputs: parquet through `pyarrow.ParquetFile.iter_batches`, JSONL line
by line, `save_to_disk` directories through `Dataset.iter` in arrow batches (image features
stay undecoded `{"bytes", "path"}` dicts).

`index` is the 0-based row number inside the input (a JSONL file's line N is index N-1);
`where` is a human string such as `train.parquet row 12` or `rows.jsonl:13` for messages.

Images are resolved by `load_image_ref`: a relative path (joined with `--image-dir`, else the
data file's folder), an absolute path, raw bytes, a `{"bytes": ..., "path": ...}` dict, a
`data:` URL or a bare base64 string. pyarrow, PIL and datasets are imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import DataError
from ivgr.jsonl import JsonLineError, parse_json_object

logger = logging.getLogger(__name__)

BATCH_ROWS = 512  # rows per arrow batch: big enough to amortise conversion, small in memory
_SCHEMA_SAMPLE_ROWS = 1000  # JSONL rows scanned for column names
_RELEASE_EVERY = 16  # batches between handing arrow's freed pages back to the OS
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
_BASE64_MIN_CHARS = 64  # shorter strings are treated as paths, never as inline images
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True)
class RawRow:
    """One input row before any mapping: its 0-based index, a location string and the dict."""

    index: int
    where: str
    data: dict[str, Any]


@dataclass(frozen=True)
class DataSource:
    """A resolved input: its format and the concrete files (or HF directory) to read."""

    path: Path
    fmt: str  # "parquet" | "jsonl" | "hf"
    files: tuple[Path, ...]
    split: str | None = None

    @property
    def base_dir(self) -> Path:
        """Folder that relative image paths default to (the data file's folder)."""
        return self.path if self.path.is_dir() else self.path.parent


def open_source(spec: str | Path) -> DataSource:
    """Resolve a user path (`file.parquet`, `rows.jsonl`, a folder, or `hf_dir@split`).

    Raises DataError naming the path and what is accepted when nothing readable is there.
    """
    text = str(spec)
    split = None
    path = Path(text)
    if not path.exists() and "@" in path.name:
        base, split = text.rsplit("@", 1)
        path = Path(base)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            return DataSource(path, "parquet", (path,))
        if suffix in JSONL_SUFFIXES:
            return DataSource(path, "jsonl", (path,))
        raise DataError(f"{path}: unknown data format {suffix!r}; use .parquet, .jsonl or a datasets folder")
    if any((path / m).exists() for m in HF_MARKERS):
        return DataSource(path, "hf", (path,), split)
    parquets = tuple(sorted(p for p in path.glob("*") if p.suffix.lower() in PARQUET_SUFFIXES))
    if parquets:
        return DataSource(path, "parquet", parquets)
    jsonls = tuple(sorted(p for p in path.glob("*") if p.suffix.lower() in JSONL_SUFFIXES))
    if jsonls:
        return DataSource(path, "jsonl", jsonls)
    raise DataError(
        f"{path}: folder holds no .parquet/.jsonl files and is not a `datasets` save_to_disk folder"
    )


def source_hash(source: DataSource) -> str:
    """sha256 over the input data files' bytes (streamed), used to make prepare idempotent."""
    digest = hashlib.sha256()
    files = source.files
    if source.fmt == "hf":
        files = tuple(sorted(p for p in source.path.rglob("*") if p.is_file()))
    for path in files:
        digest.update(str(path.relative_to(source.path) if path != source.path else path.name).encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    if source.split:
        digest.update(source.split.encode())
    return digest.hexdigest()


def _parquet_file(path: Path, **kwargs: Any) -> Any:
    """Open a parquet file; DataError naming it when it is not readable parquet."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, **kwargs)
    except Exception as err:  # pyarrow raises several types (ArrowInvalid, OSError, ...)
        raise DataError(f"{path}: not a readable parquet file ({str(err)[:200]})") from err


def column_names(source: DataSource) -> list[str]:
    """Column names known before reading rows (parquet/HF schema; the first JSONL row)."""
    if source.fmt == "parquet":
        return list(_parquet_file(source.files[0]).schema_arrow.names)
    if source.fmt == "hf":
        return list(_load_hf(source).column_names)
    # JSONL has no schema: take the union of keys over the first rows (optional keys such as
    # `datasource` may be absent from the very first one); broken lines are row problems.
    names: dict[str, None] = {}
    for n, row in enumerate(iter_rows(source)):
        if n >= _SCHEMA_SAMPLE_ROWS:
            break
        if "__error__" not in row.data:
            names.update(dict.fromkeys(row.data))
    return list(names)


def count_rows(source: DataSource) -> int | None:
    """Row count for progress bars: parquet metadata, HF length, JSONL non-empty lines."""
    if source.fmt == "parquet":
        return sum(_parquet_file(p).metadata.num_rows for p in source.files)
    if source.fmt == "hf":
        return len(_load_hf(source))
    total = 0
    for path in source.files:
        with open(path, "rb") as fh:
            total += sum(1 for line in fh if line.strip())
    return total


def iter_rows(source: DataSource) -> Iterator[RawRow]:
    """Yield every row of the source in order, streaming."""
    if source.fmt == "parquet":
        yield from _iter_parquet(source)
    elif source.fmt == "jsonl":
        yield from _iter_jsonl(source)
    else:
        yield from _iter_hf(source)


def _iter_parquet(source: DataSource) -> Iterator[RawRow]:
    """Stream parquet rows with memory flat in the number of rows (bench/bench_data.py).

    Measured on 5k/20k/100k-row files: pyarrow's default `pre_buffer=True` keeps the bytes
    it read cached for the file's lifetime, and its mimalloc pool holds freed pages, so
    peak RSS grew with the row count; unbuffered, single-threaded reads plus a periodic
    `release_unused()` keep it flat.
    """
    import pyarrow as pa

    pool = pa.default_memory_pool()
    index = 0
    for path in source.files:
        reader = _parquet_file(path, pre_buffer=False)
        for n, batch in enumerate(reader.iter_batches(batch_size=BATCH_ROWS, use_threads=False)):
            if n % _RELEASE_EVERY == 0:
                pool.release_unused()
            for data in batch.to_pylist():
                yield RawRow(index, f"{path.name} row {index}", data)
                index += 1


def _iter_jsonl(source: DataSource) -> Iterator[RawRow]:
    index = 0
    for path in source.files:
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    data = parse_json_object(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    data = {"__error__": "line is not valid UTF-8"}
                except JsonLineError as err:
                    data = {"__error__": str(err)}
                yield RawRow(index, f"{path.name}:{lineno}", data)
                index += 1


def _load_hf(source: DataSource) -> Any:
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a hard dependency
        raise DataError("reading a datasets folder needs the `datasets` package") from err
    try:
        loaded = datasets.load_from_disk(str(source.path))
    except Exception as err:  # datasets raises FileNotFoundError/ValueError variants
        raise DataError(f"{source.path}: not a readable `datasets` save_to_disk folder ({err})") from err
    if isinstance(loaded, datasets.DatasetDict):
        split = source.split or ("train" if "train" in loaded else next(iter(loaded)))
        if split not in loaded:
            raise DataError(f"{source.path}: no split {split!r}; available: {', '.join(loaded)} (use PATH@split)")
        loaded = loaded[split]
    return loaded


def _iter_hf(source: DataSource) -> Iterator[RawRow]:
    dataset = _load_hf(source).with_format("arrow")  # arrow batches: image features stay undecoded
    index = 0
    for table in dataset.iter(batch_size=BATCH_ROWS):
        for data in table.to_pylist():
            yield RawRow(index, f"{source.path.name} row {index}", data)
            index += 1


# ---------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageRef:
    """Where a row's image comes from: a file on disk or inline bytes (exactly one is set)."""

    path: Path | None = None
    data: bytes | None = None

    @property
    def key(self) -> str:
        """Identity for caching checks of shared images: the path, or a hash of the bytes."""
        if self.path is not None:
            return f"path:{self.path}"
        return "sha:" + hashlib.sha256(self.data or b"").hexdigest()

    def read_bytes(self) -> bytes:
        """The encoded image bytes (reads the file for path references)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def load_image_ref(value: Any, *, image_dir: Path | None, base_dir: Path) -> ImageRef | None:
    """Turn an image cell into an `ImageRef`; None when the cell holds no image at all.

    A list takes its first element (one image per sample, docs/method.md#box-frame).
    Raises ValueError with a short reason for a cell that cannot be an image reference.
    """
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ImageRef(data=bytes(value)) if len(value) else None
    if isinstance(value, dict):
        if value.get("bytes"):
            return ImageRef(data=bytes(value["bytes"]))
        if value.get("path"):
            return _path_ref(str(value["path"]), image_dir, base_dir)
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith("data:"):
            return ImageRef(data=_decode_base64(text.split(",", 1)[-1]))
        # A path has a '.' or '\\' somewhere; base64 never does. Long + alphabet-only = inline.
        if len(text) >= _BASE64_MIN_CHARS and len(text) % 4 == 0 and _BASE64_RE.fullmatch(text):
            return ImageRef(data=_decode_base64(text))
        return _path_ref(text, image_dir, base_dir)
    raise ValueError(f"unsupported image value of type {type(value).__name__}")


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"invalid base64 image ({err})") from err


def _path_ref(text: str, image_dir: Path | None, base_dir: Path) -> ImageRef:
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (image_dir or base_dir) / path
    return ImageRef(path=path)


__all__ = [
    "DataSource",
    "ImageRef",
    "RawRow",
    "column_names",
    "count_rows",
    "iter_rows",
    "load_image_ref",
    "open_source",
    "source_hash",
]
