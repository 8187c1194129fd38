import pytest
import torch

from graphrec.models.heuristics import (
    HEURISTICS,
    Adjacency,
    HeuristicScorer,
    _shared_neighbor_sum,
    common_neighbors,
    katz,
    ppr,
)
from graphrec.utils.errors import ConfigError

NUM_NODES = 25


def random_graph(seed):
    """Random multigraph with duplicates, self-loops and isolated nodes, plus query pairs."""
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, NUM_NODES - 3, (2, 70), generator=g)
    pairs = torch.randint(0, NUM_NODES, (2, 60), generator=g)
    return edge_index, pairs


def dense_adjacency(edge_index, undirected):
    adj = torch.zeros(NUM_NODES, NUM_NODES, dtype=torch.float64)
    adj[edge_index[0], edge_index[1]] = 1.0
    if undirected:
        adj[edge_index[1], edge_index[0]] = 1.0
    return adj


def dense_reference(adj, name, **kw):
    """Every heuristic as dense N x N matrix algebra."""
    out_deg, in_deg = adj.sum(1), adj.sum(0)
    shared = adj @ adj.T  # shared out-neighbours
    if name == "common_neighbors":
        return shared
    if name == "jaccard":
        union = out_deg[:, None] + out_deg[None, :] - shared
        return torch.where(union > 0, shared / union.clamp(min=1), 0.0)
    if name == "adamic_adar":
        weight = torch.where(in_deg > 1, 1 / in_deg.log(), 0.0)
        return adj @ torch.diag(weight) @ adj.T
    if name == "resource_allocation":
        return adj @ torch.diag(1 / in_deg.clamp(min=1)) @ adj.T
    if name == "preferential_attachment":
        return out_deg[:, None] * in_deg[None, :]
    if name == "katz":
        power, total = torch.eye(NUM_NODES, dtype=adj.dtype), torch.zeros_like(adj)
        for length in range(1, kw["max_length"] + 1):
            power = power @ adj
            total += kw["beta"] ** length * power
        return total
    if name == "ppr":
        transition = adj / out_deg.clamp(min=1)[:, None]  # dangling rows stay zero
        eye = torch.eye(NUM_NODES, dtype=adj.dtype)
        alpha = kw["alpha"]
        return alpha * torch.linalg.inv(eye - (1 - alpha) * transition)  # row u = π_u
    raise KeyError(name)


KWARGS = {
    "katz": {"beta": 0.1, "max_length": 3, "budget": 50, "scratch": 60},
    "ppr": {"alpha": 0.2, "method": "push", "eps": 1e-8, "source_chunk": 4},
}
REF_KWARGS = {"katz": {"beta": 0.1, "max_length": 3}, "ppr": {"alpha": 0.2}}


