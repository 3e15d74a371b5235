"""`ivgr train`: dual-stream GRPO from a YAML recipe. Heavy imports happen inside the command."""

from __future__ import annotations

from pathlib import Path

import typer

from ivgr.commands._util import is_main_process

SYNTHETIC_SCENES = 32  # `data_path: synthetic`: enough paired scenes for a few tiny CPU steps

HELP = """Dual-stream GRPO (grounded + textual + single streams) on TRL.

Overrides after the recipe are key=value (or --key value); dotted keys reach the judge and
scorer settings. Works as one process or under `accelerate launch` / `torchrun`.

Examples:

  ivgr train --config recipes/tiny_cpu.yaml

  ivgr train --config recipes/tiny_cpu.yaml max_steps=3 output_dir=runs/tiny

  ivgr train --config recipes/ivgr_qwen2_5_vl_7b.yaml judge.kind=openai judge.base_url=http://judge:8000/v1

  ivgr train --config recipes/tiny_cpu.yaml --resume        # continue from the newest checkpoint

With an openai judge, each endpoint gets one request before the model loads (a dead judge,
a rejected key or an unknown model stops the run in seconds; --skip-judge-preflight skips
it). A step in which more than judge_max_failed_share (0.2) of the judge questions failed is
retried for up to judge_outage_wait_s (900 s), then the run saves a checkpoint and exits
with status 75; rerun with --resume once the judge is back (docs/judges.md).

  accelerate launch --config_file recipes/accelerate/deepspeed_zero3.yaml -m ivgr.cli train --config recipes/ivgr_qwen2_5_vl_7b.yaml

The final model (+ processor, archive.json, config.yaml, ivgr.json) goes to OUTPUT_DIR/final;
TensorBoard logs to OUTPUT_DIR/runs (tensorboard --logdir OUTPUT_DIR).
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr train` to the CLI."""

    @app.command(
        "train",
        help=HELP,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def train_command(
        ctx: typer.Context,
        config: Path = typer.Option(..., "--config", "-c", help="Recipe YAML (see recipes/)."),
        resume: bool = typer.Option(False, "--resume", help="Resume from the newest complete checkpoint in output_dir."),
        skip_judge_preflight: bool = typer.Option(
            False, "--skip-judge-preflight", help="Do not test the judge endpoints before loading the model."
        ),
    ) -> None:
        from rich.console import Console

        from ivgr.training.callbacks import RichProgress
        from ivgr.training.config import load_config
        from ivgr.training.train import shutdown_distributed, train

        overrides = list(ctx.args) + (["judge_preflight=false"] if skip_judge_preflight else [])
        cfg, resolved = load_config(config, overrides)
        _quiet_library_output()  # the rich bar and one line per step are the CLI's output
        console = Console(stderr=True)
        is_main = is_main_process()
        try:
            result = train(
                cfg,
                resolved=resolved,
                resume=True if resume else None,
                callbacks=[RichProgress(console=console)],
                sink=(lambda line: console.print(line, soft_wrap=True)) if is_main else None,
                prepare_data=make_synthetic_data,  # after the judge preflight: a dead judge writes nothing
            )
        finally:
            shutdown_distributed()
        if is_main:
            console.print(
                f"[green]done[/green]: {result.global_step} steps, archive {len(result.archive)} entries, "
                f"final checkpoint {result.checkpoint}"
            )


def make_synthetic_data(cfg) -> None:
    """`data_path: synthetic`: write the synthetic world once into OUTPUT_DIR/synthetic-data and train on it.

    The synthetic world is a demo and test fixture, so it is made here at the command layer; the
    trainer reads prepared datasets only. The recorded recipe (config.yaml) keeps `synthetic`.
    """
    from ivgr.training.config import SYNTHETIC_DATA

    if cfg.data_path != SYNTHETIC_DATA:
        return
    from accelerate import PartialState

    from ivgr.data.synthetic import generate

    path = Path(cfg.output_dir) / "synthetic-data"
    with PartialState().main_process_first():  # one rank writes it, the others then read it
        if not (path / "samples.jsonl").is_file():
            generate(path, n=SYNTHETIC_SCENES, seed=cfg.seed, split="train")
    cfg.data_path = str(path)


def _quiet_library_output() -> None:
    import warnings

    import datasets
    import transformers

    # TRL 1.16 itself still calls the renamed transformers 5 API; nothing a user can act on.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()

