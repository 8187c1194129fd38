"""Beyond-accuracy metrics against closed forms and brute-force references."""

import itertools
import math

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.metrics.beyond import (
    beyond_accuracy,
    coverage,
    exposure,
    gini,
    intra_list_diversity,
    mean_popularity,
    novelty,
)
from graphrec.tasks.link_eval import evaluate_link


def gini_by_pairs(x):
    """Independent form: mean absolute difference over all pairs / (2 * mean)."""
    x = [float(v) for v in x]
    n, mean = len(x), sum(x) / len(x)
    return sum(abs(a - b) for a in x for b in x) / (2 * n * n * mean)


def test_gini_closed_forms():
    n = 50
    assert gini(torch.full((n,), 7)) == pytest.approx(0.0, abs=1e-12)
    one = torch.zeros(n, dtype=torch.long)
    one[13] = 10**9  # a large magnitude: all exposure on one item
    assert gini(one) == pytest.approx((n - 1) / n)
    # Counts 1..n: Gini of the discrete uniform distribution is (n - 1) / (3n).
    assert gini(torch.randperm(n) + 1) == pytest.approx((n - 1) / (3 * n))
    assert math.isnan(gini(torch.zeros(5, dtype=torch.long)))


def test_gini_matches_the_pairwise_form_on_ties():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (40,), generator=g)  # many ties and zeros
    assert gini(x) == pytest.approx(gini_by_pairs(x.tolist()))


def test_exposure_coverage_popularity_novelty_by_hand():
    top = torch.tensor([[0, 1, -1], [1, 2, 3], [1, -1, -1]])
    assert exposure(top, 6).tolist() == [1, 3, 1, 1, 0, 0]
    assert coverage(top, 6) == pytest.approx(4 / 6)
    pop = torch.tensor([10, 2, 0, 5, 1, 1])
    slots = [0, 1, 1, 2, 3, 1]
    assert mean_popularity(top, pop) == pytest.approx(sum(pop[s] for s in slots).item() / 6)
    expected = sum(-math.log2((pop[s].item() + 1) / 11) for s in slots) / 6
    assert novelty(top, pop, num_users=10) == pytest.approx(expected)
    empty = torch.full((2, 3), -1)
    assert math.isnan(mean_popularity(empty, pop)) and math.isnan(novelty(empty, pop, 10))


def test_diversity_by_category_and_by_embedding_match_brute_force():
    g = torch.Generator().manual_seed(1)
    top = torch.randint(0, 30, (9, 5), generator=g)
    top[2, 3:] = -1
    top[4, 1:] = -1  # a list with one item: no pair, left out of the mean
    cats = torch.randint(0, 3, (30,), generator=g)
    emb = torch.randn(30, 4, generator=g) * 1e4  # large magnitudes: cosine must normalize

    def brute(dis):
        per_list = []
        for row in top.tolist():
            items = [i for i in row if i >= 0]
            pairs = [(a, b) for a, b in itertools.permutations(range(len(items)), 2)]
            if pairs:
                per_list.append(sum(dis(items[a], items[b]) for a, b in pairs) / len(pairs))
        return sum(per_list) / len(per_list)

    by_cat = brute(lambda a, b: float(cats[a] != cats[b]))
    by_cos = brute(lambda a, b: 1 - float(torch.nn.functional.cosine_similarity(
        emb[a].double(), emb[b].double(), dim=0)))
    assert intra_list_diversity(top, categories=cats, chunk=2) == pytest.approx(by_cat)
    assert intra_list_diversity(top, emb=emb, chunk=4) == pytest.approx(by_cos)
    assert intra_list_diversity(torch.tensor([[3, 3, 3]]), categories=cats) == 0.0


def test_beyond_accuracy_cuts_lists_at_each_k():
    top = torch.tensor([[0, 1, 2, 3], [0, 1, 4, 5]])
    pop = torch.tensor([9, 8, 1, 1, 0, 0, 3])
    out = beyond_accuracy(top, 7, pop, num_users=10, heldout=torch.tensor([2, 6]), ks=[2, 4])
    assert out["coverage@2"] == pytest.approx(2 / 7) and out["coverage@4"] == pytest.approx(6 / 7)
    assert out["gini@2"] == pytest.approx(gini_by_pairs([2, 2, 0, 0, 0, 0, 0]))
    assert out["popularity@2"] == pytest.approx(8.5)
    assert out["heldout_popularity"] == pytest.approx(2.0)
    assert "diversity@2" not in out  # neither categories nor embeddings given


def test_full_ranking_reports_beyond_metrics_of_the_filtered_lists():
    """The lists scored are the full ranking's own: known edges never in them, popularity is
    the training degree, and the sink holds what the plot draws."""
    et = ("user", "likes", "post")
    n_users, n_posts = 12, 9
    graph = HeteroData()
    graph["user"].num_nodes, graph["post"].num_nodes = n_users, n_posts
    known = torch.tensor([[0, 0, 1, 2, 3, 3, 4], [0, 1, 0, 0, 0, 2, 5]])
    graph[et].edge_index = known
    graph["post"].topic = torch.arange(n_posts) % 3
    g = torch.Generator().manual_seed(0)
    u, p = torch.randn(n_users, 4, generator=g), torch.randn(n_posts, 4, generator=g)
    pos = torch.tensor([[0, 1, 5, 6], [3, 4, 7, 8]])
    target = {"pos": pos, "neg": torch.randint(0, n_posts, (4, 3), generator=g)}
    sink = {}
    out = evaluate_link(lambda a, b: (u[a] * p[b]).sum(-1), target, graph, et,
                        full=(u, p, lambda q, c: q @ c.T), ks=[2, 3], degree_buckets=[1],
                        sink=sink)
    scores = u @ p.T
    scores[known[0], known[1]] = float("-inf")
    lists = scores[torch.tensor([0, 1, 5, 6])].topk(3, dim=1).indices
    pop = torch.bincount(known[1], minlength=n_posts)
    expected = beyond_accuracy(lists, n_posts, pop, n_users, pos[1], [2, 3],
                               categories=graph["post"].topic)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key
    assert sorted(sink["popularity_recommended"].tolist()) == sorted(pop[lists].view(-1).tolist())
    assert sink["popularity_heldout"].tolist() == pop[pos[1]].tolist()
    assert sink["k"] == 3
