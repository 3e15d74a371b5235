"""The benchmark registry: decorator registration, duplicates refused, helpful unknown names."""

from __future__ import annotations

import pytest

from ivgr.errors import ConfigError
from ivgr.eval import Benchmark, get_benchmark, list_benchmarks, register


def test_all_eight_paper_benchmarks_are_registered_with_a_version_and_column():
    names = list_benchmarks()
    assert names == ["cvbench2d", "cvbench3d", "hrbench4k", "hrbench8k", "mme_realworld_lite", "pope",
                     "realworldqa", "vstar"]
    for name in names:
        bench = get_benchmark(name)
        assert bench.name == name and bench.version and bench.column


def test_unknown_benchmark_suggests_the_closest_name():
    with pytest.raises(ConfigError, match=r"unknown benchmark 'vstr'\. Did you mean vstar\? Known: cvbench2d"):
        get_benchmark("vstr")


def test_registering_a_taken_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        @register("vstar")
        class Other(Benchmark):
            pass
