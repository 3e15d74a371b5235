"""The `ivgr` console command. Only this module and `ivgr/commands/` write to the terminal.

Each command lives in `ivgr/commands/<name>.py` and exposes `register(app)`. Those modules
import nothing heavy at module level (no torch/transformers/trl), so `ivgr --help` and
`ivgr score` start fast; the heavy imports happen inside the command body.
"""

from __future__ import annotations

import logging
import os

import typer

from ivgr.errors import IvgrError

app = typer.Typer(
    name="ivgr",
    help=(
        "iVGR: train, run and evaluate visually grounded reasoning models.\n\n"
        "Examples:\n\n"
        "  ivgr demo --out ivgr-demo          # the whole method on a CPU, offline\n\n"
        "  ivgr score rollouts.jsonl --out scores.jsonl\n\n"
        "  ivgr train --config recipes/tiny_cpu.yaml\n\n"
        "Set IVGR_DEBUG=1 to see full tracebacks."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    from ivgr.commands import COMMAND_MODULES

    for module in COMMAND_MODULES:
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point: run the app, turn IvgrError into one red line and its exit status (1)."""
    logging.basicConfig(
        level=os.environ.get("IVGR_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        app()
    except IvgrError as err:
        if os.environ.get("IVGR_DEBUG"):
            raise
        typer.secho(f"ivgr: error: {err}", err=True, fg=typer.colors.RED)
        raise SystemExit(err.exit_code) from None
    except KeyboardInterrupt:
        typer.secho("ivgr: interrupted", err=True, fg=typer.colors.YELLOW)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
