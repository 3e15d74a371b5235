"""`synthetic_scenes` (SFT without data_path) is made by the `ivgr sft` command; `run_sft` reads prepared data only."""

from __future__ import annotations

import pytest

from ivgr.errors import ConfigError


def _config(tmp_path):
    from ivgr.training.sft_config import SFTConfig

    return SFTConfig(model_path="tiny", synthetic_scenes=4, output_dir=str(tmp_path / "run"), seed=3)


def test_make_synthetic_sft_data_writes_scenes_cots_and_gives_the_worlds_words(tmp_path):
    from ivgr.commands.sft_cmd import make_synthetic_sft_data
    from ivgr.data.synthetic import world_vocabulary
    from ivgr.training.sft import read_sft_jsonl

    data = make_synthetic_sft_data(_config(tmp_path), True)
    assert data.path == tmp_path / "run" / "data" / "sft.jsonl" and data.image_dir is None
    assert data.vocabulary == tuple(world_vocabulary())  # the tiny tokenizer's vocab_extra, as before the move
    examples = read_sft_jsonl(data.path, image_dir=data.image_dir, streams=("grounded", "textual"))
    assert sum(e.stream == "grounded" for e in examples) == 4
    assert len(list((tmp_path / "run" / "data" / "scenes").rglob("*.png"))) == 4


def test_a_process_that_does_not_write_gets_the_same_data_and_writes_nothing(tmp_path):
    from ivgr.commands.sft_cmd import make_synthetic_sft_data

    reader = make_synthetic_sft_data(_config(tmp_path), False)
    assert not (tmp_path / "run").exists()
    assert reader == make_synthetic_sft_data(_config(tmp_path), True)


def test_sft_without_data_path_needs_the_command_layers_data_maker(tmp_path):
    from ivgr.training.sft import run_sft

    with pytest.raises(ConfigError, match=r"synthetic_scenes is made by the `ivgr sft` command.*make_synthetic_sft_data"):
        run_sft(_config(tmp_path))
    assert not (tmp_path / "run" / "data").exists()
