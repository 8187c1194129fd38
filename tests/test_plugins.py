"""A new task kind and a new encoder are one file plus one YAML each (tests/plugins.py)."""

import json

from conftest import make_cfg

from graphrec.train import train

TASK_YAML = """\
degree:
  _target_: plugins.DegreeTask
  node_type: user
  relation: [user, friends, user]
"""
ENCODER_YAML = """\
_target_: plugins.MeanEncoder
out_channels: 16
"""


def _plugin_configs(tmp_path):
    root = tmp_path / "configs"
    (root / "task").mkdir(parents=True)
    (root / "model" / "encoder").mkdir(parents=True)
    (root / "task" / "degree.yaml").write_text(TASK_YAML)
    (root / "model" / "encoder" / "mean.yaml").write_text(ENCODER_YAML)
    return f"hydra.searchpath=[file://{root}]"


def test_a_task_kind_from_outside_trains_beside_the_built_in_ones(tmp_path):
    search = _plugin_configs(tmp_path)
    cfg = make_cfg(tmp_path / "run", [search, "task=[friend,degree]", "trainer.max_epochs=30",
                                      "trainer.check_val_every_n_epoch=10"])
    results = train(cfg)
    test = json.loads((tmp_path / "run" / "results.json").read_text())["test"]
    assert test == results["test"]
    # Degree is learnable from ID embeddings plus message passing: far above predicting the
    # mean (R^2 = 0).
    assert test["test/degree/r2"] > 0.15, test
    assert "test/friend/mrr" in test and "test/score" in test


def test_an_encoder_family_from_outside_is_picked_by_its_yaml(tmp_path):
    search = _plugin_configs(tmp_path)
    cfg = make_cfg(tmp_path / "run", [search, "model/encoder=mean", "task=[friend]",
                                      "trainer.max_epochs=4"])
    assert cfg.model.encoder._target_ == "plugins.MeanEncoder"
    results = train(cfg)
    # Chance MRR against 100 negatives is about 0.05.
    assert results["test"]["test/friend/mrr"] > 0.05


def test_a_callback_is_added_from_the_command_line(tmp_path):
    log = tmp_path / "epochs.txt"
    cfg = make_cfg(tmp_path / "run", ["task=[friend]", "trainer.max_epochs=3",
                                      f"+callbacks.epoch_log={{_target_: plugins.EpochLog, "
                                      f"path: '{log}'}}"])
    train(cfg)
    assert log.read_text().split() == ["0", "1", "2"]


def test_a_logger_is_one_yaml_in_the_logger_group(tmp_path):
    root = tmp_path / "configs"
    (root / "logger").mkdir(parents=True)
    log = tmp_path / "metrics.jsonl"
    (root / "logger" / "jsonl.yaml").write_text(
        f"jsonl:\n  _target_: plugins.JsonLinesLogger\n  path: '{log}'\n")
    cfg = make_cfg(tmp_path / "run", [f"hydra.searchpath=[file://{root}]", "logger=[csv,jsonl]",
                                      "task=[friend]", "trainer.max_epochs=2",
                                      "trainer.check_val_every_n_epoch=1"])
    train(cfg)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["val/friend/mrr"] for r in rows if "val/friend/mrr" in r], rows
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()  # the other chosen logger too
