"""`ivgr plan`: will a recipe fit on N GPUs of M GiB, and how hard will it push the judge?

    >>> p = make_plan("qwen2.5-vl-7b", gpus=8, gpu_memory_gib=80)
    >>> p["parameters"]
    8292166656

Formulas and which terms are estimates: docs/plan.md. Stdlib (+ PyYAML for recipes) only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivgr.plan.memory import (
    ENGINES,
    ESTIMATED_TERMS,
    RecipeSettings,
    judge_load,
    lengths_for,
    plan_memory,
    read_recipe_settings,
)
from ivgr.plan.models import count_parameters, load_model_config, model_shape, shipped_models, vision_parameters

DEFAULT_PROMPT_TOKENS = 256  # system + stream instructions + question, text only (the image is counted apart)
DEFAULT_STEP_SECONDS = 300.0


def make_plan(
    model: str,
    *,
    gpus: int,
    gpu_memory_gib: float,
    recipe: Path | None = None,
    engine: str = "zero3",
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    image_pixels: int | None = None,
    step_seconds: float = DEFAULT_STEP_SECONDS,
) -> dict[str, Any]:
    """The whole plan as one JSON-ready mapping (`parameters`, `per_gpu_gib`, `fits`, `judge`, ...)."""
    config, source = load_model_config(model)
    shape = model_shape(config)
    parameters = count_parameters(config)
    settings = read_recipe_settings(recipe) if recipe else RecipeSettings()
    lengths = lengths_for(shape, settings, prompt_tokens=prompt_tokens, image_pixels=image_pixels)
    memory = plan_memory(shape, parameters, settings, gpus=gpus, gpu_memory_gib=gpu_memory_gib, engine=engine,
                         lengths=lengths, vision_parameters=vision_parameters(shape))
    load = judge_load(settings, gpus=gpus, step_seconds=step_seconds)
    return {
        "model": model, "source": source, "recipe": str(recipe) if recipe else None,
        **memory.to_dict(),
        "micro_batch": settings.per_device_train_batch_size,
        "judge": load.to_dict(),
        "estimated_terms": list(ESTIMATED_TERMS),
    }


__all__ = ["ENGINES", "RecipeSettings", "make_plan", "shipped_models"]
