"""``IdentityEncoder``: no encoder layers at all, each node's own frozen input vector as it is.

For frozen sentence embeddings (``text_emb``) a projection or residual block in front of the
head only adds linear maps that compose into one: the function class stays that of the head
on the raw vector, but training gets slower to steer and overfits sooner (measured on SST-2 and
UMSAB validation cross-entropy; see docs/sentiment.md). With this encoder the head alone learns.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from graphrec.models.encoders.base import Encoder
from graphrec.utils.errors import ConfigError


class RawInput(nn.Module):
    """A node store's frozen input vector: ``text_emb`` (frozen text) or ``x`` (features)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def forward(self, store: Mapping, n_id: torch.Tensor | None = None) -> torch.Tensor:
        return store[self.key]


def raw_input(node_type: str, spec: Mapping, width: int) -> RawInput:
    """The :class:`RawInput` of one node type, checked against the encoder's output width."""
    text = spec.get("text") or {}
    if text.get("kind") == "frozen":
        key, dim = "text_emb", int(text["dim"])
    elif spec.get("x_dim"):
        key, dim = "x", int(spec["x_dim"])
    else:
        raise ConfigError(
            f"model/encoder=identity passes each node's own fixed vector to the heads, but "
            f"'{node_type}' nodes have none (no frozen text embedding, no features x); use "
            "model/encoder=mlp, or a frozen text featurizer (featurizer=minilm)")
    if dim != width:
        raise ConfigError(
            f"model/encoder=identity: '{node_type}' vectors ({key}) are {dim}-d but "
            f"model.encoder.out_channels={width}; set model.encoder.out_channels={dim}")
    return RawInput(key)


class IdentityEncoder(Encoder):
    """``z[t] = `` each node's frozen vector. Other arguments are accepted and unused, so
    encoders swap without editing other keys.

    Args:
        metadata: ``(node_types, edge_types)``.
        node_specs: per node type; each needs a frozen text embedding or features.
        out_channels: must equal the vectors' width (checked).
    """

    passes_messages = False

    def __init__(self, metadata, node_specs: Mapping[str, Mapping], out_channels: int = 64,
                 hidden_channels: int = 64, num_layers: int = 0, heads: int = 1,
                 dropout: float = 0.0, id_embedding: bool | list[str] = False):
        super().__init__(metadata)
        self.out_channels = out_channels
        self.inputs = nn.ModuleDict({nt: raw_input(nt, node_specs[nt], out_channels)
                                     for nt in self.node_types})

    def forward(self, graph) -> dict[str, torch.Tensor]:
        return {nt: self.inputs[nt](graph[nt]) for nt in self.inputs}

    @torch.no_grad()
    def inference(self, graph, neighborhoods=None) -> dict[str, torch.Tensor]:
        # No parameters: the vectors stay where they are.
        return self(graph)
