"""The examples in the data modules' docstrings (formulas, conversions) stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ivgr.data.schema", "ivgr.data.adapters", "ivgr.data.prepare", "ivgr.data.sft_build", "ivgr.data.validate",
    "ivgr.data.images",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_of_data_modules_pass(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
