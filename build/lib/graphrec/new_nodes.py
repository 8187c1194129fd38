"""Nodes that joined after training: added to the graph so a trained model can score them.

An inductive encoder (GraphSAGE, GAT, HGT, MLP over features) embeds a new node from its own
features and its neighbourhood with the trained weights, so no retraining is needed. A
learnable ID table (``id_embedding``) has no row for a new node; the fallback, documented in
docs/recommend.md, gives it the *mean* trained ID vector: the new node then starts from the
average user and is told apart by its features and edges alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import pandas as pd
import torch
from torch import nn

from graphrec.data.schema import reverse_edge_type
from graphrec.utils.errors import ConfigError


def raw_id_lists(graph, stored: Mapping[str, Sequence] | None = None) -> dict[str, list]:
    """Raw id of every node, per type: ``graph[nt].raw_id``, else ``stored``, else the index."""
    out = {}
    for nt in graph.node_types:
        ids = graph[nt].get("raw_id") if "raw_id" in graph[nt] else (stored or {}).get(nt)
        n = graph[nt].num_nodes
        out[nt] = list(ids) if ids is not None and len(ids) == n else list(range(n))
    return out


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file (by suffix) as a frame."""
    if str(path).endswith(".parquet"):
        return pd.read_parquet(path)
    if str(path).endswith(".csv"):
        return pd.read_csv(path)
    raise ConfigError(f"{path}: give a .csv or .parquet table")


def add_nodes(graph, raw_ids: dict[str, list], node_type: str, rows: pd.DataFrame,
              edges: pd.DataFrame | None = None):
    """``graph`` with new ``node_type`` nodes and their edges (original left untouched).

    Args:
        graph: the graph to extend (tensors are copied where they grow, shared otherwise).
        raw_ids: raw ids per type (:func:`raw_id_lists`), extended in the returned copy.
        node_type: the new nodes' type.
        rows: one row per new node: ``raw_id`` and, when the type has features ``x [N, F]``,
            columns ``x0 .. x{F-1}``.
        edges: ``source, relation, target`` raw ids; ``source`` is a new node, ``relation``
            names a relation leaving ``node_type`` (``friends``, ``likes``); its reverse
            (or, for a relation within one type, the other direction) is added too.

    Returns:
        ``(graph, raw_ids, new_index [M])``: the extended graph and ids, and the new nodes'
        indices.

    Raises:
        ConfigError: a missing column, a raw id already taken or unknown, an unknown relation.
    """
    if "raw_id" not in rows.columns:
        raise ConfigError("the new-user table needs a raw_id column (one row per new user)")
    taken = set(raw_ids[node_type])
    dup = [r for r in rows["raw_id"].tolist() if r in taken]
    if dup or rows["raw_id"].duplicated().any():
        dup = dup or rows["raw_id"][rows["raw_id"].duplicated()].tolist()
        raise ConfigError(f"new user raw ids {dup[:5]} are already in the graph or repeated; "
                          "give each new user a new raw_id")
    graph, raw_ids = copy.copy(graph), {k: list(v) for k, v in raw_ids.items()}
    store = graph[node_type]
    n_old, m = store.num_nodes, len(rows)
    for key in list(store.keys()):
        value = store[key]
        if key == "x":
            cols = [f"x{i}" for i in range(value.size(1))]
            missing = [c for c in cols if c not in rows.columns]
            if missing:
                raise ConfigError(f"'{node_type}' nodes have {value.size(1)} features: the new-"
                                  f"user table needs columns x0..x{value.size(1) - 1} "
                                  f"(missing {missing[:3]})")
            new = torch.tensor(rows[cols].to_numpy(), dtype=value.dtype)
            store[key] = torch.cat([value, new])
        elif torch.is_tensor(value) and value.dim() and value.size(0) == n_old:
            # No value known for a new node: zeros (e.g. no label, time 0).
            store[key] = torch.cat([value, value.new_zeros(m, *value.shape[1:])])
        elif key == "raw_id":
            store[key] = list(value) + rows["raw_id"].tolist()
    store.num_nodes = n_old + m
    raw_ids[node_type] += rows["raw_id"].tolist()
    if edges is not None and len(edges):
        _add_edges(graph, raw_ids, node_type, edges)
    return graph, raw_ids, torch.arange(n_old, n_old + m)


