"""Build the README's table of deliberate differences from the authors' code.

Every deliberate difference is tagged in the source with a comment
`# Deviation: <what and why>; option <name>` (continued on following comment lines).
This script collects them and prints a Markdown table; `--write` replaces the block between
the markers in README.md. `tests/test_readme_deviations.py` fails when the README is stale.
A row whose citation points outside the repository (a `*.md` that ivgr does not ship, a missing
docs/ anchor, or a section-sign reference to unshipped notes) is rejected: the script names the row and
exits 1 (`scripts/citations.py`, `row_problem`).

    python scripts/deviations.py --write
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from citations import row_problem  # noqa: E402  (a sibling script, not a package)

START, END = "<!-- deviations:start -->", "<!-- deviations:end -->"
_TAG = re.compile(r"#\s*Deviation:\s*(.*)")
_CONTINUATION = re.compile(r"\s*#\s?(.*)")


def collect(root: Path = ROOT) -> list[tuple[str, int, str]]:
    """(path, line, text) for every `# Deviation:` comment under ivgr/, in path order."""
    rows = []
    for path in sorted((root / "ivgr").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = _TAG.search(line)
            if not match:
                continue
            parts = [match.group(1).strip()]
            # A tag that starts a line may continue on the comment lines below it.
            j = i + 1
            while line.lstrip().startswith("#") and j < len(lines):
                cont = _CONTINUATION.fullmatch(lines[j])
                if not cont or not cont.group(1).strip() or _TAG.search(lines[j]):
                    break
                parts.append(cont.group(1).strip())
                j += 1
            rows.append((path.relative_to(root).as_posix(), i + 1, " ".join(parts)))
    return rows


def table(rows: list[tuple[str, int, str]]) -> str:
    out = ["| where | what ivgr does instead, and why | option |", "|---|---|---|"]
    for path, _line, text in rows:
        option = "—"
        match = re.search(r";\s*options?:?\s*(.+?)\.?$", text)
        if match:
            option = match.group(1).strip()
            text = text[: match.start()].strip()
        cell = text.replace("|", "\\|")
        out.append(f"| `{path}` | {cell} | {option.replace('|', '/')} |")
    return "\n".join(out)


def check(rows: list[tuple[str, int, str]], root: Path = ROOT) -> list[str]:
    """One line per row that cites something a reader of the README cannot open."""
    out = []
    for path, line, text in rows:
        problem = row_problem(text, root)
        if problem:
            out.append(f"{path}:{line}: deviation row {problem}")
    return out


def render_block(root: Path = ROOT) -> str:
    return f"{START}\n{table(collect(root))}\n{END}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the block in README.md")
    args = parser.parse_args()
    problems = check(collect())
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("cite the paper (arXiv 2605.31096), the authors' repository (github Visual-AI/iVGR, file and "
              "function), a toolkit's file, or ivgr's docs/ (e.g. docs/method.md#archive)", file=sys.stderr)
        return 1
    block = render_block()
    if not args.write:
        print(block)
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} ... {END}", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + block + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
