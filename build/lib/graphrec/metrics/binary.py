"""Exact ROC-AUC and average precision of raw scores (no sigmoid, ties handled exactly).

Written here rather than taken from torchmetrics: its ``binary_auroc`` /
``binary_average_precision`` read float inputs outside ``[0, 1]`` as logits and apply a
sigmoid in float32, which maps every score above ~17 to 1.0 and so turns count-valued
heuristic scores (preferential attachment in the thousands) into one giant tie
(ego-Facebook PA: AUC 0.50 instead of 0.71). scikit-learn is exact but works on NumPy
arrays on the CPU; these stay in torch (any device), in float64, and agree with
``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` (tests/test_metrics.py).
"""

from __future__ import annotations

import torch

from graphrec.metrics.finite import check_finite


def _grouped(pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positives and negatives per distinct score, scores ascending: ``([G], [G])`` float64."""
    scores = torch.cat([pos.flatten(), neg.flatten()]).double()
    _, inverse = torch.unique(scores, return_inverse=True)
    groups = int(inverse.max()) + 1 if inverse.numel() else 0
    is_pos = torch.zeros_like(scores)
    is_pos[: pos.numel()] = 1.0
    n_pos = torch.zeros(groups, dtype=torch.float64, device=scores.device).index_add_(
        0, inverse, is_pos)
    n_all = torch.bincount(inverse, minlength=groups).double()
    return n_pos, n_all - n_pos


def roc_auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Mann-Whitney ROC-AUC: ``P(s+ > s-) + P(s+ == s-) / 2`` over all pos/neg pairs.

    Args:
        pos: ``[P]`` scores of positives (any shape, flattened), raw (any real value).
        neg: ``[N]`` scores of negatives.

    Returns:
        The AUC, or NaN when either set is empty (undefined).

    Raises:
        NonFiniteError: if any score is NaN or infinite.
    """
    check_finite(pos, neg)
    if pos.numel() == 0 or neg.numel() == 0:
        return float("nan")
    n_pos, n_neg = _grouped(pos, neg)
    # Negatives strictly below each group, plus half of those tied with it.
    below = torch.cumsum(n_neg, 0) - n_neg
    wins = (n_pos * (below + 0.5 * n_neg)).sum()
    return (wins / (float(pos.numel()) * float(neg.numel()))).item()


def average_precision(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Average precision as scikit-learn defines it: ``sum_n (R_n - R_{n-1}) P_n``.

    Thresholds are the distinct scores, from the highest down; tied scores enter together
    (one threshold), so a tie between a positive and a negative costs precision at once,
    whatever order the ties were given in. No interpolation.

    Args:
        pos: ``[P]`` scores of positives, raw.
        neg: ``[N]`` scores of negatives.

    Returns:
        The AP, or NaN when there is no positive.

    Raises:
        NonFiniteError: if any score is NaN or infinite.
    """
    check_finite(pos, neg)
    if pos.numel() == 0:
        return float("nan")
    n_pos, n_neg = (t.flip(0) for t in _grouped(pos, neg))  # highest score first
    tp = torch.cumsum(n_pos, 0)
    precision = tp / (tp + torch.cumsum(n_neg, 0))
    return ((n_pos / pos.numel()) * precision).sum().item()
