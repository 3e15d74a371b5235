"""Tag normalisation and extraction of `<think>`, `<answer>` and `<box>` from completions.

Completions are untrusted model output, so every function here is safe on hostile text
(megabyte strings, thousands of boxes, unbalanced or nested tags, any unicode):

- linear time: tags are located with `str.find` loops and one regex made of literals
  (no `\\s*`-prefixed patterns, which backtrack quadratically on long whitespace runs);
- bounded work: at most `MAX_BOXES` box spans are read, and a span longer than
  `MAX_BOX_SPAN_CHARS` is malformed without being parsed;
- no exceptions: malformed input gives `None`, `[]` or `False`.

Extraction follows the authors' regex semantics (docs/method.md#response-normalisation): the first
`<think>` with a later `</think>`, non-overlapping `<box>…</box>` spans searched anywhere.
"""

from __future__ import annotations

import math
import re

from ivgr.geometry import MAX_ABS_COORD, Box, is_valid_box

# Deviation: the 1001st and later <box> spans of a completion are ignored (the authors read all
# of them): a real reasoning chain has tens of boxes, and the all-pairs duplicate check is
# quadratic in this count in the worst case; option max_boxes.
MAX_BOXES = 1000
# "[1000000.5, 1000000.5, 1000000.5, 1000000.5]" with generous spaces fits in 200 characters.
MAX_BOX_SPAN_CHARS = 200

TAGS = ("<think>", "</think>", "<answer>", "</answer>", "<box>", "</box>")

_TAG_RE = re.compile(r"</?(?:think|answer|box)>")
# The authors normalised around every '<', '>' and '/' (docs/method.md#response-normalisation).
_AUTHORS_DELIM_RE = re.compile(r"[<>/]")
_WS_RE = re.compile(r"\s*")
# ASCII digits only: `\d` would also accept full-width and other scripts' digits.
_NUM = r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
_BOX_RE = re.compile(r"\[\s*" + r"\s*,\s*".join([_NUM] * 4) + r"\s*\]")
# The authors' box syntax: integers, no spaces, no signs (docs/method.md#box-validity).
_AUTHORS_BOX_RE = re.compile(r"\[([0-9]+),([0-9]+),([0-9]+),([0-9]+)\]")


# Box tags are cleaned on their inner side only, so "the ball <box>[..]</box> is blue" keeps
# the spaces of the prose around it (the text the consistency judge reads).
_KEEP_LEFT = frozenset({"<box>"})
_KEEP_RIGHT = frozenset({"</box>"})


def _strip_around(text: str, delim: re.Pattern[str], *, box_inner_only: bool = False) -> str:
    """Delete whitespace immediately before and after each match of `delim`, in linear time."""
    pieces: list[str] = []
    pos = 0
    for m in delim.finditer(text):
        if m.start() < pos:  # already consumed as trailing whitespace (cannot happen for tags)
            continue
        tag = m.group()
        before = text[pos : m.start()]
        pieces.append(before if box_inner_only and tag in _KEEP_LEFT else before.rstrip())
        pieces.append(tag)
        pos = m.end() if box_inner_only and tag in _KEEP_RIGHT else _WS_RE.match(text, m.end()).end()
    pieces.append(text[pos:])
    return "".join(pieces)


def normalize_tags(text: str, *, mode: str = "tags") -> str:
    """Remove whitespace around the tag delimiters only; content is left untouched.

    `mode="tags"` (default) strips whitespace on both sides of `<think> </think> <answer>
    </answer>`, and on the inner side of `<box> </box>` (the prose around a box keeps its
    spaces). `mode="authors"` reproduces the authors' `re.sub(r"\\s*(<|>|/)\\s*", ...)`,
    which also rewrites prose and maths (`"1 / 2"` -> `"1/2"`).

    >>> normalize_tags("  <think> a / b </think>\\n<answer> 1 / 2 </answer>\\n")
    '<think>a / b</think><answer>1 / 2</answer>'
    >>> normalize_tags("<think>the ball <box> [1,2,3,4] </box> is blue</think>")
    '<think>the ball <box>[1,2,3,4]</box> is blue</think>'
    >>> normalize_tags("<answer> 1 / 2 </answer>", mode="authors")
    '<answer>1/2</answer>'
    """
    if not isinstance(text, str):
        return ""
    # Deviation: only whitespace around the six tag delimiters is removed, on the inner side for
    # box tags (the authors strip it around every '<', '>' and '/', mutating think/answer text
    # that the judge then sees, docs/method.md#bug-normalisation); option normalize_mode.
    if mode == "authors":
        return _strip_around(text, _AUTHORS_DELIM_RE)
    if mode != "tags":
        raise ValueError(f"normalize mode must be 'tags' or 'authors', got {mode!r}")
    return _strip_around(text, _TAG_RE, box_inner_only=True)


