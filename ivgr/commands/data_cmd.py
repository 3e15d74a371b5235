"""`ivgr data`: validate, prepare and sft-build (the data pipeline, docs/data.md).

Top-level imports stay light (stdlib + typer); the work happens in `ivgr.data.*`, imported
inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

data_app = typer.Typer(
    name="data",
    help=(
        "Check and convert datasets: validate rows, prepare training data, build cold-start SFT data.\n\n"
        "Examples:\n\n"
        "  ivgr data validate gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K --report problems.jsonl\n\n"
        "  ivgr data prepare gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K --out prepared/\n\n"
        "  ivgr data sft-build --rollouts rollouts.jsonl --scores scores.jsonl --dataset prepared/ --out sft.jsonl"
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Attach the `data` sub-app to the main `ivgr` app."""
    app.add_typer(data_app, name="data")


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    # soft_wrap: summary lines stay whole when piped or in a narrow terminal (greppable logs)
    return Console(stderr=stderr, soft_wrap=True)


class _Bar:
    """A rich progress bar usable as `progress(n)` callback; total may arrive later.

    It appears with the first finished row, not before: input that is rejected up front
    (a missing column, an unwritable --report, a foreign --out) gives one error line and no bar.
    """

    def __init__(self, description: str, total: int | None = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from ivgr.commands._util import LazyProgress

        self._bar = LazyProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn())
        self._task = self._bar.progress.add_task(description, total=total)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def set_total(self, total: int | None) -> None:
        self._bar.progress.update(self._task, total=total)

    def __call__(self, n: int = 1) -> None:
        self._bar.live().advance(self._task, n)


def _image_dir(path: Path | None) -> Path | None:
    from ivgr.errors import DataError

    if path is not None and not path.is_dir():
        raise DataError(f"--image-dir {path}: not a directory")
    return path


def _issue_table(title: str, counts: dict[str, int], examples: dict[str, list[str]], descriptions: dict[str, str]) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("code")
    table.add_column("rows", justify="right")
    table.add_column("meaning")
    table.add_column("examples (row: detail)")
    for code, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(code, str(n), descriptions.get(code, ""), "\n".join(examples.get(code, [])[:3]))
    return table


# Options of the row rules, shared by validate and prepare: validate checks with the settings
# prepare will use, so both must be given the same ones.
_IMAGE_DIR = typer.Option(None, "--image-dir", help="Folder that relative image paths are joined with (default: the data file's folder).")
_COLUMNS = typer.Option(None, "--columns", help="Column mapping field=column,... (fields: sample_id, question, answer, image, boxes, datasource).")
_FRAME = typer.Option("pixel", "--frame", help="Box frame of the model: pixel (Qwen2.5-VL) | norm1000 (Qwen3-VL).")
_MIN_PIXELS = typer.Option(3136, "--min-pixels", help="Smart-resize minimum pixel count (authors: 3136).")
_MAX_PIXELS = typer.Option(3211264, "--max-pixels", help="Smart-resize maximum pixel count (authors: 3211264).")
_PAIRED = typer.Option(None, "--paired-sources", help="Datasources trained as grounded+textual pairs, comma-separated; '*' = all. Default: treevgr.")
_SINGLE = typer.Option(None, "--single-sources", help="Datasources trained as single-stream rows, comma-separated. Default: the authors' nine ours_* sources.")
_UNKNOWN = typer.Option("drop", "--unknown-sources", help="Datasource in neither list: drop (counted) | paired | single.")
_MAX_IMAGE_PIXELS = typer.Option(None, "--max-image-pixels", help="Decompression-bomb limit (default 16384*16384).")
_WORKERS = typer.Option(None, "--workers", help="Threads for image decoding/resizing (default: min(4, CPUs)); results are identical for any value.")


