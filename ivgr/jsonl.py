"""Reading JSON Lines files: one JSON object a line, blank lines skipped (framework-free).

    from ivgr.jsonl import iter_jsonl
    for lineno, row in iter_jsonl(path):      # DataError "path:lineno: ..." on a bad line
        ...

`parse_json_object(line)` is the per-line check for callers that report bad lines and go on
(`ivgr score`); it raises `JsonLineError`, whose message says what is wrong but not where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivgr.errors import DataError


class JsonLineError(ValueError):
    """One line is not a JSON object; the message says what is wrong (the caller adds where)."""


def parse_json_object(line: str) -> dict[str, Any]:
    """The JSON object on `line`; JsonLineError if it is not valid JSON or not an object."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise JsonLineError(f"invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict):
        raise JsonLineError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank line of a UTF-8 JSONL file.

    A missing or unreadable file, or a line that is not a JSON object, is a DataError
    naming the file and the line (`path:lineno: ...`).
    """
    path = Path(path)
    try:
        fh = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file or directory") from None
    except OSError as err:
        raise DataError(f"{path}: cannot open ({err.strerror or err})") from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = parse_json_object(line)
            except JsonLineError as err:
                raise DataError(f"{path}:{lineno}: {err}; fix or remove the line") from None
            yield lineno, obj


__all__ = ["JsonLineError", "iter_jsonl", "parse_json_object"]
