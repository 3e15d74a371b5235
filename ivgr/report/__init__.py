"""Self-contained HTML report of a demo run: inline base64 PNGs (matplotlib, Agg), no network.

Sections: accuracy table; reward curves per stream; archive growth; example held-out scenes
with ground-truth (green) and predicted (red) boxes, grounded and textual CoTs side by side.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STREAM_COLOURS = {"grounded": "#d62728", "textual": "#1f77b4", "single": "#2ca02c"}
TABLE_KEYS = (("textual_accuracy", "textual acc."), ("grounded_accuracy", "grounded acc."),
              ("grounded_box_iou", "grounded box IoU"), ("format_rate", "format rate"),
              ("textual_box_trace_rate", "boxes in textual"))


def _png(fig) -> str:
    """Figure -> `data:image/png;base64,...` (closes the figure)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one logged metric, skipping steps that did not log it."""
    pairs = [(h.get("step", i), h[key]) for i, h in enumerate(history) if isinstance(h.get(key), (int, float))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def reward_curves(histories: dict[str, list[dict[str, Any]]]) -> str:
    """One panel per RL variant: `reward/<stream>/total` against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(histories) or ["(none)"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        for stream, colour in STREAM_COLOURS.items():
            xs, ys = _series(histories.get(name, []), f"reward/{stream}/total")
            if xs:
                ax.plot(xs, ys, color=colour, marker=".", label=stream)
        ax.set_title(f"RL: {name}")
        ax.set_xlabel("step")
        ax.set_ylabel("mean total reward")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _png(fig)


def archive_growth(histories: dict[str, list[dict[str, Any]]]) -> str:
    """`archive/size` against the step, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, history in histories.items():
        xs, ys = _series(history, "archive/size")
        if xs:
            ax.plot(xs, ys, marker=".", label=name)
    ax.set_title("rollout archive size")
    ax.set_xlabel("step")
    ax.set_ylabel("questions with a reference")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return _png(fig)


def scene_with_boxes(image_path: Path, gt: list, pred: list) -> str:
    """The scene enlarged 3x, ground-truth boxes in green, predicted boxes in red dashes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from PIL import Image

    image = Image.open(image_path).convert("RGB")
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(image)
    for boxes, colour, style in ((gt, "lime", "-"), (pred, "red", "--")):
        for x1, y1, x2, y2 in boxes:
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linestyle=style, linewidth=2))
    ax.set_axis_off()
    return _png(fig)


def _table(metrics: dict[str, Any]) -> str:
    """Accuracy table: chance, SFT, iVGR and the ablations."""
    rows = [("SFT (cold start)", metrics.get("sft", {})), ("iVGR (full)", metrics.get("ivgr", {}))]
    rows += [(f"ablation: {k}", v) for k, v in metrics.get("ablations", {}).items()]
    head = "".join(f"<th>{label}</th>" for _, label in TABLE_KEYS)
    constant = metrics.get("box_iou_constant_baseline")
    body = [f"<tr><td>chance (best constant box for IoU)</td><td>{metrics.get('chance_accuracy', 0):.3f}</td>"
            f"<td>{metrics.get('chance_accuracy', 0):.3f}</td>"
            f"<td>{'-' if constant is None else f'{constant:.3f}'}</td>" + "<td>-</td>" * (len(TABLE_KEYS) - 3) + "</tr>"]
    for name, values in rows:
        cells = "".join(f"<td>{values.get(k, float('nan')):.3f}</td>" for k, _ in TABLE_KEYS)
        body.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><thead><tr><th>model</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cold_start_line(sft: dict[str, Any]) -> str:
    """One sentence on how long the cold start ran (it may stop once the grounded stream reads)."""
    if "steps" not in sft:
        return ""
    if not sft.get("stopped_early"):
        return f"<p>Cold start: {sft['steps']} SFT steps.</p>"
    last = sft["validation_checks"][-1]
    iou = f" with box IoU {last[2]:.2f} (threshold {sft['stop_box_iou']:.2f})" if sft.get("stop_box_iou") else ""
    return (f"<p>Cold start: stopped after {sft['steps']} SFT steps, when the grounded stream first answered "
            f"{last[1]:.2f} of the validation scenes (threshold {sft['stop_threshold']:.2f}){iou}.</p>")


