"""Completed common neighbours (graphrec.models.completion) against a dense reference."""

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.models.completion import CompletionTable
from graphrec.models.decoders import build_decoder
from graphrec.models.heuristics import Adjacency
from graphrec.models.ncn import LOG_EPS
from graphrec.utils.errors import ConfigError

FRIEND = ("user", "friends", "user")
NCN = {"_target_": "graphrec.models.ncn.NeuralCommonNeighbors", "hidden": 16,
       "heuristics": "log", "completion": "jaccard"}


def _graph(n=40, p=0.12, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < p).triu(1)
    a[0, 1:n - 3] = True  # a hub: degree weights and Jaccard denominators span a wide range
    a = a | a.T  # node n - 1 may be isolated: zero degrees must not divide
    return a.double(), a.nonzero().T


def _dense_side(a):
    """``sum_k (A_uk P_vk + P_uk A_vk) / d_k`` with ``P`` Jaccard, 0 on edges and diagonal."""
    deg = a.sum(1)
    inv = torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)
    cn = a @ a
    p = cn / (deg[:, None] + deg[None, :] - cn).clamp(min=1) * (1 - a)
    p.fill_diagonal_(0)
    return (a * inv) @ p.T + (p * inv) @ a


def _all_pairs(n):
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return torch.stack([u.reshape(-1), v.reshape(-1)])


@pytest.mark.parametrize("seed", [0, 1])
def test_side_equals_the_dense_reference_on_every_pair(seed):
    a, ei = _graph(seed=seed)
    n = a.size(0)
    pairs = _all_pairs(n)
    side = CompletionTable(Adjacency.from_edge_index(ei, n)).side(pairs)
    ref = _dense_side(a)[pairs[0], pairs[1]]
    assert (ref > 0).float().mean() > 0.3  # the reference is not mostly zeros
    assert torch.allclose(side.double(), ref, atol=1e-6)
    # Symmetric, like the graph: the completed half does not depend on the pair's order.
    assert torch.allclose(side, CompletionTable(Adjacency.from_edge_index(ei, n))
                          .side(pairs.flip(0)))


def test_a_neighbour_of_both_ends_is_not_completed():
    """A triangle u-w-v with the edge u-v: w is a common neighbour, so nothing is completed;
    take the edge w-v away and w becomes a completion of (u, v) weighted by J(v, w)."""
    tri = torch.tensor([[0, 0, 1], [1, 2, 2]])
    pairs = torch.tensor([[0], [1]])
    assert CompletionTable(Adjacency.from_edge_index(tri, 3)).side(pairs).item() == 0
    # Path 0 - 1 - 2 - 3, pair (0, 3), no common neighbour: 1 (0's neighbour) counts with
    # J(3, 1) = |{2}| / |{0, 2}| = 1/2 over d_1 = 2, and 2 (3's neighbour) with J(0, 2) = 1/2
    # over d_2 = 2: 0.25 + 0.25.
    path = torch.tensor([[0, 1, 2], [1, 2, 3]])
    table = CompletionTable(Adjacency.from_edge_index(path, 4))
    assert torch.allclose(table.side(torch.tensor([[0], [3]])), torch.tensor([0.5]))


def test_oversized_graphs_are_refused_by_name():
    a, ei = _graph()
    with pytest.raises(ConfigError, match="completion_max_products"):
        CompletionTable(Adjacency.from_edge_index(ei, a.size(0)), max_products=100)


def test_ncn_feeds_log_completed_ra_as_its_last_heuristic_input():
    a, ei = _graph()
    n = a.size(0)
    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[FRIEND].edge_index = ei
    dec = build_decoder({**NCN, "completion_alpha": 0.5}, 4, edge_type=FRIEND).eval()
    seen = {}
    dec.mlp.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    pairs = _all_pairs(n)
    dec({"user": torch.randn(n, 4)}, pairs[0], pairs[1], graph)
    deg = a.sum(1)
    ra = (a * torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)) @ a
    ref = (ra + 0.5 * _dense_side(a) + LOG_EPS).log()[pairs[0], pairs[1]]
    assert seen["x"].size(1) == 2 * 4 + 6
    assert torch.allclose(seen["x"][:, -1].double(), ref, atol=1e-4)
    # Cached for one adjacency (evaluation graphs), rebuilt for another (each step's graph).
    table = dec._table[1]
    dec({"user": torch.randn(n, 4)}, pairs[0], pairs[1], graph)
    assert dec._table[1] is table
    cut = graph.clone()
    cut[FRIEND].edge_index = ei[:, ::2]
    dec({"user": torch.randn(n, 4)}, pairs[0], pairs[1], cut)
    assert dec._table[1] is not table


def test_completion_options_are_checked():
    with pytest.raises(ConfigError, match="heuristics"):
        build_decoder({**NCN, "heuristics": False}, 4, edge_type=FRIEND)
    with pytest.raises(ConfigError, match="completion="):
        build_decoder({**NCN, "completion": "katz"}, 4, edge_type=FRIEND)
    with pytest.raises(ConfigError, match="one node type"):
        build_decoder(NCN, 4, edge_type=("user", "applied", "job"))
    # Posts both users like: one relation, but across types; refused when built, not later.
    with pytest.raises(ConfigError, match="cn_path"):
        build_decoder({**NCN, "cn_path": [["user", "likes", "post"]]}, 4, edge_type=FRIEND)
