"""CLI command modules. Each `<name>_cmd.py` defines `register(app: typer.Typer) -> None`.

Add a module name here to add a command. Keep module-level imports light (stdlib, typer):
`ivgr --help` imports every command module.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_NAMES = ["demo", "score", "train", "sft", "data", "infer", "eval", "ui", "plan"]

COMMAND_MODULES: list[ModuleType] = [importlib.import_module(f"ivgr.commands.{name}_cmd") for name in _NAMES]
