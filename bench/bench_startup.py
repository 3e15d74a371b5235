"""Start-up time of `ivgr --help` and `import ivgr.errors`, median of N fresh processes each.

    .venv/bin/python bench/bench_startup.py              # 15 runs of each command
    .venv/bin/python bench/bench_startup.py --runs 31 --json startup.json

Every command runs in a new interpreter, one after another, in rounds (each round runs every
command once), so a change in machine load hits all of them alike. Baselines in the same run:
- `python -c pass`: the interpreter alone, which no ivgr change can remove;
- "eager top level": the modules `ivgr/__init__.py` imported before its exports became lazy
  (the data schema with pydantic, the scorer, the judges, the archive), i.e. what `import ivgr`
  cost every command then.
The target (issue 15 item 7) is <= 0.3 s for `ivgr --help` and for `import ivgr.errors`.
Per-module import times of one command: `python -X importtime -c "import ivgr.errors"`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
HELP = "import sys; sys.argv = ['ivgr', '--help']; from ivgr.cli import main; main()"
EAGER = "import ivgr.data.schema, ivgr.rewards, ivgr.judges, ivgr.archive"

COMMANDS: dict[str, list[str]] = {
    "python -c pass (interpreter only)": [PY, "-c", "pass"],
    "import ivgr.errors": [PY, "-c", "import ivgr.errors"],
    "import ivgr": [PY, "-c", "import ivgr"],
    "ivgr --help": [PY, "-c", HELP],  # the console script's own code path, minus the launcher stub
    "ivgr train --help": [PY, "-c", HELP.replace("'--help'", "'train', '--help'")],
    "eager top level (before: schema+rewards+judges+archive)": [PY, "-c", EAGER],
}


def time_once(argv: list[str]) -> float:
    """Wall seconds of one fresh process; a failing command stops the benchmark."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, list[float]]:
    """Seconds per run of every command, interleaved round by round."""
    for argv in COMMANDS.values():  # warm the file cache (and .pyc files) once, untimed
        time_once(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(time_once(argv))
    return times


def report(times: dict[str, list[float]]) -> list[dict]:
    base = statistics.median(times["python -c pass (interpreter only)"])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append({"command": name, "median_s": round(median, 3), "min_s": round(min(values), 3),
                     "max_s": round(max(values), 3), "above_interpreter_s": round(median - base, 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per command (default 15)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = report(measure(args.runs))
    width = max(len(r["command"]) for r in rows)
    print(f"{'command':<{width}}  median   min    max    above interpreter   ({args.runs} runs each)")
    for r in rows:
        print(f"{r['command']:<{width}}  {r['median_s']:.3f}  {r['min_s']:.3f}  {r['max_s']:.3f}  {r['above_interpreter_s']:+.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
