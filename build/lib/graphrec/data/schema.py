"""The heterogeneous social graph schema: the one source of truth for node and edge types.

Every data source (synthetic generator, real-data adapters, user tables) produces a
``HeteroData`` that passes :func:`validate`. Homogeneous benchmark graphs are the special case
of one node type and one edge type and are validated with ``strict=False``.
"""

from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from graphrec.utils.errors import SchemaError

EdgeType = tuple[str, str, str]

NODE_TYPES: tuple[str, ...] = ("user", "post", "job", "company", "skill")

# Forward edge types. Each is stored together with an explicit reverse type ``rev_<name>``
# so that messages flow both ways; the symmetric friend relation is its own reverse.
FORWARD_EDGE_TYPES: tuple[EdgeType, ...] = (
    ("user", "friends", "user"),
    ("user", "authored", "post"),
    ("user", "likes", "post"),
    ("user", "applied", "job"),
    ("user", "worked_at", "company"),
    ("job", "posted_by", "company"),
    ("user", "has_skill", "skill"),
    ("job", "requires", "skill"),
)

SYMMETRIC_EDGE_TYPES: frozenset[EdgeType] = frozenset({("user", "friends", "user")})

# Edge types that carry ``edge_time`` so temporal splits are possible.
TIMED_EDGE_TYPES: frozenset[EdgeType] = frozenset(
    {("user", "friends", "user"), ("user", "likes", "post"), ("user", "applied", "job")}
)

SENTIMENT_CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")


def reverse_edge_type(edge_type: EdgeType) -> EdgeType:
    """The reverse type of ``edge_type``; a symmetric type is its own reverse."""
    src, rel, dst = edge_type
    if src == dst and (edge_type in SYMMETRIC_EDGE_TYPES):
        return edge_type
    if rel.startswith("rev_"):
        return (dst, rel[len("rev_"):], src)
    return (dst, f"rev_{rel}", src)


def as_edge_type(value) -> EdgeType:
    """Normalizes a config value (list, tuple or ``"src__rel__dst"`` string) to a tuple."""
    if isinstance(value, str):
        parts = value.split("__")
    else:
        parts = list(value)
    if len(parts) != 3 or not all(isinstance(p, str) for p in parts):
        raise ValueError(
            f"edge type {value!r} is not a (source, relation, destination) triple; write it as "
            "[user, friends, user] in the config"
        )
    return tuple(parts)  # type: ignore[return-value]


def validate(data: HeteroData, strict: bool = True) -> HeteroData:
    """Checks that ``data`` is a well-formed graph of this schema.

    Args:
        data: the graph.
        strict: also require the node and edge types of the social schema. Benchmark graphs
            with their own types pass ``strict=False`` and only get the structural checks.

    Returns:
        ``data`` itself, so the call can be chained.

    Raises:
        SchemaError: naming the first problem found and what to change.
    """
    problems: list[str] = []
    if strict:
        for nt in NODE_TYPES:
            if nt not in data.node_types:
                problems.append(f"node type '{nt}' is missing")
        for et in FORWARD_EDGE_TYPES:
            for t in {et, reverse_edge_type(et)}:
                if t not in data.edge_types:
                    problems.append(
                        f"edge type {t} is missing (store each relation with its reverse)")
    for nt in data.node_types:
        if data[nt].num_nodes is None:
            problems.append(f"node type '{nt}' has no num_nodes; set data['{nt}'].num_nodes")
    for et in data.edge_types:
        store = data[et]
        if "edge_index" not in store:
            problems.append(f"edge type {et} has no edge_index")
            continue
        ei = store.edge_index
        if ei.dim() != 2 or ei.size(0) != 2 or ei.dtype != torch.long:
            problems.append(
                f"edge_index of {et} must be a LongTensor [2, E], got {tuple(ei.shape)}")
            continue
        src, _, dst = et
        for row, nt in ((0, src), (1, dst)):
            n = data[nt].num_nodes or 0
            if ei.numel() and (int(ei[row].min()) < 0 or int(ei[row].max()) >= n):
                problems.append(f"edge_index of {et} points outside the {n} '{nt}' nodes")
        if "edge_time" in store and store.edge_time.numel() != ei.size(1):
            problems.append(f"edge_time of {et} has {store.edge_time.numel()} entries for "
                            f"{ei.size(1)} edges")
    for nt in data.node_types:
        store = data[nt]
        if "y" in store and store.y.numel() != store.num_nodes:
            problems.append(f"'{nt}'.y has {store.y.numel()} labels for {store.num_nodes} nodes")
        if "x" in store and store.x.size(0) != store.num_nodes:
            problems.append(f"'{nt}'.x has {store.x.size(0)} rows for {store.num_nodes} nodes")
    if problems:
        raise SchemaError(
            "graph does not follow the graphrec schema:\n  - " + "\n  - ".join(problems))
    return data
