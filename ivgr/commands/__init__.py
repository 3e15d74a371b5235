"""CLI command modules. Each defines `register(app: typer.Typer) -> None`.

Add a module here to add a command. Keep module-level imports light (stdlib, typer).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_NAMES = ["demo", "score", "train", "sft", "data", "infer", "eval"]


def _load() -> list[ModuleType]:
    modules = []
    for name in _NAMES:
        try:
            modules.append(importlib.import_module(f"ivgr.commands.{name}_cmd"))
        except ModuleNotFoundError as err:  # a command still being written must not break the others
            if err.name != f"ivgr.commands.{name}_cmd":
                raise
    return modules


COMMAND_MODULES = _load()
