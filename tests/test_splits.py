"""Leakage tests: no held-out edge is visible to message passing when it is scored."""

import pytest
import torch

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.schema import reverse_edge_type
from graphrec.sources.synthetic import SyntheticSource
from graphrec.utils.errors import ConfigError

TASKS = {
    "friend": {"kind": "link", "edge_type": ["user", "friends", "user"]},
    "career": {"kind": "link", "edge_type": ["user", "applied", "job"]},
    "content": {"kind": "link", "edge_type": ["user", "likes", "post"]},
    "sentiment": {"kind": "node", "node_type": "post"},
}


def _dm(temporal=False, **kw):
    dm = GraphDataModule(SyntheticSource(num_users=300, community_size=30, **kw), TASKS,
                         temporal=temporal, num_eval_negatives=20)
    dm.setup()
    return dm


def _pairs(ei):
    return set(map(tuple, ei.t().tolist()))


@pytest.mark.parametrize("temporal", [False, True])
def test_held_out_edges_invisible_where_scored(temporal):
    dm = _dm(temporal)
    for name in ("friend", "career", "content"):
        et = tuple(TASKS[name]["edge_type"])
        rev = reverse_edge_type(et)
        for split, hidden in (("val", ("val", "test")), ("test", ("test",))):
            graph = dm.batches[split]["graph"]
            fwd = _pairs(graph[et].edge_index)
            bwd = {(b, a) for a, b in _pairs(graph[rev].edge_index)}
            for h in hidden:
                pairs = _pairs(dm.splits[name].pairs(h))
                assert pairs, (name, h)
                # The edge itself, its symmetric twin and its reverse-type copy are all absent.
                assert not pairs & fwd, (name, split, h)
                assert not {(b, a) for a, b in pairs} & fwd or et != rev, (name, split, h)
                assert not pairs & bwd, (name, split, h)
        # Test-time message passing does use validation edges (OGB protocol).
        assert _pairs(dm.splits[name].val) <= _pairs(dm.batches["test"]["graph"][et].edge_index)


def test_train_test_graph_holds_no_validation_edge():
    """``test_graph=train`` (the NCN paper's Planetoid protocol): the test split is scored
    on the validation graph, so no validation edge passes messages at test time either."""
    dm = GraphDataModule(SyntheticSource(num_users=300, community_size=30), TASKS,
                         num_eval_negatives=20, test_graph="train")
    dm.setup()
    assert dm.batches["test"]["graph"] is dm.batches["val"]["graph"]
    for name in ("friend", "career"):
        et = tuple(TASKS[name]["edge_type"])
        test_edges = _pairs(dm.batches["test"]["graph"][et].edge_index)
        assert not _pairs(dm.splits[name].val) & test_edges
        assert _pairs(dm.splits[name].train) <= test_edges | {(b, a) for a, b in test_edges}
    # Same split and negatives as the default: only the test graph differs.
    ref = _dm()
    assert torch.equal(dm.splits["friend"].test, ref.splits["friend"].test)
    assert torch.equal(dm.splits["friend"].negatives("test"),
                       ref.splits["friend"].negatives("test"))
    with pytest.raises(ConfigError, match="test_graph"):
        GraphDataModule(SyntheticSource(num_users=300), TASKS, test_graph="all")


def test_splits_partition_the_target_edges():
    dm = _dm()
    for name in ("friend", "career", "content"):
        s = dm.splits[name]
        parts = [_pairs(getattr(s, k)) for k in ("train", "val", "test")]
        if name == "friend":
            parts = [{tuple(sorted(p)) for p in part} for part in parts]
        assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
        ei = dm.graph[tuple(TASKS[name]["edge_type"])].edge_index
        every = _pairs(ei) if name != "friend" else {tuple(sorted(p)) for p in _pairs(ei)}
        assert parts[0] | parts[1] | parts[2] == every


def test_temporal_split_holds_out_the_latest_edges():
    dm = _dm(temporal=True)
    et = ("user", "likes", "post")
    store = dm.graph[et]
    time = dict(zip(map(tuple, store.edge_index.t().tolist()), store.edge_time.tolist()))
    times = {k: [time[p] for p in _pairs(getattr(dm.splits["content"], k))]
             for k in ("train", "val", "test")}
    assert max(times["train"]) <= min(times["val"]) and max(times["val"]) <= min(times["test"])


def test_eval_negatives_are_not_known_edges_and_fixed_by_seed():
    dm, again = _dm(), _dm()
    for name in ("friend", "career"):
        s = dm.splits[name]
        every = _pairs(dm.graph[tuple(TASKS[name]["edge_type"])].edge_index)
        src = s.test[0][:, None].expand_as(s.test_neg)
        negs = set(zip(src.flatten().tolist(), s.test_neg.flatten().tolist()))
        assert len(negs & every) <= 0.01 * len(negs)
        assert torch.equal(s.test_neg, again.splits[name].test_neg)


def test_node_split_is_a_disjoint_cover_of_labelled_posts():
    dm = _dm()
    s = dm.splits["sentiment"]
    all_idx = torch.cat([s.train, s.val, s.test])
    assert all_idx.unique().numel() == all_idx.numel() == dm.graph["post"].num_nodes


def test_task_the_data_cannot_serve_stops_with_the_missing_piece(tiny_graph):
    graph = tiny_graph.clone()
    del graph["post"].y
    dm = GraphDataModule(lambda: graph, TASKS)
    with pytest.raises(ConfigError, match=r"no labels post\.y.*task=\[friend,career,content\]"):
        dm.setup()


def test_supervision_pairs_are_hidden_from_the_training_step_graph():
    from graphrec.module import GraphRecModule

    dm = _dm()
    tasks = {k: v for k, v in TASKS.items() if k != "sentiment"}
    module = GraphRecModule(dm.metadata, dm.node_specs, tasks, {},
                            supervision_ratio=0.3)
    batch = dm.batches["train"]
    graph, targets = module._hide_supervision(batch["graph"], batch["targets"])
    for name in tasks:
        et = tuple(TASKS[name]["edge_type"])
        sup = _pairs(targets[name]["pos"])
        all_train = _pairs(batch["targets"][name]["pos"])
        assert 0.2 * len(all_train) < len(sup) < 0.4 * len(all_train)
        visible = _pairs(graph[et].edge_index)
        visible |= {(b, a) for a, b in _pairs(graph[reverse_edge_type(et)].edge_index)}
        assert not sup & visible
        assert not {(b, a) for a, b in sup} & visible or et != reverse_edge_type(et)
        # The other train pairs still carry messages.
        assert (all_train - sup) <= visible
    # The datamodule's own graph is untouched.
    likes = ("user", "likes", "post")
    assert batch["graph"][likes].num_edges > graph[likes].num_edges
