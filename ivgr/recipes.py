"""Recipes: the one loader behind every YAML-configured part of ivgr.

`ivgr train`, `ivgr sft`, `ivgr demo`, `ivgr score --scorer-config` and the tiny-model knobs all
read their settings here, so they share:

- one YAML reader, `read_yaml`: a missing file, invalid YAML (`FILE:LINE: invalid YAML (...)`)
  and a non-mapping top level are one `ConfigError` line each;
- one override parser, `parse_overrides`: `key=value`, `--key value`, `--key=value`; dotted keys
  reach nested mappings (`judge.kind=rules`); a bare `--flag` means true for a true/false key
  and is an error for any other key;
- one unknown-key message, `unknown_key_error`: "WHERE: unknown key 'x'; did you mean 'y'?";
- one typed builder, `coerce_mapping`: each value converted by its field's type annotation.

Pure python (PyYAML only), so config errors surface before torch is imported.

    >>> types = {"learning_rate": float, "max_steps": int, "bf16": bool, "streams": list[str]}
    >>> parse_overrides(["learning_rate=1e-6", "--max_steps", "3", "--bf16", "streams=grounded,textual"], types)
    {'learning_rate': 1e-06, 'max_steps': 3, 'bf16': True, 'streams': ['grounded', 'textual']}

Each value is converted by the type annotation of its field, not guessed from its text: YAML 1.1
reads `1e-6` (no dot) as a string, which then reached `learning_rate <= 0` as a str and died in a
TypeError traceback. A value that does not fit its field is one `ConfigError` line naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")
NULL = ("null", "~", "")  # "none" is a value of some str fields (report_to: none), so only these mean None
KEY_EQUALS = re.compile(r"[A-Za-z_][\w.-]*=")
BARE = object()  # the value of a bare `--flag`: true for a bool key, an error for any other
TypeLookup = Mapping[str, Any] | Callable[[str], Any]


# ----------------------------------------------------------------------------- YAML files
def read_yaml(path: str | Path, *, what: str = "recipe") -> dict[str, Any]:
    """A YAML file's top-level mapping (empty file: {}); one ConfigError line naming the file otherwise.

    `what` names the file in messages ("recipe", "demo settings", "scorer config").
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the {what} ({err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{line}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping of keys to values, not a {type(data).__name__}")
    return data


# ----------------------------------------------------------------------------- keys
def suggest_key(name: str, known: Iterable[str]) -> str | None:
    """The known key closest to `name` (difflib ratio >= 0.6), or None when none is close.

    >>> suggest_key("archive_min_box_iuo", ["archive_min_box_iou", "answer_tag"])
    'archive_min_box_iou'
    """
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_error(name: str, known: Iterable[str], *, where: str = "", see: str | None = None) -> ConfigError:
    """The one message for a misspelt config key: a suggestion, else where the keys are listed (`see`) or the keys.

    >>> str(unknown_key_error("learning_rat", ["learning_rate", "seed"], where="recipe.yaml"))
    "recipe.yaml: unknown key 'learning_rat'; did you mean 'learning_rate'?"
    >>> str(unknown_key_error("zzz", ["seed", "bf16"], where="the command line"))
    "the command line: unknown key 'zzz'; known keys: bf16, seed"
    """
    known = sorted(known)
    guess = suggest_key(name, known)
    hint = f"did you mean {guess!r}?" if guess else f"known keys: {see or ', '.join(known)}"
    return ConfigError(f"{where + ': ' if where else ''}unknown key {name!r}; {hint}")


def check_keys(keys: Iterable[str], known: Iterable[str], *, where: str, see: str | None = None,
               prefix: str = "") -> None:
    """Raise `unknown_key_error` for the first key not in `known`; `prefix` names a nested mapping ("judge.")."""
    known = set(known)
    for key in keys:
        if key not in known:
            raise unknown_key_error(f"{prefix}{key}", [f"{prefix}{k}" for k in known], where=where, see=see)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """{field name: type annotation} of a dataclass's init fields (the keys its recipe may use)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def coerce_mapping(values: Mapping[str, Any], types: Mapping[str, Any], *, where: str, see: str | None = None,
                   prefix: str = "") -> dict[str, Any]:
    """`values` with known keys only, each converted by its type (`coerce_value`)."""
    check_keys(values, types, where=where, see=see, prefix=prefix)
    return {key: coerce_value(f"{prefix}{key}", value, types[key], where=where) for key, value in values.items()}


def build(cls: type, values: Mapping[str, Any], *, where: str, see: str | None = None) -> Any:
    """A dataclass from a recipe mapping: keys checked, values converted, its own checks as one line."""
    values = coerce_mapping(values, field_types(cls), where=where, see=see)
    try:
        return cls(**values)
    except (ConfigError, TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def merge(recipe: Mapping[str, Any], overrides: Mapping[str, Any], sections: Iterable[str] = ()) -> dict[str, Any]:
    """`recipe` with `overrides` on top; a dotted key (`judge.kind`) goes into the nested mapping `judge`.

    >>> merge({"lr": 1, "judge": {"kind": "rules", "n": 2}}, {"lr": 2, "judge.n": 3}, ["judge"])
    {'lr': 2, 'judge': {'kind': 'rules', 'n': 3}}
    """
    sections = set(sections)
    merged = {k: (dict(v) if k in sections and isinstance(v, dict) else v) for k, v in recipe.items()}
    for key, value in overrides.items():
        head, dot, tail = key.partition(".")
        if dot and head in sections:
            if not isinstance(merged.get(head, {}), dict):
                raise ConfigError(f"key '{head}' must be a mapping to take '{key}'")
            merged.setdefault(head, {})[tail] = value
        else:
            merged[key] = value
    return merged


# ----------------------------------------------------------------------------- overrides
def split_overrides(tokens: list[str]) -> dict[str, Any]:
    """Command-line tokens -> {key: raw text}; `--key value`, `--key=value`, `key=value`.

    A bare `--flag` (followed by nothing or by the next key) maps to `BARE`; `parse_overrides`
    reads it as true for a true/false key and refuses it for any other. Dashes in keys become
    underscores (`--max-steps` = `max_steps`).

    >>> split_overrides(["lr=1", "--max-steps", "3", "--judge.kind=rules"])
    {'lr': '1', 'max_steps': '3', 'judge.kind': 'rules'}
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--"):
            key, sep, raw = token[2:].partition("=")
            if not sep:
                if i + 1 < len(tokens) and not _is_key_token(tokens[i + 1]):
                    raw = tokens[i + 1]
                    i += 1
                else:
                    raw = BARE
        else:
            key, sep, raw = token.partition("=")
            if not sep:
                raise ConfigError(f"override {token!r}: write key=value or --key value")
        if not key:
            raise ConfigError(f"override {token!r}: the key is empty")
        out[key.replace("-", "_")] = raw
        i += 1
    return out


def _is_key_token(token: str) -> bool:
    """`--key...` or `key=...`: the start of the next override, not the value of a bare `--flag`."""
    return token.startswith("--") or KEY_EQUALS.match(token) is not None


def parse_overrides(tokens: list[str], types_of: TypeLookup, *, where: str = "the command line") -> dict[str, Any]:
    """Split `tokens` and convert each value by its type (`types_of`: a mapping or a key -> type function).

    Keys with no known type (unknown keys, `Any` fields) are read as YAML; the caller's key
    check then names an unknown one with `unknown_key_error`.
    """
    lookup = types_of.get if isinstance(types_of, Mapping) else types_of
    out = {}
    for key, raw in split_overrides(tokens).items():
        annotation = lookup(key)
        if raw is BARE:
            if annotation is not None and bool not in _union_members(annotation):
                raise ConfigError(f"{where}: --{key} needs a value (--{key} VALUE or {key}=VALUE); "
                                  "only a true/false key may be given bare")
            raw = "true"
        out[key] = coerce_value(key, raw, annotation, where=where)
    return out


# ----------------------------------------------------------------------------- values
def coerce_value(key: str, value: Any, annotation: Any, *, where: str = "override") -> Any:
    """`value` (raw text from the command line, or a YAML value from a recipe) as a value of `annotation`.

    Text is converted (`"1E-6"` -> 1e-06, `".5"` -> 0.5, `"false"` -> False, `"a,b"` -> ["a", "b"]);
    an already typed value is checked (an int is accepted for a float field, a scalar for a str
    field). Raises a one-line `ConfigError` naming `key` otherwise.

    >>> coerce_value("lr", ".5", float), coerce_value("bf16", "False", bool | None), coerce_value("n", 3, float)
    (0.5, False, 3.0)
    >>> coerce_value("max_steps", "soon", int)
    Traceback (most recent call last):
    ...
    ivgr.errors.ConfigError: override: key 'max_steps' must be an integer, got 'soon'
    """
    if annotation is None or annotation is Any:
        if not isinstance(value, str):
            return value
        try:
            return _yaml(value)
        except ValueError as err:
            raise ConfigError(f"{where}: key '{key}': cannot read {value!r} ({err})") from None
    try:
        return _fit(annotation, value)
    except (TypeError, ValueError):
        members = [m for m in _union_members(annotation) if m is not type(None)]
        if value is None or value == "":
            raise ConfigError(f"{where}: key '{key}' may not be null") from None
        raise ConfigError(f"{where}: key '{key}' must be {_describe(members)}, got {value!r}") from None


def _fit(annotation: Any, value: Any) -> Any:
    """`value` as the first member of `annotation` it fits (text tries str members last); else TypeError."""
    members = _union_members(annotation)
    if type(None) in members and (value is None or (isinstance(value, str) and value.strip().lower()
                                                    in _null_words(members))):
        return None
    members = [m for m in members if m is not type(None)]
    if isinstance(value, str):
        members.sort(key=lambda m: _base(m) is str)  # "[a]" is a list for `str | list[str]`
    for member in members:
        try:
            return _as(member, value)
        except (TypeError, ValueError):
            continue
    raise TypeError(f"{value!r} does not fit {annotation}")


def _yaml(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as err:
        raise ValueError(str(getattr(err, "problem", err))) from None


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return [annotation]


def _null_words(members: list[Any]) -> tuple[str, ...]:
    """Words read as null: "none" too, unless a str member could mean it literally."""
    return NULL if any(_base(m) is str for m in members) else (*NULL, "none")


def _base(annotation: Any) -> Any:
    return typing.get_origin(annotation) or annotation


def _as(annotation: Any, value: Any) -> Any:
    """`value` converted to one (non-union) type; TypeError/ValueError when it does not fit."""
    base = _base(annotation)
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise TypeError
    if base is int:
        if isinstance(value, (bool, float)):
            raise TypeError
        return int(value.strip()) if isinstance(value, str) else _exact(value, int)
    if base is float:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, str):
            return float(value.strip())  # 1e-6, 1E-6, .5, -3 (YAML 1.1 reads the first two as text)
        return float(_exact(value, (int, float)))
    if base is str:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, bool):  # `resume_from_checkpoint: true` in a recipe is the text "true"
            return "true" if value else "false"
        return value if isinstance(value, str) else str(_exact(value, (int, float)))
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return base(value).value
    if base is list:
        items = _text_list(value) if isinstance(value, str) else _exact(value, list)
        (item_type,) = typing.get_args(annotation) or (Any,)
        return items if item_type is Any else [_fit(item_type, item) for item in items]
    if base is tuple:  # `colours: [red, blue]` in YAML is a list; tuple[str, ...] fields take it
        items = _text_list(value) if isinstance(value, str) else _exact(value, (list, tuple))
        item_type = (typing.get_args(annotation) or (Any,))[0]
        return tuple(items if item_type is Any else (_fit(item_type, item) for item in items))
    if base is dict:
        if isinstance(value, str):
            value = _yaml(value) if value.strip().startswith("{") else None
        return _exact(value, dict)
    if isinstance(base, type):
        return _exact(value, base)
    return value  # Literal, TypeVar, ...: the dataclass checks it


def _exact(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind):
        raise TypeError
    return value


def _text_list(raw: str) -> list[Any]:
    """`[a, b]` (YAML flow list) or `a,b` (comma list)."""
    if raw.strip().startswith("["):
        return _exact(_yaml(raw), list)
    return [part.strip() for part in raw.split(",") if part.strip()]


def _describe(members: list[Any]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number (e.g. 1e-6, .5)", str: "a string",
             list: "a list (a,b or [a, b])", tuple: "a list (a,b or [a, b])", dict: "a mapping ({k: v})"}
    return " or ".join(names.get(_base(m), getattr(m, "__name__", str(m))) for m in members)


__all__ = ["build", "check_keys", "coerce_mapping", "coerce_value", "field_types", "merge", "parse_overrides",
           "read_yaml", "split_overrides", "suggest_key", "unknown_key_error"]
