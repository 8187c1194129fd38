import math
from collections import defaultdict

import pytest
import torch

from graphrec.metrics.retrieval import full_ranking_metrics, topk_retrieval


def reference_metrics(scores, positives, exclude, ks):
    """Naive per-query loop over a dense score matrix (Python lists)."""
    relevant, excluded = defaultdict(set), defaultdict(set)
    for q, i in positives.T.tolist():
        relevant[q].add(i)
    for q, i in exclude.T.tolist() if exclude is not None else []:
        excluded[q].add(i)
    totals = defaultdict(float)
    for q, rel in relevant.items():
        row = scores[q]
        admissible = [i for i in range(len(row)) if i not in excluded[q] or i in rel]
        ranked = sorted(admissible, key=lambda i: -row[i])
        for k in ks:
            gains = [1.0 if i in rel else 0.0 for i in ranked[:k]]
            totals[f"recall@{k}"] += sum(gains) / len(rel)
            dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
            totals[f"ndcg@{k}"] += dcg / idcg
        best = max(row[i] for i in rel)
        others = [row[i] for i in admissible if i not in rel]
        rank = 1 + sum(s > best for s in others) + 0.5 * sum(s == best for s in others)
        totals["mrr"] += 1 / rank
    return {name: value / len(relevant) for name, value in totals.items()}


def random_problem(seed, num_queries=20, num_cands=50, dim=8):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(num_queries, dim, generator=g, dtype=torch.float64)
    cand = torch.randn(num_cands, dim, generator=g, dtype=torch.float64)
    positives = torch.stack(
        [
            torch.randint(0, num_queries, (40,), generator=g),
            torch.randint(0, num_cands, (40,), generator=g),
        ]
    )
    exclude = torch.stack(
        [
            torch.randint(0, num_queries, (200,), generator=g),
            torch.randint(0, num_cands, (200,), generator=g),
        ]
    )
    return query, cand, positives, exclude


def assert_close(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        assert actual[name] == pytest.approx(expected[name], abs=1e-12), name


def test_hand_checked_example():
    # Identity candidates make each query row its own score vector.
    query = torch.tensor(
        [
            [0.9, 0.8, 0.7, 0.6, 0.5],
            [0.1, 0.2, 0.3, 0.4, 0.5],
            [0.5, 0.4, 0.3, 0.2, 0.1],  # no positives: not evaluated
        ]
    )
    cand = torch.eye(5)
    positives = torch.tensor([[0, 0, 1], [2, 4, 4]])
    exclude = torch.tensor([[0], [0]])
    out = full_ranking_metrics(query, cand, positives, exclude, ks=(2,))
    # Query 0 ranks 1, 2, 3, 4 after excluding item 0: one hit of two at rank 2.
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    expected = {"recall@2": (0.5 + 1) / 2, "ndcg@2": (ndcg0 + 1) / 2, "mrr": (0.5 + 1) / 2}
    assert_close(out, expected)
    assert_close(out, reference_metrics(query.tolist(), positives, exclude, (2,)))


def test_exclusion_removes_higher_scored_known_positive():
    query = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    positives = torch.tensor([[0], [2]])
    excluded = full_ranking_metrics(query, torch.eye(4), positives, torch.tensor([[0], [0]]))
    unfiltered = full_ranking_metrics(query, torch.eye(4), positives)
    assert excluded["mrr"] == pytest.approx(1 / 2)
    assert unfiltered["mrr"] == pytest.approx(1 / 3)


def test_pair_both_positive_and_excluded_stays_rankable():
    query = torch.tensor([[0.9, 0.8, 0.7]])
    positives = torch.tensor([[0], [0]])
    out = full_ranking_metrics(query, torch.eye(3), positives, positives, ks=(1,))
    assert out == {"recall@1": 1.0, "ndcg@1": 1.0, "mrr": 1.0}


@pytest.mark.parametrize("seed", range(5))
def test_random_matches_reference(seed):
    query, cand, positives, exclude = random_problem(seed)
    ks = (1, 5, 10, 100)  # 100 > number of candidates
    scores = (query @ cand.T).tolist()
    assert_close(
        full_ranking_metrics(query, cand, positives, exclude, ks=ks, chunk_size=7),
        reference_metrics(scores, positives, exclude, ks),
    )


def test_custom_score_fn_matches_reference():
    query, cand, positives, exclude = random_problem(11)

    def neg_sq_distance(q, c):
        return -(torch.cdist(q, c) ** 2)

    scores = neg_sq_distance(query, cand).tolist()
    out = full_ranking_metrics(
        query, cand, positives, exclude, ks=(5,), chunk_size=4, score_fn=neg_sq_distance
    )
    assert_close(out, reference_metrics(scores, positives, exclude, (5,)))


def test_chunked_equals_unchunked():
    query, cand, positives, exclude = random_problem(3, num_queries=60, num_cands=80)
    whole = full_ranking_metrics(query, cand, positives, exclude, chunk_size=10_000)
    for chunk_size in (1, 3, 16):
        assert_close(
            full_ranking_metrics(query, cand, positives, exclude, chunk_size=chunk_size), whole
        )


def test_ties_use_mean_of_optimistic_and_pessimistic_rank():
    query, cand = torch.zeros(1, 2), torch.zeros(6, 2)  # every score ties
    exclude = torch.tensor([[0], [2]])
    # Items 0, 3, 4, 5 are admissible non-relevant ties: rank = 1 + 0.5 * 4.
    one = full_ranking_metrics(query, cand, torch.tensor([[0], [1]]), exclude)
    assert one["mrr"] == pytest.approx(1 / 3)
    # Another relevant item in the tie does not push the first one down: 1 + 0.5 * 3.
    two = full_ranking_metrics(query, cand, torch.tensor([[0, 0], [1, 3]]), exclude)
    assert two["mrr"] == pytest.approx(1 / 2.5)
    assert two["mrr"] == pytest.approx(
        reference_metrics(
            torch.zeros(1, 6).tolist(), torch.tensor([[0, 0], [1, 3]]), exclude, (10,)
        )["mrr"]
    )


def test_topk_retrieval_excludes_known_positives_and_matches_brute_force():
    query, cand, _, exclude = random_problem(5, num_queries=30, num_cands=40)
    scores, index = topk_retrieval(query, cand, k=10, exclude_index=exclude, chunk_size=7)
    dense = query @ cand.T
    dense[exclude[0], exclude[1]] = float("-inf")
    expected_scores, expected_index = dense.topk(10, dim=1)
    torch.testing.assert_close(scores, expected_scores)
    assert torch.equal(index, expected_index)
    excluded = set(map(tuple, exclude.T.tolist()))
    assert not any((q, i) in excluded for q, row in enumerate(index.tolist()) for i in row)


def test_topk_retrieval_pads_when_too_few_admissible_candidates():
    query, cand = torch.randn(2, 3), torch.randn(4, 3)
    exclude = torch.tensor([[0, 0, 0], [0, 1, 2]])  # query 0 keeps only item 3
    scores, index = topk_retrieval(query, cand, k=3, exclude_index=exclude)
    assert index[0].tolist() == [3, -1, -1]
    assert torch.isinf(scores[0, 1:]).all() and (index[1] >= 0).all()
    with pytest.raises(ValueError, match="k must be"):
        topk_retrieval(query, cand, k=5)
