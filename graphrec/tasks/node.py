"""Node classification tasks (sentiment of posts): an MLP head and cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphrec.metrics.classification import node_classification_metrics
from graphrec.models.heads import MLPHead


class NodeClassificationTask(nn.Module):
    """Classifies ``node_type`` nodes from their embeddings.

    Args:
        name: the task's name in metric keys (``val/<name>/acc``).
        node_type: the labelled node type; labels are ``graph[node_type].y``.
        dim: embedding width from the encoder.
        num_classes: number of labels.
        hidden, dropout: the MLP head.
        loss_weight: weight of this task in the summed loss.
    """

    kind = "node"
    primary_metric = "macro_f1"

    def __init__(self, name: str, node_type: str, dim: int, num_classes: int, hidden: int = 64,
                 dropout: float = 0.1, loss_weight: float = 1.0):
        super().__init__()
        self.name, self.node_type = name, node_type
        self.num_classes, self.loss_weight = num_classes, loss_weight
        self.head = MLPHead(dim, num_classes, hidden, dropout)

    def logits(self, z: dict, index: torch.Tensor) -> torch.Tensor:
        return self.head(z[self.node_type][index])

    def loss(self, z: dict, target: dict, graph) -> torch.Tensor:
        idx = target["index"]
        return F.cross_entropy(self.logits(z, idx), graph[self.node_type].y[idx])

    @torch.no_grad()
    def evaluate(self, z: dict, target: dict, graph) -> dict[str, float]:
        idx = target["index"]
        return node_classification_metrics(self.logits(z, idx), graph[self.node_type].y[idx])
