"""Prompts: stream prompts (grounded/textual/single/tool) and judge prompts. Pure python."""

from __future__ import annotations

import importlib

from ivgr.prompts.streams import STREAMS, chat_messages, stream_prompt, tool_prompt

__all__ = ["STREAMS", "chat_messages", "stream_prompt", "tool_prompt"]

# Judge prompts belong to the judges module's owner; re-export them once the module exists,
# without letting a half-written judge module break the stream prompts.
try:
    _judge = importlib.import_module("ivgr.prompts.judge")
except ModuleNotFoundError as _err:  # pragma: no cover - only while ivgr/prompts/judge.py is absent
    if _err.name != "ivgr.prompts.judge":
        raise
else:
    _public = getattr(_judge, "__all__", [n for n in vars(_judge) if not n.startswith("_")])
    globals().update({n: getattr(_judge, n) for n in _public})
    __all__ = __all__ + [n for n in _public if n not in __all__]
