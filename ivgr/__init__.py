"""ivgr: Internalizing Visually Grounded Reasoning (iVGR) for multimodal LLMs.

The top-level namespace holds the framework-free core (no torch import):

    from ivgr import Scorer, ScorerConfig, RolloutArchive, Rollout, JudgeConfig, build_judge

    scorer = Scorer(config=ScorerConfig(), judge=build_judge(JudgeConfig()), archive=RolloutArchive())
    scores = scorer.score_batch(rollouts, step=0)

Training, inference and evaluation live in `ivgr.training`, `ivgr.inference` and `ivgr.eval`
and import torch when used.
"""

__version__ = "0.1.0"  # first: submodules may read it while the package is importing

from ivgr._lazy import lazy_module_getattr
from ivgr.errors import ConfigError, DataError, IvgrError, JudgeError, ModelError

# Why lazy: `import ivgr` is on the path of every command, and eager imports (pydantic through
# the data schema, the scorer, the judges) cost 0.3-0.6 s before `ivgr score` can send its first
# judge request. Each name below is imported from its module on first access (PEP 562).
_EXPORTS = {
    "JudgeConfig": "ivgr.judges",
    "Verdict": "ivgr.judges",
    "build_judge": "ivgr.judges",
    "Rollout": "ivgr.rewards",
    "RolloutScore": "ivgr.rewards",
    "Scorer": "ivgr.rewards",
    "ScorerConfig": "ivgr.rewards",
    "RolloutArchive": "ivgr.archive",
    "Sample": "ivgr.data.schema",
}
__getattr__ = lazy_module_getattr(__name__, _EXPORTS)

__all__ = [
    "ConfigError",
    "DataError",
    "IvgrError",
    "JudgeConfig",
    "JudgeError",
    "ModelError",
    "Rollout",
    "RolloutArchive",
    "RolloutScore",
    "Sample",
    "Scorer",
    "ScorerConfig",
    "Verdict",
    "__version__",
    "build_judge",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
