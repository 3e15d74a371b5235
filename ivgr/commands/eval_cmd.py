"""`ivgr eval` (run benchmarks, resumable) and `ivgr eval report` (side-by-side tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = """Evaluate a local checkpoint on the paper's benchmarks, from local copies of their releases.

Benchmarks: vstar, hrbench4k, hrbench8k, mme_realworld_lite, pope, realworldqa, cvbench2d, \
cvbench3d. --data is the release folder (or file) of one benchmark; with several benchmarks, \
give --data once per benchmark as NAME=PATH, or one root folder holding a subfolder per \
benchmark name.

Raw outputs are appended to RESULTS.predictions.jsonl as they come: run the same command again \
to resume an interrupted run. Every score is printed with its profile (ivgr, official, \
lmms-eval, vlmevalkit), computed from the stored outputs.

Prompt style, box frame and pixel budget default to what an ivgr checkpoint records \
(ivgr_inference.json, docs/models.md); a flag that differs gives one warning line.

Examples:

  ivgr eval --model ckpt/ --benchmark vstar --data data/vstar_bench --out runs/vstar.json

  ivgr eval --model ckpt/ --benchmark hrbench4k,hrbench8k --data data/HR-Bench --mode tool --max-pixels 1605632

  ivgr eval --model ckpt/ --benchmark pope,realworldqa --data pope=data/POPE --data realworldqa=data/RWQA --limit 50

  ivgr eval report runs/textual.json runs/grounded.json runs/tool.json --csv table.csv
"""

REPORT_HELP = """Print several results files side by side (paper Table 1 layout) as Markdown and CSV.

