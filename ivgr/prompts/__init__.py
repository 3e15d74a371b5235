"""Prompts: stream prompts (grounded/textual/single/tool) and judge prompts. Pure python."""

from __future__ import annotations

from ivgr.prompts.judge import (
    ACCURACY_EXAMPLES,
    JUDGE_PROMPT_VERSION,
    accuracy_prompt,
    cap_text,
    consistency_prompt,
    fence,
    new_fence_token,
    rewrite_prompt,
)
from ivgr.prompts.streams import (
    PROMPT_STYLES,
    STREAM_PROMPT_VERSION,
    STREAMS,
    chat_messages,
    check_prompt_style,
    match_stream_prompt,
    stream_prompt,
    tool_prompt,
)

__all__ = ["PROMPT_STYLES", "STREAMS", "chat_messages", "check_prompt_style", "stream_prompt", "tool_prompt",
           "STREAM_PROMPT_VERSION", "match_stream_prompt",
           "JUDGE_PROMPT_VERSION", "ACCURACY_EXAMPLES", "accuracy_prompt", "consistency_prompt", "rewrite_prompt",
           "fence", "cap_text", "new_fence_token"]
