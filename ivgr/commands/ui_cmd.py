"""`ivgr ui`: the local web inspector (Gradio) for a checkpoint and, optionally, its training run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

HELP = """Open a local web page to ask a checkpoint questions about your images, and to browse a training run.

Ask tab: upload an image, type a question, choose textual, grounded or tool mode; see the reasoning, \
the answer and the predicted boxes drawn in the image's own pixels (tool mode: the crops and their union). \
"Textual vs grounded" runs both modes side by side. The same call is an API: \
Client(URL).predict(handle_file(IMG), QUESTION, MODE, api_name="/infer") -> (annotated image, reasoning, answer).

Run tab (with --run): the rollout archive (reference grounded reasoning, its boxes over the image, \
its box IoU, the step it entered), the logged completions per step with per-term rewards, and the \
reward curves per stream.

Needs the extra: pip install 'ivgr\\[ui]'. Binds 127.0.0.1 (this machine only) and makes no share link.

Examples:

  ivgr ui --model runs/tiny_cpu/final

  ivgr ui --model ivgr-demo/rl/ivgr/final --run ivgr-demo/rl/ivgr

  ivgr ui --model ckpt/ --port 8080 --max-new-tokens 1024
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr ui` to the CLI."""

    @app.command("ui", help=HELP)
    def ui_command(
        model: str = typer.Option(..., "--model", help="Local checkpoint directory, loaded once at start."),
        run: Optional[Path] = typer.Option(None, "--run", help="An `ivgr train` output directory, or a checkpoint in it."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the model to your network."),
        port: int = typer.Option(7860, "--port", help="Port to serve on."),
        max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="Generation budget per pass."),
        max_upload_mb: float = typer.Option(25.0, "--max-upload-mb", help="Largest upload accepted."),
        backend: str = typer.Option("hf", "--backend", help="hf or vllm."),
    ) -> None:
        from ivgr.errors import ConfigError

        started = time.perf_counter()
        try:
            import gradio  # noqa: F401 - only to check the extra is installed
        except ImportError:
            raise ConfigError("`ivgr ui` needs Gradio: pip install 'ivgr[ui]'") from None
        if not 0 < port < 65536:
            raise ConfigError(f"--port must be in 1..65535, got {port}")
        from ivgr.inference import InferenceEngine
        from ivgr.ui.app import build_app, launch
        from ivgr.ui.inspector import Inspector
        from ivgr.ui.run import open_run
        from ivgr.ui.upload import UploadLimits

        limits = UploadLimits(max_upload_mb=max_upload_mb)
        run_dir = open_run(run) if run is not None else None  # a bad --run fails before the model loads
        imported = time.perf_counter()
        engine = InferenceEngine(model, backend=backend, max_new_tokens=max_new_tokens, batch_size=1)
        loaded = time.perf_counter()
        page = build_app(Inspector(engine, limits=limits, run=run_dir))
        built = time.perf_counter()
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.secho(f"warning: binding {host}: anyone who can reach this machine can use the model",
                        err=True, fg=typer.colors.YELLOW)
        try:
            launch(page, host=host, port=port, max_file_size=limits.max_bytes)
        except OSError as err:
            raise ConfigError(f"cannot serve on {host}:{port} ({err}); pick another --port") from None
        ready = time.perf_counter()
        typer.secho(f"ivgr ui: serving {page.local_url}  (start-up {ready - started:.1f} s: imports "
                    f"{imported - started:.1f} s, model {loaded - imported:.1f} s, page {built - loaded:.1f} s, "
                    f"server {ready - built:.1f} s; Ctrl+C stops)", fg=typer.colors.GREEN)
        try:
            page.block_thread()
        finally:
            page.close()
