"""Atomic writes: readers see the old file or the new one, and no temporary file is left behind."""

import pytest

from ivgr import fileio
from ivgr.fileio import atomic_write_text


def test_atomic_write_creates_parents_and_replaces_the_file(tmp_path):
    target = tmp_path / "a" / "b.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "néw")
    assert target.read_text(encoding="utf-8") == "néw"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "archive.json"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["archive.json"]
