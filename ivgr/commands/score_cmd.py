"""`ivgr score`: score a JSONL of rollouts offline, exactly as training does.

Top-level imports stay light (stdlib + typer); the scorer and judges load inside the command.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ivgr.fileio import atomic_write_text

HELP = """Score rollouts (grounded / textual / single) offline, exactly as training does.

Input: one JSON object a line with sample_id, stream, question, answer, completion and
optionally target_boxes [[x1,y1,x2,y2], ...], datasource and step (default 0). Rows are
scored step by step in ascending step: grounded rows first, then the rollout archive is
updated, then textual rows are compared with the archived reference of their sample_id.
Output: one JSON object a line, in input order, with total, format, accuracy, box_valid,
box_iou, consistency (null where a term does not apply), reference and judge_errors.
A bad input line is reported with its line number and skipped; the command then exits 1.
With --judge openai, every endpoint gets one probe request while scoring starts; no score is
written unless the judge passes it, and an endpoint of a fleet that fails it is left out
(--skip-judge-preflight skips it). The command exits 1 when more than --max-failed-share of the judge questions fell back
after failed calls; the output is still written in full, with judge_errors per row.

Examples:

  ivgr score rollouts.jsonl --out scores.jsonl

  ivgr score rollouts.jsonl --archive archive.json          # keep the archive across runs

  ivgr score rollouts.jsonl --judge openai --judge-url http://localhost:8000/v1 --judge-model judge

  IVGR_JUDGE_API_KEY=... ivgr score rollouts.jsonl --judge openai --judge-url https://api.example.com/v1
