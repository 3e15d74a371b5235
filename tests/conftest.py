"""Suite-wide settings.

Under CI (`CI` set, as `.ci/run` runs) hypothesis derandomizes, so a submission's result does not
depend on which random examples a run happened to draw; locally it keeps exploring new ones.
"""

import os
import subprocess
import sys

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def cli_error():
    """`cli_error(*args)` runs `python -m ivgr.cli ARGS` in a real process and returns its error line.

    It asserts what a rejected invocation shows: exit status 1, nothing on stdout and one
    `ivgr: error:` line on stderr (no traceback, no empty progress bar before it).
    """

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "ivgr.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ivgr: error: "), proc.stderr
        return lines[0]

    return run
