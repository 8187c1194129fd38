"""Leakage-free train/val/test splits for link and node tasks.

Written here rather than taken from PyG's ``RandomLinkSplit`` because the protocol needs what
it does not offer: temporal splits by ``edge_time``, several target types split in one pass so
every task sees the same message-passing graphs, and per-source ranking negatives fixed by seed.

Message passing follows OGB: the train and val graphs hold only train target edges; the test
graph adds val target edges (graphrec.data.leakage applies the rule; this module records, per
stored edge, the split and train pair it belongs to).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import HeteroData

from graphrec.data.schema import EdgeType, reverse_edge_type
from graphrec.utils.errors import ConfigError

TRAIN, VAL, TEST = 0, 1, 2


@dataclass
class LinkSplit:
    """Target edges of one link task, per split. Pairs are ``[2, P]`` (source, target) ids.

    ``*_neg`` are ``[P, K]`` corrupted targets for the same sources, fixed by seed.
    Symmetric relations list each pair once.
    """

    edge_type: EdgeType
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    val_neg: torch.Tensor
    test_neg: torch.Tensor
    # Split id of every stored edge of ``edge_type`` and of its reverse type.
    edge_split: torch.Tensor
    rev_edge_split: torch.Tensor | None
    # Index into ``train`` of every stored train edge (-1 for held-out edges), so a training
    # step can hide its supervision pairs from message passing.
    edge_pair: torch.Tensor
    rev_edge_pair: torch.Tensor | None

    def __post_init__(self):
        # Per stored edge, so tens of millions of entries at a million users: split ids fit
        # a byte and pair ids 32 bits (0.4 GiB less there). Fingerprints hash integer ids
        # as int64, so they do not change (graphrec.utils.provenance).
        for name in ("edge_split", "rev_edge_split"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(torch.int8))
        for name in ("edge_pair", "rev_edge_pair"):
            value = getattr(self, name)
            if value is not None and self.train.size(-1) < 2**31:
                setattr(self, name, value.to(torch.int32))

    def pairs(self, split: str) -> torch.Tensor:
        return getattr(self, split)

    def negatives(self, split: str) -> torch.Tensor:
        return getattr(self, f"{split}_neg")


@dataclass
class NodeSplit:
    """Labelled node ids of one node task per split, ``[M]`` each."""

    node_type: str
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def _assign(n: int, val_ratio: float, test_ratio: float, order: torch.Tensor) -> torch.Tensor:
    """Split id per item; ``order`` lists items from earliest/first to last."""
    n_test = int(round(n * test_ratio))
    n_val = int(round(n * val_ratio))
    split = torch.full((n,), TRAIN, dtype=torch.long)
    split[order[n - n_test - n_val: n - n_test]] = VAL
    split[order[n - n_test:]] = TEST
    return split


def _index_of(sorted_keys: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Position of each key in ``sorted_keys``, ``-1`` where absent."""
    if sorted_keys.numel() == 0:
        return torch.full_like(keys, -1)
    pos = torch.searchsorted(sorted_keys, keys).clamp(max=sorted_keys.numel() - 1)
    return torch.where(sorted_keys[pos] == keys, pos, -1)


