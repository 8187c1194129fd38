"""Link-task evaluation: degree segments and full filtered ranking wired into every split."""

import pytest
import torch
from torch_geometric.data import HeteroData

from graphrec.metrics.retrieval import full_ranking_metrics
from graphrec.tasks.link_eval import (
    evaluate_link,
    sampled_link_metrics,
    segment_names,
    segment_of,
    source_degree,
)
from graphrec.utils.segments import segment_table

ET = ("user", "friends", "user")


def graph_and_targets(seed=0, n=40, edges=120, pos=30, k=20):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, edges), generator=g)
    ei = ei[:, ei[0] != ei[1]]
    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[ET].edge_index = torch.cat([ei, ei.flip(0)], 1)
    target = {"pos": torch.randint(0, n, (2, pos), generator=g),
              "neg": torch.randint(0, n, (pos, k), generator=g)}
    emb = torch.randn(n, 8, generator=g)
    return graph, target, emb


def dot(emb):
    return lambda a, b: (emb[a] * emb[b]).sum(-1)


def test_segment_names_and_bounds():
    assert segment_names([3, 11]) == ["deg_0-2", "deg_3-10", "deg_11+"]
    seg = segment_of(torch.tensor([0, 2, 3, 10, 11, 500]), [3, 11])
    assert seg.tolist() == [0, 0, 1, 1, 2, 2]


def test_segments_add_up_and_equal_the_metric_on_their_subset():
    graph, target, emb = graph_and_targets()
    out = evaluate_link(dot(emb), target, graph, ET, degree_buckets=[3, 7], chunk=7)
    names = segment_names([3, 7])
    assert sum(out[f"n_pos/{s}"] for s in names) == target["pos"].size(1)
    degree = torch.bincount(graph[ET].edge_index[0], minlength=40)[target["pos"][0]]
    seen = 0
    for i, s in enumerate(names):
        mask = segment_of(degree, [3, 7]) == i
        if not mask.any():
            continue
        seen += 1
        p, n = target["pos"][:, mask], target["neg"][mask]
        expected = sampled_link_metrics(dot(emb)(p[0], p[1]), dot(emb)(p[0][:, None], n))
        for key, value in expected.items():
            assert out[f"{key}/{s}"] == pytest.approx(value), (key, s)
    assert seen >= 2  # the data does fall into several segments


def test_degree_comes_from_the_graph_passed_not_the_full_graph():
    # Source 0 has 2 edges in the split graph; the 20 held-out pairs it is scored on would
    # put it in 11+ if they were counted.
    graph = HeteroData()
    graph["user"].num_nodes = 30
    graph[ET].edge_index = torch.tensor([[0, 0, 1, 2], [1, 2, 0, 0]])
    target = {"pos": torch.stack([torch.zeros(20, dtype=torch.long), torch.arange(3, 23)]),
              "neg": torch.randint(0, 30, (20, 5))}
    out = evaluate_link(lambda a, b: (a + b).float(), target, graph, ET)
    assert out["n_pos/deg_0-2"] == 20 and out["n_pos/deg_11+"] == 0
    assert source_degree(graph, ET).tolist()[:3] == [2, 1, 1]


def test_full_ranking_excludes_the_graph_edges_and_self_pairs():
    graph, target, emb = graph_and_targets(1)
    known = graph[ET].edge_index
    loops = torch.arange(40).repeat(2, 1)
    boost = torch.zeros(40, 40)
    boost[known[0], known[1]] = 1e6
    boost[loops[0], loops[1]] = 1e6
    pos = target["pos"]
    fresh = boost[pos[0], pos[1]] == 0  # held-out pairs are never known ones
    target = {"pos": pos[:, fresh], "neg": target["neg"][fresh]}
    ids = torch.arange(40)
    out = evaluate_link(dot(emb), target, graph, ET, degree_buckets=None, ks=[5],
                        full=(ids, ids, lambda q, c: emb[q] @ emb[c].T))
    expected = full_ranking_metrics(emb, emb, target["pos"], torch.cat([known, loops], 1),
                                    ks=[5])
    assert out["full_mrr"] == pytest.approx(expected["mrr"])
    assert out["recall@5"] == pytest.approx(expected["recall@5"])
    # Known edges and self pairs scored sky-high change nothing: they are not candidates.
    boosted = evaluate_link(dot(emb), target, graph, ET, degree_buckets=None, ks=[5],
                            full=(ids, ids, lambda q, c: emb[q] @ emb[c].T + boost[q][:, c]))
    assert boosted["full_mrr"] == pytest.approx(out["full_mrr"])
    unfiltered = full_ranking_metrics(ids, ids, target["pos"], None, ks=[5],
                                      score_fn=lambda q, c: emb[q] @ emb[c].T + boost[q][:, c])
    assert unfiltered["mrr"] < out["full_mrr"] / 2  # the boost would have hurt unfiltered


def test_full_ranking_segments_average_to_the_whole():
    graph, target, emb = graph_and_targets(2)
    full = (torch.arange(40), torch.arange(40), lambda q, c: emb[q] @ emb[c].T)
    whole = evaluate_link(dot(emb), target, graph, ET, degree_buckets=None, full=full,
                          symmetric=True, ranking_chunk=4)
    split = evaluate_link(dot(emb), target, graph, ET, degree_buckets=[3, 7], full=full,
                          symmetric=True, ranking_chunk=7)
    for key in ("full_mrr", "recall@10", "ndcg@20"):
        assert split[key] == pytest.approx(whole[key])
    assert sum(split[f"n_queries/{s}"] for s in segment_names([3, 7])) == len(
        torch.unique(torch.cat([target["pos"][0], target["pos"][1]])))


def test_segment_table_rows():
    cols, rows = segment_table({"val/friend/mrr": 0.5, "val/friend/mrr/deg_0-2": 0.1,
                                "val/friend/n_pos/deg_0-2": 3, "test/friend/mrr/deg_3+": 0.7})
    assert cols == ["split", "task", "segment", "mrr", "n_pos"]
    assert rows == [["test", "friend", "deg_3+", 0.7, None], ["val", "friend", "deg_0-2", 0.1, 3]]
