"""`ivgr sft`: cold-start supervised fine-tuning from a YAML recipe. Heavy imports happen inside."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ivgr.commands._util import is_main_process

logger = logging.getLogger(__name__)

HELP = """Cold-start SFT (docs/method.md#sft-cold-start): teach a VLM both formats, grounded CoT with <box>\\[x1,y1,x2,y2]</box> and textual CoT, before RL.

Reads SFT JSONL (one {"sample_id", "stream", "image", "prompt", "completion"} a line, written by `ivgr data sft-build` or the synthetic world), trains on completion tokens only, and saves OUTPUT_DIR/final: model, processor, sft_config.yaml and ivgr_run.json, loadable by `ivgr infer` and usable as model_path of `ivgr train` (the SFT and train recipes name their keys alike). TensorBoard logs go to OUTPUT_DIR/runs.

Overrides after the recipe: key=value or --key value (`ivgr sft --help-config` lists every key).

Examples:

  ivgr sft --config recipes/sft_tiny_cpu.yaml

  ivgr sft --config recipes/sft_tiny_cpu.yaml max_steps=5 output_dir=runs/sft-smoke

  ivgr sft --config recipes/sft_qwen2_5_vl_7b.yaml --model_path /models/Qwen2.5-VL-7B-Instruct --data_path data/sft.jsonl

  accelerate launch --num_processes 8 -m ivgr.cli sft --config recipes/sft_qwen2_5_vl_7b.yaml
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr sft` to the CLI."""

    @app.command(
        "sft",
        help=HELP,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def sft_command(
        ctx: typer.Context,
        config: Path = typer.Option(None, "--config", "-c", help="Recipe YAML (see recipes/sft_*.yaml)."),
        help_config: bool = typer.Option(False, "--help-config", help="List every recipe key with its default."),
    ) -> None:
        from ivgr.errors import ConfigError
        from ivgr.training.sft_config import config_help, load_sft_config

        if help_config:
            typer.echo(config_help())
            return
        if config is None:
            raise ConfigError("ivgr sft needs --config RECIPE.yaml (e.g. recipes/sft_tiny_cpu.yaml)")
        cfg = load_sft_config(config, list(ctx.args))  # config errors surface before heavy imports

        from ivgr.training.sft import run_sft
        from ivgr.training.train import shutdown_distributed

        try:
            final = run_sft(cfg, prepare_data=make_synthetic_sft_data)
        finally:
            shutdown_distributed()
        if is_main_process():
            typer.secho(f"done: SFT checkpoint {final}", fg=typer.colors.GREEN, err=True)


def make_synthetic_sft_data(cfg, write: bool):
    """`synthetic_scenes: N` without data_path: N synthetic scenes and their cold-start CoTs in
    OUTPUT_DIR/data (scenes/ + sft.jsonl), and the world's words for a tiny model's tokenizer.

    The synthetic world is a demo and test fixture, so it is made here at the command layer; the
    trainer reads prepared data only. Only the call with `write` (one process per node) writes.
    """
    from ivgr.data import synthetic
    from ivgr.training.sft import SFTData

    data_dir = Path(cfg.output_dir) / "data"
    jsonl = data_dir / "sft.jsonl"
    if write:
        summary = synthetic.generate(data_dir / "scenes", n=cfg.synthetic_scenes, seed=cfg.seed, split="sft")
        synthetic.write_sft_jsonl(jsonl, summary["dir"], textual_fraction=cfg.synthetic_textual_fraction,
                                  seed=cfg.seed)
        logger.info("generated %d synthetic scenes for SFT in %s", cfg.synthetic_scenes, data_dir)
    return SFTData(jsonl, None, tuple(synthetic.world_vocabulary()))