@pytest.mark.parametrize("undirected", [True, False])
@pytest.mark.parametrize("name", sorted(HEURISTICS))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_dense_reference(name, undirected, seed):
    edge_index, pairs = random_graph(seed)
    scores = HEURISTICS[name](edge_index, pairs, NUM_NODES, undirected, **KWARGS.get(name, {}))
    reference = dense_reference(
        dense_adjacency(edge_index, undirected), name, **REF_KWARGS.get(name, {})
    )
    assert scores.shape == (pairs.size(1),)
    torch.testing.assert_close(scores.double(), reference[pairs[0], pairs[1]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("undirected", [True, False])
@pytest.mark.parametrize("max_length", [1, 2, 3, 4])
def test_katz_path_counts_and_propagation_match_dense(max_length, undirected):
    # Lengths <= 3 use path counts of the pairs, longer ones dense propagation.
    edge_index, pairs = random_graph(5)
    ref = dense_reference(dense_adjacency(edge_index, undirected), "katz", beta=0.3,
                          max_length=max_length)
    for budget in (1, 1 << 20):  # a group per source, or all sources in one group
        scores = katz(edge_index, pairs, NUM_NODES, undirected, beta=0.3,
                      max_length=max_length, source_chunk=3, budget=budget)
        torch.testing.assert_close(scores.double(), ref[pairs[0], pairs[1]], rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("undirected", [True, False])
def test_ppr_power_iteration_matches_dense(undirected):
    edge_index, pairs = random_graph(6)
    ref = dense_reference(dense_adjacency(edge_index, undirected), "ppr", alpha=0.2)
    scores = ppr(edge_index, pairs, NUM_NODES, undirected, alpha=0.2, method="power",
                 tol=1e-12, source_chunk=4)
    torch.testing.assert_close(scores, ref[pairs[0], pairs[1]], rtol=0, atol=1e-12)


def path_graph(n):
    return torch.stack([torch.arange(n - 1), torch.arange(1, n)])


@pytest.mark.parametrize("tol", [1e-4, 1e-8, 1e-12])
def test_ppr_power_iteration_reaches_its_stated_tolerance_on_a_sparse_graph(tol):
    # A long path with a small restart: 30 fixed iterations left an L1 error of ~0.2 here.
    n, alpha = 400, 0.05
    edge_index = path_graph(n)
    pairs = torch.stack([torch.zeros(n, dtype=torch.long), torch.arange(n)])  # all of π_0
    adj = torch.zeros(n, n, dtype=torch.float64)
    adj[edge_index[0], edge_index[1]] = adj[edge_index[1], edge_index[0]] = 1.0
    transition = adj / adj.sum(1, keepdim=True)
    exact = alpha * torch.linalg.inv(torch.eye(n, dtype=torch.float64)
                                     - (1 - alpha) * transition)[0]
    scores = ppr(edge_index, pairs, n, alpha=alpha, method="power", tol=tol)
    assert (scores - exact).abs().sum() <= tol
    assert (scores - exact).abs().sum() > tol / 1e4  # the tolerance is not vastly overshot


def test_ppr_power_iteration_raises_when_not_converged():
    with pytest.raises(ConfigError, match="did not reach tol=1e-12 in max_iterations=20"):
        ppr(path_graph(50), torch.tensor([[0], [49]]), 50, alpha=0.05, method="power",
            tol=1e-12, max_iterations=20)


def test_ppr_rejects_restart_probability_outside_unit_interval():
    for alpha in (0.0, 1.5):
        with pytest.raises(ConfigError, match="alpha"):
            ppr(path_graph(5), torch.tensor([[0], [4]]), 5, alpha=alpha, method="power")


@pytest.mark.parametrize("undirected", [True, False])
def test_long_katz_matches_dense_float64_reference_without_nan(undirected):
    # beta^l underflows float32 near l = 20 while walk counts grow: NaN at max_length ~30.
    edge_index, pairs = random_graph(9)
    adj = dense_adjacency(edge_index, undirected)
    beta = 0.9 / torch.linalg.eigvals(adj).abs().max().item()  # inside the convergence radius
    ref = dense_reference(adj, "katz", beta=beta, max_length=50)[pairs[0], pairs[1]]
    scores = katz(edge_index, pairs, NUM_NODES, undirected, beta=beta, max_length=50,
                  source_chunk=7)
    assert scores.dtype == torch.float64 and torch.isfinite(scores).all()
    torch.testing.assert_close(scores, ref, rtol=1e-10, atol=1e-14)


def test_long_katz_with_a_small_beta_stays_finite_and_exact():
    edge_index, pairs = random_graph(10)
    ref = dense_reference(dense_adjacency(edge_index, True), "katz", beta=0.01, max_length=50)
    scores = katz(edge_index, pairs, NUM_NODES, beta=0.01, max_length=50)
    torch.testing.assert_close(scores, ref[pairs[0], pairs[1]], rtol=1e-10, atol=1e-30)


def test_ppr_auto_picks_power_iteration_on_small_graphs_and_push_on_large(monkeypatch):
    import graphrec.models.heuristics as h

    edge_index, pairs = random_graph(8)
    power = ppr(edge_index, pairs, NUM_NODES, method="power")
    torch.testing.assert_close(ppr(edge_index, pairs, NUM_NODES), power)
    monkeypatch.setattr(h, "AUTO_POWER_WORK", 10)  # as if the graph were huge
    push = ppr(edge_index, pairs, NUM_NODES)
    torch.testing.assert_close(push, ppr(edge_index, pairs, NUM_NODES, method="push"))
    assert not torch.equal(push, power)


def test_ppr_push_error_stays_within_its_bound():
    edge_index, pairs = random_graph(7)
    adj = dense_adjacency(edge_index, True)
    ref = dense_reference(adj, "ppr", alpha=0.15)[pairs[0], pairs[1]]
    deg = adj.sum(1)[pairs[1]]
    for eps in (1e-2, 1e-4):
        scores = ppr(edge_index, pairs, NUM_NODES, alpha=0.15, method="push", eps=eps).double()
        assert (scores <= ref + 1e-6).all()  # a lower bound ...
        assert (ref - scores <= eps * deg.clamp(min=1) + 1e-6).all()  # ... within eps * d(v)
    coarse = ppr(edge_index, pairs, NUM_NODES, alpha=0.15, method="push", eps=1e-1).double()
    assert (ref - coarse).abs().max() > 1e-3  # the bound is not vacuous here


def test_symmetric_ppr_adds_both_directions():
    edge_index, pairs = random_graph(2)
    pi = dense_reference(dense_adjacency(edge_index, False), "ppr", alpha=0.3)
    scores = ppr(
        edge_index,
        pairs,
        NUM_NODES,
        undirected=False,
        alpha=0.3,
        method="push",
        eps=1e-8,
        symmetric=True,
    )
    expected = pi[pairs[0], pairs[1]] + pi[pairs[1], pairs[0]]
    torch.testing.assert_close(scores.double(), expected, rtol=1e-5, atol=1e-6)


def test_directed_and_undirected_differ():
    edge_index = torch.tensor([[0, 2], [1, 1]])  # 0 -> 1 <- 2
    pairs = torch.tensor([[0, 1, 1], [2, 0, 2]])
    # Directed: 0 and 2 share out-neighbour 1; node 1 has no out-neighbours.
    assert common_neighbors(edge_index, pairs, 3, undirected=False).tolist() == [1, 0, 0]
    assert common_neighbors(edge_index, pairs, 3, undirected=True).tolist() == [1, 0, 0]
    directed = katz(edge_index, pairs, 3, undirected=False, beta=0.5)
    undirected = katz(edge_index, pairs, 3, undirected=True, beta=0.5)
    assert directed.tolist() == [0, 0, 0]  # no directed walk 0 -> 2 or out of 1
    assert (undirected > 0).all()


def test_shared_neighbor_grouping_does_not_change_results():
    edge_index, pairs = random_graph(3)
    adj = Adjacency.from_edge_index(edge_index, NUM_NODES)
    weight = torch.rand(NUM_NODES)
    torch.testing.assert_close(
        _shared_neighbor_sum(adj, pairs, weight, budget=3), _shared_neighbor_sum(adj, pairs, weight)
    )


@pytest.mark.parametrize("name", sorted(HEURISTICS))
def test_scorer_matches_function(name):
    edge_index, pairs = random_graph(4)
    kwargs = KWARGS.get(name, {})
    scorer = HeuristicScorer(name, NUM_NODES, undirected=False, **kwargs).fit(edge_index)
    expected = HEURISTICS[name](edge_index, pairs, NUM_NODES, False, **kwargs)
    torch.testing.assert_close(scorer(pairs), expected)


def test_scorer_errors():
    with pytest.raises(ValueError, match="valid names: .*'adamic_adar'.*'ppr'"):
        HeuristicScorer("pagerank", NUM_NODES)
    with pytest.raises(RuntimeError, match="fit"):
        HeuristicScorer("katz", NUM_NODES)(torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="'auto', 'push' or 'power'"):
        ppr(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long), 2,
            method="exact")
    with pytest.raises(ValueError, match="num_nodes"):
        common_neighbors(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long))
