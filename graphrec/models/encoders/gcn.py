"""``GCNEncoder``: the plain GCN of the GAE paper on a graph with one node and one edge type."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from graphrec.models.encoders.base import Encoder
from graphrec.models.gcn import GCN


class GCNEncoder(Encoder):
    """Kipf & Welling GCN (:class:`graphrec.models.gcn.GCN`): no residuals, norms or
    projections; featureless graphs use ``X = I`` (a learned vector per node).

    Args:
        metadata: one node type and one edge type.
        node_specs: ``{"num_nodes", "x_dim"}`` of that node type.
        hidden_channels, out_channels, num_layers, dropout: GAE uses 32, 16, 2, 0.
        input_dropout, output_dropout, propagation_dropout: on the features, on the output
            and before each propagation (:class:`graphrec.models.gcn.GCN`); 0 in GAE.
        heads, id_embedding: accepted for a uniform config; they do not apply.
    """

    def __init__(self, metadata, node_specs: Mapping[str, Mapping], hidden_channels: int = 32,
                 out_channels: int = 16, num_layers: int = 2, heads: int = 1,
                 dropout: float = 0.0, id_embedding: bool | list[str] = False,
                 input_dropout: float = 0.0, output_dropout: float = 0.0,
                 propagation_dropout: float = 0.0):
        super().__init__(metadata)
        self.out_channels = out_channels
        if len(self.node_types) != 1 or len(self.edge_types) != 1:
            raise ValueError(f"the gcn encoder needs a graph with one node type and one edge "
                             f"type, got {self.node_types} and {self.edge_types}; use "
                             "model/encoder=sage, gat or hgt for heterogeneous graphs")
        nt = self.node_types[0]
        self.gcn = GCN(node_specs[nt]["num_nodes"], node_specs[nt].get("x_dim", 0),
                       hidden_channels, out_channels, num_layers, dropout, input_dropout,
                       output_dropout, propagation_dropout)

    def forward(self, graph) -> dict[str, torch.Tensor]:
        nt, et = self.node_types[0], self.edge_types[0]
        store = graph[nt]
        return {nt: self.gcn(store.get("x"), graph[et].edge_index, store.num_nodes,
                             store.get("n_id"))}

    @torch.no_grad()
    def inference(self, graph, neighborhoods=None) -> dict[str, torch.Tensor]:
        # GCN's normalization reads every node's full degree, which a chunk's 1-hop
        # neighbourhood does not hold for its outer nodes; the cached sparse product over the
        # whole graph is exact and already costs O(E + N * width), what layer-wise would keep.
        return self(graph)
