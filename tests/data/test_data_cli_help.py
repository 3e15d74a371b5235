"""Every `ivgr data` command explains itself with examples."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from ivgr.commands import data_cmd


@pytest.mark.parametrize("command", ["validate", "prepare", "sft-build"])
def test_data_commands_have_help_with_examples(command):
    app = typer.Typer()
    data_cmd.register(app)
    result = CliRunner().invoke(app, ["data", command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output
    assert f"ivgr data {command}" in result.output
