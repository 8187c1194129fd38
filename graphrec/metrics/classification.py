"""Classification metrics: accuracy, macro-F1 and ROC-AUC / average precision."""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_recall,
)


def node_classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy, macro-F1 and macro-recall (TweetEval's metric) from ``logits [M, C]`` and
    labels ``y [M]``."""
    c = logits.size(1)
    pred = logits.argmax(1)
    return {
        "acc": multiclass_accuracy(pred, y, num_classes=c, average="micro").item(),
        "macro_f1": multiclass_f1_score(pred, y, num_classes=c, average="macro").item(),
        "macro_recall": multiclass_recall(pred, y, num_classes=c, average="macro").item(),
    }


def binary_metrics(pos: torch.Tensor, neg: torch.Tensor) -> dict[str, float]:
    """ROC-AUC and average precision of positives ``[P]`` against negatives ``[N]``."""
    scores = torch.cat([pos.flatten(), neg.flatten()]).float()
    labels = torch.cat([torch.ones(pos.numel()), torch.zeros(neg.numel())]).long()
    return {
        "auc": binary_auroc(scores, labels).item(),
        "ap": binary_average_precision(scores, labels).item(),
    }
