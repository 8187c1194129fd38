"""Non-learned link-prediction scores (neighbourhood overlap, Katz, personalized PageRank).

The graph is ``edge_index [2, E]`` over ``num_nodes`` nodes. With ``undirected=True`` both
directions of every edge are added; duplicates are always merged (self-loops are kept).
With ``undirected=False``, ``A[u, v] = 1`` for an edge ``u -> v`` and:

* ``Γ(x)`` is the out-neighbourhood, so CN / Jaccard count shared out-neighbours;
* Adamic-Adar and resource allocation weight a shared neighbour ``w`` by its in-degree
  (the edges pointing at it, >= 2 when it is shared), which is its degree when undirected;
* preferential attachment is ``d_out(u) * d_in(v)``;
* Katz counts walks ``u -> v`` and PPR walks along out-edges (mass reaching a node
  without out-edges is dropped, i.e. the closed form with a sub-stochastic matrix).

Only the queried pairs are scored. Overlap scores expand the smaller of the two sorted
neighbour lists and binary-search each member in the other (cost ``~min(d_u, d_v)`` per
pair). Katz and PPR propagate dense ``[N, C]`` blocks of one-hot restart vectors for
``C`` distinct query sources at a time through the sparse CSR adjacency, so they cost
``O(steps * E * #sources)`` and never build an ``N x N`` matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Adjacency:
    """Deduplicated CSR adjacency; rows are sources, columns sorted within each row."""

    num_nodes: int
    rowptr: Tensor  # [N + 1]
    row: Tensor  # [E'] edge sources, sorted
    col: Tensor  # [E'] edge targets, sorted within each row
    keys: Tensor  # [E'] row * N + col, sorted: edge membership by binary search
    out_deg: Tensor  # [N]
    in_deg: Tensor  # [N]
    _propagation: dict = field(default_factory=dict, repr=False)  # built on first use

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: int, undirected: bool = True):
        row, col = edge_index.long()
        if undirected:
            row, col = torch.cat([row, col]), torch.cat([col, row])
        keys = torch.unique(row * num_nodes + col)
        row, col = keys // num_nodes, keys % num_nodes
        out_deg = torch.bincount(row, minlength=num_nodes)
        rowptr = torch.cat([out_deg.new_zeros(1), torch.cumsum(out_deg, 0)])
        in_deg = torch.bincount(col, minlength=num_nodes)
        return cls(num_nodes, rowptr, row, col, keys, out_deg, in_deg)

    def propagation(self, normalize: bool) -> Tensor:
        """Sparse CSR ``A^T`` (or ``P^T`` with ``P = D_out^-1 A``) acting on column blocks."""
        if normalize not in self._propagation:
            values = torch.ones(len(self.row), device=self.row.device)
            if normalize:
                values = values / self.out_deg[self.row]
            size = (self.num_nodes, self.num_nodes)
            op = torch.sparse_coo_tensor(
                torch.stack([self.col, self.row]), values, size, check_invariants=False
            )
            self._propagation[normalize] = op.coalesce().to_sparse_csr()
        return self._propagation[normalize]


Graph = Tensor | Adjacency  # an edge_index [2, E] or a prebuilt adjacency


def _as_adjacency(graph: Graph, num_nodes: int | None, undirected: bool) -> Adjacency:
    if isinstance(graph, Adjacency):
        return graph
    if num_nodes is None:
        raise ValueError("num_nodes is required when passing an edge_index")
    return Adjacency.from_edge_index(graph, num_nodes, undirected)


def _shared_neighbor_sum(
    adj: Adjacency, pairs: Tensor, weight: Tensor | None, budget: int = 1 << 22
) -> Tensor:
    """``sum_{w in Γ(u) ∩ Γ(v)} weight[w]`` per pair (the count when ``weight`` is None)."""
    u, v = pairs.long()
    out = torch.zeros(len(u), device=u.device)
    if len(adj.keys) == 0 or len(u) == 0:
        return out
    swap = adj.out_deg[u] > adj.out_deg[v]
    small, large = torch.where(swap, v, u), torch.where(swap, u, v)
    sizes = adj.out_deg[small]
    # Consecutive pairs are grouped so each group expands to about `budget` entries,
    # which bounds memory even when some pairs touch hubs.
    group = (torch.cumsum(sizes, 0) - sizes) // budget
    start = 0
    for count in torch.unique_consecutive(group, return_counts=True)[1].tolist():
        part = slice(start, start + count)
        start += count
        pair_id = torch.repeat_interleave(torch.arange(count, device=u.device), sizes[part])
        # Position of every expanded entry inside its pair's CSR row of `small`.
        first = torch.cumsum(sizes[part], 0) - sizes[part]
        offset = torch.arange(len(pair_id), device=u.device) - first[pair_id]
        w = adj.col[adj.rowptr[small[part]][pair_id] + offset]
        key = large[part][pair_id] * adj.num_nodes + w
        hit = torch.searchsorted(adj.keys, key).clamp_(max=len(adj.keys) - 1)
        found = (adj.keys[hit] == key).float()
        vals = found if weight is None else found * weight[w]
        out[part] = out.new_zeros(count).index_add_(0, pair_id, vals)
    return out


def common_neighbors(
    graph: Graph, pairs: Tensor, num_nodes: int | None = None, undirected: bool = True
) -> Tensor:
    """``|Γ(u) ∩ Γ(v)|`` for each pair.

    Args:
        graph: ``edge_index [2, E]`` or a prebuilt :class:`Adjacency`.
        pairs: Query pairs ``[2, P]`` (u, v).
        num_nodes: Number of nodes (required with an ``edge_index``).
        undirected: Symmetrize ``edge_index`` first.

    Returns:
        Scores ``[P]`` (float32). All score functions share this signature.
    """
    return _shared_neighbor_sum(_as_adjacency(graph, num_nodes, undirected), pairs, None)


def jaccard(
    graph: Graph, pairs: Tensor, num_nodes: int | None = None, undirected: bool = True
) -> Tensor:
    """``|Γ(u) ∩ Γ(v)| / |Γ(u) ∪ Γ(v)|`` (0 when both neighbourhoods are empty)."""
    adj = _as_adjacency(graph, num_nodes, undirected)
    shared = _shared_neighbor_sum(adj, pairs, None)
    union = adj.out_deg[pairs[0]] + adj.out_deg[pairs[1]] - shared
    return torch.where(union > 0, shared / union.clamp(min=1), 0.0)


def adamic_adar(
    graph: Graph, pairs: Tensor, num_nodes: int | None = None, undirected: bool = True
) -> Tensor:
    """``sum_{w in Γ(u) ∩ Γ(v)} 1 / log(d_in(w))`` (``w`` with ``d_in(w) <= 1`` adds 0)."""
    adj = _as_adjacency(graph, num_nodes, undirected)
    deg = adj.in_deg.float()
    weight = torch.where(deg > 1, 1.0 / deg.log(), 0.0)
    return _shared_neighbor_sum(adj, pairs, weight)


def resource_allocation(
    graph: Graph, pairs: Tensor, num_nodes: int | None = None, undirected: bool = True
) -> Tensor:
    """``sum_{w in Γ(u) ∩ Γ(v)} 1 / d_in(w)``."""
    adj = _as_adjacency(graph, num_nodes, undirected)
    return _shared_neighbor_sum(adj, pairs, 1.0 / adj.in_deg.float().clamp(min=1))


def preferential_attachment(
    graph: Graph, pairs: Tensor, num_nodes: int | None = None, undirected: bool = True
) -> Tensor:
    """``d_out(u) * d_in(v)`` (``d(u) * d(v)`` when undirected)."""
    adj = _as_adjacency(graph, num_nodes, undirected)
    return (adj.out_deg[pairs[0]] * adj.in_deg[pairs[1]]).float()


def _source_blocks(pairs: Tensor, num_nodes: int, chunk: int) -> Iterator[tuple]:
    """Per chunk of distinct sources: pair ids, one-hot restarts ``[N, C]``, pair columns."""
    sources, inverse = torch.unique(pairs[0], return_inverse=True)
    order = torch.argsort(inverse)
    cuts = torch.arange(0, len(sources) + chunk, chunk, device=pairs.device)
    bounds = torch.searchsorted(inverse[order], cuts).tolist()
    for first, lo, hi in zip(cuts.tolist(), bounds[:-1], bounds[1:], strict=False):
        block = sources[first : first + chunk]
        restart = torch.zeros(num_nodes, len(block), device=pairs.device)
        restart[block, torch.arange(len(block), device=pairs.device)] = 1.0
        ids = order[lo:hi]
        yield ids, restart, inverse[ids] - first


def katz(
    graph: Graph,
    pairs: Tensor,
    num_nodes: int | None = None,
    undirected: bool = True,
    beta: float = 0.005,
    max_length: int = 3,
    source_chunk: int = 256,
) -> Tensor:
    """Truncated Katz index ``sum_{l=1..max_length} beta^l (A^l)[u, v]``.

    ``source_chunk`` distinct sources are propagated together (memory ``~2 N C`` floats).
    """
    adj = _as_adjacency(graph, num_nodes, undirected)
    op, targets = adj.propagation(normalize=False), pairs[1].long()
    scores = torch.zeros(pairs.size(1), device=pairs.device)
    for ids, walks, cols in _source_blocks(pairs.long(), adj.num_nodes, source_chunk):
        for length in range(1, max_length + 1):
            walks = op @ walks  # column j now counts walks of this length from source j
            scores[ids] += beta**length * walks[targets[ids], cols]
    return scores


def ppr(
    graph: Graph,
    pairs: Tensor,
    num_nodes: int | None = None,
    undirected: bool = True,
    alpha: float = 0.15,
    num_iterations: int = 30,
    symmetric: bool = False,
    source_chunk: int = 256,
) -> Tensor:
    """Personalized PageRank ``π_u(v)`` with restart probability ``alpha``.

    Power iteration ``π <- alpha e_u + (1 - alpha) P^T π`` from ``π = e_u``; the error
    after ``t`` iterations is at most ``(1 - alpha)^t``. With ``symmetric=True`` the score
    is ``π_u(v) + π_v(u)``.
    """
    adj = _as_adjacency(graph, num_nodes, undirected)
    if symmetric:
        forward = ppr(
            adj, pairs, alpha=alpha, num_iterations=num_iterations, source_chunk=source_chunk
        )
        return forward + ppr(
            adj,
            pairs.flip(0),
            alpha=alpha,
            num_iterations=num_iterations,
            source_chunk=source_chunk,
        )
    op, targets = adj.propagation(normalize=True), pairs[1].long()
    scores = torch.zeros(pairs.size(1), device=pairs.device)
    for ids, restart, cols in _source_blocks(pairs.long(), adj.num_nodes, source_chunk):
        rank = restart
        for _ in range(num_iterations):
            rank = (op @ rank).mul_(1 - alpha).add_(restart, alpha=alpha)
        scores[ids] = rank[targets[ids], cols]
    return scores


HEURISTICS = {
    "common_neighbors": common_neighbors,
    "jaccard": jaccard,
    "adamic_adar": adamic_adar,
    "resource_allocation": resource_allocation,
    "preferential_attachment": preferential_attachment,
    "katz": katz,
    "ppr": ppr,
}


class HeuristicScorer:
    """A named heuristic bound to a graph: ``fit`` builds the adjacency once.

    Example:
        >>> scorer = HeuristicScorer("katz", num_nodes, beta=0.01).fit(edge_index)
        >>> scores = scorer(pairs)  # [P]
    """

    def __init__(self, score: str, num_nodes: int, undirected: bool = True, **score_kwargs):
        if score not in HEURISTICS:
            raise ValueError(f"Unknown heuristic {score!r}; valid names: {sorted(HEURISTICS)}")
        self.score_fn = HEURISTICS[score]
        self.num_nodes, self.undirected = num_nodes, undirected
        self.score_kwargs = score_kwargs
        self.adjacency: Adjacency | None = None

    def fit(self, edge_index: Tensor) -> HeuristicScorer:
        self.adjacency = Adjacency.from_edge_index(edge_index, self.num_nodes, self.undirected)
        return self

    def __call__(self, pairs: Tensor) -> Tensor:
        if self.adjacency is None:
            raise RuntimeError("call fit(edge_index) before scoring pairs")
        return self.score_fn(self.adjacency, pairs, **self.score_kwargs)
