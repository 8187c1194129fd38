"""``MLPEncoder``: the no-graph baseline that sees exactly the GNNs' inputs, never a message."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from graphrec.models.encoders.base import Encoder, node_inputs, stack_rows


class MLPEncoder(Encoder):
    """Node inputs, ``num_layers`` residual MLP blocks per node type, projection.

    Arguments as :class:`~graphrec.models.encoders.message_passing.MessagePassingEncoder`;
    ``heads`` is accepted and unused, so encoders swap without editing other keys.
    """

    passes_messages = False

    def __init__(self, metadata, node_specs: Mapping[str, Mapping], hidden_channels: int = 64,
                 out_channels: int = 64, num_layers: int = 2, heads: int = 2,
                 dropout: float = 0.1, id_embedding: bool | list[str] = False):
        super().__init__(metadata)
        self.out_channels = out_channels
        self.inputs = node_inputs(self.node_types, node_specs, hidden_channels, id_embedding)
        self.layers = nn.ModuleList(
            nn.ModuleDict({nt: nn.Linear(hidden_channels, hidden_channels)
                           for nt in self.node_types}) for _ in range(num_layers))
        self.add_residual_parts(hidden_channels, out_channels, num_layers, dropout)

    def _blocks(self, nt: str, v: torch.Tensor) -> torch.Tensor:
        for layer, norm in zip(self.layers, self.norms):
            v = v + self.dropout(torch.relu(norm[nt](layer[nt](v))))
        return self.out[nt](v)

    def forward(self, graph) -> dict[str, torch.Tensor]:
        return {nt: self._blocks(nt, self.inputs[nt](graph[nt], graph[nt].get("n_id")))
                for nt in self.inputs}

    @torch.no_grad()
    def inference(self, graph, neighborhoods=None) -> dict[str, torch.Tensor]:
        """Chunk by chunk of nodes: no node reads another, so no neighbourhoods are needed."""
        if neighborhoods is None:
            return self(graph)
        x = self.embed_inputs(self.inputs, graph, neighborhoods.chunk)
        return {nt: stack_rows((self._blocks(nt, v) for v in x[nt].split(neighborhoods.chunk)),
                               x[nt].size(0),
                               empty=self._blocks(nt, x[nt]) if not len(x[nt]) else None)
                for nt in self.node_types}