def split_links(
    data: HeteroData,
    edge_type: EdgeType,
    val_ratio: float,
    test_ratio: float,
    temporal: bool,
    symmetric: bool,
    num_negatives: int,
    generator: torch.Generator,
) -> LinkSplit:
    """Splits the target edges of one edge type.

    Args:
        data: the full graph.
        edge_type: the target relation.
        val_ratio, test_ratio: fractions of distinct pairs held out.
        temporal: hold out the latest pairs by ``edge_time`` instead of random ones.
        symmetric: ``(u, v)`` and ``(v, u)`` are one pair, kept together.
        num_negatives: corrupted targets per val/test positive for ranking.
        generator: seeded randomness for the split and negatives.
    """
    src_t, _, dst_t = edge_type
    n_dst = data[dst_t].num_nodes
    ei = data[edge_type].edge_index
    a, b = (torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])) if symmetric else ei
    key = a * n_dst + b
    uniq, inv = torch.unique(key, return_inverse=True)
    if temporal:
        if "edge_time" not in data[edge_type]:
            raise ConfigError(f"data.temporal=true: {edge_type} edges carry no edge_time to "
                              "split by; set data.temporal=false")
        t = torch.full((uniq.numel(),), float("inf"))
        t.scatter_reduce_(0, inv, data[edge_type].edge_time.float(), reduce="amin")
        order = torch.argsort(t, stable=True)
    else:
        order = torch.randperm(uniq.numel(), generator=generator)
    pair_split = _assign(uniq.numel(), val_ratio, test_ratio, order)
    edge_split = pair_split[inv]
    train_rank = torch.where(pair_split == TRAIN, torch.cumsum(pair_split == TRAIN, 0) - 1, -1)
    edge_pair = train_rank[inv]

    rev_split = rev_pair = None
    rev = reverse_edge_type(edge_type)
    if rev != edge_type and rev in data.edge_types:
        r = data[rev].edge_index
        idx = _index_of(uniq, r[1] * n_dst + r[0])
        # A reverse edge without a forward twin is no target: it always carries messages.
        found = idx >= 0
        rev_split = torch.where(found, pair_split[idx.clamp(min=0)], TRAIN)
        rev_pair = torch.where(found, train_rank[idx.clamp(min=0)], -1)

    def pairs_of(s):
        k = uniq[pair_split == s]
        return torch.stack([k // n_dst, k % n_dst])

    train, val, test = pairs_of(TRAIN), pairs_of(VAL), pairs_of(TEST)
    if symmetric:  # random orientation so the ranked "source" is not always the smaller id
        val, test = (_random_orient(p, generator) for p in (val, test))
    negs = [
        _negatives(p, n_dst, num_negatives, uniq, symmetric, generator) for p in (val, test)
    ]
    return LinkSplit(edge_type, train, val, test, negs[0], negs[1], edge_split, rev_split,
                     edge_pair, rev_pair)


def _random_orient(pairs: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(pairs.size(1), generator=g) < 0.5
    return torch.where(flip, pairs.flip(0), pairs)


def _negatives(pos, n_dst, k, known_keys, symmetric, g, rounds: int = 5) -> torch.Tensor:
    """``[P, k]`` uniform corrupted targets per positive, avoiding known pairs and self-pairs.

    A few resampling rounds remove almost all collisions; on graphs so dense that some
    remain, they are kept (and counted as negatives), as in OGB's sampled protocols.
    """
    src = pos[0][:, None].expand(-1, k)
    neg = torch.randint(0, n_dst, src.shape, generator=g)
    for _ in range(rounds):
        a, b = (torch.minimum(src, neg), torch.maximum(src, neg)) if symmetric else (src, neg)
        bad = _index_of(known_keys, a * n_dst + b) >= 0
        if symmetric:
            bad |= neg == src
        if not bad.any():
            break
        neg[bad] = torch.randint(0, n_dst, (int(bad.sum()),), generator=g)
    return neg


def split_nodes(
    data: HeteroData,
    node_type: str,
    val_ratio: float,
    test_ratio: float,
    temporal: bool,
    generator: torch.Generator,
) -> NodeSplit:
    """Splits the labelled nodes (``y >= 0``) of ``node_type``; temporal uses ``time``."""
    labelled = torch.nonzero(data[node_type].y >= 0).squeeze(1)
    if temporal and "time" in data[node_type]:
        order = torch.argsort(data[node_type].time[labelled], stable=True)
    else:
        order = torch.randperm(labelled.numel(), generator=generator)
    split = _assign(labelled.numel(), val_ratio, test_ratio, order)
    return NodeSplit(node_type, *(labelled[split == s] for s in (TRAIN, VAL, TEST)))


def fixed_node_split(data: HeteroData, node_type: str) -> NodeSplit:
    """The split a source fixed with PyG's ``train_mask`` / ``val_mask`` / ``test_mask``.

    Only labelled nodes (``y >= 0``) are kept; a node in two splits is an error, not a choice.
    """
    store = data[node_type]
    masks = [store[f"{s}_mask"].bool() for s in ("train", "val", "test")]
    overlap = (masks[0].long() + masks[1].long() + masks[2].long()) > 1
    if overlap.any():
        raise ValueError(f"'{node_type}' split masks overlap on {int(overlap.sum())} nodes; "
                         "each node must be in at most one of train/val/test")
    labelled = store.y >= 0
    return NodeSplit(node_type, *(torch.nonzero(m & labelled).squeeze(1) for m in masks))
