"""Run benchmarks against a model: resumable generation, then scoring under every profile.

Raw outputs go to `<out>.predictions.jsonl` (one line per item, appended and flushed as each
batch finishes), next to the results file. A second run with the same `--out` reads that
file, skips every (benchmark, item_id) already there and generates only the rest; a line cut
by a kill is dropped. Scores are always recomputed from the whole predictions file, so any
profile can be applied later without generating again (`score_predictions`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ivgr.errors import ConfigError, DataError
from ivgr.eval.base import Benchmark, Item
from ivgr.eval.extraction import answer_text
from ivgr.eval.metrics import round_metrics
from ivgr.eval.profiles import DEFAULT_PROFILE, PROFILES
from ivgr.eval.registry import get_benchmark
from ivgr.fileio import atomic_write_text
from ivgr.jsonl import JsonLineError, parse_json_object
from ivgr.judges import build_judge, run_sync
from ivgr.parsing import has_box_trace

log = logging.getLogger(__name__)

RESULTS_FORMAT = "ivgr-eval-results"
# Settings that change generated text: a resumed run must use the same ones.
_GENERATION_KEYS = ("model", "mode", "backend", "min_pixels", "max_pixels", "max_new_tokens", "temperature", "tool",
                    "jpeg_draft", "prompt_style")


@dataclass
class EvalSettings:
    """Everything that decides the numbers; recorded in results.json."""

    model: str
    mode: str = "textual"
    backend: str = "hf"
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_new_tokens: int = 1024
    temperature: float = 0.0
    batch_size: int = 4
    limit: int | None = None
    profiles: list[str] = field(default_factory=lambda: list(PROFILES))
    on_bad_row: str = "error"  # "error" | "skip" (skips are counted in the results)
    tool: dict[str, Any] = field(default_factory=dict)  # ToolOptions fields (tool mode)
    jpeg_draft: bool = False  # decode JPEGs at reduced scale (textual/grounded modes)
    prompt_style: str | None = None  # ivgr.prompts style; None = the checkpoint's record, else standard
    judge: Any = None  # a JudgeConfig, or None: no LLM fallback


ProgressFn = Callable[[str, int, int | None], None]  # (benchmark, done, total or None)


def predictions_path(out: Path) -> Path:
    """`results.json` -> `results.predictions.jsonl` (same folder)."""
    return out.with_name(out.stem + ".predictions.jsonl")


def _meta_path(out: Path) -> Path:
    return out.with_name(out.stem + ".predictions.meta.json")


def read_predictions(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Existing records keyed by (benchmark, item_id); a truncated last line is cut off the file."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return records
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropping an incomplete last line (interrupted run)", path)
        with path.open("r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    for n, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = parse_json_object(line)
        except JsonLineError as err:
            raise DataError(f"{path}:{n}: {err}; delete the line or the file") from None
        records[(rec["benchmark"], rec["item_id"])] = rec
    return records


def _check_meta(out: Path, meta: dict[str, Any], *, write: bool) -> None:
    """Refuse to mix outputs of different generation settings in one predictions file.

    Keys whose value is None in `meta` (e.g. pixel limits left to the processor) are not
    compared; the effective values are written once the engine exists. A settings file without
    predictions (a run that stopped before its first item) holds nothing to mix with: not compared.
    """
    path, pred_path = _meta_path(out), predictions_path(out)
    if path.exists() and pred_path.exists() and pred_path.stat().st_size > 0:
        old = json.loads(path.read_text())
        diff = [k for k in _GENERATION_KEYS if k in old and meta.get(k) is not None and old[k] != meta[k]]
        if diff:
            raise ConfigError(
                f"{predictions_path(out)} was generated with different settings "
                f"({', '.join(f'{k}: {old[k]!r} -> {meta[k]!r}' for k in diff)}); "
                "pass another --out to start a new run, or the same settings to resume")
    if write:
        atomic_write_text(path, json.dumps(meta, indent=2))


def _generation_meta(settings: EvalSettings, engine: Any = None) -> dict[str, Any]:
    """The settings that decide the generations: as asked for, or (given the engine) as it resolved
    the processor defaults. One list, `_GENERATION_KEYS`, so a new setting is recorded and checked
    on resume by adding it there."""
    from ivgr.inference.types import ToolOptions

    meta = {key: getattr(settings, key) for key in _GENERATION_KEYS}
    tool = ToolOptions(**settings.tool) if engine is None else engine.tool
    meta["tool"] = asdict(tool) if settings.mode == "tool" else None
    if engine is not None:
        meta.update(min_pixels=engine.min_pixels, max_pixels=engine.max_pixels, frame=engine.frame,
                    prompt_style=engine.prompt_style)
    return meta


def _limited(items: Iterator[Item], limit: int | None) -> Iterator[Item]:
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            return
        yield item


class _JudgeFallback:
    """LLM judge for answers our extraction cannot read (ivgr profile only); verdicts are stored."""

    def __init__(self, config: Any):
        self.judge = build_judge(config)

    def __call__(self, bench: Benchmark, item: Item, completion: str) -> dict[str, Any] | None:
        response = answer_text(completion)
        if bench.extract_ivgr(item, response) is not None:
            return None
        gold = item.answer + (f". {item.choices[item.answer]}" if item.answer in item.choices else "")
        verdict = run_sync(self.judge.accuracy(question=bench.prompt(item), answer=response, reference=gold))
        return {"score": float(verdict.score), "source": verdict.source, "errors": int(verdict.errors)}


class _AppendOnFirstWrite:
    """The predictions file, opened for appending on the first record written.

    A run that fails before its first item (the model does not load, the data is bad, Ctrl-C)
    then leaves no empty predictions file behind; an earlier run's file is never truncated.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fh: Any = None

    def write(self, text: str) -> None:
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(text)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def run_eval(benchmarks: list[tuple[str, Path]], settings: EvalSettings, out: Path, *,
             engine: Any = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Generate what is missing for each (benchmark name, data path), score, write `out`, return results."""
    if settings.on_bad_row not in ("error", "skip"):
        raise ConfigError(f"on_bad_row must be 'error' or 'skip', got {settings.on_bad_row!r}")
    benches = [(get_benchmark(name), Path(path)) for name, path in benchmarks]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pred_path = predictions_path(out)
    _check_meta(out, _generation_meta(settings), write=False)  # also when nothing is left to generate
    existing = read_predictions(pred_path)
    judge = _JudgeFallback(settings.judge) if settings.judge is not None else None
    generated, gen_seconds = 0, 0.0
    selected: dict[str, list[str]] = {}
    state = {"engine": engine, "meta_written": False}

    def flush(bench: Benchmark, batch: list[Item], fh: Any) -> None:
        nonlocal generated, gen_seconds
        n, dt = _generate(bench, batch, state, settings, out, fh, existing, judge)
        generated, gen_seconds = generated + n, gen_seconds + dt

    with closing(_AppendOnFirstWrite(pred_path)) as fh:
        for bench, data in benches:
            ids: list[str] = []
            selected[bench.name] = ids
            pending: list[Item] = []
            seen: set[str] = set()
            for item in _limited(bench.load(data), settings.limit):
                if item.item_id in seen:  # resuming is keyed by id: two rows must not share one
                    raise DataError(f"{item.where}: duplicate item id {item.item_id!r} in {bench.name}")
                seen.add(item.item_id)
                ids.append(item.item_id)
                if (bench.name, item.item_id) not in existing:
                    pending.append(item)
                if len(pending) >= settings.batch_size:
                    flush(bench, pending, fh)
                    pending = []
                if progress:
                    progress(bench.name, len(ids) - len(pending), settings.limit)
            if pending:
                flush(bench, pending, fh)
            if progress:
                progress(bench.name, len(ids), len(ids))
    results = _results(benches, settings, out, existing, selected, state["engine"],
                       {"generated": generated, "seconds": round(gen_seconds, 3),
                        "items_per_s": round(generated / gen_seconds, 4) if gen_seconds else None})
    atomic_write_text(out, json.dumps(results, indent=2))
    return results


def _build_engine(settings: EvalSettings) -> Any:
    from ivgr.inference import InferenceEngine, ToolOptions

    return InferenceEngine(settings.model, backend=settings.backend, min_pixels=settings.min_pixels,
                           max_pixels=settings.max_pixels, max_new_tokens=settings.max_new_tokens,
                           temperature=settings.temperature, batch_size=settings.batch_size,
                           tool=ToolOptions(**settings.tool), jpeg_draft=settings.jpeg_draft,
                           prompt_style=settings.prompt_style)


def _generate(bench: Benchmark, batch: list[Item], state: dict[str, Any], settings: EvalSettings, out: Path,
              fh: Any, existing: dict, judge: Any) -> tuple[int, float]:
    """Decode this batch's images, run the engine, append one record per item (flushed).

    The engine is built on the first batch that needs it, so re-scoring a finished run
    never loads the model.
    """
    from ivgr.inference import InferenceRequest

    if state["engine"] is None:
        state["engine"] = _build_engine(settings)
    engine = state["engine"]
    if not state["meta_written"]:
        _check_meta(out, _generation_meta(settings, engine), write=True)
        state["meta_written"] = True
    ready: list[tuple[Item, Any]] = []
    fit = engine.draft_fit(settings.mode) if hasattr(engine, "draft_fit") else None
    for item in batch:
        try:
            ready.append((item, item.image(fit=fit) if fit is not None else item.image()))
        except DataError as err:
            if settings.on_bad_row == "error":
                raise DataError(f"{err} (pass --on-bad-row skip to skip and count such rows)") from None
            log.warning("skipping %s/%s: %s", bench.name, item.item_id, err)
            rec = {"benchmark": bench.name, "item_id": item.item_id, "skipped": str(err), **item.to_record()}
            fh.write(json.dumps(rec) + "\n")
            existing[(bench.name, item.item_id)] = rec
    if not ready:
        fh.flush()
        return 0, 0.0
    t0 = time.perf_counter()
    reqs = [InferenceRequest(image=img, question=bench.prompt(item), request_id=item.item_id) for item, img in ready]
    results = engine.run(reqs, mode=settings.mode)
    dt = time.perf_counter() - t0
    for (item, _), res in zip(ready, results):
        rec = {"benchmark": bench.name, "item_id": item.item_id, "mode": res.mode, "completion": res.completion,
               "boxes": res.boxes, "crops": res.crops, "union": res.union,
               "grounded_completion": res.grounded_completion, "tool_fallback": res.tool_fallback,
               "image_size": res.image_size, "model_size": res.model_size, **item.to_record()}
        if judge is not None:
            rec["judge"] = judge(bench, item, res.completion)
        fh.write(json.dumps(rec) + "\n")
        existing[(bench.name, item.item_id)] = rec
    fh.flush()
    return len(ready), dt


def score_predictions(bench: Benchmark, records: list[dict[str, Any]], profiles: list[str]) -> dict[str, Any]:
    """Scores of one benchmark's stored records under each profile, plus counts."""
    usable = [r for r in records if not r.get("skipped")]
    scores = {p: round_metrics(bench.evaluate(usable, p)) for p in profiles}
    ivgr_scores = scores.get(DEFAULT_PROFILE) or bench.evaluate(usable, DEFAULT_PROFILE)
    counts = {"items": len(records), "scored": len(usable), "skipped": len(records) - len(usable),
              "unparsed": ivgr_scores.get("unparsed", 0), "judge_used": ivgr_scores.get("judge_used", 0),
              "tool_fallback": sum(bool(r.get("tool_fallback")) for r in usable),
              # Textual answers whose reasoning carries a box: counted, not marked wrong (the paper's textual
              # mode scores every answer), so a policy that leaks the grounded stream into text shows here.
              "textual_box_trace": sum(r.get("mode") == "textual" and has_box_trace(r.get("completion") or "")
                                       for r in usable)}
    return {"counts": counts, "scores": scores}


def _results(benches: list[tuple[Benchmark, Path]], settings: EvalSettings, out: Path, existing: dict,
             selected: dict[str, list[str]], engine: Any,
             throughput: dict[str, Any]) -> dict[str, Any]:
    meta_file = _meta_path(out)
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if engine is not None:
        meta = _generation_meta(settings, engine)
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT, "version": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": settings.model, "mode": settings.mode, "backend": settings.backend,
        "min_pixels": meta.get("min_pixels", settings.min_pixels),
        "max_pixels": meta.get("max_pixels", settings.max_pixels),
        "max_new_tokens": settings.max_new_tokens, "temperature": settings.temperature,
        "frame": meta.get("frame"), "tool": meta.get("tool"), "jpeg_draft": settings.jpeg_draft,
        "prompt_style": meta.get("prompt_style", settings.prompt_style), "limit": settings.limit,
        "profiles": settings.profiles, "default_profile": DEFAULT_PROFILE,
        "judge": getattr(settings.judge, "kind", None) if settings.judge is not None else None,
        "predictions": str(predictions_path(out)), "throughput": throughput, "benchmarks": {},
    }
    for bench, data in benches:
        records = [existing[(bench.name, i)] for i in selected[bench.name] if (bench.name, i) in existing]
        entry = {"version": bench.version, "column": bench.column, "data": str(data)}
        entry.update(score_predictions(bench, records, settings.profiles))
        results["benchmarks"][bench.name] = entry
    return results
