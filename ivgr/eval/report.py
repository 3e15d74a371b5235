"""Result tables in the paper's layout (Table 1): one row per run, benchmarks as columns, Avg.

`ivgr eval report R1.json R2.json …` puts several runs side by side (e.g. textual vs
grounded vs tool, the T-vs-G study) as Markdown and CSV. Every row names its profile.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ivgr.errors import DataError
from ivgr.eval.runner import RESULTS_FORMAT

# The paper's column order (docs/method.md#evaluation); benchmarks not run are left out of the table.
PAPER_ORDER = ["vstar", "hrbench4k", "hrbench8k", "mme_realworld_lite", "pope", "realworldqa", "cvbench2d", "cvbench3d"]


def load_results(path: Path) -> dict[str, Any]:
    """A results.json written by `ivgr eval`, or DataError naming the file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:  # str(err) repeats the path: "[Errno 2] No such file or directory: 'x.json'"
        raise DataError(f"{path}: cannot read results file ({err.strerror or type(err).__name__})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a results file written by `ivgr eval` (not JSON: {err})") from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise DataError(f"{path}: not an ivgr eval results file (missing \"format\": \"{RESULTS_FORMAT}\")")
    return data


def _label(res: dict[str, Any], path: str | None) -> str:
    name = Path(res["model"]).name or res["model"]
    return f"{name} [{res['mode']}]" + (f" ({Path(path).name})" if path else "")


def table_rows(runs: list[tuple[str | None, dict[str, Any]]], profiles: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per (run, profile); cells are headline percentages."""
    names = [b for b in PAPER_ORDER if any(b in r["benchmarks"] for _, r in runs)]
    names += sorted({b for _, r in runs for b in r["benchmarks"]} - set(names))
    columns = []
    for b in names:
        col = next(r["benchmarks"][b].get("column") for _, r in runs if b in r["benchmarks"])
        columns.append(col or b)
    header = ["Run", "Profile", *columns, "Avg"]
    rows = []
    for path, res in runs:
        for prof in profiles or res.get("profiles") or [res.get("default_profile", "ivgr")]:
            cells, vals = [], []
            for b in names:
                v = res["benchmarks"].get(b, {}).get("scores", {}).get(prof, {}).get("headline")
                cells.append("—" if v is None else f"{v:.1f}")
                if v is not None:
                    vals.append(v)
            complete = len(vals) == len(names)
            avg = f"{sum(vals) / len(vals):.1f}" if vals and complete else "—"
            rows.append([_label(res, path if len(runs) > 1 else None), prof, *cells, avg])
    return header, rows


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    """The same table as CSV."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def details(res: dict[str, Any], profile: str) -> str:
    """One line per benchmark: headline name, counts, and the settings that change numbers."""
    lines = [f"model={res['model']} mode={res['mode']} profile={profile} min_pixels={res.get('min_pixels')} "
             f"max_pixels={res.get('max_pixels')} max_new_tokens={res.get('max_new_tokens')}"]
    for name, b in res["benchmarks"].items():
        s = b["scores"].get(profile, {})
        c = b["counts"]
        lines.append(f"  {name} v{b['version']}: {s.get('headline_name', '')} = {s.get('headline')} [{profile}]; "
                     f"items {c['items']}, skipped {c['skipped']}, unparsed {c['unparsed']}, judge {c['judge_used']}")
    return "\n".join(lines)


# Row counts of the public releases (their HF dataset cards; docs/evaluation.md), to check a local copy against.
EXPECTED_ROWS = {"vstar": 191, "hrbench4k": 800, "hrbench8k": 800, "mme_realworld_lite": 1919, "pope": 9000,
                 "realworldqa": 765, "cvbench2d": 1438, "cvbench3d": 1200}


def inspect_benchmark(bench: Any, data: Path) -> dict[str, Any]:
    """Schema facts of a local copy (docs/evaluation.md) without decoding images or a model."""
    from collections import Counter

    n, cats, answers, kinds, first = 0, Counter(), Counter(), Counter(), None
    n_choices = Counter()
    for item in bench.load(data):
        n += 1
        cats[item.category] += 1
        answers[item.answer] += 1
        kinds[item.kind] += 1
        n_choices[len(item.choices)] += 1
        if first is None:
            first = item.to_record()
    return {"benchmark": bench.name, "data": str(data), "rows": n, "expected_rows": EXPECTED_ROWS.get(bench.name),
            "categories": dict(cats.most_common()), "answers": dict(answers.most_common(12)),
            "kinds": dict(kinds), "options_per_item": dict(sorted(n_choices.items())), "first_item": first}
