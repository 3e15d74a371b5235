"""User-turn prompts of the three streams and of the tool-assisted second pass.

Semantics follow the authors' templates (docs/method.md#streams; examples/format_prompt/ of Visual-AI/iVGR);
the wording is ours. Every prompt is the user text only: the caller puts the image(s) in
front with `chat_messages`, and no system prompt is added (the authors add none, so the
chat template's default applies).

- grounded: reason in `<think>`, answer in `<answer>`, and box every object the reasoning
  refers to as `<box>[x1,y1,x2,y2]</box>` in the model's coordinate frame; one worked example.
- textual: R1-style "think, then answer" in `<think>`/`<answer>`; no mention of boxes.
- single: think/answer, with a clear and concise final answer (math and general data).

Two styles: `standard` (the default, the wording above) and `compact`, one short instruction line
per stream for tiny models trained from scratch. A 0.8M-parameter model trained on the ~80-word
standard prompts never learns to read the image in the demo's CPU budget (docs/DEMO_RESULTS.md);
`compact` keeps what the streams differ in (boxes or not) and drops the rest. A model must be
prompted at inference in the style it was trained with.
"""

from __future__ import annotations

from ivgr.geometry import FRAMES

STREAMS = ("grounded", "textual", "single")
PROMPT_STYLES = ("standard", "compact")
# Bump when the wording of any stream or tool prompt changes: checkpoints record the version they
# were trained with (docs/models.md), and inference warns when it differs from this one.
STREAM_PROMPT_VERSION = 1

_FRAME_HINT = {
    "pixel": "x1,y1 is the top-left and x2,y2 the bottom-right corner, as integer pixel coordinates of the image as you see it",
    "norm1000": (
        "x1,y1 is the top-left and x2,y2 the bottom-right corner, as integers from 0 to 1000 "
        "relative to the image width and height"
    ),
}

# One worked example per frame: the same scene, so the two frames teach the same behaviour.
_EXAMPLE_BOX = {"pixel": "[50,80,120,150]", "norm1000": "[78,167,188,313]"}

_GROUNDED = (
    "{question}\n"
    "Reason about the image step by step before answering. Write your reasoning inside "
    "<think> </think> and then your final answer inside <answer> </answer>. "
    "Every time your reasoning mentions a specific object or region of the image, you MUST "
    "give its location right after it as a bounding box <box>[x1,y1,x2,y2]</box>, where "
    "{frame_hint}. Follow this format exactly.\n"
    "Example for the question \"What color is the ball on the left?\":\n"
    "<think>There are two balls. The one on the left <box>{example_box}</box> is painted "
    "blue, so the left ball is blue.</think><answer>Blue</answer>"
)

_TEXTUAL = (
    "{question}\n"
    "You are the assistant in a conversation with a user. First think through the problem "
    "carefully, then reply. Put your reasoning between <think> and </think> and your reply "
    "between <answer> and </answer>, like this: "
    "<think> your reasoning </think> <answer> your answer </answer>"
)

_SINGLE = (
    "{question}\n"
    "Answer in two parts. First write your step-by-step reasoning inside <think>...</think>. "
    "Then write the final answer inside <answer>...</answer>, stated clearly and concisely."
)

_TOOL = (
    "{question}\n"
    "You are given the full image followed by {crops_text}{union_text}. Use the close-ups to "
    "check small details. First think through the problem carefully, then reply. Put your "
    "reasoning between <think> and </think> and your reply between <answer> and </answer>, "
    "like this: <think> your reasoning </think> <answer> your answer </answer>"
)


_COMPACT = {
    "grounded": "{question}\nThink with boxes, then answer.",
    "textual": "{question}\nThink, then answer.",
    "single": "{question}\nThink, then answer briefly.",
}
_COMPACT_TOOL = "{question}\nImage, then {n} close-up{s}. Think, then answer."


def _check_style(style: str) -> None:
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; use one of {PROMPT_STYLES}")


def check_prompt_style(style: str) -> str:
    """`style` if it is one of PROMPT_STYLES, else a ConfigError (for settings read from users)."""
    from ivgr.errors import ConfigError

    if style not in PROMPT_STYLES:
        raise ConfigError(f"unknown prompt style (prompt_style) {style!r}; use one of {list(PROMPT_STYLES)}")
    return style


