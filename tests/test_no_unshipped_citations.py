"""No file that ships cites a document ivgr does not ship (issue 15 item 1).

The project was written from notes outside the repository (paper.md, reference-
implementation.md, benchmarks.md, ecosystem.md, DESIGN.md, STYLE.md, ../shared/...); a user
cannot open them. Citations go to the paper, the authors' repository, toolkit files or ivgr's
own docs/ (docs/method.md#anchor). `scripts/citations.py` holds the rules; these tests run it
over every tracked file and check that `scripts/deviations.py` refuses a bad table row.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


citations = _load("citations")


def test_no_shipped_file_cites_an_unshipped_document():
    found = citations.scan(ROOT)
    assert not found, "cite docs/method.md#anchor, the paper or the authors' files instead:\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    # lines as they stood before issue 15 (ivgr/archive.py, ivgr/commands/sft_cmd.py, docs/CONTRACTS.md, ...)
    "(paper.md §2.4, reference-implementation.md §4.8). The archive is the only mutable state in",
    'HELP = """Cold-start SFT (paper.md §2.7): teach a VLM both formats',
    "tested on its own. `../shared/DESIGN.md` (the `ivgr score` contract, conventions) wins where it",
    "Files (benchmarks.md §2.1): `hr_bench_{4k,8k}.tsv` or `.parquet`",
    "so no lmms-eval fork is needed (ecosystem.md §D.2):",
    "see /work/shared/STYLE.md",
    "# take the first in batch order, which differs across ranks and reruns, §4.8 step 3);",
])
def test_a_citation_of_unshipped_notes_is_found(line):
    assert citations.line_problems(line, ROOT)


@pytest.mark.parametrize("line", [
    "(docs/method.md#archive). The archive is the only mutable state in",
    "the paper (arXiv 2605.31096, Table 7) and github Visual-AI/iVGR verl/utils/tokenizer.py",
    "lmms-eval docs/guides/model_guide.md",
    "ivgr/eval/benchmarks/hrbench.py",
])
def test_a_followable_citation_passes(line):
    assert citations.line_problems(line, ROOT) == []
    assert citations.anchor_problems(line, ROOT) == []


def test_benchmarks_md_is_allowed_only_as_an_existing_docs_file(tmp_path):
    line = "formats in docs/benchmarks.md"
    assert citations.line_problems(line, tmp_path)  # no such file in this root
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmarks.md").write_text("# Benchmarks\n")
    assert citations.line_problems(line, tmp_path) == []
    assert citations.line_problems("formats in benchmarks.md §2", tmp_path)


def test_a_missing_docs_anchor_is_found():
    assert citations.anchor_problems("see docs/method.md#archive", ROOT) == []
    assert citations.anchor_problems("see docs/method.md#no-such-heading", ROOT)
    assert citations.anchor_problems("see docs/nothing.md#archive", ROOT)


def test_the_scan_finds_an_unshipped_citation_in_a_tracked_file(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "method.md").write_text("# Method\n\n## Archive\n")
    (tmp_path / "a.py").write_text("x = 1\n# tau = 0.3 (reference-implementation.md §4.8)\n")
    (tmp_path / "b.py").write_text("# tau = 0.3 (docs/method.md#archive)\n")
    (tmp_path / "untracked.py").write_text("# paper.md\n")
    subprocess.run(["git", "add", "a.py", "b.py", "docs/method.md"], cwd=tmp_path, check=True)
    found = citations.scan(tmp_path)
    assert found and all(entry.startswith("a.py:2: ") for entry in found)
    assert any("reference-implementation.md" in entry for entry in found)


def test_every_cited_method_anchor_exists():
    anchors = citations.anchors(ROOT / "docs" / "method.md")
    for anchor in ("archive", "box-iou", "reward-totals", "sft-cold-start", "bug-judge-robustness",
                   "tool-assisted-inference", "hyper-parameters"):
        assert anchor in anchors


def _deviation_tree(tmp_path: Path, comment: str) -> Path:
    (tmp_path / "ivgr").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "method.md").write_text("# Method\n\n## Archive\n")
    (tmp_path / "ivgr" / "m.py").write_text(f"x = 1\n# Deviation: {comment}; option foo\n")
    return tmp_path


@pytest.mark.parametrize("comment, reason", [
    ("ties broken by content (reference-implementation.md §4.8 step 3)", "reference-implementation.md"),
    ("ties broken by content (docs/nowhere.md)", "not a file in the repository"),
    ("ties broken by content (docs/method.md#no-such-heading)", "no such heading"),
    ("ties broken by content (§4.8)", "§"),
])
def test_deviations_rejects_a_row_citing_outside_the_repo(tmp_path, comment, reason):
    deviations = _load("deviations")
    root = _deviation_tree(tmp_path, comment)
    problems = deviations.check(deviations.collect(root), root)
    assert len(problems) == 1
    assert problems[0].startswith("ivgr/m.py:2: deviation row ") and reason in problems[0]


def test_deviations_accepts_a_row_citing_a_shipped_anchor(tmp_path):
    deviations = _load("deviations")
    root = _deviation_tree(tmp_path, "ties broken by content (docs/method.md#archive)")
    assert deviations.check(deviations.collect(root), root) == []


def test_deviations_script_exits_1_naming_the_row(tmp_path):
    # Run the real script on a copy of itself whose tree holds one bad row.
    root = _deviation_tree(tmp_path, "ties broken by content (paper.md §2.4)")
    (root / "scripts").mkdir()
    for name in ("deviations.py", "citations.py"):
        (root / "scripts" / name).write_text((ROOT / "scripts" / name).read_text(encoding="utf-8"))
    (root / "README.md").write_text("<!-- deviations:start -->\n<!-- deviations:end -->\n")
    run = subprocess.run([sys.executable, "scripts/deviations.py", "--write"], cwd=root,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "ivgr/m.py:2: deviation row cites 'paper.md'" in run.stderr
    assert "Traceback" not in run.stderr
    assert (root / "README.md").read_text() == "<!-- deviations:start -->\n<!-- deviations:end -->\n"
