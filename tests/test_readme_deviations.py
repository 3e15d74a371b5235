"""The README's deviation table is generated from `# Deviation:` tags; it must not go stale."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    spec = importlib.util.spec_from_file_location("deviations", ROOT / "scripts" / "deviations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_deviation_table_matches_the_tags_in_the_code():
    deviations = _load_script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert deviations.render_block() in readme, "run: python scripts/deviations.py --write"


def test_every_deviation_tag_is_collected_with_its_text(tmp_path):
    deviations = _load_script()
    pkg = tmp_path / "ivgr"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "x = 1  # Deviation: inline reason; option foo\n"
        "# Deviation: first line of a longer reason\n"
        "# that continues here; option bar\n"
        "y = 2\n"
    )
    rows = deviations.collect(tmp_path)
    assert [(r[1], r[2]) for r in rows] == [
        (1, "inline reason; option foo"),
        (2, "first line of a longer reason that continues here; option bar"),
    ]
    assert "| `ivgr/m.py` | first line of a longer reason that continues here | bar |" in deviations.table(rows)
