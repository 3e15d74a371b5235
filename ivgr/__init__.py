"""ivgr: Internalizing Visually Grounded Reasoning (iVGR) for multimodal LLMs.

The top-level namespace holds the framework-free core (no torch import):

    from ivgr import Scorer, ScorerConfig, RolloutArchive, Rollout, JudgeConfig, build_judge

    scorer = Scorer(config=ScorerConfig(), judge=build_judge(JudgeConfig()), archive=RolloutArchive())
    scores = scorer.score_batch(rollouts, step=0)

Training, inference and evaluation live in `ivgr.training`, `ivgr.inference` and `ivgr.eval`
and import torch when used.
"""

__version__ = "0.1.0"  # first: submodules may read it while the package is importing

from ivgr.archive import RolloutArchive
from ivgr.data.schema import Sample
from ivgr.errors import ConfigError, DataError, IvgrError, JudgeError, ModelError
from ivgr.judges import JudgeConfig, Verdict, build_judge
from ivgr.rewards import Rollout, RolloutScore, Scorer, ScorerConfig

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
