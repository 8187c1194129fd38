"""The leakage rule, in one place, for every path that hides edges.

The rule: a pair that is scored never appears in the message-passing graph it is scored on —
in neither direction, nor as its reverse-type copy. It covers val/test targets (OGB's
protocol: the train and val graphs hold train targets only, the test graph adds val
targets) and the train pairs that supervise a step (hidden from that step's graph, or the
model learns to detect edges it is shown instead of predicting unseen ones).

Target edges in a message-passing graph carry ``pair_id``: the index of their pair in the
task's train pairs, ``-1`` for edges that are no train target. Both directions of a
symmetric pair and its reverse-type copy share the id, so hiding a pair by id hides all its
copies. The full-graph step, the mini-batch loader transform and the DDP share all go through
:func:`hide_pairs`; the split graphs through :func:`message_passing_graph`.
"""

from __future__ import annotations

import copy

import torch
from torch_geometric.data import HeteroData

from graphrec.data.schema import EdgeType, reverse_edge_type
from graphrec.data.splits import TRAIN


def target_edge_types(graph: HeteroData, edge_type: EdgeType) -> list[EdgeType]:
    """The stored relations that hold copies of ``edge_type``'s pairs (itself, its reverse)."""
    return [et for et in dict.fromkeys([tuple(edge_type), reverse_edge_type(edge_type)])
            if et in graph.edge_types]


def keep_edges(store, keep: torch.Tensor) -> None:
    """Keeps the edges of ``store`` where ``keep`` (``[E]`` bool), with every per-edge tensor.

    A sampled batch lists its edges hop by hop; its per-hop counts follow the removal, or
    layer trimming (graphrec.models.hops) would cut at the wrong places.
    """
    if "num_sampled_edges" in store:
        counts = torch.as_tensor(store.num_sampled_edges)
        hop = torch.repeat_interleave(torch.arange(counts.numel()), counts)
        store.num_sampled_edges = torch.bincount(hop[keep.cpu()],
                                                 minlength=counts.numel()).tolist()
    kept = int(keep.sum())
    # Kept edges that are a prefix (the test graph's, see sort_by_destination) are taken as
    # views of the edges they come from, not copies.
    prefix = bool(keep[:kept].all())
    select_edges(store, slice(0, kept) if prefix else keep, keep.numel())


def select_edges(store, index: torch.Tensor, num_edges: int) -> None:
    """Indexes ``edge_index`` and every other per-edge tensor of ``store`` with ``index``
    (a ``[E]`` mask, edge positions such as a permutation, or a slice: views)."""
    for key in list(store.keys()):
        value = store[key]
        if key == "edge_index":
            store[key] = value[:, index]
        elif key != "num_sampled_edges" and torch.is_tensor(value) and value.dim() > 0 \
                and value.size(0) == num_edges:
            store[key] = value[index]


def hide_pairs(graph: HeteroData, edge_type: EdgeType, hidden: torch.Tensor) -> HeteroData:
    """Removes, in place, every copy of the train pairs ``hidden`` from ``graph``.

    Args:
        graph: a message-passing graph (or a sampled batch of one) with ``pair_id`` on the
            task's target edges.
        edge_type: the task's relation.
        hidden: ``[H]`` pair ids (indices into the task's train pairs) to hide.
    """
    for et in target_edge_types(graph, edge_type):
        store = graph[et]
        if "pair_id" not in store:
            continue
        keep_edges(store, ~torch.isin(store.pair_id, hidden))
    return graph


def relation_splits(ls) -> list[tuple[EdgeType, torch.Tensor, torch.Tensor]]:
    """``(edge type, split ids, pair ids)`` of a link split's stored relations: its own and,
    where stored, its reverse type."""
    return [(t, split, pair) for t, split, pair in (
        (ls.edge_type, ls.edge_split, ls.edge_pair),
        (reverse_edge_type(ls.edge_type), ls.rev_edge_split, ls.rev_edge_pair))
        if split is not None]


def message_passing_graph(data: HeteroData, links: list, max_split: int,
                          order: dict | None = None) -> HeteroData:
    """A shallow copy of ``data`` whose target edges keep only splits ``<= max_split``.

    Args:
        data: the full graph.
        links: the :class:`graphrec.data.splits.LinkSplit` of every link task.
        max_split: ``TRAIN`` (the train and val graphs) or ``VAL`` (the test graph).
        order: edge type -> the positions, in the order the splits were drawn on, of
            ``data``'s edges, for relations reordered since (``sort_by_destination``).

    Tensors of non-target relations are shared with ``data``, not copied.
    """
    out = copy.copy(data)  # new stores, shared tensors
    for ls in links:
        for t, split, pair in relation_splits(ls):
            perm = (order or {}).get(t)
            if perm is not None:
                split = split[perm]
            store = out[t]
            # Only training hides pairs; an evaluation graph needs no pair ids (at a million
            # users they are 8 bytes for each of tens of millions of edges).
            if max_split == TRAIN:
                store["pair_id"] = pair if perm is None else pair[perm]
            keep_edges(store, split <= max_split)
    return out
