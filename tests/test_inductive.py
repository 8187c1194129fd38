"""Inductive split: held-out users have no edge in training, part of theirs shown at test."""

import pytest
import torch
from conftest import make_cfg

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.inductive import InductiveLinkSplit
from graphrec.train import train
from graphrec.utils.errors import ConfigError

FRIENDS = ("user", "friends", "user")


class Fixed:
    name = "fixed"

    def __init__(self, graph):
        self.graph = graph

    def __call__(self):
        return self.graph


def module(graph, ratio=0.1, observed=0.5, **extra):
    tasks = {"friend": {"kind": "link", "edge_type": list(FRIENDS), "split": "inductive",
                        "new_user_ratio": ratio, "observed_ratio": observed},
             "content": {"kind": "link", "edge_type": ["user", "likes", "post"]}, **extra}
    dm = GraphDataModule(Fixed(graph), tasks, split_seed=3)
    dm.setup()
    return dm


def pairs(ei):
    return set(map(tuple, ei.t().tolist()))


def test_new_users_are_unseen_in_training_and_partly_shown_at_test(tiny_graph):
    dm = module(tiny_graph)
    s = dm.splits["friend"]
    assert isinstance(s, InductiveLinkSplit)
    new = set(s.new_nodes.tolist())
    assert len(new) == 30  # 10% of 300
    train_g, test_g = dm.batches["train"]["graph"], dm.batches["test"]["graph"]
    assert dm.batches["val"]["graph"] is train_g
    for et in train_g.edge_types:  # no edge of a new user in any relation while training
        ei = train_g[et].edge_index
        for row, nt in ((0, et[0]), (1, et[2])):
            if nt == "user":
                assert not set(ei[row].tolist()) & new, et
    # Their other relations are there at test (a new user's profile and activity).
    likes = test_g[("user", "likes", "post")].edge_index
    assert set(likes[0].tolist()) & new
    full = pairs(tiny_graph[FRIENDS].edge_index)
    seen = pairs(test_g[FRIENDS].edge_index)
    hidden = pairs(s.new_test)
    for u in new:
        # A pair of two new users is the lower id's.
        mine = {p for p in full if p[0] == u and not (p[1] in new and p[1] < u)}
        shown = {p for p in mine if p in seen}
        hid = {p for p in mine if p in hidden or p[::-1] in hidden}
        assert shown | hid == mine and not shown & hid
        assert len(shown) == int(0.5 * len(mine) + 0.5)  # rounded per user
    for a, b in hidden:  # hidden: in no graph, neither direction; the new user first
        assert a in new and (a, b) not in seen and (b, a) not in seen
    # The transductive pairs never involve a new user.
    for split in ("train", "val", "test"):
        p = s.pairs(split)
        assert not (set(p[0].tolist()) | set(p[1].tolist())) & new, split
    assert s.new_test_neg.shape == (s.new_test.size(1), 100)
    assert dm.batches["test"]["targets"]["friend"]["new_users"]["pos"] is s.new_test
    assert "new_users" not in dm.batches["val"]["targets"]["friend"]


def test_pair_ids_still_point_at_their_train_pairs(tiny_graph):
    dm = module(tiny_graph)
    g, s = dm.batches["train"]["graph"][FRIENDS], dm.splits["friend"]
    pid = g.pair_id
    assert (pid >= 0).all() and pid.max() < s.train.size(1)
    ei = g.edge_index
    lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    assert torch.equal(torch.stack([lo, hi]), s.train[:, pid])


def test_unknown_split_is_a_config_error(tiny_graph):
    dm = GraphDataModule(Fixed(tiny_graph), {"friend": {"kind": "link",
                                                        "edge_type": list(FRIENDS),
                                                        "split": "cold"}})
    with pytest.raises(ConfigError, match="inductive"):
        dm.setup()


@pytest.mark.slow
def test_training_reports_new_user_and_beyond_accuracy_metrics(tmp_path, monkeypatch):
    import json

    from wandb_reader import run_contents

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    res = train(make_cfg(tmp_path, ["task=[friend]", "task.friend.split=inductive",
                                    "task.friend.full_ranking=true", "logger=wandb"]))
    test = res["test"]
    for key in ("mrr", "hits@10", "auc", "recall@20", "full_mrr"):
        assert 0 < test[f"test/friend/new_users/{key}"] < 1, key
        assert 0 < test[f"test/friend/{key}"] < 1
    assert "val/friend/new_users/mrr" not in res["val"]
    assert test["test/friend/new_users/mrr"] != test["test/friend/mrr"]
    saved = json.loads((tmp_path / "results.json").read_text())["test"]
    for key in ("coverage@20", "gini@20", "popularity@20", "heldout_popularity",
                "diversity@20", "novelty@20"):
        assert key.startswith("heldout") or 0 < saved[f"test/friend/{key}"], key
    assert 0 < saved["test/friend/coverage@20"] <= 1 and 0 <= saved["test/friend/gini@20"] < 1
    assert (tmp_path / "popularity_test_friend.png").stat().st_size > 1000
    run = run_contents(next((tmp_path / "wandb").glob("offline-run-*/run-*.wandb")))
    assert run["summary"]["test/friend/gini@20"] == pytest.approx(saved["test/friend/gini@20"])

def test_held_out_users_are_embedded_with_the_mean_id_row_and_the_table_is_restored():
    from torch import nn

    from graphrec.models.encoders import NodeInput
    from graphrec.new_nodes import unseen_id_rows

    module = nn.Module()
    module.encoder = nn.Module()
    module.encoder.inputs = nn.ModuleDict({"user": NodeInput(4, num_nodes=6, id_embedding=True)})
    table = module.encoder.inputs["user"].ids.weight
    before = table.detach().clone()
    new = torch.tensor([1, 4])
    with unseen_id_rows(module, {"user": new, "post": torch.tensor([0])}):
        mean = before[[0, 2, 3, 5]].mean(0)
        assert torch.allclose(table[1], mean) and torch.allclose(table[4], mean)
        assert torch.equal(table[[0, 2, 3, 5]], before[[0, 2, 3, 5]])
    assert torch.equal(table, before)
