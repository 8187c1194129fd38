"""Kipf & Welling's graph convolutional network on a graph with one node and one edge type.

The plain GCN of the GAE paper, ``Z = Â relu(Â X W0) W1`` with ``Â = D^-1/2 (A + I) D^-1/2``,
without the residuals, LayerNorm and projections of :class:`HeteroEncoder`'s other convs.
The layers are PyG's ``GCNConv``; what this file adds is feeding them work they need not redo:

- ``Â`` is computed once per message-passing graph and kept as a sparse CSR matrix, instead of
  once per layer per step. The train graph and the test graph (train + validation edges)
  differ, so the cache is keyed by the graph's own ``edge_index`` tensor, never by "the first
  graph seen" (PyG's ``GCNConv(cached=True)`` would serve the train graph's ``Â`` at test time).
- Bag-of-words features (Cora's ``x`` is about 1% non-zero) are multiplied as a sparse CSR
  matrix, which skips the zeros in the first layer's forward and backward products.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``Â`` transposed (row = target node) as a sparse CSR matrix, self loops added."""
    edge_index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), weight, (num_nodes, num_nodes))
    return adj_t.coalesce().to_sparse_csr()


class TensorCache:
    """Values derived from a tensor, kept for as long as that very tensor object lives.

    Keyed by identity: a new graph (another split, a copy with edges removed, a move to
    another device) is a new tensor and gets its own entry. Entries go away with their tensor,
    so per-step graphs do not pile up. A tensor changed in place would be served a stale value;
    graphrec never edits a graph's tensors in place.
    """

    def __init__(self, fn):
        self.fn = fn
        self.entries: dict[int, tuple[weakref.ref, object]] = {}

    def __call__(self, tensor: torch.Tensor, *args):
        key = id(tensor)
        hit = self.entries.get(key)
        if hit is not None and hit[0]() is tensor:
            return hit[1]
        value = self.fn(tensor, *args)
        self.entries[key] = (weakref.ref(tensor, lambda _, k=key: self.entries.pop(k, None)),
                             value)
        return value


def _sparse_features(x: torch.Tensor) -> torch.Tensor:
    # Sparse only where it pays: a mostly-zero matrix (bag of words), not dense embeddings.
    if x.is_sparse or x.layout == torch.sparse_csr:
        return x
    return x.to_sparse_csr() if x.count_nonzero() < 0.1 * x.numel() else x


def _identity(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    """The ``n x n`` identity as sparse CSR, on the graph's device."""
    dev = edge_index.device
    return torch.sparse_coo_tensor(torch.arange(n, device=dev).expand(2, n),
                                   torch.ones(n, device=dev), (n, n)).to_sparse_csr()


class GCN(nn.Module):
    """``num_layers`` GCN layers: ReLU and dropout between them, none after the last.

    Args:
        num_nodes: node count (sizes the ID table when there are no features).
        x_dim: feature width; 0 means featureless, which GAE models as ``X = I``: the first
            layer's weight is then a learned vector per node (an ID embedding).
        hidden_channels, out_channels: widths (GAE: 32 and 16).
        num_layers: at least 1.
        dropout: on the input of every layer after the first (GAE: 0).
    """

    def __init__(self, num_nodes: int, x_dim: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers={num_layers}: a GCN needs at least one layer")
        dims = [x_dim or num_nodes] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.featureless = not x_dim
        self.convs = nn.ModuleList(
            GCNConv(dims[i], dims[i + 1], normalize=False) for i in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.adjacency = TensorCache(normalized_adjacency)
        self.features = TensorCache(_sparse_features)
        self.identity = TensorCache(_identity)

    def forward(self, x: torch.Tensor | None, edge_index: torch.Tensor,
                num_nodes: int) -> torch.Tensor:
        adj_t = self.adjacency(edge_index, num_nodes)
        # Featureless, X = I (sparse): the first product I W0 picks W0's rows, one per node.
        h = self.identity(edge_index, num_nodes) if self.featureless else self.features(x)
        for i, conv in enumerate(self.convs):
            if i:
                h = self.dropout(torch.relu(h))
            h = conv(h, adj_t)
        return h
