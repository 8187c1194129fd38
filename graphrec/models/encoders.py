"""Heterogeneous encoders: node inputs -> ``z_dict`` of node embeddings.

One family with one switch (``conv``): GraphSAGE, GAT and HGT message passing, and ``mlp``, the
no-graph baseline that sees exactly the same inputs but never passes a message. ``gcn`` is the
plain GCN of the GAE paper (graphrec/models/gcn.py) for graphs with one node and edge type.
``identity`` has no layers at all: the heads see each node's frozen vector as it is
(graphrec/models/identity.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from torch import nn
from torch_geometric.nn import GATConv, HeteroConv, HGTConv, SAGEConv

from graphrec.models.gcn import GCN
from graphrec.models.hops import SampledHops, trimmed_layer
from graphrec.models.identity import raw_input
from graphrec.text.inputs import build_text_input

CONVS = ("sage", "gat", "hgt", "mlp", "gcn", "identity")


class NodeInput(nn.Module):
    """Initial embedding of one node type: features, text and an optional ID embedding, summed.

    Args:
        hidden: output width.
        x_dim: width of the dense features ``x`` (0: none).
        text_buckets: hashed n-gram buckets of ``tokens`` (0: no text).
        num_nodes: with ``id_embedding``, the size of the learnable ID table.
        id_embedding: add a learnable per-node vector (transductive; it cannot embed unseen nodes).
        text: the node's text input spec (:func:`graphrec.text.inputs.text_input_spec`); it
            replaces ``text_buckets``, which means ``{"kind": "hashed_bow"}``.
    """

    def __init__(self, hidden: int, x_dim: int = 0, text_buckets: int = 0, num_nodes: int = 0,
                 id_embedding: bool = False, text: Mapping | None = None):
        super().__init__()
        self.lin = nn.Linear(x_dim, hidden) if x_dim else None
        if text is None and text_buckets:
            text = {"kind": "hashed_bow", "num_buckets": text_buckets}
        # Text encoders live in graphrec.text: a new one never touches this file.
        self.text = build_text_input(text, hidden) if text else None
        self.ids = nn.Embedding(num_nodes, hidden) if id_embedding or not (x_dim or text) \
            else None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=0.1)

    def forward(self, store: Mapping, n_id: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.lin is not None:
            parts.append(self.lin(store["x"]))
        if self.text is not None:
            parts.append(self.text(store))
        if self.ids is not None:
            idx = n_id if n_id is not None else torch.arange(
                self.ids.num_embeddings, device=self.ids.weight.device)
            parts.append(self.ids(idx))
        return torch.stack(parts).sum(0)


def _conv(kind: str, metadata, hidden: int, heads: int):
    if kind == "hgt":
        return HGTConv(hidden, hidden, metadata, heads=heads)
    if kind == "sage":
        return HeteroConv({et: SAGEConv(hidden, hidden) for et in metadata[1]}, aggr="mean")
    if kind == "gat":
        return HeteroConv(
            {et: GATConv(hidden, hidden // heads, heads=heads, add_self_loops=False)
             for et in metadata[1]}, aggr="mean")
    raise ValueError(f"unknown conv '{kind}'; choose one of {CONVS}")


class HeteroEncoder(nn.Module):
    """Input embeddings, ``num_layers`` rounds of message passing with residuals, projection.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph (lists are turned into tuples).
        node_specs: per node type ``{"num_nodes", "x_dim", "text_buckets", "text"}``.
        conv: ``sage``, ``gat``, ``hgt``, ``mlp`` (no message passing) or ``gcn`` (plain
            Kipf & Welling GCN: no residuals, norms or projections; ``id_embedding`` and
            ``heads`` do not apply, featureless graphs use ``X = I``).
        hidden_channels, out_channels: widths.
        num_layers: message-passing rounds (or MLP layers).
        heads: attention heads of GAT/HGT.
        dropout: on hidden activations.
        id_embedding: learnable ID vectors: ``True`` for every node type, or a list of types.
    """

    def __init__(self, metadata, node_specs: Mapping[str, Mapping], conv: str = "sage",
                 hidden_channels: int = 64, out_channels: int = 64, num_layers: int = 2,
                 heads: int = 2, dropout: float = 0.1, id_embedding: bool | list[str] = False):
        super().__init__()
        if conv not in CONVS:
            raise ValueError(f"unknown conv '{conv}'; choose one of {CONVS}")
        node_types = list(metadata[0])
        edge_types = [tuple(et) for et in metadata[1]]
        metadata = (node_types, edge_types)
        self.conv_kind = conv
        if conv == "gcn":
            self._init_gcn(metadata, node_specs, hidden_channels, out_channels, num_layers,
                           dropout)
            return
        if conv == "identity":  # same attributes as below, so the layer-wise path needs nothing
            self.inputs = nn.ModuleDict({nt: raw_input(nt, node_specs[nt], out_channels)
                                         for nt in node_types})
            self.layers, self.norms = nn.ModuleList(), nn.ModuleList()
            self.out = nn.ModuleDict({nt: nn.Identity() for nt in node_types})
            self.dropout = nn.Dropout(dropout)
            return
        with_ids = set(node_types) if id_embedding is True else set(id_embedding or ())
        unknown = with_ids - set(node_types)
        if unknown:
            # The default names social-graph types; benchmark graphs have their own, so this
            # warns instead of failing.
            warnings.warn(f"id_embedding names node types {sorted(unknown)} that this graph "
                          f"does not have (it has {node_types}); ignoring them", stacklevel=2)
        self.inputs = nn.ModuleDict({
            nt: NodeInput(hidden_channels, node_specs[nt].get("x_dim", 0),
                          node_specs[nt].get("text_buckets", 0),
                          node_specs[nt]["num_nodes"], nt in with_ids,
                          text=node_specs[nt].get("text"))
            for nt in node_types})
        if conv == "mlp":
            self.layers = nn.ModuleList(
                nn.ModuleDict({nt: nn.Linear(hidden_channels, hidden_channels)
                               for nt in node_types}) for _ in range(num_layers))
        else:
            self.layers = nn.ModuleList(
                _conv(conv, metadata, hidden_channels, heads) for _ in range(num_layers))
        self.norms = nn.ModuleList(
            nn.ModuleDict({nt: nn.LayerNorm(hidden_channels) for nt in node_types})
            for _ in range(num_layers))
        self.out = nn.ModuleDict({nt: nn.Linear(hidden_channels, out_channels)
                                  for nt in node_types})
        self.dropout = nn.Dropout(dropout)

    def _init_gcn(self, metadata, node_specs, hidden, out, num_layers, dropout):
        node_types, edge_types = metadata
        if len(node_types) != 1 or len(edge_types) != 1:
            raise ValueError(f"conv 'gcn' needs a graph with one node type and one edge type, "
                             f"got {node_types} and {edge_types}; use conv=sage, gat or hgt for "
                             "heterogeneous graphs")
        nt = node_types[0]
        self.gcn_edge_type = edge_types[0]
        self.gcn = GCN(node_specs[nt]["num_nodes"], node_specs[nt].get("x_dim", 0), hidden, out,
                       num_layers, dropout)

    def _forward_gcn(self, graph) -> dict[str, torch.Tensor]:
        nt = self.gcn_edge_type[0]
        store = graph[nt]
        z = self.gcn(store.get("x"), graph[self.gcn_edge_type].edge_index, store.num_nodes,
                     store.get("n_id"))
        return {nt: z}

    def forward(self, graph) -> dict[str, torch.Tensor]:
        """Embeds every node of ``graph`` (a ``HeteroData``). Returns ``{type: [N_t, out]}``.

        For a neighbor-sampled batch that reaches ``num_layers`` hops, only the leading rows
        whose output does not need deeper hops come back: the seeds (hop 0) when the fan-out
        has exactly ``num_layers`` hops.
        """
        if self.conv_kind == "gcn":
            return self._forward_gcn(graph)
        x = {nt: self.inputs[nt](graph[nt], graph[nt].get("n_id")) for nt in self.inputs}
        # A graph of text nodes alone (a sentiment corpus) has no edges at all.
        edge_index = graph.edge_index_dict if graph.edge_types else {}
        num_layers = len(self.layers)
        # A sampled batch computes each layer only where a later layer reads it.
        hops = SampledHops.of(graph, num_layers) if self.conv_kind != "mlp" else None
        for i, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            if self.conv_kind == "mlp":
                h = {nt: layer[nt](v) for nt, v in x.items()}
            elif hops is not None:
                h, x = trimmed_layer(layer, self.conv_kind != "hgt", x, edge_index, hops, i,
                                     num_layers)
            else:
                h = layer(x, edge_index)
            # Residual: node types that receive no messages keep their state.
            x = {nt: v + self.dropout(torch.relu(norm[nt](h[nt]))) if nt in h else v
                 for nt, v in x.items()}
        return {nt: self.out[nt](v) for nt, v in x.items()}