"""

_STREAMS = ("grounded", "textual", "single")
_REQUIRED = ("sample_id", "stream", "question", "answer", "completion")


class BadRow(ValueError):
    """An input line that cannot be scored; the message names the problem."""


def register(app: typer.Typer) -> None:
    """Add `ivgr score` to the app."""

    @app.command("score", help=HELP)
    def score(
        rollouts: Path = typer.Argument(..., help="JSONL file of rollouts to score.", show_default=False),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write scores here (default: stdout)."),
        judge: str = typer.Option("rules", "--judge", help="Judge: rules (offline) or openai."),
        judge_url: Optional[str] = typer.Option(
            None, "--judge-url", help="OpenAI-compatible endpoint (else $IVGR_JUDGE_BASE_URL)."
        ),
        judge_model: Optional[str] = typer.Option(
            None, "--judge-model", help="Served judge model name (else $IVGR_JUDGE_MODEL, else 'judge')."
        ),
        archive: Optional[Path] = typer.Option(
            None, "--archive", help="Rollout archive JSON: loaded if it exists, written back at the end."
        ),
        scorer_config: Optional[Path] = typer.Option(
            None, "--scorer-config", help="YAML mapping of ScorerConfig fields (weights, archive_min_box_iou, ...)."
        ),
        max_failed_share: float = typer.Option(
            0.2, "--max-failed-share", min=0.0, max=1.0,
            help="Exit 1 when more than this share of judge questions fell back after failed calls (1 = never).",
        ),
        skip_judge_preflight: bool = typer.Option(
            False, "--skip-judge-preflight", help="Do not test the judge endpoint before scoring."
        ),
    ) -> None:
        run_score(
            rollouts, out=out, judge=judge, judge_url=judge_url, judge_model=judge_model,
            archive_path=archive, scorer_config=scorer_config, max_failed_share=max_failed_share,
            preflight=not skip_judge_preflight,
        )


def run_score(
    rollouts: Path,
    *,
    out: Path | None = None,
    judge: str = "rules",
    judge_url: str | None = None,
    judge_model: str | None = None,
    archive_path: Path | None = None,
    scorer_config: Path | None = None,
    max_failed_share: float = 0.2,
    preflight: bool = True,
) -> None:
    """Read, score step by step, write in input order; at the end JudgeError if more than
    `max_failed_share` of the judge questions fell back, else DataError if a line was bad."""
    from ivgr.archive import RolloutArchive
    from ivgr.errors import ConfigError, DataError, JudgeError
    from ivgr.judges import build_judge
    from ivgr.judges.config import JudgeConfig
    from ivgr.rewards.config import ScorerConfig
    from ivgr.rewards.scorer import Scorer

    config = _load_scorer_config(scorer_config) if scorer_config else ScorerConfig()
    if judge not in ("rules", "openai"):
        raise ConfigError(f"--judge must be rules or openai, got {judge!r}")
    judge_config = JudgeConfig.from_env(kind=judge, base_url=judge_url, model=judge_model)
    rows, bad = read_rollouts(rollouts)
    if not rows and not bad:
        # An empty input is almost always a wrong path or a failed upstream step: say so, write nothing.
        raise DataError(f"{rollouts}: no rollouts (the file is empty or holds only blank lines); nothing to score")
    outcome = None
    judge_obj = build_judge(judge_config)
    if preflight and judge_config.kind == "openai":
        from ivgr.judges.preflight import start_preflight

        # The probes run alongside the scoring and every verdict waits for them: no time on the
        # critical path, and a judge that fails them stops the command before anything is written.
        outcome = start_preflight(judge_config)
        judge_obj.use_preflight(outcome)  # type: ignore[attr-defined]
    arch = RolloutArchive.load(archive_path) if archive_path and archive_path.exists() else RolloutArchive()
    for lineno, message in bad:
        typer.secho(f"ivgr: {rollouts}: line {lineno}: {message} (row skipped)", err=True, fg=typer.colors.RED)

    scorer = Scorer(config=config, judge=judge_obj, archive=arch)
    results = _score_by_step(scorer, rows)
    if outcome is not None:
        outcome.result()  # JudgeError even when the rules settled every row and no verdict waited
    _write_jsonl(out, [results[i] for i in range(len(rows))])
    if archive_path:
        arch.save(archive_path)
    counts = scorer.metrics([])  # counters of the whole run: score() never resets them
    fell_back, asked = int(counts["judge/fallbacks"]), int(counts["judge/calls"] - counts["judge/rules"])
    judge_errors = sum(int(o["judge_errors"]) for o in results.values())
    typer.secho(
        f"ivgr score: {len(rows)} row(s) scored over {len({r.step for _, r in rows})} step(s); "
        f"archive holds {len(arch)} reference(s); {judge_errors} failed judge call(s)"
        + (f"; scores in {out}" if out else ""),
        err=True,
        fg=typer.colors.YELLOW if judge_errors else None,
    )
    if asked and fell_back / asked > max_failed_share:
        raise JudgeError(
            f"{fell_back} of {asked} judge questions ({fell_back / asked:.0%}) fell back after failed calls, more than "
            f"--max-failed-share {max_failed_share:g}; the scores" + (f" in {out}" if out else "") + " are complete "
            "but those terms hold fallback values (judge_errors > 0); fix the judge endpoint and rerun"
        )
    if bad:
        lines = ", ".join(str(n) for n, _ in bad[:20]) + (" ..." if len(bad) > 20 else "")
        raise DataError(f"{rollouts}: {len(bad)} bad line(s) skipped (line {lines}); fix them and rerun")


def read_rollouts(path: Path) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """Parse the JSONL: ([(line number, Rollout)], [(line number, error message)]). Blank lines are skipped."""
    from ivgr.errors import DataError
    from ivgr.rewards.scorer import Rollout

    try:
        fh = path.open(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"{path}: cannot read rollouts ({err.strerror or err}); pass an existing JSONL file") from None
    rows: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, Rollout(**_validate_row(line))))
            except (BadRow, DataError) as err:
                bad.append((lineno, str(err)))
    return rows, bad


def _validate_row(line: str) -> dict[str, Any]:
    """Check one JSON line against the `ivgr score` input contract; BadRow says what is wrong."""
    from ivgr.jsonl import JsonLineError, parse_json_object

    try:
        obj = parse_json_object(line)
    except JsonLineError as err:
        raise BadRow(str(err)) from None
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise BadRow(f"missing key(s) {', '.join(missing)}")
    if obj["stream"] not in _STREAMS:
        raise BadRow(f"stream must be one of {', '.join(_STREAMS)}, got {obj['stream']!r}")
    row: dict[str, Any] = {"stream": obj["stream"]}
    for key in ("sample_id", "question", "answer", "completion"):
        value = obj[key]
        # Ids and answers are often numbers in the wild (the authors' ids were ints).
        if key in ("sample_id", "answer") and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise BadRow(f"{key} must be a string, got {type(value).__name__}")
        row[key] = value
    row["datasource"] = str(obj.get("datasource") or "unknown")
    step = obj.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise BadRow(f"step must be an integer >= 0, got {step!r}")
    row["step"] = step
    row["target_boxes"] = _validate_boxes(obj.get("target_boxes") or [])
    return row


def _validate_boxes(boxes: Any) -> list[tuple[float, float, float, float]]:
    """target_boxes must be a list of [x1, y1, x2, y2] with finite numbers, x1 < x2, y1 < y2."""
    if not isinstance(boxes, list):
        raise BadRow(f"target_boxes must be a list of [x1, y1, x2, y2], got {type(boxes).__name__}")
    out = []
    for i, b in enumerate(boxes):
        ok = (
            isinstance(b, list) and len(b) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b)
        )
        if not ok or not (b[0] < b[2] and b[1] < b[3]):
            raise BadRow(f"target_boxes[{i}] must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2, got {b!r}")
        out.append(tuple(float(v) for v in b))
    return out


def _score_by_step(scorer: Any, rows: list[tuple[int, Any]]) -> dict[int, dict[str, Any]]:
    """Score each step's rows in ascending step; returns {row position: output object}."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    by_step: dict[int, list[int]] = {}
    for pos, (_, r) in enumerate(rows):
        by_step.setdefault(r.step, []).append(pos)
    results: dict[int, dict[str, Any]] = {}
    progress = Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True, disable=len(rows) < 500,
    )
    with progress:
        task = progress.add_task("score", total=len(rows))
        for step in sorted(by_step):
            positions = by_step[step]
            scores = scorer.score_batch([rows[p][1] for p in positions], step=step)
            for p, s in zip(positions, scores, strict=True):
                results[p] = s.to_dict()
            progress.advance(task, len(positions))
    return results


def _write_jsonl(out: Path | None, objs: list[dict[str, Any]]) -> None:
    """Write JSON lines to `out` atomically (temp file, then rename), or to stdout."""
    text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    atomic_write_text(out, text)


def _load_scorer_config(path: Path) -> Any:
    """ScorerConfig from a YAML mapping (or a recipe's `scorer:` section); ConfigError naming the file."""
    from ivgr.errors import ConfigError
    from ivgr.recipes import read_yaml
    from ivgr.rewards.config import ScorerConfig

    data = read_yaml(path, what="scorer config")
    data = data.get("scorer", data)  # accept a recipe with a `scorer:` section too
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key 'scorer' must be a mapping of ScorerConfig fields")
    return ScorerConfig.from_dict(data, where=str(path))
