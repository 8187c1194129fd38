"""Classification metrics: accuracy, macro-F1, cross-entropy and ROC-AUC / average precision."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_recall,
)


def node_classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy, macro-F1, macro-recall (TweetEval's metric) and ``nll`` (mean cross-entropy)
    from ``logits [M, C]`` and labels ``y [M]``.

    ``nll`` scores every example's probability rather than a thresholded guess, so it varies
    far less than accuracy on a small validation set: a better signal for picking a checkpoint
    (``optimized_metric=val/<task>/nll`` with ``callbacks.model_checkpoint.mode=min``).
    """
    c = logits.size(1)
    pred = logits.argmax(1)
    return {
        "acc": multiclass_accuracy(pred, y, num_classes=c, average="micro").item(),
        "macro_f1": multiclass_f1_score(pred, y, num_classes=c, average="macro").item(),
        "macro_recall": multiclass_recall(pred, y, num_classes=c, average="macro").item(),
        "nll": F.cross_entropy(logits.float(), y).item(),
    }


def binary_metrics(pos: torch.Tensor, neg: torch.Tensor) -> dict[str, float]:
    """ROC-AUC and average precision of positives ``[P]`` against negatives ``[N]``."""
    scores = torch.cat([pos.flatten(), neg.flatten()]).float()
    labels = torch.cat([torch.ones(pos.numel()), torch.zeros(neg.numel())]).long()
    return {
        "auc": binary_auroc(scores, labels).item(),
        "ap": binary_average_precision(scores, labels).item(),
    }
