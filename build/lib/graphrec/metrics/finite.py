"""The guard every evaluation path runs first: non-finite scores are an error, never a rank.

A NaN compares false with everything, so ``neg > pos`` counts no better negative and every
NaN positive would get rank 1 (MRR and Hits@K of 1.0); sorting-based AUC would place NaN
wherever the sort puts it. Refusing them is the only honest answer.
"""

from __future__ import annotations

import torch

from graphrec.utils.errors import NonFiniteError


def check_finite(*tensors: torch.Tensor, what: str = "scores") -> None:
    """Raises :class:`NonFiniteError` when any entry of ``tensors`` is NaN or +-inf.

    Args:
        *tensors: score (or logit) tensors of any shape, counted together.
        what: the noun of the message (``"scores"``, ``"logits"``).

    Raises:
        NonFiniteError: ``"37 of 4,200 scores are NaN"`` (the caller adds the task/split).
    """
    # The common, all-finite case costs one reduction and one sync per tensor.
    if all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point()):
        return
    total = sum(t.numel() for t in tensors)
    floats = [t for t in tensors if t.is_floating_point()]
    nan = sum(int(torch.isnan(t).sum()) for t in floats)
    pos_inf = sum(int((t == float("inf")).sum()) for t in floats)
    neg_inf = sum(int((t == float("-inf")).sum()) for t in floats)
    kinds = [(n, name) for n, name in ((nan, "NaN"), (pos_inf, "+inf"), (neg_inf, "-inf")) if n]
    bad = nan + pos_inf + neg_inf
    if len(kinds) == 1:
        detail = f"{bad:,} of {total:,} {what} are {kinds[0][1]}"
    else:
        parts = ", ".join(f"{n:,} {name}" for n, name in kinds)
        detail = f"{bad:,} of {total:,} {what} are NaN or infinite ({parts})"
    raise NonFiniteError(detail)
