"""Link losses prefer the positive; hard negatives are never true edges."""

import pytest
import torch
import torch.nn.functional as F

from graphrec.data.negatives import heuristic_negatives, is_edge, two_hop_negatives
from graphrec.models.heuristics import Adjacency, resource_allocation
from graphrec.tasks.losses import LOSSES, link_loss
from graphrec.utils.errors import ConfigError


@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_pushes_positives_up_and_negatives_down(name):
    torch.manual_seed(0)
    # Ties (pos == neg) and large magnitudes: the gradient must still point the right way.
    pos = torch.cat([torch.zeros(4), torch.randn(4) * 3]).requires_grad_()
    neg = torch.cat([torch.zeros(4, 3), torch.randn(4, 3) * 3]).requires_grad_()
    link_loss(name, pos, neg).backward()
    # Strictly at ties; never the wrong way elsewhere (saturated losses give exactly 0).
    assert (pos.grad[:4] < 0).all() and (neg.grad[:4] > 0).all()
    assert (pos.grad <= 0).all() and (neg.grad >= 0).all()
    big_pos = torch.tensor([1e4, -1e4], requires_grad=True)
    big_neg = torch.tensor([[-1e4], [1e4]], requires_grad=True)
    out = link_loss(name, big_pos, big_neg)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(big_pos.grad).all()
    # Lower when the positive outranks its negatives than when it is outranked.
    good = link_loss(name, torch.tensor([2.0]), torch.tensor([[-2.0]]))
    bad = link_loss(name, torch.tensor([-2.0]), torch.tensor([[2.0]]))
    assert good < bad


def test_losses_match_their_formulas():
    pos, neg = torch.tensor([1.0, -0.5]), torch.tensor([[0.2, 0.3], [-1.0, 2.0]])
    assert torch.isclose(link_loss("bpr", pos, neg),
                         -torch.log(torch.sigmoid(pos[:, None] - neg)).mean())
    logits = torch.cat([pos[:, None], neg], 1) / 0.5
    ref = -(logits[:, 0] - torch.logsumexp(logits, 1)).mean()
    assert torch.isclose(link_loss("infonce", pos, neg, temperature=0.5), ref)
    assert torch.isclose(link_loss("margin", pos, neg, margin=1.0),
                         (1.0 - pos[:, None] + neg).clamp(min=0).mean())
    labels = torch.cat([torch.ones(2), torch.zeros(4)])
    assert torch.isclose(link_loss("bce", pos, neg), F.binary_cross_entropy(
        torch.sigmoid(torch.cat([pos, neg.reshape(-1)])), labels))
    rank = 1 + torch.sigmoid((neg - pos[:, None]) / 0.5).sum(1)
    assert torch.isclose(link_loss("approx_mrr", pos, neg, temperature=0.5), -(1 / rank).mean())
    with pytest.raises(ConfigError, match="bpr"):
        link_loss("hinge", pos, neg)


def test_approx_mrr_tends_to_minus_the_mrr_and_ignores_settled_positives():
    torch.manual_seed(0)
    pos, neg = torch.randn(50), torch.randn(50, 20)
    exact = 1 + (neg > pos[:, None]).sum(1)
    assert torch.isclose(link_loss("approx_mrr", pos, neg, temperature=1e-4),
                         -(1 / exact.float()).mean())
    # A positive far below (or above) all its negatives gets almost no gradient; one among
    # them gets the most: unlike InfoNCE, which pushes hardest on the hopeless one.
    p = torch.tensor([-20.0, 0.0, 20.0], requires_grad=True)
    link_loss("approx_mrr", p, torch.zeros(3, 5), temperature=1.0).backward()
    g = -p.grad
    assert g[1] > 100 * g[0] and g[1] > 100 * g[2]
    q = torch.tensor([-20.0, 0.0, 20.0], requires_grad=True)
    link_loss("infonce", q, torch.zeros(3, 5), temperature=1.0).backward()
    assert -q.grad[0] > -q.grad[1]