Examples:

  ivgr eval report runs/textual.json runs/grounded.json

  ivgr eval report runs/*.json --profile vlmevalkit --csv table.csv
"""


INSPECT_HELP = """Check a local copy of a benchmark release without a model: row count against the \
public release, categories, answer distribution, options per item and the first item \
(docs/evaluation.md). Images are not decoded.

Examples:

  ivgr eval inspect --benchmark vstar --data data/vstar_bench

  ivgr eval inspect --benchmark hrbench4k,hrbench8k --data data/HR-Bench
"""


def _data_map(benchmarks: list[str], data: list[str]):
    """[(benchmark, path)] from --data values (PATH, NAME=PATH, or a root with subfolders)."""
    from ivgr.errors import ConfigError

    named = dict(d.split("=", 1) for d in data if "=" in d and not Path(d).exists())
    plain = [d for d in data if d not in {f"{k}={v}" for k, v in named.items()}]
    unknown = [k for k in named if k not in benchmarks]
    if unknown:
        raise ConfigError(f"--data names {unknown}, which are not in --benchmark {','.join(benchmarks)}")
    out = []
    for b in benchmarks:
        if b in named:
            out.append((b, Path(named[b])))
        elif len(plain) == 1:
            root = Path(plain[0])
            out.append((b, root / b if len(benchmarks) > 1 and (root / b).exists() else root))
        elif len(plain) == len(benchmarks) and not named:
            out.append((b, Path(plain[benchmarks.index(b)])))
        else:
            raise ConfigError(f"no --data for benchmark {b!r}; pass --data {b}=PATH")
    return out


def register(app: typer.Typer) -> None:
    """Add `ivgr eval` and `ivgr eval report` to the CLI."""
    eval_app = typer.Typer(help=HELP, no_args_is_help=False, add_completion=False)

    @eval_app.callback(invoke_without_command=True, help=HELP)
    def eval_command(
        ctx: typer.Context,
        model: Optional[str] = typer.Option(None, "--model", help="Local checkpoint directory."),
        benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="NAME[,NAME...] (see above)."),
        data: list[str] = typer.Option([], "--data", help="Release folder/file, NAME=PATH, or a root (repeatable)."),
        mode: str = typer.Option("textual", "--mode", help="textual | grounded | tool."),
        limit: Optional[int] = typer.Option(None, "--limit", help="First N items of each benchmark."),
        out: Path = typer.Option(Path("results.json"), "--out", help="Results file; predictions go next to it."),
        profile: str = typer.Option("all", "--profile", help="Profiles to score: all, or ivgr,official,lmms-eval,vlmevalkit."),
        max_new_tokens: int = typer.Option(1024, "--max-new-tokens", help="Generation budget per pass."),
        min_pixels: Optional[int] = typer.Option(None, "--min-pixels", help="Smart-resize lower bound (default: the checkpoint's record, else its processor's)."),
        max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Smart-resize upper bound (default: the checkpoint's record, else its processor's). Record it with HR-Bench numbers."),
        batch_size: int = typer.Option(4, "--batch-size", help="Items per generate call (and decoded images in memory)."),
        backend: str = typer.Option("hf", "--backend", help="hf (CPU/GPU) or vllm (GPU, optional package)."),
        temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
        crops: str = typer.Option("crops+union", "--crops", help="Tool mode: crops | union | crops+union."),
        crop_margin: float = typer.Option(0.1, "--crop-margin", help="Tool mode: margin, a fraction of the box size."),
        max_crops: int = typer.Option(4, "--max-crops", help="Tool mode: most local crops per question."),
        crop_min_side: int = typer.Option(112, "--crop-min-side", help="Tool mode: upscale crops whose short side is smaller."),
        jpeg_draft: bool = typer.Option(False, "--jpeg-draft", help="Decode JPEGs at 1/2-1/8 scale when the model needs fewer pixels (textual/grounded; faster, less memory on 8K images)."),
        prompt_style: Optional[str] = typer.Option(None, "--prompt-style", help="Stream prompt wording: standard | compact (default: the checkpoint's record, else standard)."),
        on_bad_row: str = typer.Option("error", "--on-bad-row", help="error (stop, naming file and row) or skip (count it)."),
        judge: str = typer.Option("none", "--judge", help="none, or openai: an LLM judge for unparseable answers only."),
        judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible endpoint (else $IVGR_JUDGE_BASE_URL)."),
        judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge model name (else $IVGR_JUDGE_MODEL)."),
    ) -> None:
        if ctx.invoked_subcommand is not None:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        from ivgr.commands._util import LazyProgress
        from ivgr.errors import ConfigError
        from ivgr.eval.profiles import parse_profiles
        from ivgr.eval.registry import get_benchmark
        from ivgr.eval.report import details, table_rows, to_markdown
        from ivgr.eval.runner import EvalSettings, run_eval

        if not model or not benchmark or not data:
            raise ConfigError("ivgr eval needs --model, --benchmark and --data (see ivgr eval --help)")
        if mode not in ("textual", "grounded", "tool"):
            raise ConfigError(f"--mode must be textual, grounded or tool, got {mode!r}")
        if limit is not None and limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {limit}")
        if on_bad_row not in ("error", "skip"):
            raise ConfigError(f"--on-bad-row must be error or skip, got {on_bad_row!r}")
        names = [b.strip().lower() for b in benchmark.split(",") if b.strip()]
        for name in names:
            get_benchmark(name)  # an unknown name fails here, with "did you mean"
        benchmarks = _data_map(names, data)
        judge_cfg = None
        if judge != "none":
            from ivgr.judges import JudgeConfig

            overrides = {k: v for k, v in (("base_url", judge_url), ("model", judge_model)) if v}
            judge_cfg = JudgeConfig.from_env(kind=judge, **overrides)
        settings = EvalSettings(
            model=model, mode=mode, backend=backend, min_pixels=min_pixels, max_pixels=max_pixels,
            max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, limit=limit,
            profiles=parse_profiles(profile), on_bad_row=on_bad_row, judge=judge_cfg, jpeg_draft=jpeg_draft,
            prompt_style=prompt_style,
            tool={"style": crops, "margin": crop_margin, "max_crops": max_crops, "min_side": crop_min_side},
        )
        tasks: dict[str, int] = {}
        # The bar draws from the first answered item on: a missing data file, a bad first row or a
        # checkpoint that does not load is then one error line, not an empty bar and the line.
        with LazyProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), TextColumn("{task.fields[rate]}")) as lazy:

            def progress(name: str, done: int, total: int | None) -> None:
                if name not in tasks:  # the clock starts here, so the rate counts the model's loading
                    tasks[name] = lazy.progress.add_task(name, total=total, rate="")
                if done == 0 and not lazy.started:
                    return
                bar = lazy.live()
                task = bar.tasks[tasks[name]]
                rate = done / task.elapsed if task.elapsed else 0.0
                bar.update(tasks[name], completed=done, total=total, rate=f"{rate:.2f} items/s")

            results = run_eval(benchmarks, settings, out, progress=progress)
        header, rows = table_rows([(None, results)])
        typer.echo(to_markdown(header, rows))
        typer.echo(details(results, results["profiles"][0]))
        tp = results["throughput"]
        if tp["generated"]:
            typer.echo(f"generated {tp['generated']} items in {tp['seconds']} s ({tp['items_per_s']} items/s)")
        typer.echo(f"results: {out}   predictions: {results['predictions']}")

    @eval_app.command("report", help=REPORT_HELP)
    def report_command(
        results: list[Path] = typer.Argument(..., help="results.json files written by ivgr eval."),
        profile: str = typer.Option("all", "--profile", help="Profiles to show: all, or a comma list."),
        csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV here."),
    ) -> None:
        from ivgr.eval.profiles import parse_profiles
        from ivgr.eval.report import load_results, table_rows, to_csv, to_markdown

        runs = [(str(p), load_results(p)) for p in results]
        profiles = None if profile == "all" else parse_profiles(profile)
        header, rows = table_rows(runs, profiles)
        typer.echo(to_markdown(header, rows))
        typer.echo("")
        csv_text = to_csv(header, rows)
        typer.echo(csv_text, nl=False)
        if csv_out is not None:
            csv_out.write_text(csv_text)

    @eval_app.command("inspect", help=INSPECT_HELP)
    def inspect_command(
        benchmark: str = typer.Option(..., "--benchmark", "-b", help="NAME[,NAME...]."),
        data: list[str] = typer.Option(..., "--data", help="Release folder/file, NAME=PATH, or a root (repeatable)."),
    ) -> None:
        import json

        from ivgr.eval.registry import get_benchmark
        from ivgr.eval.report import inspect_benchmark

        names = [b.strip().lower() for b in benchmark.split(",") if b.strip()]
        for name, path in _data_map(names, data):
            facts = inspect_benchmark(get_benchmark(name), path)
            ok = facts["expected_rows"] in (None, facts["rows"])
            typer.secho(f"{name}: {facts['rows']} rows (release: {facts['expected_rows']})",
                        fg=typer.colors.GREEN if ok else typer.colors.YELLOW)
            typer.echo(json.dumps({k: v for k, v in facts.items() if k not in ("benchmark", "rows")}, indent=2))

    app.add_typer(eval_app, name="eval")