def _rules(cls: Any, options: dict[str, Any], **extra: Any) -> Any:
    """RowRules (validate) or PrepareConfig (prepare) from the shared options; ConfigError if bad.

    `options` is the command's `locals()`: the parameters named like the shared options above.
    """
    from ivgr.data.adapters import parse_columns
    from ivgr.data.prepare import parse_sources
    from ivgr.data.validate import MAX_IMAGE_PIXELS, PAIRED_SOURCES, SINGLE_SOURCES

    o = options
    return cls(
        frame=o["frame"], min_pixels=o["min_pixels"], max_pixels=o["max_pixels"],
        paired_sources=parse_sources(o["paired_sources"], PAIRED_SOURCES),
        single_sources=parse_sources(o["single_sources"], SINGLE_SOURCES),
        unknown_sources=o["unknown_sources"], columns=parse_columns(o["columns"]),
        max_image_pixels=MAX_IMAGE_PIXELS if o["max_image_pixels"] is None else o["max_image_pixels"],
        **({"workers": o["workers"]} if o["workers"] is not None else {}), **extra,
    )


def _conversions_line(conversions: dict[str, int]) -> str | None:
    if not conversions:
        return None
    shown = ", ".join(f"{mode}={n}" for mode, n in sorted(conversions.items()))
    return f"converted to 8-bit RGB (rows, by source mode; 16-bit/float scaled): {shown}"


