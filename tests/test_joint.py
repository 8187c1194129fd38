"""Joint multi-task training: static weights and learned uncertainty weighting."""

import math

import pytest
import torch
from conftest import make_cfg

from graphrec.module import GraphRecModule
from graphrec.train import train

TASKS = {"friend": {"kind": "link", "edge_type": ["user", "friends", "user"], "loss_weight": 2.0},
         "sentiment": {"kind": "node", "node_type": "post", "loss_weight": 0.5}}
SPECS = {"user": {"num_nodes": 5, "x_dim": 3}, "post": {"num_nodes": 4, "text_buckets": 10,
                                                         "num_classes": 3}}
META = (["user", "post"], [("user", "friends", "user"), ("user", "authored", "post"),
                           ("post", "rev_authored", "user")])


def _module(weighting):
    return GraphRecModule(META, SPECS, TASKS, {"hidden_channels": 8,
                                               "out_channels": 8}, loss_weighting=weighting)


def test_static_weighting_is_the_weighted_sum():
    m = _module("static")
    losses = {"friend": torch.tensor(1.5), "sentiment": torch.tensor(4.0)}
    assert m.combine_losses(losses).item() == pytest.approx(2.0 * 1.5 + 0.5 * 4.0)
    assert m.log_vars is None


def test_uncertainty_weighting_follows_kendall_et_al():
    m = _module("uncertainty")
    with torch.no_grad():
        m.log_vars["friend"].fill_(math.log(2.0))
        m.log_vars["sentiment"].fill_(-1.0)
    losses = {"friend": torch.tensor(1.5), "sentiment": torch.tensor(4.0)}
    want = (2.0 * 1.5 / 2.0 + math.log(2.0)) + (0.5 * 4.0 * math.e - 1.0)
    assert m.combine_losses(losses).item() == pytest.approx(want, rel=1e-5)
    # The learned variance settles where exp(-s) * L = 1: the gradient in s is 1 - exp(-s) L.
    total = m.combine_losses(losses)
    total.backward()
    assert m.log_vars["friend"].grad.item() == pytest.approx(1 - 1.5, rel=1e-5)


def test_unknown_weighting_is_rejected():
    with pytest.raises(ValueError, match="loss_weighting"):
        _module("gradnorm")


@pytest.mark.slow
def test_short_joint_run_with_uncertainty_weighting(tmp_path):
    res = train(make_cfg(tmp_path, ["task=[friend,sentiment]",
                                    "model.loss_weighting=uncertainty"]))
    for key in ("test/friend/mrr", "test/sentiment/macro_f1"):
        assert 0.0 < res["test"][key] <= 1.0
    state = torch.load(res["best_ckpt"], map_location="cpu", weights_only=False)["state_dict"]
    log_vars = {k: v for k, v in state.items() if k.startswith("log_vars.")}
    assert set(log_vars) == {"log_vars.friend", "log_vars.sentiment"}
    assert all(v.abs().item() > 1e-4 for v in log_vars.values())  # they were trained
