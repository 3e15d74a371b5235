"""The rollout archive (ivgr.archive): replacement rule, order independence, persistence."""

from __future__ import annotations

import json
import random

import pytest

from ivgr.archive import ArchiveCandidate, ArchiveEntry, RolloutArchive, qualifies
from ivgr.errors import DataError


def entry(think: str, box_iou: float, step: int = 0) -> ArchiveEntry:
    return ArchiveEntry(think=think, box_iou=box_iou, step=step)


def test_offer_stores_the_first_entry_and_replaces_only_on_strictly_higher_box_iou():
    arch = RolloutArchive()
    assert arch.offer("q1", entry("first", 0.5)) is True
    assert arch.offer("q1", entry("equal", 0.5)) is False  # a tie keeps the older reference
    assert arch.offer("q1", entry("worse", 0.4)) is False
    assert arch.get("q1").think == "first"
    assert arch.offer("q1", entry("better", 0.6)) is True
    assert arch.get("q1").think == "better"
    assert len(arch) == 1 and "q1" in arch and "q2" not in arch


@pytest.mark.parametrize(
    ("fmt", "acc", "iou", "require_format", "expected"),
    [
        (1.0, 1.0, 0.3, True, True),  # threshold is inclusive (>= τ)
        (1.0, 1.0, 0.29, True, False),
        (1.0, 0.0, 0.9, True, False),  # wrong answer never qualifies
        (0.0, 1.0, 0.9, True, False),  # ours: format required
        (0.0, 1.0, 0.9, False, True),  # authors: format not required
        (1.0, 1.0, None, True, False),  # no ground-truth boxes: cannot qualify
    ],
)
def test_qualifies_cases(fmt, acc, iou, require_format, expected):
    assert qualifies(format=fmt, accuracy=acc, box_iou=iou, min_box_iou=0.3, require_format=require_format) is expected


def _candidates() -> list[ArchiveCandidate]:
    cands = []
    for q in range(20):
        for k in range(6):
            # Many ties in box_iou (k // 2), so the tie-break decides.
            cands.append(ArchiveCandidate(f"q{q}", entry(f"think {q}-{k}" + "x" * (k % 3), 0.3 + 0.1 * (k // 2))))
    return cands


def test_offer_many_is_order_independent():
    reference = RolloutArchive()
    reference.offer_many(_candidates())
    for seed in range(5):
        shuffled = _candidates()
        random.Random(seed).shuffle(shuffled)
        arch = RolloutArchive()
        arch.offer_many(shuffled)
        assert arch.state_dict() == reference.state_dict()


def test_offer_many_picks_the_highest_box_iou_per_question():
    arch = RolloutArchive()
    stored = arch.offer_many([
        ArchiveCandidate("a", entry("low", 0.4)),
        ArchiveCandidate("a", entry("high", 0.8)),
        ArchiveCandidate("b", entry("only", 0.3)),
    ])
    assert stored == 2
    assert arch.get("a").think == "high" and arch.get("b").think == "only"


def test_merge_is_commutative():
    left, right = RolloutArchive(), RolloutArchive()
    cands = _candidates()
    left.offer_many(cands[::2])
    right.offer_many(cands[1::2])
    a = RolloutArchive()
    a.merge(left)
    a.merge(right)
    b = RolloutArchive()
    b.merge(right)
    b.merge(left)
    assert a.state_dict() == b.state_dict()
    assert len(a) == 20


def test_save_load_round_trip_keeps_string_keys_and_version(tmp_path):
    arch = RolloutArchive()
    arch.offer("7", entry("seven <box>[1,2,3,4]</box> ünïcode", 0.75, step=3))
    arch.offer("q-b", entry("bee", 0.5))
    path = tmp_path / "sub" / "archive.json"
    arch.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1 and set(data["entries"]) == {"7", "q-b"}
    loaded = RolloutArchive.load(path)
    assert loaded.state_dict() == arch.state_dict()
    assert loaded.get("7") == entry("seven <box>[1,2,3,4]</box> ünïcode", 0.75, step=3)
    assert [p.name for p in path.parent.iterdir()] == ["archive.json"]  # no temp file left behind


def test_save_replaces_an_existing_file_atomically(tmp_path):
    path = tmp_path / "archive.json"
    path.write_text("old", encoding="utf-8")
    arch = RolloutArchive()
    arch.offer("a", entry("x", 0.5))
    arch.save(path)
    assert RolloutArchive.load(path).get("a").think == "x"


def test_state_dict_round_trip():
    arch = RolloutArchive()
    arch.offer("a", entry("x", 0.5))
    other = RolloutArchive()
    other.load_state_dict(arch.state_dict())
    assert other.get("a") == arch.get("a")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"format": "other", "version": 1, "entries": {}}', "not a rollout archive"),
        ('{"format": "ivgr-rollout-archive", "version": 99, "entries": {}}', "version 99"),
        ('{"format": "ivgr-rollout-archive", "version": 1, "entries": {"a": {"think": 3, "box_iou": 1}}}', "entry 'a'"),
        ('{"format": "ivgr-rollout-archive", "version": 1, "entries": {"a": {"think": "t", "box_iou": "NaN"}}}', "box_iou"),
    ],
)
def test_load_rejects_bad_files_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "archive.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        RolloutArchive.load(path)
    assert str(path) in str(info.value)


def test_candidates_serialise_for_gathering_across_ranks():
    cand = ArchiveCandidate("q", entry("t", 0.5, step=2))
    assert ArchiveCandidate.from_dict(json.loads(json.dumps(cand.to_dict()))) == cand


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "archive.json"
    old = RolloutArchive()
    old.offer("a", entry("old", 0.5))
    old.save(path)
    new = RolloutArchive()
    new.offer("a", entry("new", 0.9))

    def broken_fsync(*args, **kwargs):  # fails after the temporary file was written
        raise OSError("disk full")

    monkeypatch.setattr("ivgr.fileio.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    monkeypatch.undo()
    assert RolloutArchive.load(path).get("a").think == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["archive.json"]
