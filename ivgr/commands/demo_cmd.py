"""`ivgr demo`: the embedded default run. Heavy imports happen inside the command body."""

from __future__ import annotations

import time
from pathlib import Path

import typer

HELP = """Run iVGR end to end on a CPU, offline: synthetic fine-grained world -> cold-start SFT -> dual-stream GRPO (rules judge) -> held-out evaluation + ablations -> OUT/metrics.json and a self-contained OUT/report.html.

Stages cache their outputs in OUT, so an interrupted run resumes where it stopped (--restart starts over).

Examples:

  ivgr demo --out ivgr-demo                  # default: full iVGR + one ablation

  ivgr demo --out ivgr-demo-full --full      # all five RL variants of the paper's ablation

  ivgr demo --out demo-s1 --seed 1           # another world and model seed

  ivgr demo --out smoke --quick              # tiny settings: checks the plumbing in about a minute

  ivgr demo --out d sft_scenes=1000 rl.max_steps=50   # key=value overrides; a dotted key reaches a section

  ivgr demo --config my-demo.yaml --out ivgr-demo     # a YAML with only the keys it changes

The defaults are the package's ivgr/demo.yaml, which lists every key; YAML and overrides work as
for `ivgr train` (key=value or --key value; a bare --flag only for a true/false key).
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr demo` to the CLI."""

    @app.command("demo", help=HELP, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def demo_command(
        ctx: typer.Context,
        out: Path = typer.Option(Path("ivgr-demo"), "--out", "-o", help="Output directory (stages are cached here)."),
        full: bool = typer.Option(False, "--full", help="Run every RL ablation variant, not just iVGR + one."),
        seed: int = typer.Option(None, "--seed", help="World and model seed (default: the recipe's, 0)."),
        config: Path = typer.Option(None, "--config", "-c", help="Demo settings YAML: only the keys to change (defaults: the package's ivgr/demo.yaml)."),
        quick: bool = typer.Option(False, "--quick", help="Tiny settings for smoke tests (plumbing, not learning)."),
        restart: bool = typer.Option(False, "--restart", help="Delete OUT's cached stages first."),
    ) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from ivgr.demo import load_settings, run_demo, stage_names

        settings = load_settings(config, full=full, seed=seed, quick=quick, overrides=list(ctx.args))
        console = Console(stderr=True)
        names = stage_names(settings)
        t0 = time.monotonic()
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("starting", total=len(names))
            seen: list[str] = []

            def on_stage(name: str) -> None:
                if seen:
                    progress.advance(task)
                seen.append(name)
                progress.update(task, description=f"stage {len(seen)}/{len(names)}: {name}")

            metrics = run_demo(out, settings, on_stage=on_stage, restart=restart)
            progress.update(task, completed=len(names), description="done")
        _print_summary(console, metrics, out, time.monotonic() - t0)


def _print_summary(console, metrics: dict, out: Path, wall: float) -> None:
    """The accuracy table on the terminal, then where the report is."""
    from rich.table import Table

    table = Table(title=f"held-out accuracy (chance {metrics['chance_accuracy']:.3f}; "
                        f"best constant box IoU {metrics['box_iou_constant_baseline']:.3f})")
    for col in ("model", "textual acc", "grounded acc", "box IoU", "format", "boxes in textual"):
        table.add_column(col)
    rows = [("sft", metrics["sft"]), ("ivgr", metrics["ivgr"]), *metrics["ablations"].items()]
    for name, m in rows:
        table.add_row(name, f"{m['textual_accuracy']:.3f}", f"{m['grounded_accuracy']:.3f}",
                      f"{m['grounded_box_iou']:.3f}", f"{m['format_rate']:.3f}", f"{m['textual_box_trace_rate']:.3f}")
    console.print(table)
    sft = metrics["sft"]
    if sft.get("stopped_early"):
        step, accuracy, iou = sft["validation_checks"][-1]
        console.print(f"cold start stopped after {step} SFT steps (grounded validation accuracy {accuracy:.2f} "
                      f">= {sft['stop_threshold']:.2f}, box IoU {iou:.2f} >= {sft['stop_box_iou'] or 0:.2f})")
    moved = [(name, m) for name, m in rows[:2] if "moved_box_follow_rate" in m]
    if moved:
        console.print("box moved onto another object: answer names that object's colour in "
                      + ", ".join(f"{name} {m['moved_box_follow_rate']:.2f} (own box {m['moved_box_follow_baseline']:.2f})"
                                  for name, m in moved))
    console.print(f"wrote {out / 'metrics.json'} and {out / 'report.html'} in {wall:.0f}s")
    rl = out / "rl" / "ivgr"
    console.print(f"inspect the iVGR model and its run: ivgr ui --model {rl / 'final'} --run {rl}  "
                  "(needs pip install 'ivgr[ui]')", soft_wrap=True, markup=False)
