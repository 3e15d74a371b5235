"""The public API is small and deliberate; changing it should be a conscious act (httpx style)."""

import subprocess
import sys

import ivgr

EXPECTED = {
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
}


def test_public_api_is_exactly_the_documented_names():
    assert set(ivgr.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(ivgr, name), name


def test_top_level_import_pulls_no_training_stack():
    code = (
        "import sys, ivgr, ivgr.rewards, ivgr.judges, ivgr.archive, ivgr.parsing, ivgr.geometry, "
        "ivgr.prompts, ivgr.data.schema, ivgr.jsonl, ivgr.models, ivgr.inference, ivgr.training; "
        "heavy = {'torch', 'trl', 'transformers'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help_starts_without_importing_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ivgr.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'torch' not in sys.modules, 'ivgr --help imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_matches_package_metadata():
    from importlib.metadata import version

    assert ivgr.__version__ == version("ivgr")