def _moved_box_line(metrics: dict[str, Any]) -> str:
    """One sentence on the moved-box probe (`ivgr.demo.moved_box_probe`): does a box steer the reading?"""
    parts = [f"{label} {m['moved_box_follow_rate']:.2f} (own box: {m['moved_box_follow_baseline']:.2f})"
             for label, m in (("SFT", metrics.get("sft", {})), ("iVGR", metrics.get("ivgr", {})))
             if "moved_box_follow_rate" in m]
    if not parts:
        return ""
    return ("<p>Moved box: when the grounded reasoning is forced up to its box and that box is moved onto another "
            "object, the answer names that object's colour in " + "; ".join(parts) + " of the colour questions. "
            "A rate far above the own-box one means the model reads the colour where its box points.</p>")


def _examples(evals: dict[str, Any], test_dir: Path, n: int) -> str:
    """Example scenes: image with boxes, then the iVGR model's grounded and textual CoTs."""
    from ivgr.data.prepared import read_prepared
    from ivgr.data.schema import pixel_targets

    samples = read_prepared(test_dir)[:n]
    model = "ivgr" if "ivgr" in evals else next(iter(evals))
    outputs = evals[model]["outputs"]
    blocks = []
    for i, sample in enumerate(samples):
        grounded, textual = outputs["grounded"][i], outputs["textual"][i]
        img = scene_with_boxes(test_dir / sample.image, pixel_targets(sample), grounded["boxes"])
        verdict = {True: "correct", False: "wrong"}
        blocks.append(
            f"<div class='example'><img alt='scene {html.escape(sample.sample_id)}' src='{img}'>"
            f"<div class='q'><b>Q:</b> {html.escape(sample.question)}<br><b>truth:</b> {html.escape(sample.answer)}</div>"
            f"<div class='cots'><div><h4>grounded CoT ({verdict[bool(grounded['correct'])]})</h4>"
            f"<pre>{html.escape(grounded['completion'])}</pre></div>"
            f"<div><h4>textual CoT ({verdict[bool(textual['correct'])]})</h4>"
            f"<pre>{html.escape(textual['completion'])}</pre></div></div></div>")
    return f"<p>Model: <b>{model}</b>. Green: ground-truth boxes; red dashes: predicted boxes.</p>" + "".join(blocks)


CSS = """body{font-family:sans-serif;max-width:1200px;margin:1em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}
td:first-child{text-align:left}.example{display:flex;gap:1em;border-top:1px solid #ddd;padding:.6em 0}
.cots{display:flex;gap:1em;flex:1}.cots div{flex:1}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;font-size:12px}
.q{width:220px}"""


def write_report(path: str | Path, *, metrics: dict[str, Any], histories: dict[str, list[dict[str, Any]]],
                 evals: dict[str, Any], test_dir: str | Path, n_examples: int = 4) -> Path:
    """Write the self-contained HTML report; returns its path."""
    path = Path(path)
    walls = metrics.get("wall_s", {})
    wall_line = ", ".join(f"{k} {v:.0f}s" for k, v in walls.items())
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ivgr demo report</title>"
        f"<style>{CSS}</style></head><body><h1>ivgr demo: iVGR on a synthetic fine-grained world</h1>"
        f"<p>Held-out scenes: {sum(metrics.get('test_questions', {}).values())} "
        f"({html.escape(str(metrics.get('test_questions', {})))}). Wall times: {html.escape(wall_line)}.</p>"
        f"<h2>Accuracy</h2>{_table(metrics)}{_cold_start_line(metrics.get('sft', {}))}{_moved_box_line(metrics)}"
        f"<h2>Reward curves per stream</h2><img alt='reward curves' src='{reward_curves(histories)}'>"
        f"<h2>Rollout archive growth</h2><img alt='archive growth' src='{archive_growth(histories)}'>"
        f"<h2>Example scenes</h2>{_examples(evals, Path(test_dir), n_examples)}"
        "</body></html>")
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    logger.info("wrote %s", path)
    return path


__all__ = ["write_report", "reward_curves", "archive_growth", "scene_with_boxes"]
