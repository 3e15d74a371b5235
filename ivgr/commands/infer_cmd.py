"""`ivgr infer`: answer one question about one image in textual, grounded or tool mode."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = """Ask a local checkpoint one question about one image; print its reasoning and answer.

Modes: textual (iVGR's default: reasoning without boxes), grounded (boxes in the reasoning, \
printed in the original image's pixels), tool (grounded pass, then crops of the boxes and their \
union fed back with the image for a final textual answer).

A checkpoint written by ivgr (sft, train, demo) records its prompt style, box frame and pixel \
budget (ivgr_inference.json, docs/models.md); they are used unless a flag says otherwise, with \
one warning line where the flag differs from the record.

Examples:

  ivgr infer --model ckpt/ --image street.jpg --question "What colour is the car on the left?"

  ivgr infer --model ckpt/ --image street.jpg --question "Which sign is larger?" --mode grounded --save-vis boxes.png

  ivgr infer --model ckpt/ --image hr.jpg --question "What is written on the flag?" --mode tool --crops union --max-pixels 1605632
"""


def register(app: typer.Typer) -> None:
    """Add `ivgr infer` to the CLI."""

    @app.command("infer", help=HELP)
    def infer_command(
        model: str = typer.Option(..., "--model", help="Local checkpoint directory."),
        image: Path = typer.Option(..., "--image", help="Image file."),
        question: str = typer.Option(..., "--question", "-q", help="The question."),
        mode: str = typer.Option("textual", "--mode", help="textual | grounded | tool."),
        save_vis: Optional[Path] = typer.Option(None, "--save-vis", help="Write the image with boxes (and crops) drawn."),
        max_new_tokens: int = typer.Option(1024, "--max-new-tokens", help="Generation budget per pass."),
        min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Smart-resize lower bound (default: the checkpoint's record, else its processor's)."),
        max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Smart-resize upper bound (default: the checkpoint's record, else its processor's)."),
        backend: str = typer.Option("hf", "--backend", help="hf or vllm."),
        temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
        crops: str = typer.Option("crops+union", "--crops", help="Tool mode: crops | union | crops+union."),
        crop_margin: float = typer.Option(0.1, "--crop-margin", help="Tool mode: margin, a fraction of the box size."),
        max_crops: int = typer.Option(4, "--max-crops", help="Tool mode: most local crops."),
        prompt_style: Optional[str] = typer.Option(None, "--prompt-style", help="Stream prompt wording: standard | compact (default: the checkpoint's record, else standard)."),
    ) -> None:
        from ivgr.errors import ConfigError, DataError
        from ivgr.inference import InferenceEngine, InferenceRequest, ToolOptions, draw_result, load_image

        if mode not in ("textual", "grounded", "tool"):
            raise ConfigError(f"--mode must be textual, grounded or tool, got {mode!r}")
        if not image.is_file():
            raise DataError(f"--image {image}: no such file")
        img = load_image(image)
        engine = InferenceEngine(model, backend=backend, min_pixels=min_pixels, max_pixels=max_pixels,
                                 max_new_tokens=max_new_tokens, temperature=temperature, batch_size=1,
                                 tool=ToolOptions(style=crops, margin=crop_margin, max_crops=max_crops),
                                 prompt_style=prompt_style)
        [res] = engine.run([InferenceRequest(image=img, question=question)], mode=mode)
        typer.secho(f"mode: {mode}   image: {res.image_size[0]}x{res.image_size[1]} -> model "
                    f"{res.model_size[0]}x{res.model_size[1]} ({engine.frame} frame, {engine.prompt_style} prompts)",
                    fg=typer.colors.CYAN)
        if res.grounded_completion is not None:
            typer.echo(f"grounded pass:\n{res.grounded_completion}\n")
        typer.echo(f"reasoning:\n{res.reasoning if res.reasoning is not None else res.completion}\n")
        typer.secho(f"answer: {res.answer if res.answer is not None else '(no <answer> tag)'}", bold=True)
        for i, b in enumerate(res.boxes, start=1):
            typer.echo(f"box {i}: [{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}] (original pixels)")
        if mode == "tool":
            typer.echo(f"crops: {len(res.crops)}, union: {'yes' if res.union else 'no'}"
                       + ("  (no box predicted: textual fallback)" if res.tool_fallback else ""))
        if save_vis is not None:
            save_vis.parent.mkdir(parents=True, exist_ok=True)
            draw_result(img, res).save(save_vis)
            typer.echo(f"saved {save_vis}")
