"""The Gradio page of `ivgr ui`: an Ask tab (one model, three modes) and a Run tab (one training run).

API (documented in docs/ui.md; `gradio_client` or plain HTTP):

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    image, reasoning, answer = client.predict(handle_file("cat.png"), "What colour is the cat?", "grounded",
                                              api_name="/infer")

Every model event shares one concurrency slot ("model"): requests queue instead of running the one
model from two threads at once. Bad input raises `gr.Error`, which the page shows as a message and
an API client receives as an error; the server keeps serving.
"""

from __future__ import annotations

import os
from typing import Any

from ivgr.errors import IvgrError
from ivgr.ui.inspector import Answer, Inspector

MODEL_SLOT = "model"
TERM_CHOICES = ("total", "format", "accuracy", "box_valid", "box_iou", "consistency")


def _gradio() -> Any:
    # The inspector is local and offline: no usage reporting to Gradio's servers.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    return gr


def _page_error(err: IvgrError) -> Exception:
    gr = _gradio()
    return gr.Error(str(err), title="Cannot answer")


def launch(app: Any, *, host: str, port: int, max_file_size: int) -> None:
    """Serve `app` in background threads (returns once the server is up); no share link, ever."""
    gr = _gradio()
    # System fonts: the default theme would fetch its fonts from a web font service.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    # _frontend=False skips Gradio's own "is localhost reachable" probe: it gives up after 3 s
    # and then demands a share link, which a loaded 2-core machine hit. We probe with patience.
    app.launch(server_name=host, server_port=port, share=False, max_file_size=max_file_size, show_error=True,
               ssr_mode=False, quiet=True, prevent_thread_lock=True, footer_links=["api"], theme=theme,
               _frontend=False)
    wait_until_serving(app.local_url)


def wait_until_serving(url: str, *, timeout_s: float = 120.0) -> None:
    """Return once `url` answers; ConfigError if it never does within `timeout_s`."""
    import time

    import httpx

    from ivgr.errors import ConfigError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.head(url, timeout=10).status_code < 400:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ConfigError(f"the page at {url} does not answer; is a proxy (HTTP_PROXY) catching local addresses?")
        time.sleep(0.5)


def build_app(inspector: Inspector) -> Any:
    """The page as a `gr.Blocks` (not launched)."""
    gr = _gradio()
    with gr.Blocks(title="ivgr inspector", analytics_enabled=False) as app:
        gr.Markdown(f"## ivgr inspector\n`{inspector.engine.model_path}` · {inspector.engine.frame} frame")
        with gr.Tab("Ask"):
            _ask_tab(gr, inspector)
        if inspector.run is not None:
            with gr.Tab("Run"):
                _run_tab(gr, app, inspector)
    return app


def _ask_tab(gr: Any, inspector: Inspector) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                              elem_id="ivgr-upload")
            question = gr.Textbox(label="Question", lines=2, elem_id="ivgr-question",
                                  placeholder="What colour is the car on the left?")
            mode = gr.Radio(["textual", "grounded", "tool"], value="grounded", label="Mode",
                            info="textual: no boxes (iVGR's default) · grounded: boxes in the reasoning · "
                                 "tool: crops of the boxes fed back")
            with gr.Row():
                run = gr.Button("Ask", variant="primary", elem_id="ivgr-ask")
                both = gr.Button("Textual vs grounded", elem_id="ivgr-compare")
        with gr.Column(scale=1):
            annotated = gr.Image(label="Predicted boxes (image pixels)", type="pil", format="png",
                                 interactive=False, elem_id="ivgr-annotated")
            answer = gr.Textbox(label="Answer", elem_id="ivgr-answer")
            reasoning = gr.Textbox(label="Reasoning", lines=6)
            crops = gr.Gallery(label="Tool mode: crops and their union", visible=False, columns=4, height=220)
            info = gr.Textbox(label="Details", lines=2)
    with gr.Row(visible=False) as side_by_side:
        with gr.Column():
            gr.Markdown("### textual")
            t_answer = gr.Textbox(label="Answer")
            t_reasoning = gr.Textbox(label="Reasoning", lines=6)
        with gr.Column():
            gr.Markdown("### grounded")
            g_image = gr.Image(label="Predicted boxes", type="pil", format="png", interactive=False)
            g_answer = gr.Textbox(label="Answer")
            g_reasoning = gr.Textbox(label="Reasoning", lines=6)
    extras = gr.State()

    def infer(image: Any, text: Any, chosen: Any) -> tuple[Any, str, str, Answer]:
        """(image, question, mode) -> (annotated image, reasoning, answer); mode: textual | grounded | tool."""
        try:
            result = inspector.ask(image, text, chosen)
        except IvgrError as err:
            raise _page_error(err) from None
        return result.annotated, result.reasoning, result.answer, result

    def show_extras(result: Answer) -> tuple[Any, str]:
        return gr.update(value=result.crops, visible=result.mode == "tool"), result.info

    def compare(image: Any, text: Any) -> tuple[Any, ...]:
        """(image, question) -> textual (reasoning, answer) and grounded (annotated image, reasoning, answer)."""
        try:
            textual, grounded = inspector.compare(image, text)
        except IvgrError as err:
            raise _page_error(err) from None
        return (gr.update(visible=True), textual.answer, textual.reasoning,
                grounded.annotated, grounded.answer, grounded.reasoning)

    # preprocess=False: the handler reads the upload itself (size and pixel caps before decoding);
    # Gradio still checks that the path is one of its own uploads.
    run.click(infer, [upload, question, mode], [annotated, reasoning, answer, extras], api_name="infer",
              preprocess=False, concurrency_id=MODEL_SLOT, concurrency_limit=1
              ).success(show_extras, extras, [crops, info], api_visibility="private")
    both.click(compare, [upload, question], [side_by_side, t_answer, t_reasoning, g_image, g_answer, g_reasoning],
               api_name="compare", preprocess=False, concurrency_id=MODEL_SLOT, concurrency_limit=1)


