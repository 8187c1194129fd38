"""The GAE reproduction recipes: Kipf & Welling's protocol, as composed from the configs."""

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from graphrec.runtime import CONFIG_DIR, build_datamodule
from graphrec.train import train


def make_cfg(out_dir, overrides):
    """The recipe exactly as the command line composes it (no tiny-graph test defaults)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


@pytest.mark.parametrize("name", ["cora", "citeseer", "pubmed"])
def test_recipe_composes_the_published_protocol(tmp_path, name):
    cfg = make_cfg(tmp_path, [f"experiment=gae_{name}", "seed=7"])
    assert cfg.data.source.name.lower() == name
    assert (cfg.data.val_ratio, cfg.data.test_ratio) == (0.05, 0.10)
    assert cfg.data.num_eval_negatives == 1  # balanced: one non-edge per held-out edge
    assert cfg.data.split_seed == 7  # the split is redrawn with every run's seed
    enc = cfg.model.encoder
    assert enc._target_ == "graphrec.models.encoders.GCNEncoder"
    assert (enc.hidden_channels, enc.out_channels, enc.num_layers) == (32, 16, 2)
    assert enc.dropout == 0.0 and cfg.model.decoder._target_.endswith(".DotProduct")
    assert cfg.model.lr == 0.01 and cfg.model.weight_decay == 0.0
    assert cfg.model.supervision_ratio is None  # GAE reconstructs the graph it encodes
    assert cfg.task.link.self_loops is True  # target A + I
    assert cfg.trainer.max_epochs == 200
    assert cfg.optimized_metric == "val/link/auc" and cfg.task_name == f"gae_{name}"
    assert cfg.data.source.features is (name != "pubmed")


def _data_root():
    base = os.environ.get("GRAPHREC_DATA_DIR")
    if not base or not Path(base, "planetoid", "Cora").exists():
        pytest.skip("GRAPHREC_DATA_DIR with planetoid/Cora is needed")
    return Path(base, "planetoid")


@pytest.mark.data
def test_cora_recipe_scores_each_held_out_edge_against_one_non_edge(tmp_path):
    root = _data_root()
    over = [f"data.source.root={root}", f"data.source.cache_dir={tmp_path / 'cache'}"]
    splits = {}
    for seed in (0, 1):
        cfg = make_cfg(tmp_path, ["experiment=gae_cora", f"seed={seed}", *over])
        dm = build_datamodule(cfg.data, {"link": dict(cfg.task.link)})
        dm.setup()
        splits[seed] = dm
        edges = {tuple(p) for p in dm.graph["paper", "cites", "paper"].edge_index.t().tolist()}
        for split in ("val", "test"):
            pos, neg = (dm.batches[split]["targets"]["link"][k] for k in ("pos", "neg"))
            assert neg.shape == (pos.size(1), 1)
            assert not any((s, t) in edges for s, t in zip(pos[0].tolist(), neg[:, 0].tolist()))
    n = {s: splits[0].splits["link"].pairs(s).size(1) for s in ("train", "val", "test")}
    total = sum(n.values())
    assert abs(n["val"] / total - 0.05) < 0.001 and abs(n["test"] / total - 0.10) < 0.001
    # Different seeds, different splits (Kipf & Welling redraw it every run).
    assert not torch.equal(splits[0].splits["link"].test, splits[1].splits["link"].test)


@pytest.mark.data
@pytest.mark.slow
def test_cora_recipe_trains_to_a_gae_level_auc(tmp_path):
    root = _data_root()
    cfg = make_cfg(tmp_path, ["experiment=gae_cora", "logger=none", "trainer.max_epochs=30",
                              f"data.source.root={root}",
                              f"data.source.cache_dir={tmp_path / 'cache'}"])
    results = train(cfg)
    # 30 of the 200 epochs already land within a few points of the published 91 (full
    # recipe: 90.8 ± 0.7); a broken encoder or target stays near 0.5-0.7.
    assert results["test"]["test/link/auc"] > 0.84
    assert results["test"]["test/link/ap"] > 0.80
