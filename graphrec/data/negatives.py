"""Negatives beyond uniform corrupted targets: hard training negatives, HeaRT-style eval ones.

* :func:`two_hop_negatives`: a random walk ``u -> w -> x`` of two steps that does not end at a
  neighbour of ``u`` (nor at ``u``). Walking picks ``x`` with probability
  ``sum_w 1 / (d_u d_w) = RA(u, x) / d_u``, so these are non-edges drawn in proportion to
  their resource-allocation score: candidates a heuristic ranks high, without ranking all.
* :func:`heuristic_negatives`: per source, the ``K`` non-neighbours with the highest resource
  allocation on the split's message-passing graph (HeaRT, Li et al., NeurIPS 2023: negatives
  chosen by heuristics among each source's non-edges), ties and shortfalls filled at random.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphrec.data.splits import LinkSplit
from graphrec.models.heuristics import Adjacency


def is_edge(adj: Adjacency, u: Tensor, v: Tensor) -> Tensor:
    """Whether each ``(u, v)`` is an edge of ``adj`` (same shapes)."""
    if len(adj.keys) == 0:
        return torch.zeros_like(u, dtype=torch.bool)
    key = u * adj.num_nodes + v
    hit = torch.searchsorted(adj.keys, key.reshape(-1)).clamp_(max=len(adj.keys) - 1)
    return (adj.keys[hit] == key.reshape(-1)).view(u.shape)


def _random_neighbour(adj: Adjacency, nodes: Tensor, generator=None) -> tuple[Tensor, Tensor]:
    """One uniform out-neighbour per node and whether it has any (``[M]`` each)."""
    deg = adj.out_deg[nodes]
    has = deg > 0
    r = (torch.rand(nodes.shape, generator=generator, device=nodes.device) * deg).long()
    idx = (adj.rowptr[nodes] + r.clamp(max=(deg - 1).clamp(min=0))).clamp(
        max=max(len(adj.col) - 1, 0))
    nb = adj.col[idx] if len(adj.col) else nodes.clone()
    return torch.where(has, nb, nodes), has


def uniform_negatives(src: Tensor, k: int, num_nodes: int, known: Adjacency,
                      rounds: int = 10, generator=None, same_type: bool = True) -> Tensor:
    """``[P, k]`` uniform targets per source, redrawn where they hit a known edge or (when
    sources and targets are one node type, ``same_type``) ``src`` itself."""
    s = src[:, None].expand(-1, k)
    neg = torch.randint(0, num_nodes, s.shape, generator=generator, device=src.device)
    for _ in range(rounds):
        bad = is_edge(known, s, neg)
        if same_type:
            bad |= neg == s
        if not bad.any():
            break
        neg[bad] = torch.randint(0, num_nodes, (int(bad.sum()),), generator=generator,
                                 device=src.device)
    return neg


def two_hop_negatives(src: Tensor, k: int, walk: Adjacency, known: Adjacency, num_nodes: int,
                      hard_ratio: float = 1.0, rounds: int = 10, generator=None) -> Tensor:
    """``[P, k]`` negatives: two-hop non-neighbours with probability ``hard_ratio``, else uniform.

    Args:
        src: sources ``[P]``.
        k: negatives per source.
        walk: the graph walked (the step's message-passing graph).
        known: every true edge to avoid (the train edges, hidden supervision pairs included).
        num_nodes: candidates are ``0..num_nodes-1``.
        hard_ratio: fraction of negatives that are two-hop; the rest (and walks that fail
            after ``rounds`` tries: no two-hop non-neighbour found) are uniform non-edges.
    """
    neg = uniform_negatives(src, k, num_nodes, known, rounds, generator)
    s = src[:, None].expand(-1, k)
    todo = torch.rand(s.shape, generator=generator, device=src.device) < hard_ratio
    for _ in range(rounds):
        if not todo.any():
            break
        start = s[todo]
        mid, ok1 = _random_neighbour(walk, start, generator)
        end, ok2 = _random_neighbour(walk, mid, generator)
        good = ok1 & ok2 & (end != start) & ~is_edge(known, start, end)
        where = todo.nonzero(as_tuple=True)
        hit = tuple(w[good] for w in where)
        neg[hit] = end[good]
        todo[hit] = False
    return neg


def heuristic_negatives(pos: Tensor, graph: Adjacency, known: Adjacency, k: int,
                        generator: torch.Generator, budget: int = 1 << 24) -> Tensor:
    """``[P, k]`` HeaRT-style negatives: each source's top-``k`` non-edges by resource allocation.

    Args:
        pos: held-out pairs ``[2, P]``; negatives corrupt the target of each.
        graph: the split's message-passing graph, where RA is computed.
        known: every true edge of the dataset, all splits (never a negative), symmetric.
        k: negatives per positive.
        generator: seeded tie-breaking (and the fill when fewer than ``k`` candidates score).
        budget: floats of one dense ``[C, N]`` block of RA rows.
    """
    n = graph.num_nodes
    src = pos[0]
    sources, inverse = torch.unique(src, return_inverse=True)
    out = torch.empty(len(sources), k, dtype=torch.long)
    weight = torch.where(graph.in_deg > 0, 1.0 / graph.in_deg.clamp(min=1).float(), 0.0)
    op = torch.sparse_coo_tensor(torch.stack([graph.row, graph.col]),
                                 weight[graph.row], (n, n),
                                 check_invariants=False).coalesce()  # A[w, x] / d_w
    chunk = max(1, budget // max(n, 1))
    for lo in range(0, len(sources), chunk):
        rows = sources[lo:lo + chunk]
        onehot = torch.zeros(n, len(rows))
        onehot[rows, torch.arange(len(rows))] = 1.0
        # RA(u, x) = sum_w A[u, w] A[w, x] / d_w: two sparse products of one-hot columns.
        prop = graph.propagation(normalize=False)  # float64 (Katz needs it): RA needs float32
        first = torch.sparse.mm(prop, onehot.to(prop.dtype)).float()  # A^T e_u
        ra = torch.sparse.mm(op.t(), first).T  # [C, N]
        # Noise far below one RA term (1 / degree) orders ties (and the zero-score fill) at random.
        ra = ra + 1e-6 * torch.rand(ra.shape, generator=generator)
        r = rows[:, None].expand(-1, n)
        cand = torch.arange(n)[None, :].expand(len(rows), -1)
        ra[is_edge(known, r, cand) | (cand == r)] = -1.0
        out[lo:lo + chunk] = ra.topk(k, dim=1).indices
    return out[inverse]


def shared_negative_pairs(num: int, num_src: int, num_dst: int, known: Adjacency,
                          same_type: bool, generator: torch.Generator,
                          rounds: int = 10) -> Tensor:
    """``[2, num]`` uniform random non-edge pairs (no self-pairs within one type)."""
    a = torch.randint(0, num_src, (num,), generator=generator)
    b = torch.randint(0, num_dst, (num,), generator=generator)
    for _ in range(rounds):
        bad = is_edge(known, a, b) | ((a == b) if same_type else torch.zeros_like(a, dtype=bool))
        if not bad.any():
            break
        m = int(bad.sum())
        a[bad] = torch.randint(0, num_src, (m,), generator=generator)
        b[bad] = torch.randint(0, num_dst, (m,), generator=generator)
    return torch.stack([a, b])


def extra_eval_negatives(splits: dict, graphs: dict, kind: str, shared: int,
                         generator: torch.Generator) -> dict:
    """Evaluation negatives beyond the splits' uniform ones, per ``(task, split)``.

    Args:
        splits: task name -> split (link splits are used, others skipped).
        graphs: split name -> its message-passing graph (HeaRT scores candidates there).
        kind: ``uniform`` (keep the splits' negatives) or ``heart``.
        shared: uniform non-edge pairs per held-out pair shared by the split (0: none).
        generator: seeded randomness (fixed negatives, as the splits' own).

    Returns:
        ``{(task, split): {"neg": [P, K]} and/or {"shared_neg": [2, M]}}``.
    """
    out: dict = {}
    if kind == "uniform" and not shared:
        return out
    for name, s in splits.items():
        if not isinstance(s, LinkSplit):
            continue
        src_t, _, dst_t = s.edge_type
        same = src_t == dst_t
        n_src, n_dst = graphs["val"][src_t].num_nodes, graphs["val"][dst_t].num_nodes
        n = max(n_src, n_dst)
        every = torch.cat([s.train, s.val, s.test], 1)
        known = Adjacency.from_edge_index(every, n, undirected=same)
        for split in ("val", "test"):
            extra = out.setdefault((name, split), {})
            pos = s.pairs(split)
            # HeaRT ranks one node type's non-edges by RA; tasks across two types keep the
            # split's uniform negatives.
            if kind == "heart" and same:
                mp = Adjacency.from_edge_index(graphs[split][s.edge_type].edge_index, n)
                extra["neg"] = heuristic_negatives(pos, mp, known, s.negatives(split).size(1),
                                                   generator)
            if shared:
                extra["shared_neg"] = shared_negative_pairs(shared * pos.size(1), n_src, n_dst,
                                                            known, same, generator)
    return out
