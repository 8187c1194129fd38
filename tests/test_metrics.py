import torch
from ogb.linkproppred import Evaluator

from graphrec.metrics.classification import binary_metrics, node_classification_metrics
from graphrec.metrics.ranking import ranking_metrics, sampled_ranks, shared_negative_hits


def _tied_scores(g, shape):
    # Few distinct values, so ties between positives and negatives are common.
    return torch.randint(0, 5, shape, generator=g).float()


def test_sampled_mrr_and_hits_match_ogb_with_ties():
    g = torch.Generator().manual_seed(0)
    pos, neg = _tied_scores(g, (500,)), _tied_scores(g, (500, 100))
    ours = ranking_metrics(sampled_ranks(pos, neg), ks=(1, 3, 10))
    ogb = Evaluator(name="ogbl-citation2").eval({"y_pred_pos": pos, "y_pred_neg": neg})
    assert abs(ours["mrr"] - ogb["mrr_list"].mean().item()) < 1e-6
    for k in (1, 3, 10):
        assert abs(ours[f"hits@{k}"] - ogb[f"hits@{k}_list"].mean().item()) < 1e-6


def test_shared_negative_hits_match_ogb_with_ties():
    g = torch.Generator().manual_seed(1)
    pos, neg = _tied_scores(g, (300,)), _tied_scores(g, (1000,))
    ogb = Evaluator(name="ogbl-collab")
    ogb.K = 50
    expected = ogb.eval({"y_pred_pos": pos, "y_pred_neg": neg})["hits@50"]
    assert abs(shared_negative_hits(pos, neg, 50) - expected) < 1e-6


def test_constant_scorer_ranks_in_the_middle():
    ranks = sampled_ranks(torch.zeros(10), torch.zeros(10, 100))
    assert torch.allclose(ranks, torch.full((10,), 51.0))


def test_classification_metrics():
    logits = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    y = torch.tensor([0, 1, 2, 2])
    m = node_classification_metrics(logits, y)
    assert m["acc"] == 0.75
    assert abs(m["macro_f1"] - (1 + 2 / 3 + 2 / 3) / 3) < 1e-6
    assert binary_metrics(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0]))["auc"] == 1.0