def _run_tab(gr: Any, app: Any, inspector: Inspector) -> None:
    from ivgr.ui import run as runs

    run = inspector.run
    frame = run.config.get("frame") or inspector.engine.frame

    def load_all() -> tuple[list, list[int], list[dict]]:
        refs = runs.references(run)
        return refs, runs.completion_steps(run), runs.history(run)

    refs, steps, history = load_all()
    state = gr.State({"refs": refs, "history": history})
    gr.Markdown(f"Run `{run.root}` · archive from `{run.checkpoint or 'none'}` · dataset `{run.data_dir or 'not found'}`")
    reload_button = gr.Button("Reload the run's files", size="sm")
    with gr.Tab("Rollout archive"):
        gr.Markdown("The reference grounded reasoning per question: green = its boxes, orange = ground truth.")
        picker = gr.Dropdown(choices=_ref_choices(refs), label=f"Question ({len(refs)} archived)",
                             value=0 if refs else None, elem_id="ivgr-archive-pick")
        with gr.Row():
            ref_image = gr.Image(label="Reference boxes over the image", type="pil", format="png", interactive=False)
            with gr.Column():
                ref_meta = gr.Markdown()
                ref_think = gr.Textbox(label="Reference grounded reasoning", lines=8)
    with gr.Tab("Completions"):
        step_pick = gr.Dropdown(choices=steps, value=steps[-1] if steps else None, label="Logged step")
        table = gr.Dataframe(label="Completions with per-term rewards (empty: the run had log_completions: false)",
                             wrap=True, interactive=False)
    with gr.Tab("Reward curves"):
        term = gr.Dropdown(choices=list(TERM_CHOICES), value="total", label="Term")
        plot = gr.LinePlot(x="step", y="value", color="stream", label="Reward per stream", height=320)

    def show_ref(index: Any, current: dict) -> tuple[Any, str, str]:
        items = current["refs"]
        if index is None or not 0 <= int(index) < len(items):
            return None, "No archived reference (the archive is empty).", ""
        ref = items[int(index)]
        meta = (f"**{ref.sample_id}** · box IoU **{ref.box_iou:.3f}** · entered at step **{ref.step}**\n\n"
                f"Question: {ref.question or '(dataset not found)'}\n\nGround-truth answer: {ref.answer or '-'}")
        image = runs.draw_reference(ref, frame=frame, model_size=inspector.engine.target_size)
        return image, meta, ref.think

    def show_step(step: Any) -> Any:
        import pandas as pd

        return runs.completions(run, int(step)) if step is not None else pd.DataFrame()

    def show_curve(chosen: str, current: dict) -> Any:
        import pandas as pd

        points = runs.reward_curves(current["history"], chosen)
        return pd.DataFrame(points or [], columns=["step", "stream", "value"])

    def reload(chosen: str) -> tuple[Any, ...]:
        new_refs, new_steps, new_history = load_all()
        current = {"refs": new_refs, "history": new_history}
        return (current, gr.update(choices=_ref_choices(new_refs), value=0 if new_refs else None,
                                   label=f"Question ({len(new_refs)} archived)"),
                gr.update(choices=new_steps, value=new_steps[-1] if new_steps else None), show_curve(chosen, current))

    picker.change(show_ref, [picker, state], [ref_image, ref_meta, ref_think], api_visibility="private")
    step_pick.change(show_step, step_pick, table, api_visibility="private")
    term.change(show_curve, [term, state], plot, api_visibility="private")
    reload_button.click(reload, term, [state, picker, step_pick, plot], api_visibility="private")
    app.load(show_ref, [picker, state], [ref_image, ref_meta, ref_think], api_visibility="private")
    app.load(show_step, step_pick, table, api_visibility="private")
    app.load(show_curve, [term, state], plot, api_visibility="private")


def _ref_choices(refs: list) -> list[tuple[str, int]]:
    return [(ref.label, i) for i, ref in enumerate(refs)]


__all__ = ["build_app", "launch"]
