"""The paired/mixed sampler: grouping, pairing, the authors' paired_ratio rounding, determinism."""

from __future__ import annotations

from collections import Counter

import pytest

from ivgr.errors import ConfigError
from ivgr.training.sampler import PairedStreamSampler, StreamIndex, check_alignment


def _rows(n_pairs: int, n_singles: int) -> tuple[list[str], list[str]]:
    """Dataset layout as rows.py builds it: grounded row, then its textual twin, then singles."""
    ids, streams = [], []
    for k in range(n_pairs):
        ids += [f"p{k}", f"p{k}"]
        streams += ["grounded", "textual"]
    for k in range(n_singles):
        ids.append(f"s{k}")
        streams.append("single")
    return ids, streams


def _sampler(n_pairs=20, n_singles=7, *, g=3, b=10, repeat=1, ratio=0.9, seed=0):
    ids, streams = _rows(n_pairs, n_singles)
    index = StreamIndex.from_rows(ids, streams)
    sampler = PairedStreamSampler(
        index, num_generations=g, prompts_per_batch=b, repeat_count=repeat, paired_ratio=ratio, seed=seed
    )
    return sampler, ids, streams


def test_every_group_of_g_consecutive_indices_is_one_row():
    sampler, _, _ = _sampler(g=3)
    order = list(sampler)
    groups = [order[i : i + 3] for i in range(0, len(order), 3)]
    assert groups and all(len(set(group)) == 1 for group in groups)


def test_both_streams_of_a_question_are_adjacent_groups_in_one_generation_batch():
    g, b = 3, 10
    sampler, ids, streams = _sampler(g=g, b=b)
    order = list(sampler)
    per_batch = b * g
    for start in range(0, len(order), per_batch):
        batch = order[start : start + per_batch]
        heads = batch[::g]  # one index per group
        grounded = [i for i in heads if streams[i] == "grounded"]
        for pos, idx in enumerate(heads):
            if streams[idx] == "grounded":
                twin = heads[pos + 1]
                assert streams[twin] == "textual" and ids[twin] == ids[idx]
                assert pos % 2 == 0  # pairs start on an even group: a 2G-aligned slice never splits one
        assert len(grounded) == sampler.pairs_per_batch


def test_paired_ratio_follows_the_authors_rounding():
    # 512 prompts × 0.9 = 460.8 -> 460 -> 230 pairs and 52 singles (docs/method.md#data-mixing)
    ids, streams = _rows(400, 60)
    sampler = PairedStreamSampler(
        StreamIndex.from_rows(ids, streams), num_generations=5, prompts_per_batch=512, paired_ratio=0.9
    )
    assert (sampler.pairs_per_batch, sampler.singles_per_batch) == (230, 52)
    assert sampler.num_batches() == 400 // 230


def test_singles_are_recycled_within_an_epoch_and_leftover_pairs_dropped():
    sampler, _, streams = _sampler(n_pairs=20, n_singles=3, g=2, b=10, ratio=0.8)  # 4 pairs + 2 singles per batch
    batches = sampler.generation_batches()
    assert len(batches) == 20 // 4
    singles = Counter(i for batch in batches for i in batch if streams[i] == "single")
    assert sum(singles.values()) == 2 * len(batches) and len(singles) == 3  # 10 slots from 3 singles
    counts = Counter(batches[0] + [i for b in batches[1:] for i in b])
    assert all(counts[i] == 1 for i, s in enumerate(streams) if s != "single")


def test_leftover_pairs_are_dropped_for_the_epoch():
    sampler, _, streams = _sampler(n_pairs=11, n_singles=4, g=2, b=10, ratio=0.8)  # 4 pairs per batch
    seen = {i for batch in sampler.generation_batches() for i in batch if streams[i] == "grounded"}
    assert len(seen) == 8  # 11 // 4 = 2 batches; 3 pairs wait for another epoch


def test_each_generation_batch_is_repeated_repeat_count_times():
    sampler, _, _ = _sampler(g=2, b=10, repeat=3)
    order = list(sampler)
    block = 10 * 2
    assert len(order) == len(sampler)
    assert order[:block] == order[block : 2 * block] == order[2 * block : 3 * block]
    assert order[3 * block : 4 * block] != order[:block]


def test_order_is_a_function_of_seed_and_epoch_only():
    a, _, _ = _sampler(seed=7)
    b, _, _ = _sampler(seed=7)
    assert list(a) == list(b)  # two ranks built independently agree
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first  # resume replays the epoch exactly
    state = a.state_dict()
    c, _, _ = _sampler(seed=0)
    c.load_state_dict(state)
    assert list(c) == first


def test_unpaired_stream_rows_become_their_own_units():
    index = StreamIndex.from_rows(["a", "b", "b"], ["textual", "grounded", "textual"])
    assert index.pairs == ((1, 2),) and index.singles == (0,)


def test_no_single_data_uses_all_slots_for_pairs():
    sampler, _, _ = _sampler(n_pairs=10, n_singles=0, b=6, ratio=0.5)
    assert (sampler.pairs_per_batch, sampler.singles_per_batch) == (3, 0)


def test_ratio_too_small_for_one_pair_is_a_config_error():
    with pytest.raises(ConfigError, match="paired_ratio"):
        _sampler(b=2, ratio=0.9)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"num_generations": 1}, "num_generations"),
        ({"generation_batch_size": 12, "per_device_train_batch_size": 6, "steps_per_generation": 2}, "multiple of 2 × num_generations = 8"),
        ({"generation_batch_size": 24, "per_device_train_batch_size": 6, "num_processes": 2}, "pair stays on one process"),
    ],
)
def test_misaligned_batches_fail_with_the_numbers_to_change(kwargs, fragment):
    args = {
        "num_generations": 4,
        "generation_batch_size": 16,
        "per_device_train_batch_size": 8,
        "steps_per_generation": 2,
        "num_processes": 1,
        "paired": True,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=fragment) as err:
        check_alignment(**args)
    assert "\n" not in str(err.value)


def test_aligned_batches_pass():
    check_alignment(
        num_generations=2, generation_batch_size=16, per_device_train_batch_size=4,
        steps_per_generation=2, num_processes=2, paired=True,
    )
