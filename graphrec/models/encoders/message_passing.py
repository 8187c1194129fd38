"""Heterogeneous message passing: GraphSAGE, GAT and HGT, one class each over a shared loop.

Every family runs node inputs, ``num_layers`` rounds of message passing with a residual and a
LayerNorm, then a projection per node type; a family only says how to build one layer
(``make_conv``), as PyG's ``BasicGNN`` subclasses do.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch_geometric.nn import GATConv, HeteroConv, HGTConv, SAGEConv

from graphrec.models.encoders.base import Encoder, node_inputs, stack_rows
from graphrec.models.hops import SampledHops, trimmed_layer


class MessagePassingEncoder(Encoder):
    """Inputs, ``num_layers`` rounds of message passing with residuals, projection.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph.
        node_specs: per node type ``{"num_nodes", "x_dim", "text_buckets", "text"}``.
        hidden_channels, out_channels: widths.
        num_layers: message-passing rounds.
        heads: attention heads (GAT, HGT).
        dropout: on hidden activations.
        id_embedding: learnable ID vectors: ``True`` for every node type, or a list of types.
    """

    # Whether one layer takes (sources, destination prefix) per relation: PyG's bipartite
    # convolutions do, so a sampled batch computes each layer only where a later one reads it.
    bipartite = True

    def __init__(self, metadata, node_specs: Mapping[str, Mapping], hidden_channels: int = 64,
                 out_channels: int = 64, num_layers: int = 2, heads: int = 2,
                 dropout: float = 0.1, id_embedding: bool | list[str] = False):
        super().__init__(metadata)
        self.out_channels = out_channels
        self.inputs = node_inputs(self.node_types, node_specs, hidden_channels, id_embedding)
        self.layers = nn.ModuleList(self.make_conv(hidden_channels, heads)
                                    for _ in range(num_layers))
        self.add_residual_parts(hidden_channels, out_channels, num_layers, dropout)

    def make_conv(self, hidden: int, heads: int) -> nn.Module:
        """One message-passing layer over ``self.metadata``: ``(x_dict, edge_index_dict) ->
        h_dict`` (node types that receive no messages may be missing from ``h_dict``)."""
        raise NotImplementedError

    def _update(self, x: torch.Tensor, h: torch.Tensor | None, norm) -> torch.Tensor:
        # Residual: node types that receive no messages keep their state.
        return x if h is None else x + self.dropout(torch.relu(norm(h)))

    def forward(self, graph) -> dict[str, torch.Tensor]:
        """Embeds every node of ``graph`` (a ``HeteroData``). Returns ``{type: [N_t, out]}``.

        For a neighbor-sampled batch that reaches ``num_layers`` hops, only the leading rows
        whose output does not need deeper hops come back: the seeds (hop 0) when the fan-out
        has exactly ``num_layers`` hops.
        """
        x = {nt: self.inputs[nt](graph[nt], graph[nt].get("n_id")) for nt in self.inputs}
        # A graph of text nodes alone (a sentiment corpus) has no edges at all.
        edge_index = graph.edge_index_dict if graph.edge_types else {}
        num_layers = len(self.layers)
        hops = SampledHops.of(graph, num_layers)
        for i, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            if hops is not None:
                h, x = trimmed_layer(layer, self.bipartite, x, edge_index, hops, i, num_layers)
            else:
                h = layer(x, edge_index)
            x = {nt: self._update(v, h.get(nt), norm[nt]) for nt, v in x.items()}
        return {nt: self.out[nt](v) for nt, v in x.items()}

    @torch.no_grad()
    def inference(self, graph, neighborhoods=None) -> dict[str, torch.Tensor]:
        """Layer by layer over chunks of nodes with all their in-neighbours: equal to
        ``forward(graph)``, with memory bounded by the chunk instead of the graph."""
        if neighborhoods is None:
            return self(graph)
        device = self._device()
        x = self.embed_inputs(self.inputs, graph, neighborhoods.chunk)
        for layer, norm in zip(self.layers, self.norms):
            # Both states are held (every chunk reads the old one); each new one is written
            # in place, chunk by chunk (stack_rows).
            x = {nt: stack_rows(self._layer_chunks(layer, norm[nt], nt, x, neighborhoods, device),
                                x[nt].size(0), empty=x[nt])
                 for nt in self.node_types}
        z = {}
        for nt in self.node_types:
            z[nt] = stack_rows((self.out[nt](v) for v in x[nt].split(neighborhoods.chunk)),
                               x[nt].size(0), empty=self.out[nt](x[nt]) if not len(x[nt]) else None)
            del x[nt]  # one type's state less before the next projection
        return z

    def _layer_chunks(self, layer, norm, nt: str, x: dict, neighborhoods, device):
        """One layer's new ``nt`` states, chunk by chunk of ``nt`` nodes."""
        for sub in neighborhoods.of(nt):
            sub = sub.to(device)
            xs = {t: x[t][sub[t].n_id] for t in self.node_types}
            n = sub[nt].batch_size
            if self.bipartite:
                # A one-hop chunk's edges all end at its first n nodes: each relation into
                # nt gets (sources, those n), so no relation computes outputs that are thrown
                # away (the other rows of nt, other destination types).
                ei = {et: e for et, e in sub.edge_index_dict.items() if et[2] == nt}
                h = layer({et: (xs[et[0]], xs[nt][:n]) for et in ei}, ei) if ei else {}
            else:
                h = layer(xs, sub.edge_index_dict)
            yield self._update(xs[nt][:n], h[nt][:n] if nt in h else None, norm)


class SAGEEncoder(MessagePassingEncoder):
    """GraphSAGE (mean aggregation) per relation, relations averaged (``HeteroConv``)."""

    def make_conv(self, hidden: int, heads: int) -> nn.Module:
        return HeteroConv({et: SAGEConv(hidden, hidden) for et in self.edge_types}, aggr="mean")


class GATEncoder(MessagePassingEncoder):
    """GAT per relation (``heads`` heads concatenated to ``hidden``), relations averaged."""

    def make_conv(self, hidden: int, heads: int) -> nn.Module:
        return HeteroConv(
            {et: GATConv(hidden, hidden // heads, heads=heads, add_self_loops=False)
             for et in self.edge_types}, aggr="mean")


class HGTEncoder(MessagePassingEncoder):
    """Heterogeneous Graph Transformer (Hu et al. 2020), PyG's ``HGTConv``."""

    bipartite = False  # HGTConv has no (source, destination) form: trimmed inputs instead

    def make_conv(self, hidden: int, heads: int) -> nn.Module:
        return HGTConv(hidden, hidden, self.metadata, heads=heads)
