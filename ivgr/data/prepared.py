"""Read and write a *prepared dataset* directory, atomically.

Layout (docs/CONTRACTS.md):

    DIR/samples.jsonl   one `Sample` per line, images relative to DIR
    DIR/images/...      images already at the size the model sees
    DIR/manifest.json   {"format": "ivgr-prepared", "version": 1, "count", "counts", ...}

Why atomic: a crashed or interrupted `ivgr data prepare` must never leave a directory that a
trainer would accept. Everything is written into `DIR.partial-<pid>`; the manifest is written
last, and only then is the directory renamed to `DIR`. `read_prepared` refuses a directory
without a complete manifest, a `.partial-` directory, or one whose sample count or checksum
does not match its manifest.

Pure python (no torch/transformers/trl).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import ivgr
from ivgr.data.schema import Sample
from ivgr.errors import DataError
from ivgr.fileio import atomic_write_text

logger = logging.getLogger(__name__)

FORMAT = "ivgr-prepared"
VERSION = 1
MANIFEST_NAME = "manifest.json"
SAMPLES_NAME = "samples.jsonl"
IMAGES_DIR = "images"
PARTIAL_MARK = ".partial-"
OLD_MARK = ".old-"  # a replaced dataset, between the two renames of _swap_into_place
EXCLUDED_NAME = "excluded.jsonl"  # every row prepare left out, with its reasons
_OWN_NAMES = {MANIFEST_NAME, SAMPLES_NAME, IMAGES_DIR, EXCLUDED_NAME}


def partial_dir_for(out_dir: Path) -> Path:
    """Where a writer in this process stages `out_dir` before the atomic rename."""
    return out_dir.with_name(f"{out_dir.name}{PARTIAL_MARK}{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_partials(out_dir: Path) -> list[Path]:
    """Leftover staging directories (`DIR.partial-<pid>`, `DIR.old-<pid>`) of dead writers."""
    stale = []
    for mark in (PARTIAL_MARK, OLD_MARK):
        for cand in out_dir.parent.glob(f"{out_dir.name}{mark}*"):
            suffix = cand.name[len(out_dir.name) + len(mark):]
            if cand.is_dir() and suffix.isdigit() and not _pid_alive(int(suffix)):
                stale.append(cand)
    return sorted(stale)


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Delete the `stale_partials` of `out_dir` (each about the size of the dataset); returns them."""
    stale = stale_partials(out_dir)
    for path in stale:
        logger.info("removing stale staging directory %s", path)
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _counts(kinds: Counter, by_source: dict[str, Counter]) -> dict[str, Any]:
    return {
        "by_kind": dict(sorted(kinds.items())),
        "by_datasource": {ds: dict(sorted(c.items())) for ds, c in sorted(by_source.items())},
    }


class PreparedWriter:
    """Stream samples and images into a staging dir; `commit()` makes them visible at once.

    Use as a context manager. Leaving the block without `commit()` (an exception, Ctrl-C)
    deletes the staging directory, so nothing half-written survives; a hard kill leaves a
    `.partial-<pid>` directory that readers refuse and the next writer removes.

        with PreparedWriter(out) as w:
            w.add_image("images/a.png", png_bytes)
            w.add_sample(sample)
            w.commit({"frame": "pixel", "source_hash": "..."})
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.partial = partial_dir_for(self.out_dir)
        self._samples_fh: Any = None
        self._excluded_fh: Any = None
        self._hash = hashlib.sha256()
        self._kinds: Counter = Counter()
        self._by_source: dict[str, Counter] = {}
        self.count = 0
        self.committed = False

    def __enter__(self) -> PreparedWriter:
        _check_replaceable(self.out_dir)
        remove_stale_staging(self.out_dir)
        if self.partial.exists():
            shutil.rmtree(self.partial)
        (self.partial / IMAGES_DIR).mkdir(parents=True)
        self._samples_fh = open(self.partial / SAMPLES_NAME, "wb")  # noqa: SIM115 - closed in commit/exit
        return self

    def __exit__(self, *exc: object) -> None:
        for fh in (self._samples_fh, self._excluded_fh):
            if fh is not None and not fh.closed:
                fh.close()
        if not self.committed:
            shutil.rmtree(self.partial, ignore_errors=True)

    def image_path(self, rel: str) -> Path:
        """Absolute staging path for an image stored at `rel` (relative to DIR)."""
        return self.partial / rel

    def add_image(self, rel: str, data: bytes | str | Path | Any) -> None:
        """Store an image at `rel`: raw bytes, a source file path to copy, or a PIL image."""
        dst = self.partial / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            dst.write_bytes(data)
        elif isinstance(data, (str, Path)):
            shutil.copyfile(data, dst)
        elif hasattr(data, "save"):
            data.save(dst)
        else:
            raise TypeError(f"image data for {rel} must be bytes, a path or a PIL image, got {type(data)}")

    def add_sample(self, sample: Sample) -> None:
        """Append one sample to samples.jsonl (written immediately, memory stays flat)."""
        line = (sample.model_dump_json() + "\n").encode("utf-8")
        self._samples_fh.write(line)
        self._hash.update(line)
        self.count += 1
        self._kinds[sample.kind] += 1
        self._by_source.setdefault(sample.datasource, Counter())[sample.kind] += 1

    def add_excluded(self, record: Mapping[str, Any]) -> None:
        """Record one input row that was left out (DIR/excluded.jsonl), so none vanish silently."""
        if self._excluded_fh is None:
            self._excluded_fh = open(self.partial / EXCLUDED_NAME, "w", encoding="utf-8")  # noqa: SIM115
        self._excluded_fh.write(json.dumps(dict(record), ensure_ascii=False) + "\n")

    def commit(self, manifest: Mapping[str, Any] | None = None) -> Path:
        """Write the manifest last, then rename the staging dir onto `out_dir`."""
        self._samples_fh.flush()
        os.fsync(self._samples_fh.fileno())
        self._samples_fh.close()
        if self._excluded_fh is not None:
            self._excluded_fh.close()
        full = dict(manifest or {})
        full.update(
            format=FORMAT,
            version=VERSION,
            count=self.count,
            counts=_counts(self._kinds, self._by_source),
            samples_sha256=self._hash.hexdigest(),
            ivgr_version=ivgr.__version__,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        atomic_write_text(self.partial / MANIFEST_NAME, json.dumps(full, indent=2, sort_keys=True) + "\n")
        _swap_into_place(self.partial, self.out_dir)
        self.committed = True
        logger.info("wrote prepared dataset %s (%d samples)", self.out_dir, self.count)
        return self.out_dir


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to overwrite a directory that is not (an attempt at) a prepared dataset."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a directory; choose another --out")
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in _OWN_NAMES)
    if foreign:
        raise DataError(
            f"{out_dir} exists and holds files that are not part of a prepared dataset "
            f"({', '.join(foreign[:3])}); choose another --out or empty it"
        )


def _swap_into_place(partial: Path, out_dir: Path) -> None:
    """Rename `partial` to `out_dir`; an old `out_dir` is moved aside first, then deleted.

    At no moment does `out_dir` hold a mix of old and new files.
    """
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f"{out_dir.name}{OLD_MARK}{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.rename(out_dir, old)
    os.rename(partial, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_prepared(
    dir: str | Path,  # noqa: A002 - name fixed by docs/CONTRACTS.md
    samples: Iterable[Sample],
    images: Mapping[str, bytes | str | Path | Any] | Iterable[tuple[str, Any]],
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write a whole prepared dataset atomically (staging dir, then rename).

    `images` maps a path relative to DIR (e.g. "images/0001.png", as used in `Sample.image`)
    to bytes, a file to copy, or a PIL image. `manifest` supplies settings (frame,
    min_pixels, max_pixels, source_hash, ...); format, version, count, counts, checksum and
    ivgr version are filled in here.
    """
    items = images.items() if isinstance(images, Mapping) else images
    with PreparedWriter(Path(dir)) as writer:
        for rel, data in items:
            writer.add_image(rel, data)
        for sample in samples:
            writer.add_sample(sample)
        return writer.commit(manifest)


