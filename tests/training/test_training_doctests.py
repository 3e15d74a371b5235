"""The examples in the trainer modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    ["ivgr.training.sampler", "ivgr.training.config", "ivgr.training.callbacks", "ivgr.training.rewards", "ivgr.recipes",
     "ivgr.models.tokens"],
)
def test_docstring_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
