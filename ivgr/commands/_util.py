"""Small helpers shared by the CLI command modules (stdlib only: `ivgr --help` imports them)."""

from __future__ import annotations

import os


def is_main_process() -> bool:
    """True on rank 0 (or without a launcher), so only one process of a multi-process run prints."""
    return os.environ.get("RANK", "0") == "0"
