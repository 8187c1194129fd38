import torch

from graphrec.data.schema import FORWARD_EDGE_TYPES, NODE_TYPES, reverse_edge_type, validate
from graphrec.sources.synthetic import SyntheticSource, generate_social_graph
from graphrec.utils.provenance import fingerprint


def test_same_seed_same_graph_other_seed_other_graph():
    a = generate_social_graph(num_users=400, seed=3)
    b = generate_social_graph(num_users=400, seed=3)
    c = generate_social_graph(num_users=400, seed=4)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)


def test_graph_follows_schema(tiny_graph):
    validate(tiny_graph)
    assert set(NODE_TYPES) <= set(tiny_graph.node_types)
    for et in FORWARD_EDGE_TYPES:
        ei = tiny_graph[et].edge_index
        rev = tiny_graph[reverse_edge_type(et)].edge_index
        assert ei.size(1) > 0
        assert set(map(tuple, ei.t().tolist())) == set(map(tuple, rev.flip(0).t().tolist()))


def test_friendships_are_symmetric_without_self_loops(tiny_graph):
    ei = tiny_graph["user", "friends", "user"].edge_index
    pairs = set(map(tuple, ei.t().tolist()))
    assert all((v, u) in pairs for u, v in pairs)
    assert (ei[0] != ei[1]).all()


def test_triadic_closure_makes_clustering_far_above_random():
    g = generate_social_graph(num_users=2000, seed=0)
    ei = g["user", "friends", "user"].edge_index
    n = 2000
    adj = torch.zeros(n, n)
    adj[ei[0], ei[1]] = 1
    deg = adj.sum(1)
    triangles = (adj @ adj * adj).sum() / 6
    wedges = (deg * (deg - 1) / 2).sum()
    clustering = 3 * triangles / wedges
    density = ei.size(1) / (n * (n - 1))
    assert clustering > 20 * density


def test_sentiment_labels_balanced_and_texts_padded(tiny_graph):
    y = tiny_graph["post"].y
    counts = torch.bincount(y, minlength=3)
    assert (counts > 0.2 * y.numel()).all()
    tokens = tiny_graph["post"].tokens
    assert tokens.min() >= 0 and tokens.max() <= tiny_graph["post"].num_buckets
    assert (tokens == 0).any() and (tokens[:, 0] > 0).all()


def test_size_scales_with_num_users():
    small = generate_social_graph(num_users=500)
    big = generate_social_graph(num_users=5000)
    ratio = big["user", "friends", "user"].num_edges / small["user", "friends", "user"].num_edges
    assert 7 < ratio < 13


def test_unknown_option_names_valid_ones():
    import pytest

    with pytest.raises(ValueError, match="valid: .*avg_friends"):
        SyntheticSource(num_users=100, avg_freinds=3)
