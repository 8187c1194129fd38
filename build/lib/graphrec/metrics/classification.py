"""Classification metrics: accuracy, macro-F1, cross-entropy and ROC-AUC / average precision."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_recall,
)

from graphrec.metrics.binary import average_precision, roc_auc
from graphrec.metrics.finite import check_finite


def node_classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy, macro-F1, macro-recall (TweetEval's metric) and ``nll`` (mean cross-entropy)
    from ``logits [M, C]`` and labels ``y [M]``.

    ``nll`` scores every example's probability rather than a thresholded guess, so it varies
    far less than accuracy on a small validation set: a better signal for picking a checkpoint
    (``optimized_metric=val/<task>/nll`` with ``callbacks.model_checkpoint.mode=min``).

    Raises:
        NonFiniteError: if any logit is NaN or infinite (argmax would pick an arbitrary
            class and the loss would be NaN).
    """
    check_finite(logits, what="logits")
    c = logits.size(1)
    pred = logits.argmax(1)
    return {
        "acc": multiclass_accuracy(pred, y, num_classes=c, average="micro").item(),
        "macro_f1": multiclass_f1_score(pred, y, num_classes=c, average="macro").item(),
        "macro_recall": multiclass_recall(pred, y, num_classes=c, average="macro").item(),
        "nll": F.cross_entropy(logits.float(), y).item(),
    }


def binary_metrics(pos: torch.Tensor, neg: torch.Tensor) -> dict[str, float]:
    """Exact ROC-AUC and average precision of raw scores of positives ``[P]`` against
    negatives ``[N]`` (any shapes, flattened; see :mod:`graphrec.metrics.binary`)."""
    return {"auc": roc_auc(pos, neg), "ap": average_precision(pos, neg)}
