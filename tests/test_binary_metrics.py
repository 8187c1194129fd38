"""Exact ROC-AUC / AP against scikit-learn on raw scores that break sigmoid-based code."""

import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from graphrec.metrics.binary import average_precision, roc_auc
from graphrec.metrics.classification import binary_metrics


def oracle(pos: torch.Tensor, neg: torch.Tensor) -> tuple[float, float]:
    scores = torch.cat([pos.flatten(), neg.flatten()]).double().numpy()
    labels = [1] * pos.numel() + [0] * neg.numel()
    return roc_auc_score(labels, scores), average_precision_score(labels, scores)


def cases():
    g = torch.Generator().manual_seed(0)
    # Count-valued scores in the thousands with many ties (preferential attachment): a
    # sigmoid maps every one of them to 1.0.
    yield "thousands_tied", (torch.randint(1000, 1060, (400,), generator=g).float() * 7,
                             torch.randint(990, 1050, (4000,), generator=g).float() * 7)
    yield "large_continuous", (torch.randn(300, generator=g, dtype=torch.float64) * 1e4 + 5e3,
                               torch.randn(3000, generator=g, dtype=torch.float64) * 1e4)
    yield "negative", (-torch.randint(0, 20, (200,), generator=g).float() * 50,
                       -torch.randint(5, 30, (700,), generator=g).float() * 50)
    yield "few_distinct", (torch.randint(0, 3, (50,), generator=g).float(),
                           torch.randint(0, 3, (500,), generator=g).float())
    yield "tiny", (torch.tensor([3.0]), torch.tensor([3.0, 1.0]))
    yield "one_each_tied", (torch.tensor([5.0]), torch.tensor([5.0]))
    yield "all_equal", (torch.full((30,), 1234.5), torch.full((70,), 1234.5))
    yield "perfect", (torch.tensor([100.0, 200.0]), torch.tensor([-1.0, 0.0, 99.0]))
    yield "reversed", (torch.tensor([-5.0, -6.0]), torch.tensor([10.0, 20.0, 30.0]))
    # Distinct only in float64 beyond float32 resolution: must not become ties.
    yield "float64_close", (torch.tensor([1.0 + 1e-12, 1.0 + 3e-12], dtype=torch.float64),
                            torch.tensor([1.0, 1.0 + 2e-12], dtype=torch.float64))
    yield "negatives_2d", (torch.randint(0, 10, (40,), generator=g).float() * 300,
                           torch.randint(0, 10, (40, 25), generator=g).float() * 300)


@pytest.mark.parametrize(("name", "data"), list(cases()), ids=[n for n, _ in cases()])
def test_auc_and_ap_match_sklearn(name, data):
    pos, neg = data
    auc, ap = oracle(pos, neg)
    assert roc_auc(pos, neg) == pytest.approx(auc, abs=1e-12)
    assert average_precision(pos, neg) == pytest.approx(ap, abs=1e-12)
    assert binary_metrics(pos, neg) == pytest.approx({"auc": auc, "ap": ap}, abs=1e-12)


def test_order_of_tied_scores_does_not_matter():
    pos, neg = torch.tensor([2.0, 1.0, 2.0]), torch.tensor([2.0, 2.0, 0.0, 1.0])
    shuffled = (pos.flip(0), neg[torch.tensor([3, 0, 2, 1])])
    assert binary_metrics(pos, neg) == binary_metrics(*shuffled)


def test_scores_above_sigmoid_saturation_stay_distinct():
    # Every score sigmoid-saturates to 1.0 in float32; the ranking is still perfect.
    pos, neg = torch.tensor([60.0, 70.0, 80.0]), torch.tensor([20.0, 30.0, 40.0, 50.0])
    assert binary_metrics(pos, neg) == {"auc": 1.0, "ap": 1.0}


def test_undefined_cases_are_nan():
    one = torch.tensor([1.0])
    empty = torch.tensor([])
    assert torch.isnan(torch.tensor(roc_auc(one, empty)))
    assert torch.isnan(torch.tensor(roc_auc(empty, one)))
    assert torch.isnan(torch.tensor(average_precision(empty, one)))
    assert average_precision(one, empty) == 1.0