@data_app.command("validate")
def validate_cmd(
    path: str = typer.Argument(..., help="Data: .parquet, .jsonl, a folder of them, or a datasets save_to_disk folder (DIR@split)."),
    image_dir: Path | None = _IMAGE_DIR,
    report: Path | None = typer.Option(None, "--report", help="Write every row with a problem or warning to this JSONL file."),
    columns: str | None = _COLUMNS,
    max_image_pixels: int | None = _MAX_IMAGE_PIXELS,
    frame: str = _FRAME,
    min_pixels: int = _MIN_PIXELS,
    max_pixels: int = _MAX_PIXELS,
    paired_sources: str | None = _PAIRED,
    single_sources: str | None = _SINGLE,
    unknown_sources: str = _UNKNOWN,
    workers: int | None = _WORKERS,
) -> None:
    """Check every row exactly as `ivgr data prepare` will; print a summary; exit 1 if any row is unusable.

    Give the same settings you will give prepare: the unusable rows are then exactly the rows prepare excludes, with the same reasons. Checks: image present, within the pixel limit, fully decodable and convertible to RGB; question and answer non-empty; boxes of four finite numbers with x1<x2 and y1<y2 that overlap the image; datasource in a source list; aspect ratio accepted by smart-resize; boxes still at least one pixel after conversion; sample_ids unique.

    Examples:

      ivgr data validate gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K

      ivgr data validate mine.jsonl --columns question=q,answer=a,image=img,boxes=bb --paired-sources '*' --report bad.jsonl
    """
    from ivgr.data.readers import count_rows, open_source
    from ivgr.data.validate import PROBLEMS, WARNINGS, RowRules, validate

    rules = _rules(RowRules, locals())
    source = open_source(path)
    images = _image_dir(image_dir)
    with _Bar("validate", count_rows(source)) as bar:
        summary = validate(source, rules=rules, image_dir=images, report=report, progress=bar)
    console = _console()
    console.print(f"[bold]{summary.path}[/]: {summary.rows} rows, {summary.usable} usable, "
                  f"{summary.unusable} unusable")
    ds = ", ".join(f"{k}={v}" for k, v in summary.datasources.most_common())
    console.print(f"datasources: {ds or 'none'}")
    conversions = _conversions_line(summary.conversions)
    if conversions:
        console.print(conversions)
    if summary.problems:
        console.print(_issue_table("problems (row unusable)", summary.problems, summary.examples, PROBLEMS))
    if summary.warnings:
        console.print(_issue_table("warnings (row still usable)", summary.warnings, summary.examples, WARNINGS))
    if report:
        console.print(f"report: {report}")
    if summary.unusable:
        typer.secho(f"ivgr: {summary.unusable} of {summary.rows} rows are unusable", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    if summary.rows == 0:
        typer.secho(f"ivgr: {path} holds no rows", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    console.print("[green]all rows usable[/]")


@data_app.command("prepare")
def prepare_cmd(
    path: str = typer.Argument(..., help="Input data: .parquet, .jsonl, a folder of them, or a datasets save_to_disk folder (DIR@split)."),
    out: Path = typer.Option(..., "--out", help="Output directory of the prepared dataset."),
    image_dir: Path | None = _IMAGE_DIR,
    frame: str = _FRAME,
    min_pixels: int = _MIN_PIXELS,
    max_pixels: int = _MAX_PIXELS,
    paired_sources: str | None = _PAIRED,
    single_sources: str | None = _SINGLE,
    unknown_sources: str = _UNKNOWN,
    resize_images: bool = typer.Option(True, "--resize-images/--no-resize-images", help="Write resized images, or only record the target size."),
    columns: str | None = _COLUMNS,
    force: bool = typer.Option(False, "--force", help="Rebuild even if OUT already holds this input prepared with these settings."),
    max_image_pixels: int | None = _MAX_IMAGE_PIXELS,
    workers: int | None = _WORKERS,
) -> None:
    """Convert a dataset into the prepared layout the trainer reads (samples.jsonl + images + manifest).

    Rows are checked exactly as `ivgr data validate` checks them. Images are converted to 8-bit RGB (16-bit and float images scaled, not clipped) and resized with Qwen's smart-resize rule; ground-truth boxes (original-image pixels) are converted into the model's frame; rows are split into paired / single by datasource. Every excluded row is counted by reason and listed in OUT/excluded.jsonl in row order. Output appears atomically; re-running with the same input and settings does nothing. Staging folders of killed runs are removed by every run.

    Examples:

      ivgr data prepare gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K --out prepared/

      ivgr data prepare mine.jsonl --out prepared/ --frame norm1000 --paired-sources '*'
    """
    from ivgr.data.prepare import PrepareConfig, prepare
    from ivgr.data.readers import open_source

    config = _rules(PrepareConfig, locals(), resize_images=resize_images)
    source = open_source(path)
    images = _image_dir(image_dir)
    with _Bar("prepare") as bar:
        summary = prepare(
            source, out, config=config, image_dir=images, force=force, progress=bar, on_total=bar.set_total,
        )
    console = _console()
    if summary.skipped:
        console.print(f"{out} already holds this input prepared with these settings "
                      f"({summary.kept} samples); nothing to do (use --force to rebuild)")
        return
    kinds = ", ".join(f"{k}={v}" for k, v in sorted(summary.kinds.items())) or "none"
    console.print(f"[bold]{out}[/]: kept {summary.kept} of {summary.rows} rows ({kinds}), "
                  f"{summary.images_written} images written, {summary.boxes} boxes")
    conversions = _conversions_line(summary.conversions)
    if conversions:
        console.print(conversions)
    from rich.table import Table

    table = Table(title="per datasource")
    table.add_column("datasource")
    table.add_column("paired", justify="right")
    table.add_column("single", justify="right")
    for ds, counts in sorted(summary.datasources.items()):
        table.add_row(ds, str(counts.get("paired", 0)), str(counts.get("single", 0)))
    console.print(table)
    if summary.excluded:
        excl = Table(title=f"excluded rows (listed in {out / 'excluded.jsonl'})")
        excl.add_column("reason")
        excl.add_column("rows", justify="right")
        for reason, n in summary.excluded.most_common():
            excl.add_row(reason, str(n))
        console.print(excl)
    if summary.kept == 0:
        typer.secho("ivgr: no row was kept; see the excluded reasons above", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


@data_app.command("sft-build")
def sft_build_cmd(
    rollouts: Path = typer.Option(..., "--rollouts", help="Grounded CoTs: JSONL of rollouts (the `ivgr score` input format), with scores inline or in --scores."),
    scores: Path | None = typer.Option(None, "--scores", help="The `ivgr score` output for --rollouts (joined line by line)."),
    unscored_as_correct: bool = typer.Option(False, "--unscored-as-correct", help="Rows without scores are curated CoTs: take them as correct (format and boxes still checked)."),
    out: Path = typer.Option(..., "--out", help="Output SFT JSONL (docs/CONTRACTS.md format)."),
    dataset: Path | None = typer.Option(None, "--dataset", help="Prepared dataset the rollouts' sample_ids come from (supplies image and question)."),
    min_box_iou: float = typer.Option(0.3, "--min-box-iou", help="Keep a question's best correct grounded rollout only if its box_iou >= this (authors: 0.3)."),
    textual_max_accuracy: float | None = typer.Option(None, "--textual-max-accuracy", help="Only questions whose textual rollouts' mean accuracy is <= this (authors used 0.4); default: all questions."),
    rewrites: int = typer.Option(5, "--rewrites", help="Textual rewrites per grounded CoT with an LLM (authors: 5); 1 with rules."),
    judge: str = typer.Option("rules", "--judge", help="rules (deterministic box stripping) | openai (LLM rewrites)."),
    judge_url: str | None = typer.Option(None, "--judge-url", help="OpenAI-compatible endpoint (else $IVGR_JUDGE_BASE_URL)."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Served model name (else $IVGR_JUDGE_MODEL)."),
    frame: str | None = typer.Option(None, "--frame", help="Frame named in the grounded prompt (default: the dataset manifest's, else pixel)."),
    no_grounded: bool = typer.Option(False, "--no-grounded", help="Write only the textual examples."),
    skip_judge_preflight: bool = typer.Option(False, "--skip-judge-preflight", help="With --judge openai: do not test the endpoint first."),
) -> None:
    """Build cold-start SFT examples (grounded as is + textual rewrites without boxes).

    Per question, the best correct grounded rollout (accuracy 1, format 1, box_iou >= --min-box-iou) is kept; its reasoning becomes a grounded example and --rewrites textual examples, rewritten by an LLM (--judge openai; each checked to keep every visual statement) or by deterministic box stripping (--judge rules).

    Examples:

      ivgr score rollouts.jsonl --out scores.jsonl

      ivgr data sft-build --rollouts rollouts.jsonl --scores scores.jsonl --dataset prepared/ --out sft.jsonl

      ivgr data sft-build --rollouts rollouts.jsonl --scores scores.jsonl --dataset prepared/ --out sft.jsonl --judge openai --judge-url http://localhost:8000/v1
    """
    from ivgr.data.sft_build import SftBuildConfig, build_rewriter, sft_build

    config = SftBuildConfig(
        min_box_iou=min_box_iou, rewrites=rewrites, frame=frame, include_grounded=not no_grounded,
        unscored_as_correct=unscored_as_correct, textual_max_accuracy=textual_max_accuracy,
    )
    rewriter = build_rewriter(judge, base_url=judge_url, model=judge_model)
    if rewriter is not None and not skip_judge_preflight:
        from ivgr.judges.config import JudgeConfig
        from ivgr.judges.preflight import check_judge_endpoints

        # One cheap request (as build_rewriter configures the judge): a dead endpoint stops here, in seconds.
        live = check_judge_endpoints(JudgeConfig(kind="openai", base_url=judge_url, model=judge_model))
        rewriter.use_preflight(live)  # type: ignore[attr-defined]  # a fleet's failed endpoints leave the rotation
    with _Bar("sft-build") as bar:
        summary = sft_build(rollouts, out, dataset=dataset, config=config, rewriter=rewriter, scores=scores,
                            progress=bar, on_total=bar.set_total)
    console = _console()
    console.print(
        f"[bold]{out}[/]: {summary.examples} examples ({summary.grounded} grounded, {summary.textual} textual) "
        f"from {summary.questions_selected} of {summary.questions_seen} questions; "
        f"{summary.rollouts} rollouts read"
    )
    for reason, n in sorted(summary.skipped.items()):
        console.print(f"  skipped {reason}: {n}")
    if summary.examples == 0:
        typer.secho("ivgr: no SFT example was built; see the skipped counts above", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
