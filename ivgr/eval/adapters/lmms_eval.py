"""lmms-eval model plugin: run an ivgr checkpoint (textual / grounded / tool mode) in lmms-eval.

Registered through the entry point `lmms_eval.models: ivgr = ivgr.eval.adapters.lmms_eval:IvgrLmmsModel`
(pyproject.toml), so no lmms-eval fork is needed (lmms-eval docs/guides/model_guide.md):

    pip install lmms-eval
    lmms-eval --model ivgr --model_args pretrained=ckpt/,mode=textual,max_pixels=1605632 \\
        --tasks vstar_bench,hrbench4k --batch_size 4

The class is built on first access (PEP 562 `__getattr__`), because it must subclass
lmms-eval's `lmms`: importing this module never imports lmms-eval, so ivgr works without it.
By default the plugin returns only the `<answer>` content, since lmms-eval's task scorers
expect a short answer (`answer_only=false` returns the raw completion).
"""

from __future__ import annotations

from typing import Any

_CLASS: Any = None


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _build_class() -> Any:
    try:
        from lmms_eval.api.model import lmms
    except ImportError as err:
        raise ImportError("the ivgr lmms-eval plugin needs lmms-eval: pip install lmms-eval") from err

    class IvgrLmmsModel(lmms):  # type: ignore[misc, valid-type]
        """lmms-eval `generate_until` over `ivgr.inference.InferenceEngine` (first image of each doc)."""

        def __init__(self, pretrained: str, mode: str = "textual", batch_size: int | str = 4,
                     max_new_tokens: int | str = 1024, min_pixels: int | str | None = None,
                     max_pixels: int | str | None = None, backend: str = "hf", answer_only: bool | str = True,
                     engine: Any = None, **kwargs: Any) -> None:
            super().__init__()
            from ivgr.inference import InferenceEngine

            self.mode = mode
            self.answer_only = _truthy(answer_only)
            self.batch_size_per_gpu = int(batch_size)
            self.engine = engine or InferenceEngine(
                pretrained, backend=backend, batch_size=int(batch_size), max_new_tokens=int(max_new_tokens),
                min_pixels=int(min_pixels) if min_pixels else None, max_pixels=int(max_pixels) if max_pixels else None)

        def generate_until(self, requests: list[Any]) -> list[str]:
            from ivgr.inference import InferenceRequest

            reqs = []
            for req in requests:
                context, _gen_kwargs, doc_to_visual, doc_id, task, split = req.args
                visuals = [v for v in doc_to_visual(self.task_dict[task][split][doc_id]) if v is not None]
                if not visuals:
                    raise ValueError(f"{task}/{split} doc {doc_id}: ivgr needs an image")
                reqs.append(InferenceRequest(image=visuals[0], question=context, request_id=str(doc_id)))
            out = []
            for res in self.engine.run(reqs, mode=self.mode):
                out.append(res.answer if self.answer_only and res.answer is not None else res.completion)
            return out

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            raise NotImplementedError("ivgr evaluates generatively; loglikelihood tasks are not supported")

        def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
            raise NotImplementedError("ivgr does not support multi-round lmms-eval tasks")

    return IvgrLmmsModel


def __getattr__(name: str) -> Any:
    global _CLASS
    if name == "IvgrLmmsModel":
        if _CLASS is None:
            _CLASS = _build_class()
        return _CLASS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
