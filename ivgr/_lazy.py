"""PEP 562 lazy attributes for packages whose submodules import torch, trl or transformers."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_module_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `exports[name]` (a module path) on first access.

        _EXPORTS = {"build_tiny_model": "ivgr.models.tiny"}
        __all__ = sorted(_EXPORTS)
        __getattr__ = lazy_module_getattr(__name__, _EXPORTS)

    Other names raise AttributeError("module '<package>' has no attribute ...").
    """

    def __getattr__(name: str) -> Any:
        """Import the owning submodule on first access (PEP 562)."""
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