def _first_block(text: str, open_tag: str, close_tag: str) -> str | None:
    """Content of the first `open_tag` that has a later `close_tag`, stripped (regex `.*?` semantics)."""
    if not isinstance(text, str):
        return None
    i = text.find(open_tag)
    if i < 0:
        return None
    j = text.find(close_tag, i + len(open_tag))
    if j < 0:
        return None
    return text[i + len(open_tag) : j].strip()


def extract_think(text: str) -> str | None:
    """First `<think>…</think>` content, stripped; None without a closed block.

    >>> extract_think("<think> look <box>[1,2,3,4]</box> </think><answer>x</answer>")
    'look <box>[1,2,3,4]</box>'
    """
    return _first_block(text, "<think>", "</think>")


def extract_answer(text: str) -> str | None:
    """First `<answer>…</answer>` content, stripped; None without a closed block.

    >>> extract_answer("<think>t</think><answer> Blue </answer>"), extract_answer("<answer>open")
    ('Blue', None)
    """
    return _first_block(text, "<answer>", "</answer>")


def find_box_spans(text: str, *, max_boxes: int = MAX_BOXES) -> list[str]:
    """Raw contents of non-overlapping `<box>…</box>` spans, in order, at most `max_boxes`.

    Same spans as the authors' `re.findall(r"<box>(.*?)</box>", DOTALL)` up to the cap.

    >>> find_box_spans("<box>[1,2,3,4]</box> and <box> oops </box> <box>open")
    ['[1,2,3,4]', ' oops ']
    """
    if not isinstance(text, str):
        return []
    spans: list[str] = []
    pos = 0
    while len(spans) < max_boxes:
        i = text.find("<box>", pos)
        if i < 0:
            break
        j = text.find("</box>", i + 5)
        if j < 0:
            break
        spans.append(text[i + 5 : j])
        pos = j + 6
    return spans


def parse_box(span: str, *, syntax: str = "lenient") -> Box | None:
    """Parse `"[x1, y1, x2, y2]"` into floats; None if malformed, negative, non-finite or absurd.

    `syntax="lenient"` (default) accepts integers or decimals with optional spaces and a `+`
    sign; a negative coordinate parses but is rejected (no frame has negative coordinates).
    `syntax="authors"` accepts only `[int,int,int,int]` without spaces, as the authors did.
    The order of the corners is not checked here: `is_valid_box` does that.

    >>> parse_box("[1, 2.5,3 ,4]"), parse_box("[1,2,3]"), parse_box("[-1,2,3,4]")
    ((1.0, 2.5, 3.0, 4.0), None, None)
    >>> parse_box("[1, 2, 3, 4]", syntax="authors")
    """
    if not isinstance(span, str) or len(span) > MAX_BOX_SPAN_CHARS:
        return None
    s = span.strip()
    # Deviation: decimals, spaces and '+' are accepted (the authors' regex accepts only
    # "[int,int,int,int]", so "[1, 2, 3, 4]" silently counted as a malformed box,
    # docs/method.md#bug-box-syntax); option box_syntax.
    if syntax == "authors":
        m = _AUTHORS_BOX_RE.match(s)  # re.match, as theirs: trailing text after ']' is allowed
    elif syntax == "lenient":
        m = _BOX_RE.fullmatch(s)
    else:
        raise ValueError(f"box syntax must be 'lenient' or 'authors', got {syntax!r}")
    if m is None:
        return None
    values = tuple(float(g) for g in m.groups())
    if any(not math.isfinite(v) or v < 0 or v > MAX_ABS_COORD for v in values):
        return None
    return values  # type: ignore[return-value]


