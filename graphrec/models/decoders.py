"""Link decoders: a score for each (source, target) embedding pair.

All decoders broadcast over leading dimensions, so ``[P, 1, D]`` sources against ``[P, K, D]``
negatives score ``[P, K]`` without copying the sources.

Decoders that read the graph (``reads_graph = True``, e.g. :mod:`graphrec.models.ncn`) are
called as ``decoder(z_dict, src_ids, dst_ids, graph)`` with the split's message-passing graph
instead, under the same broadcasting contract on the ids.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import hydra
import torch
from torch import nn

from graphrec.utils.errors import ConfigError

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


def reads_graph(decoder: nn.Module) -> bool:
    """Whether ``decoder`` scores ids on a graph rather than a pair of embeddings."""
    return getattr(decoder, "reads_graph", False)


def build_decoder(name: str | Mapping, dim: int, hidden: int = 64, dropout: float = 0.0,
                  edge_type=None) -> nn.Module:
    """A decoder from its ``{_target_: ...}`` spec (configs/model/decoder/).

    The spec is built with its own keys plus ``dim`` and ``edge_type`` where the class takes
    them, so a new decoder is one file and one YAML. A name (``dot``, ``hadamard_mlp``,
    ``distmult``) is what checkpoints written before decoders had ``_target_`` store.
    """
    if isinstance(name, Mapping):
        spec = dict(name)
        cls = hydra.utils.get_class(spec.pop("_target_"))
        spec.pop("_partial_", None)
        # A module without its own __init__ takes nothing (nn.Module's takes *args, **kwargs).
        params = {} if cls.__init__ is nn.Module.__init__ else inspect.signature(cls).parameters
        for key, value in (("dim", dim), ("edge_type", edge_type)):
            if key in params:
                spec.setdefault(key, value)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = sorted(set(spec) - set(params)) if not takes_any else []
        if unknown:
            # Typically another decoder's options left behind by a recipe or an override.
            raise ConfigError(
                f"model.decoder: {cls.__name__} takes no {', '.join(unknown)}; drop "
                f"{' '.join(f'~model.decoder.{k}' for k in unknown)} or choose a decoder "
                f"that has them (it takes: {', '.join(params) or 'no options'})")
        return cls(**spec)
    if name == "dot":
        return DotProduct()
    if name == "hadamard_mlp":
        return HadamardMLP(dim, hidden, dropout)
    if name == "distmult":
        return DistMult(dim)
    raise ValueError(f"unknown decoder '{name}'; choose one of {DECODERS}")
