"""Link decoders: a score for each (source, target) embedding pair.

All decoders broadcast over leading dimensions, so ``[P, 1, D]`` sources against ``[P, K, D]``
negatives score ``[P, K]`` without copying the sources.
"""

from __future__ import annotations

import torch
from torch import nn

DECODERS = ("dot", "hadamard_mlp", "distmult")


class DotProduct(nn.Module):
    """Inner product: the GAE decoder, and what retrieval indexes serve."""

    def forward(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return (src * dst).sum(-1)


class HadamardMLP(nn.Module):
    """An MLP on the element-wise product (symmetric in its inputs)."""

    def __init__(self, dim: int, hidden: int = 64, dropout: float = 0.0):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))

    def forward(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return self.mlp(src * dst).squeeze(-1)


class DistMult(nn.Module):
    """A learned diagonal relation: ``sum(src * r * dst)`` (Yang et al., 2015)."""

    def __init__(self, dim: int):
        super().__init__()
        self.rel = nn.Parameter(torch.ones(dim))

    def forward(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return (src * self.rel * dst).sum(-1)


def pairwise_scores(decoder: nn.Module, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Scores ``[C, N]`` of every source ``[C, D]`` against every target ``[N, D]``.

    Bilinear decoders become one matrix product; others broadcast ``[C, 1, D]`` against
    ``[1, N, D]`` (memory ``C * N * D``: keep ``C`` small).
    """
    if isinstance(decoder, DotProduct):
        return src @ dst.T
    if isinstance(decoder, DistMult):
        return (src * decoder.rel) @ dst.T
    return decoder(src[:, None, :], dst[None, :, :])


def build_decoder(name: str, dim: int, hidden: int = 64, dropout: float = 0.0) -> nn.Module:
    if name == "dot":
        return DotProduct()
    if name == "hadamard_mlp":
        return HadamardMLP(dim, hidden, dropout)
    if name == "distmult":
        return DistMult(dim)
    raise ValueError(f"unknown decoder '{name}'; choose one of {DECODERS}")
