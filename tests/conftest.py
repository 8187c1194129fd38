"""Shared fixtures: compose the real configs with Hydra's compose API on the tiny graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from graphrec.models import encoders
from graphrec.runtime import CONFIG_DIR
from graphrec.sources.synthetic import generate_social_graph

ROOT = Path(__file__).resolve().parent.parent
# The built-in encoder families by their config names (configs/model/encoder/<name>.yaml).
ENCODERS = {"sage": encoders.SAGEEncoder, "gat": encoders.GATEncoder,
            "hgt": encoders.HGTEncoder, "mlp": encoders.MLPEncoder, "gcn": encoders.GCNEncoder,
            "identity": encoders.IdentityEncoder}


def make_cfg(out_dir: Path, overrides: list[str] = (), config_name: str = "train"):
    """The real config with the tiny graph, CSV logs and a few epochs, writing to ``out_dir``."""
    base = [] if config_name != "train" else [
        "data=synthetic_tiny", "logger=csv", "trainer.max_epochs=6",
        "trainer.check_val_every_n_epoch=2"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=[*base, *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


@pytest.fixture(scope="session")
def tiny_graph():
    return generate_social_graph(num_users=300, community_size=30, seed=0)


@pytest.fixture(autouse=True)
def _no_inherited_wandb_service(monkeypatch):
    """Each test's subprocesses start their own W&B service, as a user's command does.

    W&B exports ``WANDB_SERVICE`` in a process that started its service, and child processes
    then attach to that service. Once an in-process test had logged to W&B, a training
    subprocess killed by another test left its run registered in pytest's own service, and
    resuming that run stopped with "run ID ... is in use".
    """
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
