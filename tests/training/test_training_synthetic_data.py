"""`data_path: synthetic` is made by the `ivgr train` command; the trainer itself reads prepared data only."""

from __future__ import annotations

import pytest

from ivgr.errors import ConfigError


def _config(tmp_path, data_path: str = "synthetic"):
    from ivgr.training.config import config_from_dict

    return config_from_dict({"model_path": "tiny", "data_path": data_path, "output_dir": str(tmp_path / "run"),
                             "num_generations": 2, "per_device_train_batch_size": 4, "steps_per_generation": 1,
                             "use_cpu": True}, check_data=False)


def test_make_synthetic_data_writes_the_world_once_and_points_the_config_at_it(tmp_path, monkeypatch):
    from ivgr.commands import train_cmd
    from ivgr.data.prepared import read_prepared

    monkeypatch.setattr(train_cmd, "SYNTHETIC_SCENES", 4)  # the recipe's 32 scenes take longer to draw
    cfg = _config(tmp_path)
    train_cmd.make_synthetic_data(cfg)
    path = tmp_path / "run" / "synthetic-data"
    assert cfg.data_path == str(path)
    assert len(read_prepared(path)) == 4
    written = (path / "samples.jsonl").stat().st_mtime_ns

    again = _config(tmp_path)  # a resumed run finds the world already there
    train_cmd.make_synthetic_data(again)
    assert again.data_path == str(path) and (path / "samples.jsonl").stat().st_mtime_ns == written


def test_make_synthetic_data_leaves_a_prepared_dataset_alone(tmp_path):
    from ivgr.commands.train_cmd import make_synthetic_data

    cfg = _config(tmp_path, data_path=str(tmp_path / "prepared"))
    make_synthetic_data(cfg)
    assert cfg.data_path == str(tmp_path / "prepared") and not (tmp_path / "run").exists()


def test_the_trainer_does_not_make_synthetic_data(tmp_path):
    from ivgr.training.train import resolve_data_path

    with pytest.raises(ConfigError, match=r"'synthetic' is made by the `ivgr train` command.*make_synthetic_data"):
        resolve_data_path(_config(tmp_path))
    assert not (tmp_path / "run").exists()


def test_train_prepares_data_only_after_the_judge_preflight(tmp_path, monkeypatch):
    """A dead judge stops the run before the command layer writes the synthetic world."""
    import socket

    from ivgr.errors import IvgrError
    from ivgr.training.config import config_from_dict
    from ivgr.training.train import train

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    monkeypatch.setenv("IVGR_JUDGE_API_KEY", "test-key")
    cfg = config_from_dict({"model_path": "tiny", "data_path": "synthetic", "output_dir": str(tmp_path / "run"),
                            "num_generations": 2, "per_device_train_batch_size": 4, "steps_per_generation": 1,
                            "use_cpu": True, "judge": {"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1",
                                                       "model": "judge", "max_retries": 0}})
    prepared = []
    with pytest.raises(IvgrError, match="unreachable"):
        train(cfg, prepare_data=prepared.append)
    assert prepared == [] and not (tmp_path / "run").exists()
