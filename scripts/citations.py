"""Find citations a user cannot follow: documents that ivgr does not ship.

ivgr was written from notes that are not part of the project (paper.md, reference-
implementation.md, benchmarks.md, ecosystem.md, DESIGN.md, STYLE.md, ../shared/...). A
citation must point at something a reader can open instead: the paper (arXiv 2605.31096),
the authors' repository (github Visual-AI/iVGR, file and function), a toolkit's file, or
ivgr's own docs/ (e.g. docs/method.md#archive). The section sign `§` is how the notes were
cited, so it is rejected too; ivgr's docs are cited by anchor.

    python scripts/citations.py        # list offending lines of every file that ships; exit 1 if any

`tests/test_no_unshipped_citations.py` runs the same check; `scripts/deviations.py` applies
`row_problem` to every row of the README's deviation table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Notes that live outside the repository. benchmarks.md is allowed only as docs/benchmarks.md
# when that file exists (checked in `line_problems`).
_UNSHIPPED = re.compile(
    r"(?<![\w/.-])(?:[\w./-]*/)?(paper|reference-implementation|benchmarks|ecosystem|DESIGN|STYLE)\.md\b"
    r"|\.\./shared\b|/work/shared\b|\bshared/reference\b"
)
_SECTION = "\u00a7"
# A path to a Markdown file, optionally with an anchor: docs/method.md#archive, README.md.
_MD_PATH = re.compile(r"(?<![\w/.-])([\w./-]+\.md)(?:#([\w-]+))?")
# Files that hold these patterns on purpose.
SELF = ("scripts/citations.py", "tests/test_no_unshipped_citations.py")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Anchors of every heading of a Markdown file."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            out.add(slug(match.group(1)))
    return out


def _resolve(name: str, root: Path, here: Path | None) -> Path | None:
    """The shipped file a Markdown path names: relative to the citing file, the root or docs/."""
    bases = ([here] if here is not None else []) + [root, root / "docs"]
    for base in bases:
        candidate = (base / name).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    return None


def line_problems(line: str, root: Path = ROOT) -> list[str]:
    """Why `line` cites something a user cannot open (empty when it does not)."""
    problems = []
    for match in _UNSHIPPED.finditer(line):
        cited = match.group(0)
        if match.group(1) == "benchmarks" and cited.endswith("docs/benchmarks.md"):
            if (root / "docs" / "benchmarks.md").is_file():
                continue
        problems.append(f"cites {cited!r}, which ivgr does not ship")
    if _SECTION in line:
        problems.append(f"uses '{_SECTION}', the way unshipped notes were cited; cite docs/*.md#anchor, "
                        "the paper (arXiv 2605.31096) or the authors' file and function")
    return problems


def row_problem(text: str, root: Path = ROOT) -> str | None:
    """First reason a deviation row's text cites outside the repo: a `*.md` that ivgr lacks,
    an anchor its file lacks, an unshipped note or a `§` reference."""
    problems = line_problems(text, root) + anchor_problems(text, root, every_md=True)
    return problems[0] if problems else None


def anchor_problems(line: str, root: Path = ROOT, here: Path | None = None, every_md: bool = False) -> list[str]:
    """Citations `docs/X.md#anchor` in `line` whose file or heading does not exist. With
    `every_md`, any `*.md` path must be a file of the repository (a README table row must not
    point anywhere else); otherwise a path outside docs/ may name another repository's file."""
    problems = []
    for match in _MD_PATH.finditer(line):
        name, anchor = match.groups()
        if not anchor and not every_md:
            continue
        target = _resolve(name, root, here)
        if target is None:
            if every_md or name.startswith("docs/"):
                problems.append(f"cites {name!r}, which is not a file in the repository")
        elif anchor and anchor not in anchors(target):
            problems.append(f"cites {name}#{anchor}, but {name} has no such heading")
    return problems


def shipped_files(root: Path = ROOT) -> list[str]:
    """Every file under version control, except the ones that hold these patterns on purpose."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p and p not in SELF]


def scan(root: Path = ROOT) -> list[str]:
    """`path:line: reason` for every offending line of every shipped text file."""
    found = []
    for rel in shipped_files(root):
        path = root / rel
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary (images) or deleted in the work tree
        for number, line in enumerate(text.splitlines(), 1):
            for reason in line_problems(line, root) + anchor_problems(line, root, path.parent):
                found.append(f"{rel}:{number}: {reason}")
    return found


def main() -> int:
    found = scan()
    for entry in found:
        print(entry)
    if found:
        print(f"{len(found)} citation(s) a user cannot follow", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
