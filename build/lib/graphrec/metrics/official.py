"""Official OGB link metrics, computed by ``ogb.linkproppred.Evaluator`` itself."""

from __future__ import annotations

import torch

from graphrec.metrics.finite import check_finite


def official_metrics(name: str, pos: torch.Tensor, neg: torch.Tensor,
                     shared_neg: torch.Tensor | None = None) -> dict[str, float]:
    """``{"ogb_mrr": ...}`` (per-positive negatives ``neg [P, K]``, citation2) or
    ``{"ogb_hits@K": ...}`` (one shared negative set ``shared_neg [N]``: collab, ddi, ppa).

    Raises:
        NonFiniteError: if any score is NaN or infinite (OGB's evaluator would rank it).
    """
    check_finite(*(t for t in (pos, neg, shared_neg) if t is not None))
    from ogb.linkproppred import Evaluator

    evaluator = Evaluator(name)
    if evaluator.eval_metric == "mrr":
        result = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
        return {"ogb_mrr": result["mrr_list"].float().mean().item()}
    if shared_neg is None:
        raise ValueError(f"{name} is scored against its shared negatives; none were given")
    result = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": shared_neg})
    return {f"ogb_{evaluator.eval_metric}": float(result[evaluator.eval_metric])}