def extract_boxes(text: str, *, syntax: str = "lenient", max_boxes: int = MAX_BOXES) -> list[Box]:
    """Valid boxes (parsed, x1 < x2, y1 < y2), in order of appearance, at most `max_boxes`.

    >>> extract_boxes("<box>[0,0,5,5]</box><box>[5,5,1,1]</box><box>bad</box>")
    [(0.0, 0.0, 5.0, 5.0)]
    """
    boxes = (parse_box(s, syntax=syntax) for s in find_box_spans(text, max_boxes=max_boxes))
    return [b for b in boxes if b is not None and is_valid_box(b)]


def strip_boxes(text: str) -> str:
    """Remove every `<box>…</box>` span and collapse runs of spaces.

    >>> strip_boxes("the ball <box>[1,2,3,4]</box> is  blue")
    'the ball is blue'
    """
    if not isinstance(text, str):
        return ""
    pieces: list[str] = []
    pos = 0
    while True:
        i = text.find("<box>", pos)
        j = text.find("</box>", i + 5) if i >= 0 else -1
        if j < 0:
            break
        pieces.append(text[pos:i])
        pos = j + 6
    pieces.append(text[pos:])
    return _collapse_spaces("".join(pieces))


# A `<box` or `box>` fragment: a whole tag, or what is left of one ("..,961]</box>" with no opening tag).
_BOX_TAG_TRACE_RE = re.compile(r"</?box|box>", re.IGNORECASE)  # literals only: linear time


def has_box_trace(text: str) -> bool:
    """True if `text` carries a box: a box tag or a fragment of one, or an `[x1,y1,x2,y2]` list.

    The textual stream's reasoning must be box-free; a policy trained on both streams can carry
    the grounded stream's boxes, whole or in pieces, into it (docs/scoring.md#box-free-textual-reasoning).

    >>> has_box_trace("the ball is blue"), has_box_trace("the ball is4797,797,461,961]</box> blue")
    (False, True)
    >>> has_box_trace("the ball at [10, 20, 30, 40] is blue"), has_box_trace("a box of apples")
    (True, False)
    """
    if not isinstance(text, str):
        return False
    return _BOX_TAG_TRACE_RE.search(text) is not None or _BOX_RE.search(text) is not None


def _collapse_spaces(text: str) -> str:
    """Collapse runs of spaces/tabs (not newlines) into one space and strip the ends."""
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def format_ok(text: str, *, mode: str = "tags") -> bool:
    """The authors' format rule: after normalisation the whole text is `<think>.*</think>.*<answer>.*</answer>`.

    Nothing may precede `<think>` or follow `</answer>` (whitespace aside). Checked with
    `str.find` in linear time; equivalent to `re.fullmatch(..., DOTALL)`.

    >>> format_ok(" <think>a</think> <answer>b</answer>\\n"), format_ok("hi <think>a</think><answer>b</answer>")
    (True, False)
    """
    return format_ok_normalized(normalize_tags(text, mode=mode))


def format_ok_normalized(s: str) -> bool:
    """`format_ok` of a text that `normalize_tags` has already normalised (in either mode).

    `normalize_tags` is idempotent (once no whitespace touches a delimiter, a second pass
    finds nothing to remove, and removing whitespace cannot create a tag), so this equals
    `format_ok` on the original text; the scorer normalises each completion once and saves
    the second pass.

    >>> format_ok_normalized("<think>a</think><answer>b</answer>"), format_ok_normalized("<think>a</think>")
    (True, False)
    """
    if not (s.startswith("<think>") and s.endswith("</answer>")):
        return False
    end_think = s.find("</think>", len("<think>"))
    if end_think < 0:
        return False
    start_answer = s.find("<answer>", end_think + len("</think>"))
    return start_answer >= 0 and start_answer + len("<answer>") <= len(s) - len("</answer>")


__all__ = [
    "MAX_BOXES",
    "TAGS",
    "extract_answer",
    "extract_boxes",
    "extract_think",
    "find_box_spans",
    "format_ok",
    "format_ok_normalized",
    "has_box_trace",
    "normalize_tags",
    "parse_box",
    "strip_boxes",
]
