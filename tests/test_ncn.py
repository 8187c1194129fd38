"""The NCN decoder: dense-reference common-neighbour sums, leakage, broadcasting, configs."""

import pytest
import torch
from conftest import make_cfg

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.synthetic import SyntheticSource
from graphrec.models.decoders import build_decoder
from graphrec.models.heuristics import Adjacency
from graphrec.models.ncn import NeuralCommonNeighbors, common_neighbour_sum, neighbour_weight
from graphrec.module import GraphRecModule
from graphrec.train import train
from graphrec.utils.errors import ConfigError

FRIEND = ("user", "friends", "user")
NCN = {"_target_": "graphrec.models.ncn.NeuralCommonNeighbors", "hidden": 16}


def _random_graph(n=40, p=0.15, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < p).triu(1)
    # A hub joined to almost everyone: degree weights then span a wide range.
    a[0, 1:n - 2] = True
    a = a | a.T
    return a.float(), a.nonzero().T


def test_common_neighbour_sum_equals_dense_reference():
    a, ei = _random_graph()
    n = a.size(0)
    adj = Adjacency.from_edge_index(ei, n)
    x = torch.randn(n, 5, dtype=torch.float64) * 1e3  # large magnitudes
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    pairs = torch.stack([u.reshape(-1), v.reshape(-1)])  # every pair, self-pairs included
    deg = a.sum(1)
    weights = {"none": torch.ones(n), "ra": torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0),
               "aa": torch.where(deg > 1, 1 / deg.clamp(min=2).log(), 0.0)}
    shared = a[pairs[0]] * a[pairs[1]]  # [P, N] dense indicator of common neighbours
    for kind, w in weights.items():
        assert torch.allclose(neighbour_weight(adj, kind), w)
        out, feats = common_neighbour_sum(adj, x, pairs, w.double(), budget=97)
        ref = (shared.double() * w.double()) @ x
        assert torch.allclose(out, ref, rtol=1e-9, atol=1e-6)
    for col, kind in enumerate(("none", "aa", "ra")):
        assert torch.allclose(feats[:, col].float(), shared @ weights[kind], atol=1e-4)


@pytest.fixture(scope="module")
def dm():
    d = GraphDataModule(SyntheticSource(num_users=200, community_size=20),
                        {"friend": {"kind": "link", "edge_type": list(FRIEND)}})
    d.setup()
    return d


def _module(dm, **task):
    return GraphRecModule(dm.metadata, dm.node_specs,
                          {"friend": {"kind": "link", "edge_type": list(FRIEND), **task}},
                          {"conv": "sage", "hidden_channels": 16, "out_channels": 16,
                           "id_embedding": ["user"]},
                          decoder=NCN, supervision_ratio=0.3)


def test_decoder_broadcasts_sources_against_negatives(dm):
    torch.manual_seed(0)
    module = _module(dm).eval()
    graph = dm.batches["val"]["graph"]
    task = module.tasks["friend"]
    assert isinstance(task.decoder, NeuralCommonNeighbors)
    z = module(graph)
    src, dst = torch.randint(0, 200, (6,)), torch.randint(0, 200, (6, 4))
    out = task.score(z, src[:, None], dst, graph)
    assert out.shape == (6, 4)
    for k in range(4):
        assert torch.allclose(out[:, k], task.score(z, src, dst[:, k], graph), atol=1e-6)
    # Common neighbours change the score: the decoder really reads the graph.
    cut = graph.clone()
    cut[FRIEND].edge_index = cut[FRIEND].edge_index[:, ::2]
    assert not torch.allclose(out, task.score(z, src[:, None], dst, cut))


def _pairs(ei):
    return set(map(tuple, ei.T.tolist()))


def test_decoder_never_sees_the_target_edge(dm):
    """Every graph the decoder reads lacks the pairs it scores as positives (both directions)."""
    torch.manual_seed(0)
    module = _module(dm)
    task = module.tasks["friend"]
    seen = []
    original = task.decoder.forward

    def spy(z, src, dst, graph):
        seen.append(_pairs(graph[FRIEND].edge_index))
        return original(z, src, dst, graph)

    task.decoder.forward = spy
    # Record which pairs supervise the step: the loss is what scores them.
    supervised = []
    loss = task.loss
    task.loss = lambda z, target, graph=None: (supervised.append(_pairs(target["pos"])),
                                                loss(z, target, graph))[1]
    module.training_step(dm.batches["train"], 0)
    assert seen and supervised and supervised[0]
    for visible in seen:
        assert not supervised[0] & visible
        assert not {(b, a) for a, b in supervised[0]} & visible
    for split in ("val", "test"):
        seen.clear()
        batch = dm.batches[split]
        with torch.no_grad():
            z = module(batch["graph"])
            task.evaluate(z, batch["targets"]["friend"], batch["graph"])
        held_out = _pairs(batch["targets"]["friend"]["pos"])
        assert seen and all(not (held_out | {(b, a) for a, b in held_out}) & v for v in seen)


def test_ncn_needs_a_same_type_relation_and_a_graph(dm):
    with pytest.raises(ConfigError, match="same-type"):
        build_decoder(NCN, 8, edge_type=("user", "applied", "job"))
    dec = build_decoder(NCN, 8, edge_type=FRIEND)
    with pytest.raises(ConfigError, match="data.loader=full"):
        dec({"user": torch.zeros(3, 8)}, torch.tensor([0]), torch.tensor([1]), None)


def test_ncn_config_trains_end_to_end_on_the_tiny_graph(tmp_path):
    cfg = make_cfg(tmp_path, ["model/decoder=ncn", "task=[friend]", "task.friend.loss=bpr",
                              "task.friend.negatives=two_hop"])
    results = train(cfg)
    assert 0.0 < results["test"]["test/friend/mrr"] <= 1.0
    saved = torch.load(results["best_ckpt"], weights_only=False)
    # The checkpoint carries the decoder spec as plain values, so it rebuilds alone.
    assert saved["hyper_parameters"]["decoder"]["_target_"].endswith("NeuralCommonNeighbors")
