"""A small benchmark registry in the style of lm-evaluation-harness.

Usage::

    from ivgr.eval.registry import register, get_benchmark, list_benchmarks

    @register("vstar")
    class VStar(Benchmark): ...

    bench = get_benchmark("vstar")      # an instance
    list_benchmarks()                   # ["cvbench2d", ..., "vstar"]

Reusing a name raises; an unknown name raises a ConfigError with "did you mean" suggestions.
Benchmark modules register on import; `_ensure_loaded` imports them all once.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable

from ivgr.errors import ConfigError

_REGISTRY: dict[str, type] = {}
_MODULES = ["vstar", "hrbench", "mme_realworld_lite", "pope", "realworldqa", "cvbench"]
_loaded = False


def register(name: str) -> Callable[[type], type]:
    """Class decorator: add a Benchmark subclass under `name` (lower-case, unique)."""

    def deco(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"benchmark {name!r} is already registered by {_REGISTRY[name].__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        for mod in _MODULES:
            importlib.import_module(f"ivgr.eval.benchmarks.{mod}")
        _loaded = True


def list_benchmarks() -> list[str]:
    """Registered benchmark names, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_benchmark(name: str, **kwargs: Any) -> Any:
    """An instance of the benchmark called `name`, or ConfigError with suggestions."""
    _ensure_loaded()
    key = name.strip().lower()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown benchmark {name!r}.{hint} Known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key](**kwargs)
