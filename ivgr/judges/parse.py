"""Strict parsing of judge replies: a score is accepted only when it is the whole reply.

Why strict: the authors' consistency parser takes the first `0|1|0.0|0.3|0.7|1.0` found
anywhere, so "0.5" -> 0.0, "0.9" -> 0.0, "10" -> 1.0 and "-1" -> 1.0, and their accuracy
parser accepts any float, so "2" -> 2.0 (docs/method.md#bug-judge-robustness).
Here a reply is accepted only when, after an optional reasoning block and label, it is
exactly one allowed token; anything else is *unparseable* (None), which the judge counts
as a failed attempt and retries, never a silent 0.

Accepted shape (case-insensitive), surrounded by optional whitespace and punctuation:
    [<think>...</think>] [Score|Judgement|Judgment|Answer] [:|=|is] TOKEN
Table (also pinned by tests/judges/test_judges_parse.py):

    reply                 binary     rubric
    "1"                   1.0        1.0
    "0.0"                 0.0        0.0
    "Score: 0.7"          None       0.7
    "Judgement: 1."       1.0        1.0
    "**0.3**"             None       0.3
    "0.5" / "0.9"         None       None
    "10" / "-1" / "2"     None       None
    "0 or 1"              None       None
"""

from __future__ import annotations

import re

BINARY_LEVELS: tuple[float, ...] = (0.0, 1.0)
RUBRIC_LEVELS: tuple[float, ...] = (0.0, 0.3, 0.7, 1.0)

# A leading reasoning block, as reasoning judges (Qwen3, R1) emit; dropped before parsing.
_THINK_PREFIX = re.compile(r"^\s*<think>.*?</think>", re.DOTALL | re.IGNORECASE)
# Label, then one number-like token; everything else must be whitespace or punctuation.
_SHAPE = re.compile(
    r"""^[\s"'`*_,;:!(\[{<>]*?
        (?:(?:final\s+)?(?:score|judgement|judgment|answer|rating)\s*(?:[:=]|is)?\s*)?
        [\s"'`*_(\[]*
        (?P<num>[0-9]+(?:\.[0-9]+)?)
        [\s"'`*_.,;:!)\]}]*$""",
    re.VERBOSE | re.IGNORECASE,
)
_MAX_REPLY_CHARS = 2000  # a bare score never needs more; longer replies are unparseable


# Deviation: strict, anchored parsing; "0.5"/"0.9"/"10"/"-1" are failures (retried, then the
# fallback), where the authors' regex read them as 0 or 1 and accepted any float for accuracy
# (docs/method.md#bug-judge-robustness); option judge.max_retries governs the retries.
def _parse(text: str | None, allowed: dict[str, float]) -> float | None:
    if text is None or len(text) > _MAX_REPLY_CHARS:
        return None
    text = _THINK_PREFIX.sub("", text, count=1)
    match = _SHAPE.match(text)
    if match is None:
        return None
    return allowed.get(match.group("num"))


_BINARY_TOKENS = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}
_RUBRIC_TOKENS = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "0.3": 0.3, "0.7": 0.7}


def parse_binary_score(text: str | None) -> float | None:
    """Accuracy reply -> 0.0, 1.0, or None when the reply is not exactly one of them.

    >>> parse_binary_score(" Judgement: 1 ")
    1.0
    >>> parse_binary_score("0.5") is None
    True
    """
    return _parse(text, _BINARY_TOKENS)


def parse_rubric_score(text: str | None) -> float | None:
    """Consistency reply -> 0.0, 0.3, 0.7, 1.0, or None when it is not exactly one of them.

    >>> parse_rubric_score("Score: 0.7")
    0.7
    >>> parse_rubric_score("0.9") is None
    True
    """
    return _parse(text, _RUBRIC_TOKENS)


__all__ = ["parse_binary_score", "parse_rubric_score", "BINARY_LEVELS", "RUBRIC_LEVELS"]