def _graph(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.08).triu(1)
    a = a | a.T
    return a, Adjacency.from_edge_index(a.nonzero().T, n)


def test_two_hop_negatives_exclude_true_edges_and_are_two_hops_away():
    a, adj = _graph()
    n = a.size(0)
    src = torch.arange(n).repeat(20)
    neg = two_hop_negatives(src, 3, adj, adj, n, hard_ratio=1.0,
                            generator=torch.Generator().manual_seed(1))
    s = src[:, None].expand_as(neg)
    assert not a[s, neg].any() and not (neg == s).any()
    two_hop = (a.float() @ a.float()) > 0
    reachable = (two_hop & ~a & ~torch.eye(n, dtype=torch.bool)).any(1)
    # Sources that have a two-hop non-neighbour get one (hard_ratio=1).
    assert two_hop[s, neg][reachable[src]].all()
    mixed = two_hop_negatives(src, 3, adj, adj, n, hard_ratio=0.0,
                              generator=torch.Generator().manual_seed(1))
    assert not a[s, mixed].any() and not (mixed == s).any()
    assert two_hop[s, mixed].float().mean() < two_hop[s, neg].float().mean()


def test_heart_negatives_are_the_top_ra_non_edges():
    a, adj = _graph()
    n = a.size(0)
    held = torch.tensor([[0, 5, 9, 0], [7, 3, 1, 2]])
    # The true graph knows more edges than the message-passing graph: both are excluded.
    known_a = a.clone()
    known_a[held[0], held[1]] = known_a[held[1], held[0]] = True
    known = Adjacency.from_edge_index(known_a.nonzero().T, n)
    neg = heuristic_negatives(held, adj, known, 5, torch.Generator().manual_seed(0))
    assert neg.shape == (4, 5)
    assert torch.equal(neg[0], neg[3])  # one ranking per source
    for i in range(4):
        u = int(held[0, i])
        assert not is_edge(known, torch.full((5,), u), neg[i]).any() and not (neg[i] == u).any()
        ra = resource_allocation(adj, torch.stack([torch.full((n,), u), torch.arange(n)]))
        allowed = ~known_a[u] & (torch.arange(n) != u)
        chosen = torch.zeros(n, dtype=torch.bool)
        chosen[neg[i]] = True
        assert ra[neg[i]].min() >= ra[allowed & ~chosen].max() - 1e-5


@pytest.mark.parametrize("edge_type", [("user", "friends", "user"), ("user", "applied", "job")])
def test_non_edge_negatives_avoid_every_train_edge_the_uniform_ones_hit(edge_type):
    """``negatives=non_edges``: no training negative is a train edge, neither of the step
    graph nor among the supervision pairs hidden from it, nor (within one type) the source
    itself; ``uniform`` on the same dense graph does hit them, so the check has teeth."""
    from torch_geometric.data import HeteroData

    from graphrec.tasks.link import LinkTask

    s, _, d = edge_type
    n_s, n_d = 40, (40 if s == d else 30)  # across types: more sources than targets
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n_s, n_d, generator=g) < (0.35 if s == d else 0.25)
    if s == d:
        a = (a.triu(1) | a.triu(1).T)
    ei = a.nonzero().T
    hidden = torch.rand(ei.size(1), generator=g) < 0.3
    graph = HeteroData()
    graph[s].num_nodes, graph[d].num_nodes = n_s, n_d
    graph[edge_type].edge_index = ei[:, ~hidden]
    pos = ei[:, hidden]
    src = pos[0]
    for negatives in ("non_edges", "uniform"):
        task = LinkTask("t", edge_type, 8, neg_ratio=50, negatives=negatives,
                        symmetric=s == d)
        torch.manual_seed(1)
        neg = task.sample_negatives(src, pos, n_d, graph)
        assert neg.shape == (src.numel(), 50) and int(neg.max()) < n_d
        hits = a[src[:, None].expand_as(neg), neg]
        if s == d:
            hits |= neg == src[:, None]
        if negatives == "non_edges":
            assert not hits.any()
        else:
            assert hits.float().mean() > 0.2
