"""DDP on CPU: two gloo processes through the real command line, and the SLURM launcher config."""

import csv
import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT, make_cfg
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from graphrec.runtime import CONFIG_DIR, build_datamodule

TASK_KEYS = ("friend/mrr", "career/mrr", "content/mrr", "sentiment/macro_f1")
NEIGHBOR = ["data.loader=neighbor", "data.neighbor.num_neighbors=[5,3]",
            "data.neighbor.batch_size=256"]


def _steps_per_epoch(tmp_path, world_size: int) -> int:
    """Steps of one mini-batch epoch: the largest task's seeds on one rank / batch size."""
    cfg = make_cfg(tmp_path / "probe", NEIGHBOR)
    dm = build_datamodule(cfg.data, OmegaConf.to_container(cfg.task, resolve=True))
    dm.setup()
    sizes = [s.train.size(-1) for s in dm.splits.values()]
    return math.ceil(math.ceil(max(sizes) / world_size) / 256)


@pytest.mark.slow
@pytest.mark.parametrize("loader", ["full", "neighbor"])
def test_two_process_ddp_trains_on_rank_shares_and_reports_once(tmp_path, loader):
    out = tmp_path / "run"
    # The mini-batch run also all-reduces sparse ID-table gradients, which only gloo can.
    extra = [*NEIGHBOR, "model.sparse_embeddings=true"] if loader == "neighbor" else []
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), "trainer=ddp", "trainer.devices=2",
           "trainer.accelerator=cpu", "data=synthetic_tiny", "logger=csv",
           "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=1", f"hydra.run.dir={out}",
           *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    # Two gloo processes joined one group.
    assert "MEMBER: 2/2" in log and "gloo" in log.lower(), log[-3000:]
    # Rank 0 alone wrote results, and printed the table once.
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("results.json")] == \
        [out.relative_to(tmp_path) / "results.json"]
    assert log.count("results: ") == 1
    saved = json.loads((out / "results.json").read_text())
    assert saved["world_size"] == 2
    for split in ("val", "test"):
        for key in TASK_KEYS:
            assert 0.0 < saved[split][f"{split}/{key}"] <= 1.0
    assert (out / "checkpoints" / "best.ckpt").is_file()
    if loader == "neighbor":
        # Each rank iterates only its half of the seeds: half the steps of one process.
        with open(out / "csv" / "metrics.csv") as f:
            val_steps = {int(row["step"]) for row in csv.DictReader(f) if row.get("val/score")}
        per_epoch = _steps_per_epoch(tmp_path, 2)
        assert per_epoch < _steps_per_epoch(tmp_path, 1)
        # The final validation is logged at the global step count: two epochs of shares.
        assert max(val_steps) == 2 * per_epoch


def test_slurm_launcher_config_composes_with_ddp_layout():
    from hydra.utils import get_class

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=submitit_slurm", "trainer=ddp",
                                          "trainer.devices=4", "trainer.num_nodes=2",
                                          "hydra.launcher.partition=gpu"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    # One task per device on every node, as Lightning's SLURM environment expects.
    assert (launcher.tasks_per_node, launcher.gpus_per_node, launcher.nodes) == (4, 4, 2)
    assert launcher.partition == "gpu" and launcher.timeout_min == 240
    assert cfg.trainer.strategy._target_.endswith("DDPStrategy")
    assert cfg.trainer.use_distributed_sampler is False
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        plain = compose("train", overrides=["hydra/launcher=submitit_slurm"],
                        return_hydra_config=True)
    assert (plain.hydra.launcher.tasks_per_node, plain.hydra.launcher.nodes) == (1, 1)
