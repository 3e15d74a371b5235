"""Worker launched by the multi-process and resume tests (torchrun / accelerate launch / plain python).

    python training_worker.py CONFIG.json OUT_DIR

CONFIG.json is a recipe mapping plus two test keys: `_resume: true` resumes from the newest
checkpoint, `_kill_after_save: N` SIGKILLs every rank right after checkpoint N is written.

Trains with `ivgr.training.train.train`, records every generation batch the scorer saw on this
rank, then (multi-process only) runs the cross-rank archive probe: rank 0 scores a qualifying
grounded rollout for sample "probe", rank 1 a textual rollout of the same sample, through the
trainer's own gather. Writes OUT_DIR/rank{R}.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    config_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    from ivgr.training.config import config_from_dict
    from ivgr.training.rewards import BatchRewarder
    from ivgr.training.train import train

    values = json.loads(config_path.read_text())
    resume = values.pop("_resume", None)
    kill_after_save = values.pop("_kill_after_save", None)
    cfg = config_from_dict(values)
    batches = []
    original = BatchRewarder.score

    def score(self, rollouts, *, step):
        totals, stats, scores = original(self, rollouts, step=step)
        # [sample_id, stream, step of the archive entry this row could read after the exchange]
        batches.append([[r.sample_id, r.stream, _entry_step(self.archive, r.sample_id)] for r in rollouts])
        return totals, stats, scores

    BatchRewarder.score = score
    import ivgr.training.train as train_module

    restored = {}
    load_archive = train_module.load_archive

    def recording_load_archive(cfg, checkpoint):
        archive = load_archive(cfg, checkpoint)
        restored.update(checkpoint=str(checkpoint) if checkpoint else None, archive=archive.state_dict())
        return archive

    train_module.load_archive = recording_load_archive
    probe = StartProbe()
    callbacks = [probe.callback] if kill_after_save is None else [probe.callback, KillAfterSave(kill_after_save)]
    result = train(cfg, resume=True if resume else None, callbacks=callbacks)
    rank = int(os.environ.get("RANK", "0"))
    record = {
        "rank": rank,
        "world": int(os.environ.get("WORLD_SIZE", "1")),
        "batches": batches,
        "global_step": result.global_step,
        "archive": result.archive.state_dict(),
        "restored": restored,
        "start": probe.record,
    }
    if record["world"] > 1:
        record["probe"] = cross_rank_probe(rank, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))
    train_module.shutdown_distributed()  # as `ivgr train` does; a live gloo group can abort at exit


def _entry_step(archive, sample_id):
    entry = archive.get(sample_id)
    return None if entry is None else entry.step


class StartProbe:
    """Records the weights checksum at train start and the optimizer step count after the first step."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        self.record: dict = {}
        probe = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                probe.record["start_step"] = state.global_step
                probe.record["weights_abs_sum"] = float(sum(p.detach().abs().sum() for p in model.parameters()))

            def on_step_end(self, args, state, control, optimizer=None, **kwargs):
                if "first_step" not in probe.record:
                    probe.record["first_step"] = state.global_step
                    steps = [s["step"] for s in optimizer.state.values() if "step" in s]
                    probe.record["adam_step"] = float(max(steps)) if steps else 0.0

        self.callback = _Callback()


def KillAfterSave(step: int):  # noqa: N802 - builds a TrainerCallback lazily, like StartProbe
    """Every rank SIGKILLs itself once all ranks have written checkpoint `step`: a crash at a known point."""
    from transformers import TrainerCallback

    class _Callback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == step:
                import signal

                import torch.distributed as dist

                if dist.is_available() and dist.is_initialized():
                    dist.barrier()  # every rank has written its part (rng_state_R.pth) of the checkpoint
                os.kill(os.getpid(), signal.SIGKILL)

    return _Callback()


def cross_rank_probe(rank: int, cfg) -> dict:
    """Rank 0 holds the only grounded rollout of 'probe'; rank 1 holds its textual twin."""
    from ivgr.archive import RolloutArchive
    from ivgr.judges import build_judge
    from ivgr.rewards import Rollout, Scorer
    from ivgr.training.rewards import BatchRewarder
    from ivgr.training.trainer import _gather_object

    archive = RolloutArchive()
    scorer = Scorer(config=cfg.scorer_config(), judge=build_judge(cfg.judge_config()), archive=archive)
    rewarder = BatchRewarder(scorer=scorer, archive=archive, gather_object=_gather_object)
    question, answer = "What colour is the square?", "red"
    if rank == 0:
        text = "<think>the square <box>[10,10,40,40]</box> is red made on rank zero</think><answer>red</answer>"
        rollouts = [Rollout(sample_id="probe", stream="grounded", question=question, answer=answer,
                            completion=text, target_boxes=[(10, 10, 40, 40)])]
    else:
        rollouts = [Rollout(sample_id="probe", stream="textual", question=question, answer=answer,
                            completion="<think>the square is red</think><answer>red</answer>")]
    _, _, scores = rewarder.score(rollouts, step=0)
    return {"stream": rollouts[0].stream, "reference": scores[0].reference, "archive": archive.state_dict()}


if __name__ == "__main__":
    main()
