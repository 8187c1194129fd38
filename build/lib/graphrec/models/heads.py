"""Node heads: logits for node classification from node embeddings."""

from __future__ import annotations

from torch import nn


class MLPHead(nn.Module):
    """``[N, dim] -> [N, num_classes]`` through one hidden layer.

    ``hidden=0`` makes it a plain linear classifier (logistic regression on ``z``), as fastText
    puts over its averaged n-gram embeddings; ``dropout`` then does not apply.
    """

    def __init__(self, dim: int, num_classes: int, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        if hidden <= 0:
            self.mlp = nn.Sequential(nn.Linear(dim, num_classes))
            return
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_classes))

    def forward(self, z):
        return self.mlp(z)