def read_manifest(dir: str | Path) -> dict[str, Any]:  # noqa: A002
    """Load and check DIR/manifest.json; DataError (naming the file and the fix) otherwise."""
    root = Path(dir)
    if PARTIAL_MARK in root.name:
        raise DataError(
            f"{root} is the staging directory of an interrupted `ivgr data prepare`; "
            "re-run the command (it removes stale staging directories)"
        )
    if not root.is_dir():
        raise DataError(f"{root}: prepared dataset directory not found; run `ivgr data prepare` first")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise DataError(
            f"{path} is missing: {root} is not a complete prepared dataset "
            "(interrupted run?); re-run `ivgr data prepare`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: unreadable manifest ({err}); re-run `ivgr data prepare`") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: key 'format' must be {FORMAT!r}; this is not an ivgr prepared dataset")
    if manifest.get("version") != VERSION:
        raise DataError(
            f"{path}: key 'version' is {manifest.get('version')!r}, this ivgr reads version {VERSION}; "
            "re-run `ivgr data prepare` with this ivgr"
        )
    if not isinstance(manifest.get("count"), int):
        raise DataError(f"{path}: key 'count' missing or not an integer; re-run `ivgr data prepare`")
    return manifest


def iter_prepared(dir: str | Path) -> Iterator[Sample]:  # noqa: A002
    """Yield the samples of a prepared dataset one at a time (memory flat).

    The count and checksum are verified when the file has been read to the end; a mismatch
    raises DataError (the samples file was truncated or edited after prepare).
    """
    root = Path(dir)
    manifest = read_manifest(root)
    path = root / SAMPLES_NAME
    if not path.is_file():
        raise DataError(f"{path} is missing; re-run `ivgr data prepare`")
    digest = hashlib.sha256()
    count = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            digest.update(raw)
            if not raw.strip():
                continue
            try:
                sample = Sample.model_validate_json(raw)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "row"
                raise DataError(f"{path}:{lineno}: key '{where}': {first.get('msg')}") from err
            count += 1
            yield sample
    if count != manifest["count"]:
        raise DataError(
            f"{path} has {count} samples but {root / MANIFEST_NAME} says {manifest['count']}; "
            "the dataset is incomplete, re-run `ivgr data prepare`"
        )
    expected = manifest.get("samples_sha256")
    if expected and digest.hexdigest() != expected:
        raise DataError(
            f"{path} does not match the checksum in {root / MANIFEST_NAME} (edited after prepare?); "
            "re-run `ivgr data prepare`"
        )


def read_prepared(dir: str | Path) -> list[Sample]:  # noqa: A002
    """All samples of a prepared dataset (raises DataError naming the file when unusable)."""
    return list(iter_prepared(dir))


def resolve_image(dir: str | Path, sample: Sample) -> Path:  # noqa: A002
    """Absolute path of a sample's image (relative paths are relative to DIR)."""
    path = Path(sample.image)
    return path if path.is_absolute() else Path(dir) / path


__all__ = [
    "FORMAT",
    "VERSION",
    "PreparedWriter",
    "iter_prepared",
    "read_manifest",
    "read_prepared",
    "remove_stale_staging",
    "resolve_image",
    "stale_partials",
    "write_prepared",
]
