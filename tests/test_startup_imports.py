"""`ivgr --help` and `import ivgr.errors` start fast because they import nothing heavy.

Not timed (time depends on the machine): each check runs in a fresh interpreter and lists the
heavy modules it finds in `sys.modules`. The figures are in docs/PERFORMANCE.md (Start-up),
from bench/bench_startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Each costs 0.1-3 s to import; none is needed to print help or to define the errors.
HEAVY = ["accelerate", "datasets", "gradio", "httpx", "math_verify", "matplotlib", "numpy", "openai", "PIL",
         "pyarrow", "pydantic", "safetensors", "sympy", "torch", "transformers", "trl", "yaml"]

_REPORT = "import json, sys; print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))"


def _heavy_modules_after(code: str) -> list[str]:
    """Heavy modules imported by `code` in a fresh interpreter (its stdout is swallowed)."""
    script = (
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + _REPORT.format(heavy=repr(HEAVY)) + "\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_ivgr_errors_imports_nothing_heavy():
    assert _heavy_modules_after("import ivgr.errors") == []


def test_import_ivgr_imports_nothing_heavy():
    """The root package's exports (Scorer, Sample, ...) load on first access, not at import."""
    assert _heavy_modules_after("import ivgr") == []


def test_ivgr_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "sys.argv = ['ivgr', '--help']\n"
        "from ivgr.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )
    assert _heavy_modules_after(code) == []


def test_the_check_sees_a_heavy_import():
    """The probe itself: a command that imports pydantic is reported."""
    assert _heavy_modules_after("import ivgr.data.schema") == ["pydantic"]


def test_image_loading_needs_no_schema():
    """Inference and evaluation import `ivgr.data.images`; `ivgr.data` loads its pydantic schema lazily."""
    assert _heavy_modules_after("import ivgr.data.images, ivgr.eval.readers") == []
