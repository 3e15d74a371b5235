"""The rollout archive: per question, the best correct and well-localised grounded reasoning.

The textual stream is rewarded for consistency with the archived `<think>` of its question
(docs/method.md#archive). The archive is the only mutable state in
scoring and lives in one explicit object (the authors kept it in module globals, and their
save/load never reached the process that used it, docs/method.md#bug-archive-persistence).

Rules:
- which rollouts qualify (format, accuracy, box IoU ≥ τ) is decided by the scorer with
  `qualifies`, from its `ScorerConfig`;
- `offer`: an entry replaces the stored one only with a strictly higher box IoU (docs/method.md#archive, step 4);
- `offer_many` / `merge`: the result does not depend on the order of the candidates, so every
  rank of a distributed run that applies the same gathered candidates holds the same archive.
  Among candidates of one question, the best is the maximum of the total order `rank_key`
  (box IoU, then a deterministic tie-break on the text).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ivgr.errors import DataError
from ivgr.fileio import atomic_write_text

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "ivgr-rollout-archive"
ARCHIVE_VERSION = 1


@dataclass(frozen=True)
class ArchiveEntry:
    """One archived grounded rollout: its `<think>` text (boxes kept) and how good it was."""

    think: str
    box_iou: float
    accuracy: float = 1.0
    format: float = 1.0
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchiveEntry:
        """Parse and check one entry; ValueError names the bad field."""
        if not isinstance(d, dict):
            raise ValueError(f"entry must be an object, got {type(d).__name__}")
        if not isinstance(d.get("think"), str):
            raise ValueError("entry.think must be a string")
        out = {"think": d["think"]}
        for name in ("box_iou", "accuracy", "format"):
            value = d.get(name, 1.0 if name != "box_iou" else None)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"entry.{name} must be a finite number, got {value!r}")
            out[name] = float(value)
        step = d.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"entry.step must be an integer, got {step!r}")
        return cls(step=step, **out)


@dataclass(frozen=True)
class ArchiveCandidate:
    """A qualifying grounded rollout offered to the archive; plain data, so ranks can gather it."""

    sample_id: str
    entry: ArchiveEntry

    def to_dict(self) -> dict[str, Any]:
        return {"sample_id": self.sample_id, "entry": self.entry.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchiveCandidate:
        return cls(sample_id=str(d["sample_id"]), entry=ArchiveEntry.from_dict(d["entry"]))


def qualifies(
    *, format: float | None, accuracy: float | None, box_iou: float | None, min_box_iou: float,
    require_format: bool = True,
) -> bool:
    """A grounded rollout may become a reference iff accuracy == 1, box_iou >= τ (and format == 1).

    >>> qualifies(format=1.0, accuracy=1.0, box_iou=0.3, min_box_iou=0.3)
    True
    >>> qualifies(format=0.0, accuracy=1.0, box_iou=0.9, min_box_iou=0.3), qualifies(format=0.0, accuracy=1.0, box_iou=0.9, min_box_iou=0.3, require_format=False)
    (False, True)
    """
    if accuracy != 1.0 or box_iou is None or box_iou < min_box_iou:
        return False
    # Deviation: format == 1 is required as well (the authors only check accuracy and box IoU,
    # docs/method.md#archive step 2); option archive_require_format.
    return format == 1.0 or not require_format


def rank_key(entry: ArchiveEntry) -> tuple[float, float, int, str]:
    """Total order on entries: higher box IoU first, then the shorter think, then the text.

    Ties in box IoU are common (integer boxes), and a tie-break on the content rather than
    on arrival order is what makes `offer_many` order-independent.
    """
    return (entry.box_iou, entry.accuracy, -len(entry.think), entry.think)


class RolloutArchive:
    """Best qualifying grounded rollout per `sample_id`. The only mutable state in scoring."""

    def __init__(self) -> None:
        self._entries: dict[str, ArchiveEntry] = {}

    # --- queries ---
    def get(self, sample_id: str) -> ArchiveEntry | None:
        """The archived entry of a question, or None if none qualified yet."""
        return self._entries.get(str(sample_id))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sample_id: object) -> bool:
        return str(sample_id) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def items(self) -> list[tuple[str, ArchiveEntry]]:
        """(sample_id, entry) pairs, sorted by sample_id."""
        return sorted(self._entries.items())

    def mean_box_iou(self) -> float | None:
        """Mean box IoU of the archived references (None when empty), for metrics."""
        if not self._entries:
            return None
        return sum(e.box_iou for e in self._entries.values()) / len(self._entries)

    # --- updates ---
    def offer(self, sample_id: str, entry: ArchiveEntry) -> bool:
        """Store `entry` if the question has none, or if its box IoU is strictly higher.

        Returns True if it was stored. The scorer offers only qualifying rollouts (`qualifies`).
        """
        key = str(sample_id)
        current = self._entries.get(key)
        if current is None or entry.box_iou > current.box_iou:
            self._entries[key] = entry
            return True
        return False

    def offer_many(self, candidates: Iterable[ArchiveCandidate]) -> int:
        """Offer the best candidate of each question (max of `rank_key`); order-independent.

        Returns how many questions got a new entry.
        """
        # Deviation: ties in box IoU are broken by content, not by batch position (the authors
        # take the first in batch order, which differs across ranks and reruns, docs/method.md#archive step 3);
        # option none.
        best: dict[str, ArchiveEntry] = {}
        for cand in candidates:
            key = str(cand.sample_id)
            if key not in best or rank_key(cand.entry) > rank_key(best[key]):
                best[key] = cand.entry
        return sum(self.offer(key, best[key]) for key in sorted(best))

    def clear(self) -> None:
        """Forget every entry (the batch-reference ablation keeps only the current batch's)."""
        self._entries.clear()

    def merge(self, other: RolloutArchive) -> int:
        """Fold another archive in: per question the max of `rank_key`. Commutative and associative.

        Returns how many questions changed here.
        """
        changed = 0
        for key, entry in other._entries.items():
            current = self._entries.get(key)
            if current is None or rank_key(entry) > rank_key(current):
                self._entries[key] = entry
                changed += 1
        return changed

    # --- persistence ---
    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state: string keys, a format tag and a version."""
        return {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "entries": {k: e.to_dict() for k, e in sorted(self._entries.items())},
        }

    def load_state_dict(self, state: dict[str, Any], *, source: str = "state") -> None:
        """Replace the contents with `state`; DataError naming `source` and the bad entry."""
        if not isinstance(state, dict) or state.get("format") != ARCHIVE_FORMAT:
            raise DataError(f"{source}: not a rollout archive (expected \"format\": \"{ARCHIVE_FORMAT}\")")
        if state.get("version") != ARCHIVE_VERSION:
            raise DataError(
                f"{source}: rollout archive version {state.get('version')!r} is not supported "
                f"(this ivgr reads version {ARCHIVE_VERSION})"
            )
        raw = state.get("entries")
        if not isinstance(raw, dict):
            raise DataError(f"{source}: \"entries\" must be an object keyed by sample_id")
        entries: dict[str, ArchiveEntry] = {}
        for key, value in raw.items():
            try:
                entries[str(key)] = ArchiveEntry.from_dict(value)
            except ValueError as err:
                raise DataError(f"{source}: entry {key!r}: {err}") from None
        self._entries = entries

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write JSON atomically (`ivgr.fileio.atomic_write_text`): readers never see half a file."""
        # Deviation: the archive object saves itself, string keys both ways (the authors' save
        # ran in another process and wrote an empty cache, int keys missed on load, docs/method.md#bug-archive-persistence);
        # option none (bug fix).
        atomic_write_text(path, json.dumps(self.state_dict(), ensure_ascii=False, indent=1))
        logger.debug("saved rollout archive with %d entries to %s", len(self), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RolloutArchive:
        """Read an archive written by `save`; DataError naming the file if it is unusable."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise DataError(f"{path}: cannot read rollout archive ({err.strerror or err})") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {err.lineno}: invalid JSON in rollout archive ({err.msg})") from None
        archive = cls()
        archive.load_state_dict(state, source=str(path))
        return archive


__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "ArchiveCandidate",
    "ArchiveEntry",
    "RolloutArchive",
    "qualifies",
    "rank_key",
]
