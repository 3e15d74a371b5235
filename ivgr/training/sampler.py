"""Paired / mixed stream sampler for dual-stream GRPO (framework-light: stdlib + torch's Sampler base).

TRL groups rollouts *by position*: a GRPO group is `num_generations` (G) consecutive rows of
the gathered generation batch (TRL trl/trainer/grpo_trainer.py, `rewards.view(-1, num_generations)`). This sampler therefore yields, per
generation batch of B unique prompts (B = generation_batch_size // G):

    [g_0 ×G, t_0 ×G, g_1 ×G, t_1 ×G, ..., g_{P-1} ×G, t_{P-1} ×G, s_0 ×G, ..., s_{S-1} ×G]

with P = int(B · paired_ratio) // 2 pairs and S = B − 2P single prompts — the authors'
`MixedPairedRandomSampler` semantics (docs/method.md#data-mixing). Each index is repeated
G times in a row (one (sample, stream) per group) and each whole generation batch is repeated
`repeat_count = num_iterations × steps_per_generation` times, exactly like TRL's
`RepeatSampler`, so `_prepare_inputs` buffering keeps working.

Because pairs come first and every per-process slice is a multiple of 2G (checked by
`check_alignment`), the grounded and textual rows of a question always land in the same
generation batch *and* on the same process.

Leftovers (documented choice): like the authors, pairs that do not fill a whole generation
batch are dropped for that epoch (they come back in a later epoch under a new permutation);
singles are recycled within an epoch by drawing a fresh permutation when they run out. An
epoch has `n_pairs // P` generation batches (or `n_singles // B` when there are no pairs).

Determinism and resume: the order is a pure function of (seed, epoch). The HF Trainer calls
`set_epoch(epoch)` at each epoch and, on resume, replays the current epoch's batches to skip
them, so a resumed run sees exactly the batches the killed run would have seen. This is what
the authors' sampler could not do (docs/method.md#bug-sampler-resume).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from torch.utils.data import Sampler

from ivgr.errors import ConfigError

STREAMS = ("grounded", "textual", "single")


@dataclass(frozen=True)
class StreamIndex:
    """Dataset positions grouped into pair units (grounded, textual) and single units."""

    pairs: tuple[tuple[int, int], ...]
    singles: tuple[int, ...]

    @classmethod
    def from_rows(cls, sample_ids: Sequence[str], streams: Sequence[str]) -> StreamIndex:
        """Pair the grounded and textual rows of each sample_id; everything else is a single unit.

        A grounded or textual row without its twin (e.g. `streams: [textual]`) is sampled as a
        single unit: it still forms its own GRPO group.

        >>> StreamIndex.from_rows(["a", "a", "b"], ["grounded", "textual", "single"])
        StreamIndex(pairs=((0, 1),), singles=(2,))
        """
        grounded: dict[str, int] = {}
        textual: dict[str, int] = {}
        singles: list[int] = []
        for idx, (sid, stream) in enumerate(zip(sample_ids, streams, strict=True)):
            if stream not in STREAMS:
                raise ConfigError(f"row {idx}: unknown stream {stream!r}; expected one of {STREAMS}")
            if stream == "single":
                singles.append(idx)
            else:
                table = grounded if stream == "grounded" else textual
                if sid in table:
                    raise ConfigError(f"row {idx}: duplicate {stream} row for sample_id {sid!r}")
                table[sid] = idx
        pairs = []
        for sid, g_idx in grounded.items():  # dataset order, like the authors' `paired_indices`
            if sid in textual:
                pairs.append((g_idx, textual.pop(sid)))
            else:
                singles.append(g_idx)
        singles.extend(textual.values())
        return cls(pairs=tuple(pairs), singles=tuple(sorted(singles)))


def check_alignment(
    *,
    num_generations: int,
    generation_batch_size: int,
    per_device_train_batch_size: int,
    steps_per_generation: int,
    num_processes: int,
    paired: bool,
) -> None:
    """Fail fast (one line, naming the numbers to change) when streams could be split apart.

    Conditions (TRL's RepeatSampler, trl/trainer/utils.py): G ≥ 2; and with paired data, generation_batch_size % (2G) == 0
    and the per-process slice per_device_train_batch_size × steps_per_generation % (2G) == 0, so
    a (grounded, textual) pair never straddles two processes or two generation batches.
    """
    g = num_generations
    if g < 2:
        raise ConfigError(f"num_generations={g}: GRPO needs at least 2 rollouts per group; set num_generations >= 2")
    per_process = per_device_train_batch_size * steps_per_generation
    if generation_batch_size != per_process * num_processes:
        raise ConfigError(
            f"generation_batch_size={generation_batch_size} must equal per_device_train_batch_size "
            f"({per_device_train_batch_size}) × steps_per_generation ({steps_per_generation}) × processes "
            f"({num_processes}); set only one of generation_batch_size / steps_per_generation"
        )
    if not paired:
        if per_process % g:
            raise ConfigError(
                f"per_device_train_batch_size × steps_per_generation = {per_process} must be a multiple of "
                f"num_generations={g}; change per_device_train_batch_size or steps_per_generation"
            )
        return
    if generation_batch_size % (2 * g):
        raise ConfigError(
            f"generation_batch_size={generation_batch_size} must be a multiple of 2 × num_generations = {2 * g} "
            f"so both streams of a question share a generation batch; change per_device_train_batch_size, "
            f"steps_per_generation or num_generations"
        )
    if per_process % (2 * g):
        raise ConfigError(
            f"per_device_train_batch_size ({per_device_train_batch_size}) × steps_per_generation "
            f"({steps_per_generation}) = {per_process} must be a multiple of 2 × num_generations = {2 * g} "
            f"so a (grounded, textual) pair stays on one process; change per_device_train_batch_size or "
            f"steps_per_generation"
        )


class PairedStreamSampler(Sampler[int]):
    """Yields dataset indices so that both streams of a question share a generation batch.

    Args:
        index: pair and single units (see `StreamIndex.from_rows`).
        num_generations: G, rollouts per (sample, stream) group; each index is yielded G times in a row.
        prompts_per_batch: B = generation_batch_size // G unique prompts per generation batch.
        repeat_count: num_iterations × steps_per_generation (TRL `RepeatSampler` semantics).
        paired_ratio: fraction of the B prompts that are paired rows (authors' default 0.9).
        shuffle: permute pairs and singles each epoch (False: dataset order, for debugging).
        seed: one seed shared by all processes, so every rank computes the same order.
    """

    def __init__(
        self,
        index: StreamIndex,
        *,
        num_generations: int,
        prompts_per_batch: int,
        repeat_count: int = 1,
        paired_ratio: float = 0.9,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= paired_ratio <= 1.0:
            raise ConfigError(f"paired_ratio={paired_ratio} must be in [0, 1]")
        if not index.pairs and not index.singles:
            raise ConfigError("the training set is empty: no grounded/textual pairs and no single rows")
        self.index = index
        self.num_generations = num_generations
        self.prompts_per_batch = prompts_per_batch
        self.repeat_count = repeat_count
        self.paired_ratio = paired_ratio
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.pairs_per_batch, self.singles_per_batch = self._layout()

    def _layout(self) -> tuple[int, int]:
        """(pairs, singles) per generation batch with the authors' rounding (docs/method.md#data-mixing)."""
        b = self.prompts_per_batch
        if not self.index.singles:
            # As the authors: with no single data they use PairedRandomSampler (all pairs), whatever
            # paired_ratio says; we do the same and say so rather than leave empty slots.
            return b // 2, 0
        if not self.index.pairs:
            return 0, b
        pairs = int(b * self.paired_ratio) // 2
        if pairs == 0:
            raise ConfigError(
                f"paired_ratio={self.paired_ratio} × {b} prompts per generation batch leaves no room for a "
                f"(grounded, textual) pair; raise paired_ratio or the generation batch size"
            )
        return pairs, b - 2 * pairs

    def num_batches(self) -> int:
        """Generation batches per epoch; incomplete tails are dropped like TRL's RepeatSampler."""
        if self.pairs_per_batch:
            return len(self.index.pairs) // self.pairs_per_batch
        return len(self.index.singles) // self.singles_per_batch

    def __len__(self) -> int:
        return self.num_batches() * self.prompts_per_batch * self.num_generations * self.repeat_count

    def set_epoch(self, epoch: int) -> None:
        """Called by the HF Trainer at each epoch; the order is a pure function of (seed, epoch)."""
        # Deviation: stateful, exactly resumable order (the authors' sampler restarted its generator
        # on resume, docs/method.md#bug-sampler-resume); option: seed.
        self.epoch = epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.seed = int(state["seed"])

    def generation_batches(self) -> list[list[int]]:
        """This epoch's generation batches as lists of B unique dataset indices (pairs first)."""
        rng = random.Random(self.seed * 1_000_003 + self.epoch)  # same on every rank
        pair_order = list(range(len(self.index.pairs)))
        if self.shuffle:
            rng.shuffle(pair_order)  # pairs first, then singles: the authors' draw order
        single_pool = self._single_stream(rng)
        batches = []
        for b in range(self.num_batches()):
            chunk: list[int] = []
            for k in pair_order[b * self.pairs_per_batch : (b + 1) * self.pairs_per_batch]:
                chunk.extend(self.index.pairs[k])  # grounded row then textual row
            chunk.extend(next(single_pool) for _ in range(self.singles_per_batch))
            batches.append(chunk)
        return batches

    def _single_stream(self, rng: random.Random) -> Iterator[int]:
        """Endless singles: a fresh permutation each time the previous one runs out (authors' recycling)."""
        singles = list(self.index.singles)
        while singles:
            order = singles[:]
            if self.shuffle:
                rng.shuffle(order)
            yield from order

    def __iter__(self) -> Iterator[int]:
        for chunk in self.generation_batches():
            for _ in range(self.repeat_count):
                for idx in chunk:
                    for _ in range(self.num_generations):
                        yield idx


def find_paired_sampler(loader: Any, *, max_depth: int = 8) -> PairedStreamSampler | None:
    """The `PairedStreamSampler` under a data loader's stack of batch-sampler wrappers, or None.

    A multi-process resume stacks three: accelerate's `SkipBatchSampler(BatchSamplerShard(
    BatchSampler(sampler)))`, one deeper than `DataLoaderShard.set_epoch` and transformers look,
    so without this search the resumed epoch silently replayed epoch 0's order.

    >>> from torch.utils.data import BatchSampler
    >>> sampler = PairedStreamSampler(StreamIndex(pairs=((0, 1),), singles=()), num_generations=2, prompts_per_batch=2)
    >>> class Wrapper:  # like accelerate's SkipBatchSampler / BatchSamplerShard
    ...     def __init__(self, inner): self.batch_sampler = inner
    >>> find_paired_sampler(Wrapper(Wrapper(BatchSampler(sampler, 4, False)))) is sampler
    True
    """
    node = loader
    for _ in range(max_depth):
        if isinstance(node, PairedStreamSampler):
            return node
        node = getattr(node, "batch_sampler", None) or getattr(node, "sampler", None)
        if node is None:
            return None
    return None

