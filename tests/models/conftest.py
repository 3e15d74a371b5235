"""Shared fixture: one tiny Qwen2.5-VL checkpoint per test session (built offline in ~1 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A freshly built tiny checkpoint directory; tests must not modify it."""
    from ivgr.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "ckpt", seed=0)
