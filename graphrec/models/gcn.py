"""Kipf & Welling's graph convolutional network on a graph with one node and one edge type.

The plain GCN of the GAE paper, ``Z = Â relu(Â X W0 + b0) W1 + b1`` with
``Â = D^-1/2 (A + I) D^-1/2``, without the residuals, LayerNorm and projections of
the message-passing encoders. The parameters are PyG ``GCNConv`` layers (same
initialization, same state dict); the products are done here, because on a graph that does
not change between steps most of a ``GCNConv`` step is redone work:

- ``Â`` is computed once per message-passing graph, as a sparse CSR matrix, together with its
  transpose. The train graph and the test graph (train + validation edges) differ, so the cache
  is keyed by the graph's own ``edge_index`` tensor, never by "the first graph seen" (PyG's
  ``GCNConv(cached=True)`` would serve the train graph's ``Â`` at test time).
- Bag-of-words features (Cora's ``x`` is about 1% non-zero) are multiplied as a sparse CSR
  matrix, which skips the zeros in the first layer's forward and backward products.
- The backward pass of a sparse product needs the transposed matrix; ``torch.sparse.mm``
  builds it (a sort) in every backward. :class:`_FixedSparseMatmul` takes the cached one.
  On Cora this makes a training step about 4x faster than ``GCNConv`` on the same CSR inputs.
"""

from __future__ import annotations

import warnings
import weakref

import torch
from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm


class SparseOperand:
    """A constant sparse matrix ``A`` (CSR) with ``A^T`` (CSR) kept for backward passes."""

    def __init__(self, matrix: torch.Tensor):
        with warnings.catch_warnings():  # "CSR support is in beta": it is what sparse.mm runs
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            self.matrix = matrix.to_sparse_csr()
            self.transposed = matrix.to_sparse_coo().t().coalesce().to_sparse_csr()

    def __matmul__(self, dense: torch.Tensor) -> torch.Tensor:
        return _FixedSparseMatmul.apply(self.matrix, self.transposed, dense)


class _FixedSparseMatmul(torch.autograd.Function):
    """``A @ B`` for a constant sparse ``A``; the gradient of ``B`` is ``A^T @ grad``."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.a_t = a_t
        return a @ b

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.a_t @ grad if ctx.needs_input_grad[2] else None


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int) -> SparseOperand:
    """``Â`` with rows as targets (``out[i] = sum_j Â[i, j] h[j]``), self loops added.

    Normalized by PyG's ``gcn_norm``, exactly as ``GCNConv(normalize=True)`` does.
    """
    edge_index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), weight, (num_nodes, num_nodes),
                                    check_invariants=False)  # gcn_norm's indices are valid
    return SparseOperand(adj_t.coalesce())


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


def _sparse_features(x: torch.Tensor) -> SparseOperand | torch.Tensor:
    # Sparse only where it pays: a mostly-zero matrix (bag of words), not dense embeddings.
    if x.count_nonzero() < 0.1 * x.numel():
        return SparseOperand(x.to_sparse())
    return x


class GCN(nn.Module):
    """``num_layers`` GCN layers: ReLU and dropout between them, none after the last.

    Args:
        num_nodes: node count (sizes the first weight when there are no features).
        x_dim: feature width; 0 means featureless, which GAE models as ``X = I``: the first
            layer's weight then holds a learned vector per node (an ID embedding).
        hidden_channels, out_channels: widths (GAE: 32 and 16).
        num_layers: at least 1.
        dropout: on the input of every layer after the first (GAE: 0).
        input_dropout: on the node features before the first layer (the NCN paper's Planetoid
            runs drop 0.4-0.7 of Cora's and CiteSeer's bag-of-words entries); ignored when
            featureless. In training the dropped features are multiplied densely, which on
            Cora makes a GAE step about 2x slower than the sparse product it replaces
            (scripts/bench/ncn.py, docs/friend_prediction.md); masking the sparse values
            instead would also need the transposed copy masked alike, not done.
        output_dropout: on the last layer's output (the same runs' "tail" dropout).
        propagation_dropout: on each layer's projected input ``H W``, before it is
            propagated by ``Â`` (the reference code's ``--gnndp`` on its pure GCN: the dropped
            units are averaged over each node's neighbourhood, a milder noise than the same
            rate on the output).
    """

    def __init__(self, num_nodes: int, x_dim: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.0, input_dropout: float = 0.0,
                 output_dropout: float = 0.0, propagation_dropout: float = 0.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers={num_layers}: a GCN needs at least one layer")
        dims = [x_dim or num_nodes] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.featureless = not x_dim
        self.convs = nn.ModuleList(
            GCNConv(dims[i], dims[i + 1]) for i in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.input_dropout, self.output_dropout = input_dropout, nn.Dropout(output_dropout)
        self.propagation_dropout = nn.Dropout(propagation_dropout)
        self.adjacency = TensorCache(normalized_adjacency)
        self.features = TensorCache(_sparse_features)

    def forward(self, x: torch.Tensor | None, edge_index: torch.Tensor, num_nodes: int,
                n_id: torch.Tensor | None = None) -> torch.Tensor:
        """``n_id``: global ids of a sampled subgraph's nodes (picks their rows of ``I W0``)."""
        adj = self.adjacency(edge_index, num_nodes)
        if self.featureless:
            h = None
        elif self.training and self.input_dropout > 0:
            h = nn.functional.dropout(x.float(), self.input_dropout)
        else:
            h = self.features(x)
        for i, conv in enumerate(self.convs):
            weight = conv.lin.weight.t()
            if i:
                h = self.dropout(torch.relu(h))
            if h is None:  # X = I: the product I W0 is W0 itself
                h = weight if n_id is None else weight[n_id]
            else:
                h = h @ weight
            h = adj @ self.propagation_dropout(h) + conv.bias
        return self.output_dropout(h)
