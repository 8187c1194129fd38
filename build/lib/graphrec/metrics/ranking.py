"""Sampled ranking metrics with OGB's semantics.

Each positive is ranked against its own negatives (``ogbl-citation2`` style); a tie counts as
the average of the optimistic and the pessimistic rank, exactly as ``ogb.linkproppred`` does, so
a constant scorer gets the rank of a coin flip rather than rank 1.
"""

from __future__ import annotations

import torch

from graphrec.metrics.finite import check_finite


def sampled_ranks(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Rank of each positive among its negatives.

    Args:
        pos: ``[P]`` positive scores.
        neg: ``[P, K]`` scores of the negatives of each positive.

    Returns:
        ``[P]`` float ranks in ``[1, K + 1]``.

    Raises:
        NonFiniteError: if any score is NaN or infinite (a NaN positive would otherwise
            rank first: every comparison with NaN is false).
    """
    check_finite(pos, neg)
    pos = pos.view(-1, 1)
    optimistic = (neg > pos).sum(1)
    pessimistic = (neg >= pos).sum(1)
    return 0.5 * (optimistic + pessimistic).float() + 1


def ranking_metrics(ranks: torch.Tensor, ks=(1, 10, 50)) -> dict[str, float]:
    """MRR and Hits@K from ranks ``[P]``."""
    out = {"mrr": (1.0 / ranks).mean().item()}
    for k in ks:
        out[f"hits@{k}"] = (ranks <= k).float().mean().item()
    return out


def shared_negative_hits(pos: torch.Tensor, neg: torch.Tensor, k: int) -> float:
    """Hits@K against one shared negative set (``ogbl-collab``/``ddi``/``ppa`` style).

    A positive is a hit when it scores strictly above the K-th best negative.

    Args:
        pos: ``[P]`` positive scores.
        neg: ``[N]`` negative scores shared by all positives.

    Raises:
        NonFiniteError: if any score is NaN or infinite.
    """
    check_finite(pos, neg)
    if neg.numel() < k:
        return 1.0
    kth = torch.topk(neg, k).values[-1]
    return (pos > kth).float().mean().item()
