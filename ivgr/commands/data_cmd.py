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
    """A rich progress bar usable as `progress(n)` callback; total may arrive later."""

    def __init__(self, description: str, total: int | None = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=_console(stderr=True), transient=False,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def set_total(self, total: int | None) -> None:
        self._progress.update(self._task, total=total)

    def __call__(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)


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


@data_app.command("validate")
def validate_cmd(
    path: str = typer.Argument(..., help="Data: .parquet, .jsonl, a folder of them, or a datasets save_to_disk folder (DIR@split)."),
    image_dir: Path | None = typer.Option(None, "--image-dir", help="Folder that relative image paths are joined with (default: the data file's folder)."),
    report: Path | None = typer.Option(None, "--report", help="Write every row with a problem or warning to this JSONL file."),
    columns: str | None = typer.Option(None, "--columns", help="Column mapping field=column,... (fields: sample_id, question, answer, image, boxes, datasource)."),
    max_image_pixels: int | None = typer.Option(None, "--max-image-pixels", help="Decompression-bomb limit (default 16384*16384)."),
) -> None:
    """Check every row; print a summary; exit 1 if any row is unusable.

    Checks: image present and decodable, question and answer non-empty, boxes of four finite numbers with x1<x2 and y1<y2 that overlap the image, sample_ids unique.

    Examples:

      ivgr data validate gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K

      ivgr data validate mine.jsonl --columns question=q,answer=a,image=img,boxes=bb --report bad.jsonl
    """
    from ivgr.data.adapters import parse_columns
    from ivgr.data.readers import count_rows, open_source
    from ivgr.data.validate import MAX_IMAGE_PIXELS, PROBLEMS, WARNINGS, validate

    source = open_source(path)
    mapping = parse_columns(columns)
    with _Bar("validate", count_rows(source)) as bar:
        summary = validate(
            source, image_dir=_image_dir(image_dir), columns=mapping, report=report, progress=bar,
            max_image_pixels=max_image_pixels or MAX_IMAGE_PIXELS,
        )
    console = _console()
    console.print(f"[bold]{summary.path}[/]: {summary.rows} rows, {summary.usable} usable, "
                  f"{summary.unusable} unusable")
    ds = ", ".join(f"{k}={v}" for k, v in summary.datasources.most_common())
    console.print(f"datasources: {ds or 'none'}")
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
    image_dir: Path | None = typer.Option(None, "--image-dir", help="Folder that relative image paths are joined with."),
    frame: str = typer.Option("pixel", "--frame", help="Box frame of the model: pixel (Qwen2.5-VL) | norm1000 (Qwen3-VL)."),
    min_pixels: int = typer.Option(3136, "--min-pixels", help="Smart-resize minimum pixel count (authors: 3136)."),
    max_pixels: int = typer.Option(3211264, "--max-pixels", help="Smart-resize maximum pixel count (authors: 3211264)."),
    paired_sources: str | None = typer.Option(None, "--paired-sources", help="Datasources trained as grounded+textual pairs, comma-separated; '*' = all. Default: treevgr."),
    single_sources: str | None = typer.Option(None, "--single-sources", help="Datasources trained as single-stream rows, comma-separated. Default: the authors' nine ours_* sources."),
    unknown_sources: str = typer.Option("drop", "--unknown-sources", help="Datasource in neither list: drop (counted) | paired | single."),
    resize_images: bool = typer.Option(True, "--resize-images/--no-resize-images", help="Write resized images, or only record the target size."),
    columns: str | None = typer.Option(None, "--columns", help="Column mapping field=column,..."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if OUT already holds this input prepared with these settings."),
    max_image_pixels: int | None = typer.Option(None, "--max-image-pixels", help="Decompression-bomb limit (default 16384*16384)."),
    workers: int | None = typer.Option(None, "--workers", help="Threads for image resizing (default: min(4, CPUs)); output is identical for any value."),
) -> None:
    """Convert a dataset into the prepared layout the trainer reads (samples.jsonl + images + manifest).

    Images are resized with Qwen's smart-resize rule; ground-truth boxes (original-image pixels) are converted into the model's frame; rows are split into paired / single by datasource. Every excluded row is counted by reason and listed in OUT/excluded.jsonl. Output appears atomically; re-running with the same input and settings does nothing.

    Examples:

      ivgr data prepare gvqa_and_mathdata.parquet --image-dir iVGR-RL-51K --out prepared/

      ivgr data prepare mine.jsonl --out prepared/ --frame norm1000 --paired-sources '*'
    """
    from ivgr.data.adapters import parse_columns
    from ivgr.data.prepare import PAIRED_SOURCES, SINGLE_SOURCES, PrepareConfig, parse_sources, prepare
    from ivgr.data.readers import open_source
    from ivgr.data.validate import MAX_IMAGE_PIXELS

    config = PrepareConfig(
        frame=frame, min_pixels=min_pixels, max_pixels=max_pixels,
        paired_sources=parse_sources(paired_sources, PAIRED_SOURCES),
        single_sources=parse_sources(single_sources, SINGLE_SOURCES),
        unknown_sources=unknown_sources, resize_images=resize_images, columns=parse_columns(columns),
        max_image_pixels=max_image_pixels or MAX_IMAGE_PIXELS,
        **({"workers": workers} if workers is not None else {}),
    )
    source = open_source(path)
    with _Bar("prepare") as bar:
        summary = prepare(
            source, out, config=config, image_dir=_image_dir(image_dir), force=force,
            progress=bar, on_total=bar.set_total,
        )
    console = _console()
    if summary.skipped:
        console.print(f"{out} already holds this input prepared with these settings "
                      f"({summary.kept} samples); nothing to do (use --force to rebuild)")
        return
    kinds = ", ".join(f"{k}={v}" for k, v in sorted(summary.kinds.items())) or "none"
    console.print(f"[bold]{out}[/]: kept {summary.kept} of {summary.rows} rows ({kinds}), "
                  f"{summary.images_written} images written, {summary.boxes} boxes")
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
