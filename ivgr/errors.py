"""One error family for ivgr, caught once at the CLI boundary (`ivgr.cli.main`).

    IvgrError
     ├── ConfigError   a recipe, option or environment variable is wrong
     ├── DataError     an input file or row is unusable (names the file and the row)
     ├── JudgeError    a judge endpoint misbehaves beyond its retry budget
     │    └── JudgeOutageError  training stopped on a judge outage (exit 75: resume later)
     └── ModelError    a checkpoint or processor cannot be loaded

Messages say what is wrong, where (file, line, key) and what to change.
"""

from __future__ import annotations


class IvgrError(Exception):
    """Base class of every error ivgr raises on purpose."""

    exit_code = 1  # the CLI's exit status for this error


class ConfigError(IvgrError):
    """A recipe, CLI option or environment variable is invalid."""


class DataError(IvgrError):
    """An input file or row cannot be used."""


class JudgeError(IvgrError):
    """A judge endpoint failed beyond its retry budget or answered nonsense."""


class JudgeOutageError(JudgeError):
    """Training saved a checkpoint and stopped because the judge kept failing; resume once it is back."""

    exit_code = 75  # EX_TEMPFAIL (sysexits.h): a scheduler may retry later with --resume


class ModelError(IvgrError):
    """A model checkpoint or processor cannot be loaded or built."""


__all__ = ["IvgrError", "ConfigError", "DataError", "JudgeError", "JudgeOutageError", "ModelError"]
