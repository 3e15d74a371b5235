"""What the inspector page does, without the page: one loaded engine, its answers, a run's views.

`Inspector` holds the only copy of the model (loaded once, by the caller) and turns an upload,
a question and a mode into what the Ask tab shows. Bad input raises `DataError`/`ConfigError`
with a message meant for the page; `ivgr.ui.app` shows it and keeps serving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError, DataError
from ivgr.inference.types import MODES
from ivgr.ui.upload import UploadLimits, open_upload

MAX_QUESTION_CHARS = 4000  # a question, not a document: longer prompts only slow the model down


@dataclass
class Answer:
    """One mode's result, ready to show: boxes and crops already in the upload's own pixels."""

    mode: str
    annotated: Any  # PIL image with the predicted boxes (and tool crops) drawn
    reasoning: str
    answer: str
    crops: list[tuple[Any, str]] = field(default_factory=list)  # (PIL crop, caption), tool mode
    info: str = ""


def upload_path(payload: Any) -> str | None:
    """The server-side path of a Gradio file payload (dict or FileData), a plain path, or None."""
    if payload is None:
        return None
    if isinstance(payload, (str, Path)):
        return str(payload)
    path = payload.get("path") if isinstance(payload, dict) else getattr(payload, "path", None)
    return str(path) if path else None


def check_question(question: Any) -> str:
    """The stripped question, or DataError when it is empty or far too long."""
    text = question.strip() if isinstance(question, str) else ""
    if not text:
        raise DataError("type a question about the image")
    if len(text) > MAX_QUESTION_CHARS:
        raise DataError(f"the question has {len(text)} characters; the limit is {MAX_QUESTION_CHARS}")
    return text


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


class Inspector:
    """The Ask tab's logic around one `InferenceEngine` (loaded by the caller, used for every request)."""

    def __init__(self, engine: Any, *, limits: UploadLimits | None = None, run: Any = None):
        self.engine = engine
        self.limits = limits or UploadLimits()
        self.run = run  # ivgr.ui.run.RunDir or None

    def read_image(self, payload: Any) -> Any:
        path = upload_path(payload)
        if path is None:
            raise DataError("upload an image first")
        name = Path(payload.get("orig_name") or path).name if isinstance(payload, dict) else Path(path).name
        return open_upload(path, limits=self.limits, name=name)

    def ask(self, payload: Any, question: Any, mode: Any) -> Answer:
        """Check the input, run one mode, draw the result."""
        mode = check_mode(mode)
        question = check_question(question)
        return self.answer(self.read_image(payload), question, mode)

    def compare(self, payload: Any, question: Any) -> tuple[Answer, Answer]:
        """Textual and grounded answers to the same question on the same image."""
        question = check_question(question)
        image = self.read_image(payload)
        return self.answer(image, question, "textual"), self.answer(image, question, "grounded")

    def answer(self, image: Any, question: str, mode: str) -> Answer:
        from ivgr.inference import InferenceRequest, draw_result
        from ivgr.inference.crops import cut

        started = time.perf_counter()
        [res] = self.engine.run([InferenceRequest(image=image, question=question)], mode=mode)
        seconds = time.perf_counter() - started
        crops = []
        if mode == "tool":
            crops = [(cut(image, region, min_side=1), f"crop {i}") for i, region in enumerate(res.crops, start=1)]
            if res.union is not None:
                crops.append((cut(image, res.union, min_side=1), "union"))
        (w, h), (mw, mh) = res.image_size, res.model_size
        info = [f"{mode} mode, {seconds:.2f} s; image {w}x{h} px, the model saw {mw}x{mh} ({self.engine.frame} frame)"]
        if mode != "textual":
            boxes = ", ".join(f"[{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}]" for b in res.boxes) or "none"
            info.append(f"boxes in the image's pixels: {boxes}")
        if res.tool_fallback:
            info.append("no box was predicted, so the textual pass ran alone")
        if res.grounded_completion is not None:
            info.append(f"grounded pass: {res.grounded_completion}")
        reasoning = res.reasoning if res.reasoning is not None else res.completion
        answer = res.answer if res.answer is not None else "(no <answer> tag in the output)"
        return Answer(mode=mode, annotated=draw_result(image, res), reasoning=reasoning, answer=answer,
                      crops=crops, info="\n\n".join(info))


__all__ = ["Answer", "Inspector", "MAX_QUESTION_CHARS", "check_mode", "check_question", "upload_path"]
