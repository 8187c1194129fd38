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
pair). Truncated Katz counts the paths of length <= 3 between the queried pairs only, and
PPR runs forward push from the distinct query sources, so neither touches more of a big
graph than the queried neighbourhoods; both never build an ``N x N`` matrix. Longer Katz
walks and exact PPR (``method="power"``) propagate dense ``[N, C]`` blocks of one-hot
restart vectors for ``C`` distinct sources at a time, ``O(steps * E * #sources)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graphrec.utils.errors import ConfigError


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
        return cls.from_keys(torch.unique(row * num_nodes + col), num_nodes)

    @classmethod
    def from_keys(cls, keys: Tensor, num_nodes: int):
        """From sorted, distinct ``row * N + col`` keys (a subset of another's keys is one)."""
        row, col = keys // num_nodes, keys % num_nodes
        out_deg = torch.bincount(row, minlength=num_nodes)
        rowptr = torch.cat([out_deg.new_zeros(1), torch.cumsum(out_deg, 0)])
        in_deg = torch.bincount(col, minlength=num_nodes)
        return cls(num_nodes, rowptr, row, col, keys, out_deg, in_deg)

    def transposed(self) -> Adjacency:
        """The adjacency of the reversed graph (in-neighbour lists); itself when symmetric."""
        if "transposed" not in self._propagation:
            keys = torch.unique(self.col * self.num_nodes + self.row)
            if torch.equal(keys, self.keys):
                self._propagation["transposed"] = self
            else:
                row, col = keys // self.num_nodes, keys % self.num_nodes
                rowptr = torch.cat([self.in_deg.new_zeros(1), torch.cumsum(self.in_deg, 0)])
                self._propagation["transposed"] = Adjacency(
                    self.num_nodes, rowptr, row, col, keys, self.in_deg, self.out_deg)
        return self._propagation["transposed"]

    def neighbours(self, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """Every ``(i, w)`` with ``w`` an out-neighbour of ``nodes[i]``, flattened."""
        deg = self.out_deg[nodes]
        owner = torch.repeat_interleave(torch.arange(len(nodes), device=nodes.device), deg)
        first = torch.cumsum(deg, 0) - deg
        offset = torch.arange(len(owner), device=nodes.device) - first[owner]
        return owner, self.col[self.rowptr[nodes][owner] + offset]

    def propagation(self, normalize: bool) -> Tensor:
        """Sparse CSR ``A^T`` (or ``P^T`` with ``P = D_out^-1 A``) acting on column blocks.

        float64: long Katz walks and converged PPR sum many terms of very different sizes.
        """
        if normalize not in self._propagation:
            values = torch.ones(len(self.row), dtype=torch.float64, device=self.row.device)
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


def shared_neighbor_entries(
    adj: Adjacency, pairs: Tensor, budget: int = 1 << 22
) -> Iterator[tuple[slice, Tensor, Tensor]]:
    """Every common neighbour of every pair, in groups of about ``budget`` candidates.

    Yields ``(part, pair_id, w)``: for the pairs ``pairs[:, part]``, ``w [M]`` lists their
    shared neighbours and ``pair_id [M]`` which pair (relative to ``part.start``) each belongs
    to. Learned common-neighbour models sum embeddings over the same entries.
    """
    u, v = pairs.long()
    if len(adj.keys) == 0 or len(u) == 0:
        return
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
        found = adj.keys[hit] == key
        yield part, pair_id[found], w[found]


def _shared_neighbor_sum(
    adj: Adjacency, pairs: Tensor, weight: Tensor | None, budget: int = 1 << 22
) -> Tensor:
    """``sum_{w in Γ(u) ∩ Γ(v)} weight[w]`` per pair (the count when ``weight`` is None)."""
    out = torch.zeros(pairs.size(1), device=pairs.device)
    for part, pair_id, w in shared_neighbor_entries(adj, pairs, budget):
        vals = torch.ones(len(w), device=w.device) if weight is None else weight[w].float()
        out[part] = out.new_zeros(part.stop - part.start).index_add_(0, pair_id, vals)
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
    """Per chunk of distinct sources: pair ids, one-hot restarts ``[N, C]`` (float64),
    pair columns."""
    sources, inverse = torch.unique(pairs[0], return_inverse=True)
    order = torch.argsort(inverse)
    cuts = torch.arange(0, len(sources) + chunk, chunk, device=pairs.device)
    bounds = torch.searchsorted(inverse[order], cuts).tolist()
    for first, lo, hi in zip(cuts.tolist(), bounds[:-1], bounds[1:], strict=False):
        block = sources[first : first + chunk]
        restart = torch.zeros(num_nodes, len(block), dtype=torch.float64, device=pairs.device)
        restart[block, torch.arange(len(block), device=pairs.device)] = 1.0
        ids = order[lo:hi]
        yield ids, restart, inverse[ids] - first


def _lookup(keys: Tensor, values: Tensor, query: Tensor) -> Tensor:
    """``values`` at the positions of ``query`` in sorted ``keys``; 0 where absent."""
    if len(keys) == 0:
        return torch.zeros(len(query), dtype=values.dtype, device=query.device)
    pos = torch.searchsorted(keys, query).clamp_(max=len(keys) - 1)
    return torch.where(keys[pos] == query, values[pos], 0)


def _groups(sizes: Tensor, budget: int, max_count: int | None = None) -> list[int]:
    """Lengths of runs of consecutive items whose ``sizes`` sum to about ``budget`` each,
    with at most ``max_count`` items per run."""
    if len(sizes) == 0:
        return []
    group = (torch.cumsum(sizes, 0) - sizes) // budget
    counts = torch.unique_consecutive(group, return_counts=True)[1].tolist()
    if max_count is None:
        return counts
    return [min(max_count, c - i) for c in counts for i in range(0, c, max_count)]


def _pairs_by_source(u: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Distinct sources, each pair's source index, pair ids ordered by source, and the
    bounds of each source's run in that order."""
    sources, inverse = torch.unique(u, return_inverse=True)
    order = torch.argsort(inverse, stable=True)
    bounds = torch.searchsorted(inverse[order], torch.arange(len(sources) + 1, device=u.device))
    return sources, inverse, order, bounds.tolist()


def _katz_paths(adj: Adjacency, pairs: Tensor, beta: float, max_length: int,
                budget: int, scratch: int) -> Tensor:
    """Truncated Katz (``max_length <= 3``) from exact path counts of the queried pairs only.

    ``A[u, v]`` is an edge lookup. For a group of ``C`` distinct sources the two-hop counts
    ``A²[u, ·]`` are accumulated into a dense ``[C, N]`` scratch block (``C * N <= scratch``)
    by expanding neighbours of neighbours; that gives ``A²[u, v]`` by indexing and
    ``A³[u, v] = sum_{x in in(v)} A²[u, x]`` by expanding the in-neighbours of ``v``. Cost
    ``~sum_u sum_{w in Γ(u)} d(w) + sum_pairs d_in(v)``, whatever the graph's size; groups
    bound the expansions alive at once to about ``budget`` entries.
    """
    n = adj.num_nodes
    u, v = pairs.long()
    scores = beta * (_lookup(adj.keys, torch.ones_like(adj.keys), u * n + v)).double()
    if max_length == 1 or len(u) == 0:
        return scores
    rev = adj.transposed()
    sources, inverse, order, bounds = _pairs_by_source(u)
    two_hop = torch.zeros(n, dtype=torch.long, device=u.device).index_add_(
        0, adj.row, adj.out_deg[adj.col])  # size of each node's two-hop expansion
    cost = two_hop[sources] + 1
    if max_length == 3:
        cost = cost.index_add(0, inverse, rev.out_deg[v])
    max_count = max(1, scratch // max(n, 1))
    a2 = torch.zeros(min(max_count, len(sources)) * n, device=u.device)
    lo = 0
    for count in _groups(cost, budget, max_count):
        hi = lo + count
        ids = torch.as_tensor(order[bounds[lo]:bounds[hi]])
        local = (inverse[ids] - lo) * n
        first, w = adj.neighbours(sources[lo:hi])
        second, x = adj.neighbours(w)
        touched = first[second] * n + x
        a2.index_add_(0, touched, torch.ones(len(touched), device=u.device))
        scores[ids] += beta**2 * a2[local + v[ids]]
        if max_length == 3:
            owner, x = rev.neighbours(v[ids])
            scores[ids] += beta**3 * torch.zeros(
                len(ids), dtype=torch.float64, device=u.device).index_add_(
                0, owner, a2[local[owner] + x].double())
        a2[touched] = 0  # reset only what was written: the block is reused
        lo = hi
    return scores


def katz(
    graph: Graph,
    pairs: Tensor,
    num_nodes: int | None = None,
    undirected: bool = True,
    beta: float = 0.005,
    max_length: int = 3,
    source_chunk: int = 256,
    budget: int = 1 << 23,
    scratch: int = 1 << 24,
) -> Tensor:
    """Truncated Katz index ``sum_{l=1..max_length} beta^l (A^l)[u, v]``.

    Up to ``max_length = 3`` (the usual truncation) exact path counts of the queried pairs
    are used (see :func:`_katz_paths`; ``budget`` bounds the expanded entries alive at once
    and ``scratch`` the dense count block). Longer
    walks propagate dense blocks of ``source_chunk`` distinct sources through the sparse
    adjacency (memory ``~2 N C`` float64 values, cost ``O(max_length * E)`` per source).

    Returns:
        Scores ``[P]`` in float64: with ``beta < 1 / lambda_max(A)`` (where the series
        converges) no term overflows or underflows to NaN at any ``max_length``.
    """
    adj = _as_adjacency(graph, num_nodes, undirected)
    if max_length <= 3:
        return _katz_paths(adj, pairs, beta, max_length, budget, scratch)
    op, targets = adj.propagation(normalize=False), pairs[1].long()
    scores = torch.zeros(pairs.size(1), dtype=torch.float64, device=pairs.device)
    for ids, walks, cols in _source_blocks(pairs.long(), adj.num_nodes, source_chunk):
        for _ in range(max_length):
            # Column j holds beta^l (A^l e_j): the weighted term itself, never the raw walk
            # count (which grows like lambda_max^l and overflowed float32 to inf near
            # l = 30, giving inf * beta^l = NaN).
            walks = (op @ walks).mul_(beta)
            scores[ids] += walks[targets[ids], cols]
    return scores


def _ppr_push(adj: Adjacency, pairs: Tensor, alpha: float, eps: float,
              source_chunk: int, scratch: int) -> Tensor:
    """Forward push (Andersen, Chung & Lang, 2006), run for many sources at once.

    Each round pushes, for every source of a block at once, every node whose residual is at
    least ``eps * d_out``: it keeps ``alpha`` of it and spreads the rest over its
    out-neighbours. Pushing all such nodes together is one valid push order, so the
    invariant ``π_u = p_u + sum_x r_u(x) π_x`` holds and ``p_u(v) + alpha r_u(v)`` is a lower
    bound of ``π_u(v)`` within ``eps * d_out(v)`` of it (plus the dropped dangling mass).
    Work per source is at most ``1 / (alpha * eps)`` edge visits whatever the graph's size.
    ``p`` and ``r`` live in dense ``[C, N]`` scratch blocks (``C * N <= scratch``) that are
    indexed, not searched; only entries that received mass in a round can become active
    in the next, so each round costs its own push volume, and only written entries are reset.
    (Threads: these are many small vectorized steps; on a busy machine one intra-op thread,
    ``torch.set_num_threads(1)``, is often faster.)
    """
    n = adj.num_nodes
    u, v = pairs.long()
    scores = torch.zeros(len(u), device=u.device)
    sources, inverse, order, bounds = _pairs_by_source(u)
    threshold = eps * adj.out_deg.clamp(min=1).float()
    chunk = max(1, min(source_chunk, scratch // max(n, 1)))
    size = min(chunk, len(sources)) * n
    p, r = torch.zeros(size, device=u.device), torch.zeros(size, device=u.device)
    stamp = torch.zeros(size, dtype=torch.long, device=u.device)
    for lo in range(0, len(sources), chunk):
        hi = min(lo + chunk, len(sources))
        candidates = torch.arange(hi - lo, device=u.device) * n + sources[lo:hi]
        r[candidates] = 1.0
        touched = [candidates]
        while len(candidates):
            active = candidates[r[candidates] >= threshold[candidates % n]]
            if not len(active):
                break
            mass = r[active]
            r[active] = 0.0
            p[active] += alpha * mass
            node = active % n
            owner, w = adj.neighbours(node)  # dangling nodes have none: their mass drops
            spread = (1 - alpha) * mass / adj.out_deg[node].clamp(min=1)
            target = (active - node)[owner] + w
            r.index_add_(0, target, spread[owner])
            # Distinct targets without sorting: of the writes to each entry one lands, and
            # only the position whose write landed keeps it.
            position = torch.arange(len(target), device=u.device)
            stamp[target] = position
            candidates = target[stamp[target] == position]
            touched.append(candidates)
        ids = torch.as_tensor(order[bounds[lo]:bounds[hi]])
        keys = (inverse[ids] - lo) * n + v[ids]
        scores[ids] = p[keys] + alpha * r[keys]
        touched = torch.cat(touched)
        p[touched] = 0.0
        r[touched] = 0.0
    return scores


# Power-iteration work per source (iterations x stored edges) up to which ``ppr`` prefers
# it to push: measured crossover, between ego-Facebook (5M, power 10x faster) and a random
# graph of 1M undirected edges (60M, push 25x faster).
AUTO_POWER_WORK = 2e7


def _power_iterations_bound(alpha: float, tol: float) -> int:
    """Iterations after which ``(1 - alpha)^k`` (the a-priori error) is below ``tol``."""
    return max(1, math.ceil(math.log(tol) / math.log1p(-alpha))) if 0 < alpha < 1 else 1


def _ppr_power(adj: Adjacency, pairs: Tensor, alpha: float, tol: float, max_iterations: int,
               source_chunk: int) -> Tensor:
    """Power iteration ``π <- alpha e_u + (1 - alpha) P^T π`` to an L1 error of ``tol``.

    The map is a contraction with factor ``1 - alpha`` in L1 (``P`` is row-(sub)stochastic),
    so once a step changes a column by ``delta`` the remaining error is at most
    ``delta (1 - alpha) / alpha``; iteration stops when that bound is ``<= tol`` for every
    source of the block.

    Raises:
        ConfigError: if ``max_iterations`` steps do not reach ``tol`` (tiny ``alpha``).
    """
    op, targets = adj.propagation(normalize=True), pairs[1].long()
    scores = torch.zeros(pairs.size(1), dtype=torch.float64, device=pairs.device)
    stop = tol * alpha / (1 - alpha) if alpha < 1 else float("inf")
    for ids, restart, cols in _source_blocks(pairs.long(), adj.num_nodes, source_chunk):
        rank = restart
        for _ in range(max_iterations):
            new = (op @ rank).mul_(1 - alpha).add_(restart, alpha=alpha)
            delta = float((new - rank).abs().sum(0).max())
            rank = new
            if delta <= stop:
                break
        else:
            raise ConfigError(
                f"ppr power iteration did not reach tol={tol:g} in max_iterations="
                f"{max_iterations} (last step changed a column by {delta:.3g} in L1); raise "
                "model.options.max_iterations, loosen tol, or raise alpha")
        scores[ids] = rank[targets[ids], cols]
    return scores


def ppr(
    graph: Graph,
    pairs: Tensor,
    num_nodes: int | None = None,
    undirected: bool = True,
    alpha: float = 0.15,
    method: str = "auto",
    eps: float = 1e-5,
    tol: float = 1e-8,
    max_iterations: int = 1000,
    symmetric: bool = False,
    source_chunk: int = 256,
    scratch: int = 1 << 24,
) -> Tensor:
    """Personalized PageRank ``π_u(v)`` with restart probability ``alpha``.

    ``method="auto"`` (default) picks power iteration while its expected work
    ``k * E`` (``k`` iterations for ``(1 - alpha)^k <= tol``) is at most
    ``AUTO_POWER_WORK`` (on ego-Facebook's 176k stored edges power iteration was faster:
    0.8 s against 7.7 s for push at ``eps=1e-5``, 200 sources, 30 iterations) and push
    above it (25x faster than power iteration on a random graph of 2M stored edges;
    scripts/bench/heuristics.py). ``method="push"`` runs forward push with tolerance
    ``eps`` (see :func:`_ppr_push`): local work per source, independent of the graph's
    size, with error at most ``eps * d_out(v)``; up to ``source_chunk`` sources are pushed
    together, in dense blocks of at most ``scratch`` entries.
    ``method="power"`` runs power iteration in float64 on dense ``[N, source_chunk]``
    blocks until the L1 error of every source's vector is at most ``tol`` (see
    :func:`_ppr_power`; ``max_iterations`` guards against non-convergence and raises),
    ``O(iterations * E)`` work per source.
    With ``symmetric=True`` the score is ``π_u(v) + π_v(u)``, which does not depend on
    the order of the pair (the right score for undirected targets).

    Returns:
        Scores ``[P]`` (float64 from power iteration, float32 from push).
    """
    adj = _as_adjacency(graph, num_nodes, undirected)
    if method not in ("auto", "push", "power"):
        raise ValueError(f"ppr method must be 'auto', 'push' or 'power', got {method!r}")
    if not 0 < alpha <= 1:
        raise ConfigError(f"ppr alpha={alpha}: the restart probability must be in (0, 1]")
    if method == "auto":
        work = _power_iterations_bound(alpha, tol) * len(adj.keys)
        method = "power" if work <= AUTO_POWER_WORK else "push"
    if symmetric:
        kw = dict(alpha=alpha, method=method, eps=eps, tol=tol, max_iterations=max_iterations,
                  source_chunk=source_chunk, scratch=scratch)
        return ppr(adj, pairs, **kw) + ppr(adj, pairs.flip(0), **kw)
    if method == "push":
        return _ppr_push(adj, pairs, alpha, eps, source_chunk, scratch)
    return _ppr_power(adj, pairs, alpha, tol, max_iterations, source_chunk)


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