def stream_prompt(stream: str, question: str, *, frame: str = "pixel", style: str = "standard") -> str:
    """User-turn text for `stream` ("grounded" | "textual" | "single"), without image placeholder.

    `frame` ("pixel" | "norm1000") only changes the standard grounded box instructions;
    `style` ("standard" | "compact") picks the wording.

    >>> "<box>[x1,y1,x2,y2]</box>" in stream_prompt("grounded", "Q?")
    True
    >>> "<box>" in stream_prompt("textual", "Q?")
    False
    >>> stream_prompt("grounded", "Q?", style="compact")
    'Q?\\nThink with boxes, then answer.'
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; use one of {STREAMS}")
    if frame not in FRAMES:
        raise ValueError(f"unknown box frame {frame!r}; use one of {FRAMES}")
    _check_style(style)
    # The authors trim the question before templating (jinja `content | trim`, docs/method.md#streams).
    q = question.replace("<image>", "").strip()
    if style == "compact":
        return _COMPACT[stream].format(question=q)
    if stream == "grounded":
        return _GROUNDED.format(question=q, frame_hint=_FRAME_HINT[frame], example_box=_EXAMPLE_BOX[frame])
    if stream == "textual":
        return _TEXTUAL.format(question=q)
    return _SINGLE.format(question=q)


def match_stream_prompt(stream: str, prompt: str) -> tuple[str, str | None] | None:
    """(style, frame) of the ivgr stream prompt that `prompt` was built with; None if it is none of them.

    The frame is None where the wording names none (textual, single and every compact prompt).
    Used to record what a checkpoint was trained on from its SFT data.

    >>> match_stream_prompt("grounded", stream_prompt("grounded", "Q?", frame="norm1000"))
    ('standard', 'norm1000')
    >>> match_stream_prompt("textual", "What is it?\\nThink, then answer.")
    ('compact', None)
    >>> match_stream_prompt("textual", "Describe the image.") is None
    True
    """
    for style in PROMPT_STYLES:
        tails = {frame: stream_prompt(stream, "", frame=frame, style=style) for frame in FRAMES}
        for frame, tail in tails.items():
            if prompt.endswith(tail):  # prompt = question + tail
                return style, frame if len(set(tails.values())) > 1 else None
    return None


def tool_prompt(question: str, *, n_crops: int, has_union: bool, style: str = "standard") -> str:
    """Textual prompt for the tool-assisted second pass (docs/method.md#tool-assisted-inference): image, crops, union crop.

    >>> "2 close-up crops" in tool_prompt("Q?", n_crops=2, has_union=True)
    True
    >>> "followed by one crop covering all" in tool_prompt("Q?", n_crops=0, has_union=True)
    True
    """
    if n_crops < 0:
        raise ValueError(f"n_crops must be >= 0, got {n_crops}")
    if n_crops == 0 and not has_union:
        raise ValueError("tool_prompt needs at least one crop or the union crop")
    _check_style(style)
    if style == "compact":
        n = n_crops + int(has_union)
        return _COMPACT_TOOL.format(question=question.replace("<image>", "").strip(), n=n, s="s" if n != 1 else "")
    crops_text = f"{n_crops} close-up crop{'s' if n_crops != 1 else ''} of regions that may matter" if n_crops else ""
    if has_union:
        union_text = (" and one crop covering all of those regions together" if n_crops
                      else "one crop covering all the regions that may matter")
    else:
        union_text = ""
    return _TOOL.format(question=question.replace("<image>", "").strip(), crops_text=crops_text, union_text=union_text)


def chat_messages(text: str, *, n_images: int = 1) -> list[dict]:
    """One user message: `n_images` image placeholders, then the text (the authors' layout).

    >>> chat_messages("hi", n_images=2)[0]["content"]
    [{'type': 'image'}, {'type': 'image'}, {'type': 'text', 'text': 'hi'}]
    """
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    content: list[dict] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


__all__ = ["PROMPT_STYLES", "STREAMS", "STREAM_PROMPT_VERSION", "chat_messages", "check_prompt_style",
           "match_stream_prompt", "stream_prompt", "tool_prompt"]
