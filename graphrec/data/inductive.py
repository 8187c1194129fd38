"""Inductive split: users who join after training (``task.<name>.split=inductive``).

A fraction of the source nodes (``new_user_ratio``, 10% by default) is held out with *all*
their edges: the train and val graphs hold none of them, in any relation, so the model never
sees one of their edges while it learns. At test, each new user shows part of its target
edges (``observed_ratio``) and all its other relations, as a user who just joined and made a
few links would; the rest of its target edges are its test targets, ranked apart from the
transductive ones (``test/<task>/new_users/mrr``, ...).

Leakage guard: a new user's hidden edges are in no message-passing graph, in either
direction; its observed edges only in the test graph.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch_geometric.data import HeteroData

from graphrec.data.schema import reverse_edge_type
from graphrec.data.splits import VAL, LinkSplit, _index_of, _negatives

# Task options read by the datamodule, not by the task module.
SPLIT_OPTIONS = ("split", "new_user_ratio", "observed_ratio")
SPLITS = ("transductive", "inductive")

# A split id that no message-passing graph keeps (they keep ids <= TRAIN or <= VAL).
HIDDEN = 3


@dataclass
class InductiveLinkSplit(LinkSplit):
    """A :class:`LinkSplit` whose ``train/val/test`` pairs avoid the new users, plus theirs.

    ``new_nodes [M]`` are the held-out source ids; ``new_test [2, P]`` their hidden pairs
    (new user first), ``new_test_neg [P, K]`` fixed negatives for them.
    """

    new_nodes: torch.Tensor = None
    new_test: torch.Tensor = None
    new_test_neg: torch.Tensor = None


def hold_out_users(data: HeteroData, ls: LinkSplit, ratio: float, observed_ratio: float,
                   symmetric: bool, num_negatives: int,
                   generator: torch.Generator) -> InductiveLinkSplit:
    """Turns a transductive split into an inductive one (see the module docstring).

    Args:
        data: the full graph.
        ls: the task's transductive split of ``data``.
        ratio: fraction of source nodes held out.
        observed_ratio: fraction of each new user's target pairs visible at test (rounded
            per user; a user with one pair shows none; a pair of two new users counts for
            the lower id).
        symmetric, num_negatives, generator: as for :func:`graphrec.data.splits.split_links`.
    """
    et = ls.edge_type
    src_t, _, dst_t = et
    n_src, n_dst = data[src_t].num_nodes, data[dst_t].num_nodes
    new = torch.randperm(n_src, generator=generator)[:int(round(n_src * ratio))]
    is_new = torch.zeros(n_src, dtype=torch.bool)
    is_new[new] = True

    def touches(a, b):
        return is_new[a] | is_new[b] if src_t == dst_t else is_new[a]

    ei = data[et].edge_index
    a, b = (torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])) if symmetric else ei
    uniq, inv = torch.unique(a * n_dst + b, return_inverse=True)
    pa, pb = uniq // n_dst, uniq % n_dst
    pair_split = torch.empty(uniq.numel(), dtype=torch.long)
    pair_split[inv] = ls.edge_split.long()
    hit = torch.nonzero(touches(pa, pb)).squeeze(1)
    owner = torch.where(is_new[pa[hit]], pa[hit], pb[hit])
    other = torch.where(is_new[pa[hit]], pb[hit], pa[hit])
    # Each new user's pairs in random order; the first round(observed_ratio * n) are shown.
    order = torch.rand(hit.numel(), generator=generator).argsort()
    order = order[owner[order].argsort(stable=True)]
    count = torch.bincount(owner, minlength=n_src)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel()) - (torch.cumsum(count, 0) - count)[owner[order]]
    shown = rank < torch.floor(observed_ratio * count[owner] + 0.5).long()
    pair_split[hit] = torch.where(shown, VAL, HIDDEN)

    keep_train = ~touches(ls.train[0], ls.train[1])
    remap = torch.where(keep_train, torch.cumsum(keep_train, 0) - 1, -1)

    def pairs_of(edge_pair):
        return torch.where(edge_pair >= 0, remap[edge_pair.clamp(min=0)], -1)

    rev_split, rev_pair = ls.rev_edge_split, ls.rev_edge_pair
    rev = reverse_edge_type(et)
    if rev_split is not None:
        r = data[rev].edge_index
        idx = _index_of(uniq, r[1] * n_dst + r[0])
        rev_split = torch.where(idx >= 0, pair_split[idx.clamp(min=0)], rev_split)
        rev_pair = pairs_of(rev_pair)
    kept = {s: ~touches(getattr(ls, s)[0], getattr(ls, s)[1]) for s in ("val", "test")}
    hidden = torch.stack([owner, other])[:, ~shown]
    return InductiveLinkSplit(
        et, ls.train[:, keep_train], ls.val[:, kept["val"]], ls.test[:, kept["test"]],
        ls.val_neg[kept["val"]], ls.test_neg[kept["test"]], pair_split[inv], rev_split,
        pairs_of(ls.edge_pair), rev_pair, new_nodes=new, new_test=hidden,
        new_test_neg=_negatives(hidden, n_dst, num_negatives, uniq, symmetric, generator))


def without_nodes(graph: HeteroData, node_type: str, nodes: torch.Tensor) -> HeteroData:
    """A shallow copy of ``graph`` with every edge touching ``nodes`` removed, all relations."""
    drop = torch.zeros(graph[node_type].num_nodes, dtype=torch.bool)
    drop[nodes] = True
    out = copy.copy(graph)
    for et in graph.edge_types:
        if node_type not in (et[0], et[2]):
            continue
        ei = graph[et].edge_index
        bad = torch.zeros(ei.size(1), dtype=torch.bool)
        if et[0] == node_type:
            bad |= drop[ei[0]]
        if et[2] == node_type:
            bad |= drop[ei[1]]
        keep = ~bad
        store = out[et]
        n = ei.size(1)
        for name in list(store.keys()):
            value = store[name]
            if name == "edge_index":
                store[name] = value[:, keep]
            elif torch.is_tensor(value) and value.dim() and value.size(0) == n:
                store[name] = value[keep]
    return out