def _add_edges(graph, raw_ids, node_type, edges: pd.DataFrame) -> None:
    missing = {"source", "relation", "target"} - set(edges.columns)
    if missing:
        raise ConfigError(f"the new-edge table needs columns source, relation, target "
                          f"(missing {sorted(missing)})")
    index = {nt: {r: i for i, r in enumerate(ids)} for nt, ids in raw_ids.items()}
    for relation, group in edges.groupby("relation"):
        ets = [et for et in graph.edge_types if et[0] == node_type and et[1] == relation]
        if not ets:
            have = sorted({et[1] for et in graph.edge_types if et[0] == node_type})
            raise ConfigError(f"new edges name relation {relation!r}, which leaves no "
                              f"'{node_type}' node; choose one of {have}")
        et = ets[0]
        src = [index[et[0]].get(r) for r in group["source"].tolist()]
        dst = [index[et[2]].get(r) for r in group["target"].tolist()]
        bad = [r for r, i in zip(group["source"].tolist() + group["target"].tolist(), src + dst)
               if i is None]
        if bad:
            raise ConfigError(f"new edges name unknown raw ids {bad[:5]}; sources must be new "
                              "or known users and targets known nodes of the relation")
        pair = torch.tensor([src, dst], dtype=torch.long)
        rev = reverse_edge_type(et)
        _append(graph, et, pair)
        if rev in graph.edge_types:
            _append(graph, rev, pair.flip(0))


def _append(graph, et, pair) -> None:
    store = graph[et]
    e_old = store.edge_index.size(1)
    for key in list(store.keys()):
        value = store[key]
        if key == "edge_index":
            store[key] = torch.cat([value, pair], 1)
        elif key == "edge_time":  # the edge is new: it is the latest
            store[key] = torch.cat([value, value.new_full((pair.size(1),), value.max())])
        elif key == "pair_id":  # not a training pair
            store[key] = torch.cat([value, value.new_full((pair.size(1),), -1)])
        elif torch.is_tensor(value) and value.dim() and value.size(0) == e_old:
            store[key] = torch.cat([value, value.new_zeros(pair.size(1), *value.shape[1:])])


def grow_id_tables(module, node_type: str, num_nodes: int) -> int:
    """Gives new nodes of ``node_type`` the mean trained ID vector (the documented fallback).

    Returns:
        How many rows were added (0 when the type has no ID table).

    Raises:
        ConfigError: the encoder is a plain GCN on identity features, which has no
            input for a node beyond its own one-hot row.
    """
    encoder = getattr(module, "encoder", None)
    if encoder is None:  # heuristics: nothing learned per node
        return 0
    if getattr(getattr(encoder, "gcn", None), "featureless", False):
        raise ConfigError("model/encoder=gcn without features embeds nodes by their own "
                          "one-hot id: it cannot embed a new user; use model/encoder=sage")
    node_input = encoder.inputs[node_type] if hasattr(encoder, "inputs") else None
    ids = getattr(node_input, "ids", None)
    if ids is None or ids.num_embeddings >= num_nodes:
        return 0
    extra = num_nodes - ids.num_embeddings
    weight = ids.weight.detach()
    grown = nn.Embedding(num_nodes, weight.size(1), sparse=ids.sparse)
    with torch.no_grad():
        grown.weight.copy_(torch.cat([weight, weight.mean(0, keepdim=True).expand(extra, -1)]))
    node_input.ids = grown
    return extra


@contextmanager
def unseen_id_rows(module, nodes: Mapping[str, torch.Tensor] | None):
    """Within the block, the ID rows of ``nodes`` (per type) are the mean of the other rows.

    The inductive split's evaluation uses it, so users held out of training are embedded as
    :func:`grow_id_tables` embeds users who join later: whatever their rows picked up as
    random training negatives is not used.
    """
    encoder = getattr(module, "encoder", None)
    saved = []
    with torch.no_grad():
        for nt, ids in (nodes or {}).items():
            inputs = getattr(encoder, "inputs", None)
            table = getattr(inputs[nt], "ids", None) if inputs is not None and nt in inputs \
                else None
            if table is None or not len(ids):
                continue
            keep = torch.ones(table.num_embeddings, dtype=torch.bool, device=ids.device)
            keep[ids] = False
            saved.append((table, ids, table.weight[ids].clone()))
            table.weight[ids] = table.weight[keep].mean(0)
    try:
        yield
    finally:
        with torch.no_grad():
            for table, ids, rows in saved:
                table.weight[ids] = rows
